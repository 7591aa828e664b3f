"""Wall time of a whole penguins run: trainguard vs the TFX 1.16 penguin example, side by side.

    .venv/bin/python -m bench.penguins_vs_tfx_example [--repeats 1] [--out docs/benchmarks.md]

- theirs: `tfx/examples/penguin/penguin_pipeline_local.py`'s `create_pipeline` (shipped in the tfx
  wheel) with its own Beam arguments (multi-process DirectRunner, workers = CPUs), its Keras module
  file, no tuner, no bulk inferrer, on the processed penguins CSV it expects (written here from the
  `palmerpenguins` package: rows without gaps, bill → culmen, species as 0/1/2);
- ours: `trainguard run <raw penguins csv> --label species` from an empty work directory (schema
  inferred, no cache, every stage of ours: pre-flight, DataGuard with the dataset pass, Transform,
  Rebalance, Trainer, Evaluator with per-class metrics, Pusher, report).
Each run is a fresh process (TensorFlow start-up included), one after the other.
"""
import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile
import time

from bench import report

THEIRS = r'''
import os, sys
from tfx import v1 as tfx
from tfx.examples.penguin import penguin_pipeline_local as example
root, data = sys.argv[1], sys.argv[2]
module_file = os.path.join(os.path.dirname(example.__file__), "penguin_utils_keras.py")
tfx.orchestration.LocalDagRunner().run(example.create_pipeline(
    pipeline_name="penguin_local_keras", pipeline_root=os.path.join(root, "pipelines"),
    data_root=data, module_file=module_file, accuracy_threshold=0.6,
    serving_model_dir=os.path.join(root, "serving_model"),
    metadata_path=os.path.join(root, "metadata.db"), user_provided_schema_path=None,
    enable_tuning=False, enable_bulk_inferrer=False, examplegen_input_config=None,
    examplegen_range_config_date=None, resolver_range_config=None,
    beam_pipeline_args=example._beam_pipeline_args_by_runner["DirectRunner"],
    enable_transform_input_cache=False, enable_example_diff=False))
'''


def write_processed_penguins(folder: str) -> None:
  from palmerpenguins import load_penguins  # pylint: disable=g-import-not-at-top
  frame = load_penguins().dropna()
  classes = sorted(frame["species"].unique())
  os.makedirs(folder, exist_ok=True)
  with open(os.path.join(folder, "penguins_processed.csv"), "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["species", "culmen_length_mm", "culmen_depth_mm", "flipper_length_mm",
                     "body_mass_g"])
    for row in frame.itertuples():
      writer.writerow([classes.index(row.species), row.bill_length_mm, row.bill_depth_mm,
                       float(row.flipper_length_mm), float(row.body_mass_g)])


def timed(command):
  """Wall seconds of one fresh process, and its output."""
  started = time.time()
  proc = subprocess.run(command, capture_output=True, text=True)
  seconds = time.time() - started
  if proc.returncode != 0:
    raise RuntimeError(f"{command[:3]} failed:\n{proc.stderr[-3000:]}")
  return seconds, proc.stdout


def component_seconds(output: str):
  """`trainguard run`'s per-component table (node, state, seconds from ML Metadata)."""
  found = re.findall(r"^  (\S+)\s+(COMPLETE|CACHED)\s+([0-9.]+) s$", output, re.M)
  return {node: float(seconds) for node, _, seconds in found}


def main(argv=None) -> int:
  parser = argparse.ArgumentParser()
  parser.add_argument("--repeats", type=int, default=1)
  parser.add_argument("--out")
  args = parser.parse_args(argv)
  from trainguard.pipeline import datasets  # pylint: disable=g-import-not-at-top
  trainguard = os.path.join(os.path.dirname(sys.executable), "trainguard")
  rows = []
  for _ in range(args.repeats):
    root = tempfile.mkdtemp(prefix="bench-penguins-")
    # The example reads data_root/labelled/*.
    write_processed_penguins(os.path.join(root, "theirs-data", "labelled"))
    theirs, _ = timed([sys.executable, "-c", THEIRS, os.path.join(root, "theirs"),
                       os.path.join(root, "theirs-data")])
    ours, output = timed([trainguard, "run", datasets.penguins_source_csv(), "--label",
                          "species", "--workdir", os.path.join(root, "ours")])
    rows.append((theirs, ours))
    print("ours, per component (s): " + ", ".join(
        f"{node} {seconds:.1f}" for node, seconds in component_seconds(output).items()))
  report.emit(["run", "TFX penguin example (s)", "trainguard run (s)", "ratio ours/theirs"],
              [[str(i), f"{theirs:.0f}", f"{ours:.0f}", f"{ours / theirs:.2f}"]
               for i, (theirs, ours) in enumerate(rows, 1)], args.out)
  return 0


if __name__ == "__main__":
  sys.exit(main())
