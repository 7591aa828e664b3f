"""A second opinion on the same features: gradient-boosted trees against the trained network.

Why: when a network underperforms, the question is whether the data or the model is the limit.
scikit-learn's HistGradientBoostingClassifier, with its defaults, is a strong tabular baseline that
needs no tuning: fitted on the same transformed train rows the network saw (a bounded sample) and
scored on the same validation rows (never eval), a clear lead in macro F1 says the network, not the
data, holds the result back (`BASELINE_GAP`). On real tabular data tried as a user would, it beat the
default network (vega cars macro F1 0.81 vs 0.76; ISLP Caravan minority PR-AUC 0.16 vs 0.11).

Category and bucket ids (int64 inputs) are given to the trees as categorical features when they
take at most 255 ids (the trees' limit), else as numbers.
"""
from typing import Any, Dict, Iterable, List, Optional, Tuple

import numpy as np

# The trees' sample of train rows. 20k, not 100k: on 200K generated rows (8 features, 3 classes)
# the trees took 15.6 s on 100k rows and 0.8 s on 20k, and the diagnosis after training cost 68% of
# a 3-epoch fit at 100k (bench/training_monitor.py); a baseline's lead shows on 20k rows.
MAX_TRAIN_ROWS = 20_000
MAX_CATEGORIES = 255


def table(batches: Iterable[Tuple[Dict[str, Any], Any]], names: List[str],
          max_rows: int = MAX_TRAIN_ROWS) -> Tuple[np.ndarray, np.ndarray]:
  """Up to `max_rows` rows of `(features, label)` batches as one matrix (columns in `names` order,
  each feature's values flattened to one column per value) and the labels."""
  columns: Dict[str, List[np.ndarray]] = {n: [] for n in names}
  labels: List[np.ndarray] = []
  taken = 0
  for x, y in batches:
    for name in names:
      value = np.asarray(x[name])
      columns[name].append(value.reshape(len(value), -1))
    labels.append(np.asarray(y).reshape(-1))
    taken += len(labels[-1])
    if taken >= max_rows:
      break
  matrix = np.concatenate([np.concatenate(columns[n]) for n in names], axis=1)[:max_rows]
  return matrix.astype(np.float64), np.concatenate(labels)[:max_rows]


def categorical_mask(matrix: np.ndarray, integer_columns: List[bool]) -> np.ndarray:
  return np.array([is_int and matrix[:, i].min() >= 0 and matrix[:, i].max() < MAX_CATEGORIES
                   for i, is_int in enumerate(integer_columns)], dtype=bool)


def compare(train: Tuple[np.ndarray, np.ndarray], validation: Tuple[np.ndarray, np.ndarray],
            network_predictions: np.ndarray, num_classes: int, integer_columns: List[bool],
            seed: int = 0) -> Optional[Dict[str, Any]]:
  """Fits the trees on `train`, scores both models' macro F1 on `validation`. None when either
  side has fewer than two classes (nothing to compare)."""
  from sklearn.ensemble import HistGradientBoostingClassifier  # pylint: disable=g-import-not-at-top
  from sklearn.metrics import f1_score  # pylint: disable=g-import-not-at-top
  x_train, y_train = train
  x_val, y_val = validation
  keep = (y_train >= 0) & (y_train < num_classes)
  x_train, y_train = x_train[keep], y_train[keep].astype(np.int64)
  y_val = y_val.astype(np.int64)
  if len(np.unique(y_train)) < 2 or len(np.unique(y_val)) < 2:
    return None
  mask = categorical_mask(np.concatenate([x_train, x_val]), integer_columns)
  trees = HistGradientBoostingClassifier(
      categorical_features=mask if mask.any() else None, random_state=seed)
  trees.fit(x_train, y_train)
  labels = sorted(set(y_val.tolist()))  # classes absent from validation would score 0 for both
  score = lambda predicted: float(f1_score(y_val, predicted, labels=labels, average="macro",
                                           zero_division=0))
  return {"metric": "macro F1", "trees_score": score(trees.predict(x_val)),
          "network_score": score(network_predictions),
          "train_rows": int(len(y_train)), "validation_rows": int(len(y_val)),
          "model": "sklearn.ensemble.HistGradientBoostingClassifier (defaults)"}


def compare_regression(train: Tuple[np.ndarray, np.ndarray], validation: Tuple[np.ndarray, np.ndarray],
                       network_predictions: np.ndarray, integer_columns: List[bool],
                       seed: int = 0) -> Optional[Dict[str, Any]]:
  """The same comparison for a regression: R² of HistGradientBoostingRegressor and of the network
  on the validation rows (R² does not depend on the target's units, so the standardised target
  the network sees scores as the raw one would)."""
  from sklearn.ensemble import HistGradientBoostingRegressor  # pylint: disable=g-import-not-at-top
  from sklearn.metrics import r2_score  # pylint: disable=g-import-not-at-top
  x_train, y_train = train
  x_val, y_val = validation
  keep = np.isfinite(y_train)
  x_train, y_train = x_train[keep], y_train[keep].astype(np.float64)
  if len(y_train) < 10 or len(y_val) < 2 or np.std(y_val) == 0:
    return None
  mask = categorical_mask(np.concatenate([x_train, x_val]), integer_columns)
  trees = HistGradientBoostingRegressor(categorical_features=mask if mask.any() else None,
                                        random_state=seed)
  trees.fit(x_train, y_train)
  return {"metric": "R²", "trees_score": float(r2_score(y_val, trees.predict(x_val))),
          "network_score": float(r2_score(y_val, network_predictions)),
          "train_rows": int(len(y_train)), "validation_rows": int(len(y_val)),
          "model": "sklearn.ensemble.HistGradientBoostingRegressor (defaults)"}
