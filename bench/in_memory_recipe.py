"""The article's in-memory recipe at N rows: the baseline trainguard's memory is compared with.

    .venv/bin/python -m bench.in_memory_recipe --csv /tmp/data-1m.csv [--stages read,preprocess,smote,train]

The recipe, as /work/shared/seed-article.txt writes it, on the generated CSV: pandas reads the
whole file and splits it 2:1 (stratified, seed 42); scikit-learn's `SimpleImputer` (mean) +
`StandardScaler` on the numeric columns and `SimpleImputer` (most frequent) + one-hot on the
categorical ones, fit on train; imbalanced-learn's `SMOTE` (k=5, seed 42) on the encoded train
matrix; and, with the `train` stage, a short Keras training (one epoch, one hidden layer) on the
resampled rows. Everything is in memory at once, which is the point of measuring it.

Run in a fresh process under bench/memory.py's sampler (`measure`), each stage's wall time and the
tree's peak RSS during it are reported; a stage that fails (e.g. out of memory) is reported with
what it reached.
"""
import argparse
import json
import os
import sys
import time
from typing import Dict, List, Sequence, Tuple

from bench import memory

STAGES = ("read", "preprocess", "smote", "train")
LABEL = "label"


def recipe(csv_path: str, stages: Sequence[str], phases: Dict[str, Tuple[float, float]]) -> dict:
  """Runs the recipe's stages in this process, recording (start, end) per stage in `phases`."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  import pandas as pd  # pylint: disable=g-import-not-at-top
  from sklearn.compose import ColumnTransformer  # pylint: disable=g-import-not-at-top
  from sklearn.impute import SimpleImputer  # pylint: disable=g-import-not-at-top
  from sklearn.model_selection import train_test_split  # pylint: disable=g-import-not-at-top
  from sklearn.pipeline import make_pipeline  # pylint: disable=g-import-not-at-top
  from sklearn.preprocessing import OneHotEncoder, StandardScaler  # pylint: disable=g-import-not-at-top
  out = {}
  started = time.time()
  frame = pd.read_csv(csv_path)
  y = (frame.pop(LABEL) == "rare").astype(np.int32).to_numpy()
  x_train, x_eval, y_train, _ = train_test_split(frame, y, test_size=1 / 3, stratify=y,
                                                 random_state=42)
  del frame
  phases["read"] = (started, time.time())
  out["train_rows"] = len(x_train)
  if "preprocess" not in stages:
    return out
  started = time.time()
  numeric = [c for c in x_train.columns if c.startswith("num_")]
  categorical = [c for c in x_train.columns if c.startswith("cat_")]
  encode = ColumnTransformer([
      ("numeric", make_pipeline(SimpleImputer(strategy="mean"), StandardScaler()), numeric),
      ("categorical", make_pipeline(SimpleImputer(strategy="most_frequent"),
                                    OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
       categorical)])
  x_train = encode.fit_transform(x_train).astype(np.float32)
  x_eval = encode.transform(x_eval).astype(np.float32)
  phases["preprocess"] = (started, time.time())
  out["encoded_columns"] = int(x_train.shape[1])
  if "smote" not in stages:
    return out
  from imblearn.over_sampling import SMOTE  # pylint: disable=g-import-not-at-top
  started = time.time()
  x_train, y_train = SMOTE(k_neighbors=5, random_state=42).fit_resample(x_train, y_train)
  phases["smote"] = (started, time.time())
  out["rows_after_smote"] = int(len(y_train))
  if "train" not in stages:
    return out
  started = time.time()
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf.keras.utils.set_random_seed(42)
  model = tf.keras.Sequential([tf.keras.layers.Dense(16, activation="relu"),
                               tf.keras.layers.Dense(1, activation="sigmoid")])
  model.compile(optimizer="adam", loss="binary_crossentropy")
  model.fit(x_train, y_train, epochs=1, batch_size=1024, verbose=0)
  phases["train"] = (started, time.time())
  return out


def measure(csv_path: str, stages: Sequence[str], workdir: str) -> dict:
  """Runs the recipe in a fresh process under the sampler; per stage: seconds and peak RSS."""
  os.makedirs(workdir, exist_ok=True)
  phases_file = os.path.join(workdir, "recipe-phases.json")
  command = [sys.executable, "-m", "bench.in_memory_recipe", "--child", "--csv", csv_path,
             "--stages", ",".join(stages), "--phases", phases_file]
  code, wall, sampler = memory.run_sampled(command, os.path.join(workdir, "recipe.log"))
  phases, info = {}, {}
  if os.path.exists(phases_file):
    with open(phases_file) as f:
      saved = json.load(f)
    phases, info = saved["phases"], saved["info"]
  return {"exit": code, "wall": wall, "peak": sampler.peak, "info": info,
          "stages": {name: (end - start, sampler.peak_between(start, end))
                     for name, (start, end) in phases.items()}}


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--csv", required=True)
  parser.add_argument("--stages", default=",".join(STAGES))
  parser.add_argument("--workdir", default="/tmp/bench-in-memory-recipe")
  parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
  parser.add_argument("--phases", help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  stages: List[str] = args.stages.split(",")
  if args.child:
    phases: Dict[str, Tuple[float, float]] = {}
    info = {}
    try:
      info = recipe(args.csv, stages, phases)
    except BaseException as e:  # MemoryError included: report how far it got
      info = {"error": f"{type(e).__name__}: {e}"[:300]}
      raise
    finally:  # what was reached, also when a stage fails
      with open(args.phases, "w") as f:
        json.dump({"phases": phases, "info": info}, f)
    return 0
  result = measure(args.csv, stages, args.workdir)
  print(json.dumps(result, indent=1))
  return 0 if result["exit"] == 0 else 1


if __name__ == "__main__":
  sys.exit(main())
