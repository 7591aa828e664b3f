"""Our Transform alone at several fixed tf.Transform batch sizes, side by side.

    .venv/bin/python -m bench.transform_batch_size --run DIR [--sizes 1000,10000] [--repeats 2]
        [--beam-arg=...] [--out docs/benchmarks.md]

`--run` is a work directory that `bench/data_stages.py --keep` left (ours). Each child is a fresh
process running a three-node TFX pipeline with `LocalDagRunner`: an Importer of that run's
CsvExampleGen examples, ImportSchemaGen of its schema, and our Transform
(`components/transform/`) with the run's own Transform parameters (preprocessing_fn, splits and
custom_config, read back from its ML Metadata) and `executor.BATCH_SIZE` set to one of `--sizes`.
Sizes alternate between repeats. Transform's wall time is ML Metadata's (execution created ->
published); peak RSS is the child's whole process tree during it (bench/memory.py).
"""
import argparse
import glob
import json
import os
import sys
import time
from typing import List

from trainguard.pipeline import beam_options
from bench import memory, report


def _newest(pattern: str) -> str:
  found = sorted(glob.glob(pattern), key=os.path.getmtime)
  if not found:
    raise FileNotFoundError(f"nothing matches {pattern}: run bench.data_stages with --keep first")
  return found[-1]


def transform_properties(run_dir: str) -> dict:
  """The kept run's Transform execution parameters, from its ML Metadata."""
  from ml_metadata.metadata_store import metadata_store  # pylint: disable=g-import-not-at-top
  from ml_metadata.proto import metadata_store_pb2  # pylint: disable=g-import-not-at-top
  config = metadata_store_pb2.ConnectionConfig()
  config.sqlite.filename_uri = os.path.join(run_dir, "metadata.sqlite")
  store = metadata_store.MetadataStore(config)
  for execution in store.get_executions():
    kind = store.get_execution_types_by_id([execution.type_id])[0].name
    if kind.endswith(".Transform"):
      props = execution.custom_properties
      return {"preprocessing_fn": props["preprocessing_fn"].string_value,
              "splits_config": props["splits_config"].string_value,
              "custom_config": props["custom_config"].string_value}
  raise ValueError(f"{run_dir}/metadata.sqlite has no Transform execution")


def child(run_dir: str, batch_size: int, workdir: str, beam_args: List[str]) -> None:
  from google.protobuf import json_format  # pylint: disable=g-import-not-at-top
  from tfx import v1 as tfx  # pylint: disable=g-import-not-at-top
  from tfx.proto import transform_pb2  # pylint: disable=g-import-not-at-top
  from tfx.types import standard_artifacts  # pylint: disable=g-import-not-at-top
  from trainguard.components.transform import component, executor  # pylint: disable=g-import-not-at-top
  executor.BATCH_SIZE = batch_size
  pipelines = os.path.join(run_dir, "pipelines", "*")
  examples_uri = _newest(os.path.join(pipelines, "CsvExampleGen", "examples", "*"))
  schema_file = _newest(os.path.join(pipelines, "ImportSchemaGen", "schema", "*", "schema.pbtxt"))
  props = transform_properties(run_dir)
  splits = sorted(d[len("Split-"):] for d in os.listdir(examples_uri) if d.startswith("Split-"))
  examples = tfx.dsl.Importer(
      source_uri=examples_uri, artifact_type=standard_artifacts.Examples,
      properties={"split_names": json.dumps(splits)}).with_id("examples")
  schema = tfx.components.ImportSchemaGen(schema_file=schema_file)
  transform = component.Transform(
      examples=examples.outputs["result"], schema=schema.outputs["schema"],
      preprocessing_fn=props["preprocessing_fn"],
      splits_config=json_format.Parse(props["splits_config"], transform_pb2.SplitsConfig()),
      custom_config=json.loads(props["custom_config"]),
      disable_statistics=True, disable_analyzer_cache=True)
  tfx.orchestration.LocalDagRunner().run(tfx.dsl.Pipeline(
      pipeline_name="transform-batch-size", pipeline_root=os.path.join(workdir, "pipelines"),
      components=[examples, schema, transform], enable_cache=False,
      metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
          os.path.join(workdir, "metadata.sqlite")),
      beam_pipeline_args=beam_args))


def measure(run_dir: str, batch_size: int, workdir: str, beam_args: List[str]) -> dict:
  os.makedirs(workdir, exist_ok=True)
  command = [sys.executable, "-m", "bench.transform_batch_size", "--child", "--run", run_dir,
             "--sizes", str(batch_size), "--workdir", workdir]
  command += [f"--beam-arg={a}" for a in beam_args]
  code, wall, sampler = memory.run_sampled(command, os.path.join(workdir, "child.log"))
  if code != 0:
    raise RuntimeError(f"Transform at batch size {batch_size} failed (exit {code}); see "
                       f"{workdir}/child.log")
  runs = {r.node_id: r for r in memory.executions(os.path.join(workdir, "metadata.sqlite"))}
  run = runs["Transform"]
  return {"wall": wall, "transform_s": run.seconds,
          "transform_peak": sampler.peak_between(run.start, run.end)}


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--run", required=True)
  parser.add_argument("--sizes", default="1000,10000")
  parser.add_argument("--repeats", type=int, default=2)
  parser.add_argument("--workdir")
  parser.add_argument("--beam-arg", action="append", default=[])
  parser.add_argument("--out", help="append the table to this markdown file")
  parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  beam_args = args.beam_arg or list(beam_options.IN_PROCESS)
  sizes = [int(s) for s in args.sizes.split(",")]
  if args.child:
    child(args.run, sizes[0], args.workdir, beam_args)
    return 0
  root = args.workdir or f"/tmp/bench-transform-batch-size-{int(time.time())}"
  rows = []
  for repeat in range(args.repeats):
    for size in (sizes if repeat % 2 == 0 else sizes[::-1]):
      print(f"[{time.strftime('%H:%M:%S')}] batch size {size}, run {repeat + 1} ...", flush=True)
      r = measure(args.run, size, os.path.join(root, f"{size}-{repeat}"), beam_args)
      rows.append([str(repeat + 1), str(size), f"{r['transform_s']:.0f}", f"{r['wall']:.0f}",
                   memory.gb(r["transform_peak"])])
      print(f"  Transform {r['transform_s']:.0f} s, peak {memory.gb(r['transform_peak'])} GB",
            flush=True)
  report.emit(["run", "batch size", "Transform s (ML Metadata)", "process wall s",
               "peak RSS GB during Transform (tree)"], rows, args.out)
  return 0


if __name__ == "__main__":
  sys.exit(main())
