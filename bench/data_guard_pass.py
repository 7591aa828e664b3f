"""DataGuard's dataset pass alone (components/data_guard/dataset_checks.py), now vs an earlier version.

    .venv/bin/python -m bench.data_guard_pass --run DIR [--before OLD_dataset_checks.py]
        [--beam-arg=...] [--out docs/benchmarks.md]

`--run` is a work directory that `bench/data_stages.py --keep` left: the pass reads its
CsvExampleGen examples (every split) and its StatisticsGen train statistics (for the label-leakage
bins), exactly as the DataGuard executor does, in a fresh process per version, one after the other,
Beam in-process unless `--beam-arg` says otherwise. What it measures is the Beam pass itself:
wall time of the process (TensorFlow import included, reported separately) and the tree's peak RSS.
"""
import argparse
import glob
import inspect
import json
import os
import shutil
import sys
import time
from typing import List, Optional

from trainguard.pipeline import beam_options
from bench import memory, report

LABEL = "label"


def _newest(pattern: str) -> str:
  found = sorted(glob.glob(pattern), key=os.path.getmtime)
  if not found:
    raise FileNotFoundError(f"nothing matches {pattern}: run bench.data_stages with --keep first")
  return found[-1]


def child(run_dir: str, output: str, beam_args: List[str], module_file: Optional[str]) -> dict:
  started = time.time()
  import apache_beam as beam  # pylint: disable=g-import-not-at-top
  from tensorflow_metadata.proto.v0 import schema_pb2  # pylint: disable=g-import-not-at-top
  from tfx.components.statistics_gen import stats_artifact_utils  # pylint: disable=g-import-not-at-top
  from tfx.types import standard_artifacts  # pylint: disable=g-import-not-at-top
  from tfx.utils import io_utils  # pylint: disable=g-import-not-at-top
  from trainguard.components.data_guard import executor as data_guard_executor  # pylint: disable=g-import-not-at-top
  from trainguard.components.data_guard import dataset_checks  # pylint: disable=g-import-not-at-top
  if module_file:
    import importlib.util  # pylint: disable=g-import-not-at-top
    name = "trainguard.components.data_guard.dataset_checks_before"
    module_spec = importlib.util.spec_from_file_location(name, module_file)
    dataset_checks = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = dataset_checks
    module_spec.loader.exec_module(dataset_checks)
  imported = time.time()
  pipelines = os.path.join(run_dir, "pipelines", "*")
  examples = _newest(os.path.join(pipelines, "CsvExampleGen", "examples", "*"))
  statistics = standard_artifacts.ExampleStatistics()
  statistics.uri = _newest(os.path.join(pipelines, "StatisticsGen", "statistics", "*"))
  statistics.split_names = '["train", "eval"]'
  schema = io_utils.SchemaReader().read(_newest(os.path.join(
      pipelines, "ImportSchemaGen", "schema", "*", "schema.pbtxt")))
  assert isinstance(schema, schema_pb2.Schema)
  train_statistics = stats_artifact_utils.load_statistics(statistics, "train").proto()
  # What the DataGuard executor passes (its extremes, rank and label bins; no policy, so no
  # `label.map`), less what a `--before` version does not take (`label_class`, say); a version
  # that still cut its own bins uses its own `binnings`.
  arguments = data_guard_executor.pass_arguments(train_statistics, schema, LABEL)
  if hasattr(dataset_checks, "binnings"):
    arguments["binning"] = dataset_checks.binnings(train_statistics, schema, LABEL)
  accepted = inspect.signature(dataset_checks.run_beam_pass).parameters
  arguments = {k: v for k, v in arguments.items() if k in accepted}
  splits = sorted(d[len("Split-"):] for d in os.listdir(examples) if d.startswith("Split-"))
  spill_dir = output + ".spill"
  os.makedirs(spill_dir)
  try:
    with beam.Pipeline(argv=beam_args) as pipeline:
      if "spill_dir" in accepted:
        arguments["spill_dir"] = spill_dir
      dataset_checks.run_beam_pass(pipeline, dataset_checks.split_patterns(examples, splits),
                                   LABEL, output_path=output, **arguments)
  finally:
    shutil.rmtree(spill_dir)
  result = dataset_checks.read_result(output)
  return {"import_s": imported - started, "pass_s": time.time() - imported,
          "rows": result["rows"], "labels": result["labels"], "cells": len(result["cells"])}


def measure(run_dir: str, workdir: str, beam_args: List[str], module_file: Optional[str]) -> dict:
  os.makedirs(workdir, exist_ok=True)
  info_file = os.path.join(workdir, "info.json")
  command = [sys.executable, "-m", "bench.data_guard_pass", "--child", "--run", run_dir,
             "--output", os.path.join(workdir, "result.json"), "--info", info_file]
  command += [f"--beam-arg={a}" for a in beam_args]
  if module_file:
    command += ["--module-file", module_file]
  code, wall, sampler = memory.run_sampled(command, os.path.join(workdir, "child.log"))
  if code != 0:
    raise RuntimeError(f"dataset pass failed (exit {code}); see {workdir}/child.log")
  with open(info_file) as f:
    info = json.load(f)
  return {"wall": wall, "peak": sampler.peak, **info}


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--run", required=True)
  parser.add_argument("--before", help="an earlier dataset_checks.py: adds a 'before' row")
  parser.add_argument("--workdir")
  parser.add_argument("--repeats", type=int, default=1)
  parser.add_argument("--beam-arg", action="append", default=[])
  parser.add_argument("--out", help="append the table to this markdown file")
  parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
  parser.add_argument("--output", help=argparse.SUPPRESS)
  parser.add_argument("--info", help=argparse.SUPPRESS)
  parser.add_argument("--module-file", help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  beam_args = args.beam_arg or list(beam_options.IN_PROCESS)
  if args.child:
    info = child(args.run, args.output, beam_args, args.module_file)
    with open(args.info, "w") as f:
      json.dump(info, f)
    return 0
  root = args.workdir or f"/tmp/bench-data-guard-pass-{int(time.time())}"
  versions = [("now", None)] + ([("before", args.before)] if args.before else [])
  rows = []
  for repeat in range(args.repeats):
    for name, module_file in (versions if repeat % 2 == 0 else versions[::-1]):
      print(f"[{time.strftime('%H:%M:%S')}] {name} run {repeat + 1} ...", flush=True)
      r = measure(args.run, os.path.join(root, f"{name}-{repeat}"), beam_args, module_file)
      rows.append([str(repeat + 1), name, " ".join(beam_args), f"{r['wall']:.0f}",
                   f"{r['import_s']:.0f}", f"{r['pass_s']:.0f}", memory.gb(r["peak"])])
      print(f"  wall {r['wall']:.0f} s, pass {r['pass_s']:.0f} s, peak {memory.gb(r['peak'])} GB",
            flush=True)
  report.emit(["run", "dataset_checks.py", "Beam args", "process wall s", "imports s", "pass s",
               "peak RSS GB (tree)"], rows, args.out)
  return 0


if __name__ == "__main__":
  sys.exit(main())
