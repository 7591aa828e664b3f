"""CsvExampleGen's executor alone: stock (tfx 1.16) vs ours (components/csv_example_gen), same CSV.

    .venv/bin/python -m bench.csv_example_gen --csv /tmp/g200k.csv [--repeats 1]
        [--beam-arg=...] [--no-verify] [--out FILE]

Each executor's `Do` runs in a fresh process of its own, one after the other (the order alternates
from one repeat to the next), on the same CSV, with the pipeline's 2:1 train/eval hash split and
Beam in-process unless `--beam-arg` says otherwise (what `pipeline/beam_options.py` picks below
256 MB). Reported: the process's wall time, of which imports and `Do`, and the process tree's peak
RSS (bench/memory.py). `--verify` (default) then checks that both wrote the same examples to the
same splits: per split, the row count and a digest of the sorted canonical (key-ordered) bytes.
"""
import argparse
import hashlib
import json
import os
import sys
import time
from typing import List

from trainguard.pipeline import beam_options
from bench import memory, report

VARIANTS = ("stock", "ours")


def child(variant: str, input_base: str, output: str, beam_args: List[str]) -> dict:
  started = time.time()
  # pylint: disable=g-import-not-at-top
  from tfx.dsl.components.base import base_beam_executor
  from tfx.proto import example_gen_pb2
  from tfx.types import standard_artifacts, standard_component_specs
  from tfx.utils import proto_utils
  if variant == "stock":
    from tfx.components.example_gen.csv_example_gen.executor import Executor
  else:
    from trainguard.components.csv_example_gen.executor import Executor
  # pylint: enable=g-import-not-at-top
  imported = time.time()
  examples = standard_artifacts.Examples()
  examples.uri = output
  exec_properties = {
      standard_component_specs.INPUT_BASE_KEY: input_base,
      standard_component_specs.INPUT_CONFIG_KEY: proto_utils.proto_to_json(example_gen_pb2.Input(
          splits=[example_gen_pb2.Input.Split(name="single_split", pattern="*")])),
      standard_component_specs.OUTPUT_CONFIG_KEY: proto_utils.proto_to_json(
          example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(splits=[
              example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=2),
              example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=1)]))),
      standard_component_specs.OUTPUT_DATA_FORMAT_KEY: example_gen_pb2.FORMAT_TF_EXAMPLE,
      standard_component_specs.OUTPUT_FILE_FORMAT_KEY: example_gen_pb2.FORMAT_TFRECORDS_GZIP,
  }
  executor = Executor(base_beam_executor.BaseBeamExecutor.Context(beam_pipeline_args=beam_args))
  executor.Do({}, {standard_component_specs.EXAMPLES_KEY: [examples]}, exec_properties)
  return {"import_s": imported - started, "do_s": time.time() - imported}


def digest(output: str) -> dict:
  """Per split: rows and a SHA-256 of the sorted canonical serializations."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  result = {}
  for split in ("train", "eval"):
    folder = os.path.join(output, f"Split-{split}")
    paths = sorted(os.path.join(folder, n) for n in os.listdir(folder))
    records = sorted(tf.train.Example.FromString(r).SerializeToString(deterministic=True)
                     for r in tf.data.TFRecordDataset(paths, compression_type="GZIP")
                     .as_numpy_iterator())
    sha = hashlib.sha256()
    for record in records:
      sha.update(len(record).to_bytes(8, "little") + record)
    result[split] = {"rows": len(records), "sha256": sha.hexdigest()}
  return result


def measure(variant: str, csv_path: str, workdir: str, beam_args: List[str]) -> dict:
  input_base = os.path.join(workdir, "input")
  os.makedirs(input_base, exist_ok=True)
  link = os.path.join(input_base, os.path.basename(csv_path))
  if not os.path.exists(link):
    os.symlink(os.path.abspath(csv_path), link)
  info_file = os.path.join(workdir, "info.json")
  output = os.path.join(workdir, "examples")
  command = [sys.executable, "-m", "bench.csv_example_gen", "--child", variant,
             "--input-base", input_base, "--output", output, "--info", info_file]
  command += [f"--beam-arg={a}" for a in beam_args]
  code, wall, sampler = memory.run_sampled(command, os.path.join(workdir, "child.log"))
  if code != 0:
    raise RuntimeError(f"{variant} failed (exit {code}); see {workdir}/child.log")
  with open(info_file) as f:
    info = json.load(f)
  return {"wall": wall, "peak": sampler.peak, "output": output, **info}


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--csv", help="the CSV file (e.g. from bench.generate_data)")
  parser.add_argument("--workdir")
  parser.add_argument("--repeats", type=int, default=1)
  parser.add_argument("--variants", default=",".join(VARIANTS))
  parser.add_argument("--beam-arg", action="append", default=[])
  parser.add_argument("--verify", action=argparse.BooleanOptionalAction, default=True)
  parser.add_argument("--out", help="append the table to this markdown file")
  parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
  parser.add_argument("--input-base", help=argparse.SUPPRESS)
  parser.add_argument("--output", help=argparse.SUPPRESS)
  parser.add_argument("--info", help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  beam_args = args.beam_arg or list(beam_options.IN_PROCESS)
  if args.child:
    info = child(args.child, args.input_base, args.output, beam_args)
    with open(args.info, "w") as f:
      json.dump(info, f)
    return 0
  if not args.csv:
    parser.error("--csv is required")
  root = args.workdir or f"/tmp/bench-csv-example-gen-{int(time.time())}"
  variants = [v for v in args.variants.split(",") if v]
  rows, outputs = [], {}
  for repeat in range(args.repeats):
    for variant in (variants if repeat % 2 == 0 else variants[::-1]):
      print(f"[{time.strftime('%H:%M:%S')}] {variant} run {repeat + 1} ...", flush=True)
      r = measure(variant, args.csv, os.path.join(root, f"{variant}-{repeat}"), beam_args)
      outputs.setdefault(variant, r["output"])
      rows.append([str(repeat + 1), variant, " ".join(beam_args), f"{r['wall']:.1f}",
                   f"{r['import_s']:.1f}", f"{r['do_s']:.1f}", memory.gb(r["peak"])])
      print(f"  wall {r['wall']:.1f} s, Do {r['do_s']:.1f} s, peak {memory.gb(r['peak'])} GB",
            flush=True)
  report.emit(["run", "executor", "Beam args", "process wall s", "imports s", "Do s",
               "peak RSS GB (tree)"], rows, args.out)
  if args.verify and len(outputs) > 1:
    digests = {variant: digest(path) for variant, path in outputs.items()}
    for variant, found in digests.items():
      print(variant, json.dumps(found))
    same = len({json.dumps(d, sort_keys=True) for d in digests.values()}) == 1
    print("same examples in the same splits:", "yes" if same else "NO")
    if not same:
      return 1
  return 0


if __name__ == "__main__":
  sys.exit(main())
