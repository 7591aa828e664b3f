"""Rebalance alone vs imbalanced-learn's SMOTE in memory, on the same rows: wall time and peak RSS.

    .venv/bin/python -m bench.rebalance_vs_imblearn --run DIR --csv DATA.csv [--repeats 1]
        [--beam-arg=--direct_running_mode=in_memory ...] [--out docs/benchmarks.md]

`--run` is an `ours` work directory that `bench/data_stages.py --keep` left (it holds Transform's
transformed examples of `--csv`, the train split being 2/3 of the rows by hash):
- ours: the Rebalance executor alone, in a fresh process, on that train split with the pipeline's
  defaults (`auto`, i.e. SMOTE-NC since the vocabulary ids are int64 features; k=5, seed 42, chunks
  of 100,000 rows), Beam in-process unless `--beam-arg` says otherwise;
- imbalanced-learn: bench/in_memory_recipe.py's read + preprocess + SMOTE stages on the same CSV
  (2/3 of the rows as train, stratified), i.e. what one has to do in memory to get to SMOTE; its
  SMOTE stage alone is reported too.
Both run in fresh processes (so both pay their imports), one after the other, alternating.
"""
import argparse
import glob
import json
import os
import sys
import time
from typing import List, Optional

from trainguard.pipeline import beam_options
from bench import in_memory_recipe, memory, report


def child_rebalance(run_dir: str, output: str, beam_args: List[str],
                    executor_file: Optional[str] = None) -> None:
  from tfx.dsl.components.base import base_beam_executor  # pylint: disable=g-import-not-at-top
  from tfx.types import artifact_utils, standard_artifacts  # pylint: disable=g-import-not-at-top
  from trainguard.components.rebalance import executor, spec  # pylint: disable=g-import-not-at-top
  if executor_file:  # an earlier version of executor.py, for a before/after row
    # One from before components/util/ imports its Beam helpers from their old place.
    # pylint: disable=g-import-not-at-top
    from trainguard.components.util import spill_shuffle, tfrecord_batches
    # pylint: enable=g-import-not-at-top
    sys.modules.setdefault("trainguard.components.spill_shuffle", spill_shuffle)
    sys.modules.setdefault("trainguard.components.tfrecord_batches", tfrecord_batches)
    executor = _load_module("trainguard.components.rebalance.executor_before", executor_file)
  examples_uri, graph_uri = transform_outputs(run_dir)
  examples = standard_artifacts.Examples()
  examples.uri = examples_uri
  examples.split_names = artifact_utils.encode_split_names(
      sorted(d[len("Split-"):] for d in os.listdir(examples_uri) if d.startswith("Split-")))
  graph = standard_artifacts.TransformGraph()
  graph.uri = graph_uri
  out = standard_artifacts.Examples()
  out.uri = output
  os.makedirs(output, exist_ok=True)
  context = base_beam_executor.BaseBeamExecutor.Context(
      beam_pipeline_args=beam_args, tmp_dir=os.path.join(output, "..", "tmp"),
      unique_id="bench")
  executor.Executor(context).Do(
      {spec.EXAMPLES_KEY: [examples], spec.TRANSFORM_GRAPH_KEY: [graph]},
      {spec.REBALANCED_EXAMPLES_KEY: [out]},
      {spec.LABEL_KEY: "label_xf", spec.STRATEGY_KEY: "auto", spec.SEED_KEY: 42})


def _load_module(name: str, path: str):
  import importlib.util  # pylint: disable=g-import-not-at-top
  module_spec = importlib.util.spec_from_file_location(name, path)
  module = importlib.util.module_from_spec(module_spec)
  sys.modules[name] = module  # so Beam can pickle its DoFns by reference (in-process runs)
  module_spec.loader.exec_module(module)
  return module


def transform_outputs(run_dir: str):
  """(transformed_examples URI, transform_graph URI) of the newest Transform execution in run_dir."""
  examples = sorted(glob.glob(os.path.join(run_dir, "pipelines", "*", "Transform",
                                           "transformed_examples", "*")), key=os.path.getmtime)
  graphs = sorted(glob.glob(os.path.join(run_dir, "pipelines", "*", "Transform",
                                         "transform_graph", "*")), key=os.path.getmtime)
  if not examples or not graphs:
    raise FileNotFoundError(f"no Transform outputs under {run_dir}/pipelines: run "
                            "bench.data_stages with --keep first")
  return examples[-1], graphs[-1]


def measure_rebalance(run_dir: str, workdir: str, beam_args: List[str],
                      executor_file: Optional[str] = None) -> dict:
  output = os.path.join(workdir, "rebalanced")
  command = [sys.executable, "-m", "bench.rebalance_vs_imblearn", "--child", "--run", run_dir,
             "--output", output] + [f"--beam-arg={a}" for a in beam_args]
  if executor_file:
    command += ["--executor-file", executor_file]
  code, wall, sampler = memory.run_sampled(command, os.path.join(workdir, "rebalance.log"))
  if code != 0:
    raise RuntimeError(f"Rebalance failed (exit {code}); see {workdir}/rebalance.log")
  with open(os.path.join(output, "rebalance.json")) as f:
    summary = json.load(f)
  return {"wall": wall, "peak": sampler.peak, "summary": summary}


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--run", required=True, help="an ours work dir from data_stages --keep")
  parser.add_argument("--csv", help="the CSV that run read (for the imbalanced-learn side)")
  parser.add_argument("--workdir", help="default: a new folder under /tmp")
  parser.add_argument("--repeats", type=int, default=1)
  parser.add_argument("--beam-arg", action="append", default=[])
  parser.add_argument("--before", help="an earlier components/rebalance/executor.py: adds a "
                                       "'before' row (in-process Beam only)")
  parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
  parser.add_argument("--executor-file", help=argparse.SUPPRESS)
  parser.add_argument("--output", help=argparse.SUPPRESS)
  parser.add_argument("--out", help="append the table to this markdown file")
  args = parser.parse_args(argv)
  beam_args = args.beam_arg or list(beam_options.IN_PROCESS)
  if args.child:
    child_rebalance(args.run, args.output, beam_args, args.executor_file)
    return 0

  root = args.workdir or f"/tmp/bench-rebalance-{int(time.time())}"
  rows = []
  for repeat in range(args.repeats):
    sides = ("ours", "imblearn") + (("before",) if args.before else ())
    order = sides if repeat % 2 == 0 else sides[::-1]
    results = {}
    for side in order:
      workdir = os.path.join(root, f"{side}-{repeat}")
      os.makedirs(workdir, exist_ok=True)
      print(f"[{time.strftime('%H:%M:%S')}] {side} run {repeat + 1} ...", flush=True)
      if side == "ours":
        results[side] = measure_rebalance(args.run, workdir, beam_args)
      elif side == "before":
        results[side] = measure_rebalance(args.run, workdir, beam_args, args.before)
      else:
        results[side] = in_memory_recipe.measure(args.csv, ("read", "preprocess", "smote"),
                                                 workdir)
      print(f"  wall {results[side]['wall']:.0f} s, peak {memory.gb(results[side]['peak'])} GB",
            flush=True)
    theirs = results["imblearn"]
    smote_s, _ = theirs["stages"].get("smote", (float("nan"), 0))
    for side in [s for s in sides if s != "imblearn"]:
      ours = results[side]
      split = ours["summary"].get("splits", {}).get("train", ours["summary"])
      rows.append([
          str(repeat + 1), "Rebalance" + (" (before)" if side == "before" else ""),
          " ".join(beam_args), str(split.get("strategy", "?")),
          str(sum(split.get("class_counts_before", {}).values()) or "?"),
          str(sum(split.get("class_counts_after", {}).values()) or "?"),
          f"{ours['wall']:.0f}", memory.gb(ours["peak"]),
          str(theirs["info"].get("train_rows", "?")), f"{theirs['wall']:.0f}", f"{smote_s:.0f}",
          memory.gb(theirs["peak"]) + ("" if theirs["exit"] == 0 else " (failed)"),
          f"{ours['wall'] / theirs['wall']:.2f}", f"{ours['peak'] / max(theirs['peak'], 1):.2f}"])
  report.emit(["run", "ours", "Beam args", "strategy", "train rows", "rows after",
               "ours process s", "ours peak GB", "imblearn train rows",
               "imblearn read+preprocess+SMOTE process s", "of which SMOTE s", "imblearn peak GB",
               "wall ours/imblearn", "peak ours/imblearn"], rows, args.out)
  return 0


if __name__ == "__main__":
  sys.exit(main())
