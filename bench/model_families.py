"""Which model family should `trainguard run` default to? Keras vs gradient-boosted trees, side by side.

    .venv/bin/python -m bench.model_families [--datasets penguins,breast_cancer] [--out docs/benchmarks.md]

For each data set, `trainguard run <csv> --label <label> --model <family>` once per family, one
fresh process each, in one work directory per data set (the Keras run first; the trees' run takes
ExampleGen, statistics, DataGuard and Transform from its cache and reruns Rebalance, which the
trees skip for class weights, then Trainer, Evaluator and Pusher). Each run's eval metrics (the
Evaluator's, on the eval split nothing selecting the model has seen) and the Trainer's time are
read back from ML Metadata.

Data: the raw Palmer penguins (`pipeline/penguins.csv`, 344 rows, 3 classes, real gaps) and
scikit-learn's bundled breast cancer set (569 rows, 30 numeric features, 2 classes) or wine
(178 rows, 13 numeric features, 3 classes), written to CSV here (bundled with scikit-learn: no
download). Defaults otherwise: seed 42, early stopping on the validation split, `--rebalance auto`
(for the trees: class weights instead of resampling).
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Tuple

from bench import report

FAMILIES = ("keras", "gradient_boosted_trees")


def penguins(folder: str) -> Tuple[str, str]:
  from trainguard.pipeline import datasets  # pylint: disable=g-import-not-at-top
  return datasets.penguins_source_csv(), "species"


def sklearn_csv(name: str, folder: str) -> Tuple[str, str]:
  """A scikit-learn bundled data set as CSV, the class names as the label, column names with `_`."""
  from sklearn import datasets  # pylint: disable=g-import-not-at-top
  bunch = getattr(datasets, f"load_{name}")()
  path = os.path.join(folder, f"{name}.csv")
  columns = [c.replace(" ", "_").replace("/", "_") for c in bunch.feature_names]
  with open(path, "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(columns + ["target"])
    for row, target in zip(bunch.data, bunch.target):
      writer.writerow([repr(float(v)) for v in row] + [str(bunch.target_names[target])])
  return path, "target"


DATASETS = {
    "penguins": penguins,
    "breast_cancer": lambda folder: sklearn_csv("breast_cancer", folder),
    "wine": lambda folder: sklearn_csv("wine", folder),
}


def run(csv_path: str, label: str, family: str, workdir: str) -> Dict[str, object]:
  """One `trainguard run`, its wall time and what ML Metadata recorded of it."""
  from trainguard.pipeline import results  # pylint: disable=g-import-not-at-top
  from trainguard.preflight import options  # pylint: disable=g-import-not-at-top
  trainguard = os.path.join(os.path.dirname(sys.executable), "trainguard")
  started = time.time()
  proc = subprocess.run([trainguard, "run", csv_path, "--label", label, "--workdir", workdir,
                         "--model", family], capture_output=True, text=True)
  wall = time.time() - started
  if proc.returncode != 0:
    raise RuntimeError(f"{family} on {csv_path} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
  paths = results.RunPaths(workdir, f"trainguard-{options.dataset_name(csv_path)}")
  summary = results.latest_run(paths)
  metrics = summary.eval_metrics
  per_class = results.per_class_metrics(summary.artifact_uri("Evaluator", "evaluation"))
  f1 = next((v for k, v in metrics.items() if k.startswith("macro") and "f1" in k), None)
  if f1 is None and per_class:
    f1 = sum(c.get("f1_score", 0.0) for c in per_class.values()) / len(per_class)
  return {"accuracy": metrics.get("sparse_categorical_accuracy"), "macro_f1": f1,
          "trainer_s": summary.executions["Trainer"].seconds, "wall_s": wall,
          "blessed": summary.blessed, "rows": int(metrics.get("example_count", 0))}


def main(argv=None) -> int:
  parser = argparse.ArgumentParser()
  parser.add_argument("--datasets", default="penguins,breast_cancer")
  parser.add_argument("--out")
  args = parser.parse_args(argv)
  root = tempfile.mkdtemp(prefix="bench-families-")
  rows: List[List[str]] = []
  for name in args.datasets.split(","):
    csv_path, label = DATASETS[name](root)
    workdir = os.path.join(root, name)
    for family in FAMILIES:
      got = run(csv_path, label, family, workdir)
      print(f"{name} {family}: {got}", flush=True)
      rows.append([name, family, f"{got['macro_f1']:.3f}", f"{got['accuracy']:.3f}",
                   str(got["rows"]), f"{got['trainer_s']:.1f}", f"{got['wall_s']:.0f}",
                   "yes" if got["blessed"] else "no"])
  report.emit(["data", "--model", "eval macro F1", "eval accuracy", "eval rows", "Trainer s",
               "run wall s", "blessed"], rows, args.out)
  return 0


if __name__ == "__main__":
  sys.exit(main())
