"""Does rebalancing help? Minority-class recall and PR-AUC on an untouched eval split, for
no fix / class weights / random over-sampling / SMOTE, on a generated 1:50 dataset.

    .venv/bin/python -m bench.rebalance_helps [--rows 5100] [--out docs/benchmarks.md]

Every variant is a full `trainguard run` (same data, same seed, its own work directory so no cache
or baseline model is shared); the metrics are TFMA's per-class ones from each run's Evaluator.
"""
import argparse
import csv
import os
import sys
import tempfile
import time

import numpy as np

from bench import report

VARIANTS = (
    ("none", ["--rebalance", "none"]),
    ("class weights", ["--rebalance", "none", "--class-weights"]),
    ("random_over", ["--rebalance", "random_over"]),
    ("smote", ["--rebalance", "smote"]),
)


def write_dataset(path: str, rows: int, seed: int = 11) -> None:
  """1 minority row per 50: six numeric features, two of them shifted for the minority class."""
  rng = np.random.default_rng(seed)
  with open(path, "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow([f"x{i}" for i in range(6)] + ["label"])
    for i in range(rows):
      minority = i % 51 == 0
      x = rng.normal(0, 1, 6)
      if minority:
        x[0] += 1.6
        x[1] -= 1.2
      writer.writerow([f"{v:.4f}" for v in x] + ["rare" if minority else "common"])


def main(argv=None) -> int:
  parser = argparse.ArgumentParser()
  parser.add_argument("--rows", type=int, default=5100)
  parser.add_argument("--epochs", type=int, default=20)
  parser.add_argument("--out", default=None, help="append the table to this markdown file")
  args = parser.parse_args(argv)
  from trainguard import cli  # pylint: disable=g-import-not-at-top
  from trainguard.pipeline import results  # pylint: disable=g-import-not-at-top
  root = tempfile.mkdtemp(prefix="bench-rebalance-")
  data = os.path.join(root, "imbalanced.csv")
  write_dataset(data, args.rows)
  rows = []
  for name, flags in VARIANTS:
    workdir = os.path.join(root, name.replace(" ", "_"))
    started = time.time()
    code = cli.main(["run", data, "--label", "label", "--workdir", workdir,
                     "--epochs", str(args.epochs), *flags])
    seconds = time.time() - started
    summary = results.latest_run(results.RunPaths(workdir, "trainguard-imbalanced"))
    per_class = results.per_class_metrics(summary.artifact_uri("Evaluator", "evaluation"))
    rare = per_class[1]  # classes sorted: common = 0, rare = 1
    rows.append((name, code, rare.get("recall"), rare.get("pr_auc"), rare.get("precision"),
                 summary.eval_metrics.get("sparse_categorical_accuracy"), seconds))
  report.emit(
      ["variant", "exit", "minority recall", "minority PR-AUC", "minority precision", "accuracy",
       "wall s"],
      [[name, str(code), f"{recall:.3f}", f"{pr_auc:.3f}", f"{precision:.3f}", f"{accuracy:.3f}",
        f"{seconds:.0f}"]
       for name, code, recall, pr_auc, precision, accuracy, seconds in rows], args.out)
  return 0


if __name__ == "__main__":
  sys.exit(main())
