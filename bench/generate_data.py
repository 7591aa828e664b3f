"""The issue-12 dataset, generated: a CSV big enough to measure the data stages at scale.

    .venv/bin/python -m bench.generate_data --rows 1000000 --out /tmp/data-1m.csv [--seed 7]

20 feature columns and a label:
- `num_00` … `num_13`: numeric, each on its own scale, log-spaced from 0.01 to 10,000 (what makes
  scaling necessary);
- `cat_0` … `cat_5`: categorical, 3 to 40 values each;
- `label`: `common`, or `rare` on 1% of rows (Bernoulli, so the count varies a little with the seed);
- 10% of the feature cells are empty (independently per cell); the label is never missing.
The minority class is shifted on three numeric features and skewed on one categorical, so there is
signal to learn and SMOTE's neighbours are meaningful.

Streaming: rows are drawn and written in chunks (`--chunk`, 100,000 by default), so memory stays
flat whatever `--rows` is; the same seed and chunk size give the same bytes.
"""
import argparse
import sys
import time

import numpy as np
import pandas as pd

NUMERIC = 14
CATEGORICAL = 6
MISSING = 0.10
MINORITY = 0.01
LABEL = "label"
SCALES = np.logspace(-2, 4, NUMERIC)  # 0.01 … 10,000
CARDINALITIES = (3, 5, 8, 12, 20, 40)
# Minority rows: these numeric features move by this many of their own standard deviations.
SHIFTS = {0: 1.5, 5: -1.2, 9: 1.0}


def columns():
  return ([f"num_{i:02d}" for i in range(NUMERIC)] + [f"cat_{j}" for j in range(CATEGORICAL)]
          + [LABEL])


def chunk(rng: np.random.Generator, rows: int) -> pd.DataFrame:
  """`rows` rows drawn from `rng`."""
  rare = rng.random(rows) < MINORITY
  data = {}
  for i in range(NUMERIC):
    values = rng.normal(1.0, 0.5, rows)
    if i in SHIFTS:
      values = values + rare * SHIFTS[i] * 0.5
    values = values * SCALES[i]
    values[rng.random(rows) < MISSING] = np.nan
    data[f"num_{i:02d}"] = values
  for j, cardinality in enumerate(CARDINALITIES):
    codes = rng.integers(0, cardinality, rows)
    if j == 0:  # the minority favours the first category
      codes = np.where(rare & (rng.random(rows) < 0.5), 0, codes)
    values = np.array([f"c{j}_{k}" for k in range(cardinality)], dtype=object)[codes]
    values[rng.random(rows) < MISSING] = None
    data[f"cat_{j}"] = values
  data[LABEL] = np.where(rare, "rare", "common")
  return pd.DataFrame(data, columns=columns())


def generate(path: str, rows: int, seed: int = 7, chunk_rows: int = 100_000) -> int:
  """Writes `rows` rows to `path`; returns the number of minority rows."""
  rng = np.random.default_rng(seed)
  minority = 0
  with open(path, "w", newline="") as f:
    f.write(",".join(columns()) + "\n")
    for start in range(0, rows, chunk_rows):
      frame = chunk(rng, min(chunk_rows, rows - start))
      minority += int((frame[LABEL] == "rare").sum())
      frame.to_csv(f, header=False, index=False, float_format="%.6g", na_rep="")
  return minority


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--rows", type=int, required=True)
  parser.add_argument("--out", required=True)
  parser.add_argument("--seed", type=int, default=7)
  parser.add_argument("--chunk", type=int, default=100_000)
  args = parser.parse_args(argv)
  started = time.time()
  minority = generate(args.out, args.rows, args.seed, args.chunk)
  print(f"wrote {args.rows} rows ({minority} rare) to {args.out} in {time.time() - started:.1f} s")
  return 0


if __name__ == "__main__":
  sys.exit(main())
