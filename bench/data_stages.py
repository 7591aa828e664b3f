"""The data stages at scale: trainguard's vs the same stages from stock TFX components, side by side.

    .venv/bin/python -m bench.data_stages --rows 1000000 [--modes in_process,multi_process]
        [--repeats 1] [--variants ours,stock] [--out docs/benchmarks.md]

Both variants read the same generated CSV (bench/generate_data.py; `--csv` to reuse one), each in a
fresh process with a fresh work directory (no cache, no shared ML Metadata), one after the other,
alternating, with the same Beam arguments:
- ours: `trainguard schema init` on the CSV (the streaming pre-flight, timed separately), then the
  `trainguard run` preparation (pre-flight again + staging the CSV with missing-value tokens
  normalized), then `create_pipeline(..., stop_after="rebalance")`: CsvExampleGen → StatisticsGen →
  ImportSchemaGen → DataGuard (validation + its dataset pass) → Transform (policy's imputation,
  scaling, vocabularies) → Rebalance (policy default `auto`: SMOTE-NC at 1:99).
- stock: CsvExampleGen → StatisticsGen → SchemaGen → ExampleValidator → Transform with a plain
  z-score `preprocessing_fn` (bench/stock_preprocessing.py); no rebalancing.
Both split 2:1 by hash, and both Transforms analyze train only, transform train and eval, and skip
post-transform statistics and the analyzer cache (so Transform does the same kind of work).

Wall time per component is ML Metadata's (execution created → published). Peak RSS is the sum over
the whole process tree (bench/memory.py), sampled every 0.2 s, and attributed to a component by its
execution window.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from typing import Dict, List, Optional

from trainguard.pipeline import beam_options
from bench import memory, report

# What `trainguard run` picks (pipeline/beam_options.py), with 2 workers whatever the core count.
MODES = {
    "in_process": list(beam_options.IN_PROCESS),
    "multi_process": beam_options.multi_process(2),
}
LABEL = "label"


# ---------------------------------------------------------------------------------------------
# Children: one pipeline each, in a fresh process.


def child_ours(csv_path: str, workdir: str, beam_args: List[str]) -> Dict[str, float]:
  from trainguard import cli  # pylint: disable=g-import-not-at-top
  phases = {}
  schema_dir = os.path.join(workdir, "schema")
  started = time.time()
  if cli.main(["schema", "init", csv_path, "--label", LABEL, "--out", schema_dir]) != 0:
    raise RuntimeError("trainguard schema init failed")
  phases["schema_init"] = (started, time.time())
  started = time.time()
  args = cli.build_parser().parse_args(
      ["run", csv_path, "--label", LABEL, "--schema", schema_dir, "--workdir", workdir]
      + [f"--beam-arg={a}" for a in beam_args])
  from trainguard import preflight  # pylint: disable=g-import-not-at-top
  plan = preflight.prepare(cli.run_options_of(args))
  phases["preflight_and_stage"] = (started, time.time())

  from tfx import v1 as tfx  # pylint: disable=g-import-not-at-top
  from trainguard.pipeline import configs, pipeline, results  # pylint: disable=g-import-not-at-top
  paths = results.RunPaths(workdir, plan.pipeline_name)
  built = pipeline.create_pipeline(
      pipeline_name=plan.pipeline_name, pipeline_root=paths.pipeline_root,
      data_root=plan.data_root, schema_path=os.path.join(schema_dir, "schema.pbtxt"),
      policy=plan.policy, label_key=plan.label, label_classes=plan.label_classes,
      serving_model_dir=paths.serving_model_dir, preprocessing_fn=configs.PREPROCESSING_FN,
      run_fn=configs.RUN_FN, preflight_findings=plan.preflight, stop_after="rebalance",
      metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
          paths.metadata_path),
      beam_pipeline_args=beam_args, enable_cache=False)
  started = time.time()
  tfx.orchestration.LocalDagRunner().run(built)
  phases["pipeline"] = (started, time.time())
  return phases


def child_stock(csv_path: str, workdir: str, beam_args: List[str]) -> Dict[str, float]:
  from tfx import v1 as tfx  # pylint: disable=g-import-not-at-top
  from tfx.proto import transform_pb2  # pylint: disable=g-import-not-at-top
  data_root = os.path.join(workdir, "data")
  os.makedirs(data_root)
  os.symlink(os.path.abspath(csv_path), os.path.join(data_root, "data.csv"))
  example_gen = tfx.components.CsvExampleGen(
      input_base=data_root,
      output_config=tfx.proto.Output(split_config=tfx.proto.SplitConfig(splits=[
          tfx.proto.SplitConfig.Split(name="train", hash_buckets=2),
          tfx.proto.SplitConfig.Split(name="eval", hash_buckets=1)])))
  statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
  schema_gen = tfx.components.SchemaGen(statistics=statistics_gen.outputs["statistics"])
  validator = tfx.components.ExampleValidator(statistics=statistics_gen.outputs["statistics"],
                                              schema=schema_gen.outputs["schema"])
  transform = tfx.components.Transform(
      examples=example_gen.outputs["examples"], schema=schema_gen.outputs["schema"],
      preprocessing_fn="bench.stock_preprocessing.preprocessing_fn",
      splits_config=transform_pb2.SplitsConfig(analyze=["train"], transform=["train", "eval"]),
      disable_statistics=True, disable_analyzer_cache=True)
  built = tfx.dsl.Pipeline(
      pipeline_name="stock-data-stages", pipeline_root=os.path.join(workdir, "pipelines"),
      components=[example_gen, statistics_gen, schema_gen, validator, transform],
      enable_cache=False,
      metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
          os.path.join(workdir, "metadata.sqlite")),
      beam_pipeline_args=beam_args)
  started = time.time()
  tfx.orchestration.LocalDagRunner().run(built)
  return {"pipeline": (started, time.time())}


CHILDREN = {"ours": child_ours, "stock": child_stock}


# ---------------------------------------------------------------------------------------------
# Parent: generate, run each child under the memory sampler, read ML Metadata.


def metadata_path(workdir: str) -> str:
  return os.path.join(workdir, "metadata.sqlite")


def run_child(variant: str, csv_path: str, workdir: str, beam_args: List[str]) -> dict:
  """Runs one variant in a fresh process; returns its timings, executions and memory."""
  os.makedirs(workdir, exist_ok=True)
  phases_file = os.path.join(workdir, "phases.json")
  command = [sys.executable, "-m", "bench.data_stages", "--child", variant, "--csv", csv_path,
             "--workdir", workdir, "--phases", phases_file] + [f"--beam-arg={a}" for a in beam_args]
  code, wall, sampler = memory.run_sampled(command, os.path.join(workdir, "child.log"))
  if code != 0:
    raise RuntimeError(f"{variant} failed (exit {code}); see {workdir}/child.log")
  memory.save(sampler, os.path.join(workdir, "samples.jsonl"))
  with open(os.path.join(workdir, "result.json"), "w") as f:
    json.dump({"variant": variant, "wall": wall, "beam_args": beam_args}, f)
  return load_result(workdir)


def load_result(workdir: str) -> dict:
  """One child's result from what it left in `workdir`: phases, ML Metadata, memory samples.

  Samples come from `samples.jsonl` (written by run_child) or, for a run whose benchmark parent
  did not finish, `samples-external.jsonl` (`python -m bench.memory --pid` attached to the child).
  """
  with open(os.path.join(workdir, "phases.json")) as f:
    phases = json.load(f)
  saved = {}
  if os.path.exists(os.path.join(workdir, "result.json")):
    with open(os.path.join(workdir, "result.json")) as f:
      saved = json.load(f)
  samples = os.path.join(workdir, "samples.jsonl")
  if not os.path.exists(samples):
    samples = os.path.join(workdir, "samples-external.jsonl")
  sampler = memory.load(samples)
  runs = memory.executions(metadata_path(workdir))
  variant, mode = os.path.basename(workdir.rstrip("/")).split("-")[:2]
  return {"variant": saved.get("variant", variant), "mode": mode, "wall": saved.get("wall"),
          "sampled_from_start": samples.endswith("samples.jsonl"),
          "peak": sampler.peak, "phases": phases, "executions": runs,
          "component_peaks": memory.attribute(sampler, runs),
          "phase_peaks": {k: sampler.peak_between(*v) for k, v in phases.items()},
          "timeline": sampler.timeline()}


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
  parser.add_argument("--phases", help=argparse.SUPPRESS)
  parser.add_argument("--beam-arg", action="append", default=[], help=argparse.SUPPRESS)
  parser.add_argument("--workdir", help="where runs write (default: a new temp folder)")
  parser.add_argument("--csv", help="a CSV from bench/generate_data.py (else one is generated)")
  parser.add_argument("--rows", type=int, default=1_000_000)
  parser.add_argument("--modes", default="in_process", help=f"comma-separated: {', '.join(MODES)}")
  parser.add_argument("--variants", default="ours,stock")
  parser.add_argument("--repeats", type=int, default=1)
  parser.add_argument("--keep", action="store_true", help="keep the work directories")
  parser.add_argument("--out", help="append the tables to this markdown file")
  parser.add_argument("--tables-from", nargs="+", metavar="WORKDIR",
                      help="no run: write the tables from these children's work directories")
  args = parser.parse_args(argv)
  if args.tables_from:
    results = []
    for path in args.tables_from:
      if path.endswith(".json"):  # a finished invocation's results.json
        with open(path) as f:
          for r in json.load(f):
            r["executions"] = [memory.Execution(**e) for e in r["executions"]]
            results.append(dict(r, sampled_from_start=r.get("sampled_from_start", True)))
      else:
        results.append(load_result(path))
    for r in results:
      r["repeat"] = 0
    write_tables(results, args.csv, args.out)
    return 0

  if args.child:
    phases = CHILDREN[args.child](args.csv, args.workdir, args.beam_arg)
    with open(args.phases, "w") as f:
      json.dump(phases, f)
    return 0

  root = args.workdir or tempfile.mkdtemp(prefix="bench-data-stages-")
  csv_path = args.csv
  if not csv_path:
    from bench import generate_data  # pylint: disable=g-import-not-at-top
    csv_path = os.path.join(root, f"data-{args.rows}.csv")
    generate_data.generate(csv_path, args.rows)
  variants = args.variants.split(",")
  results = []
  for repeat in range(args.repeats):
    for mode in args.modes.split(","):
      # Alternate the order between repeats so neither variant always runs on a warmer machine.
      for variant in (variants if repeat % 2 == 0 else variants[::-1]):
        workdir = os.path.join(root, f"{variant}-{mode}-{repeat}")
        print(f"[{time.strftime('%H:%M:%S')}] {variant} {mode} run {repeat + 1} ...", flush=True)
        result = run_child(variant, csv_path, workdir, MODES[mode])
        result.update(mode=mode, repeat=repeat)
        results.append(result)
        print(f"  wall {result['wall']:.0f} s, peak {memory.gb(result['peak'])} GB", flush=True)
        if not args.keep:
          shutil.rmtree(os.path.join(workdir, "pipelines"), ignore_errors=True)
          shutil.rmtree(os.path.join(workdir, "data"), ignore_errors=True)
  write_tables(results, csv_path, args.out)
  with open(os.path.join(root, "results.json"), "w") as f:
    json.dump([{k: v for k, v in r.items() if k != "executions"}
               | {"executions": [vars(e) for e in r["executions"]]} for r in results], f, indent=1)
  return 0


def write_tables(results: List[dict], csv_path: Optional[str], out) -> None:
  if csv_path:
    rows = sum(1 for _ in open(csv_path)) - 1
    size = f"{rows:,} rows ({os.path.getsize(csv_path) / 1e6:.0f} MB CSV)"
  else:
    size = "rows: see the run"
  header = f"\n{size}, tables written {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}:\n"
  print(header)
  if out:
    with open(out, "a") as f:
      f.write(header + "\n")
  summary = []
  by_key = {(r["mode"], r["repeat"], r["variant"]): r for r in results}

  def work(r):  # pre-flight + pipeline: the child's own work, its imports left out
    return sum(end - start for start, end in r["phases"].values())

  for r in results:
    pipeline = r["phases"]["pipeline"]
    pre = work(r) - (pipeline[1] - pipeline[0])
    stock = by_key.get((r["mode"], r["repeat"], "stock"))
    mine = stock and r["variant"] != "stock"
    wall = f"{r['wall']:.0f}" if r["wall"] else "n/a"
    peak = memory.gb(r["peak"]) + ("" if r["sampled_from_start"] else " (from DataGuard on)")
    summary.append([r["variant"], " ".join(MODES[r["mode"]]), f"{pre:.0f}",
                    f"{pipeline[1] - pipeline[0]:.0f}", f"{work(r):.0f}", wall,
                    f"{work(r) / work(stock):.2f}" if mine else "", peak,
                    f"{r['peak'] / stock['peak']:.2f}" if mine else ""])
  report.emit(["variant", "Beam args", "pre-flight s", "pipeline s", "pre-flight + pipeline s",
               "process wall s", "ours/stock (pre-flight + pipeline)", "peak RSS GB (tree)",
               "peak ours/stock"], summary, out)
  if out:
    with open(out, "a") as f:
      f.write("\n")
  per_component = []
  for r in results:
    for name, (start, end) in r["phases"].items():
      if name != "pipeline":
        per_component.append([r["variant"], r["mode"], f"({name})", f"{end - start:.1f}",
                              memory.gb(r["phase_peaks"][name])])
    for e in r["executions"]:
      per_component.append([r["variant"], r["mode"], e.node_id, f"{e.seconds:.1f}",
                            memory.gb(r["component_peaks"][e.node_id])])
  print()
  report.emit(["variant", "mode", "component", "wall s (MLMD)", "peak RSS GB (tree, during)"],
              per_component, out)


if __name__ == "__main__":
  sys.exit(main())
