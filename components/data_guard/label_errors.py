"""LIKELY_LABEL_ERRORS: train rows whose label an out-of-fold model confidently contradicts.

Why: a mislabelled row teaches the model the wrong answer, and nothing else in DataGuard sees it
(CONFLICTING_LABELS needs identical features). Confident learning (Northcutt et al., 2021; what
cleanlab's `find_label_issues` does), written plainly with scikit-learn rather than adding cleanlab
to the locked stack:
1. out-of-fold predicted probabilities p (`cross_val_predict`, stratified k = min(5, smallest
   class) folds) of a standardised logistic regression (text one-hot, missing numbers as the
   median plus an indicator). Why not gradient-boosted trees: on this 2-core machine, under load,
   HistGradientBoosting took 91 s for breast cancer's 569 rows and 25 minutes for digits, where
   the logistic regression takes under a second, and it flagged 8 of iris' 150 rows (5.3%)
   against the regression's 0;
2. per class j a threshold t_j = the mean p_j over the rows labelled j (the model's typical
   confidence in its own class);
3. a row labelled i is a likely error when some other class j reaches its threshold (p_j ≥ t_j;
   of several, the most probable) **and** the model's top class is not i (cleanlab drops issues
   whose given label is the model's prediction too), and its probability is at least
   `MIN_CONFIDENCE` (0.8). Why the last: where the features carry nothing (labels independent of
   them) every threshold is about the prior, and half the rows of a balanced binary label passed
   steps 2-3 (73 of 150 in dataset_findings_test's clean data); with it, none.

Bounded: the model sees a uniform sample of at most `SAMPLE_ROWS` train rows, kept in the pass as
a bottom-k sketch of the rows' content hash (per bundle the `SAMPLE_ROWS` smallest hashes, only
rows below the current k-th smallest are read into Python; the combiner keeps the k smallest of
all), so memory is k rows whatever the number of rows. Identical rows share a hash and are one row
of the sample. Text features with more than `binning.MAX_CATEGORIES` values are left out (an
identifier cannot generalise out of fold). Needs `MIN_ROWS` sampled rows and two classes of at
least two rows; a regression label is not judged.

Info by default: a row the model contradicts may be a hard case, not an error. Measured (all rows,
5 folds): 5% of labels flipped on three separable classes (1,200 rows): 56 of the 60 found, no
false ones (recall 0.93, precision 1.0); clean data: penguins 0 of 344, breast cancer 1 of 569
(0.18%), wine 0 of 178, iris 0 of 150. `label_error_fraction` (0.05), from which a policy that
raises the kind applies its severity, sits well above clean data and at the share one in twenty
wrong labels gives.
"""
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np
import pyarrow as pa

from trainguard.components.data_guard.binning import MAX_CATEGORIES

SAMPLE_ROWS = 20_000
MIN_ROWS = 50
EXAMPLES = 5
EXAMPLE_FEATURES = 8
SEED = 0
MIN_CONFIDENCE = 0.8  # p(the contradicting class): "confidently", also where the model learns nothing

# content hash (first half, shifted into int64 for Beam's coder; same order) → [label, {feature:
# first value}]
Sample = Dict[int, list]


def _value(values):
  if not values:
    return None
  value = values[0]
  return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


class Sketch:
  """One bundle's bottom-k of (content hash → row)."""

  def __init__(self, k: int = SAMPLE_ROWS):
    self.k = k
    self.keys = np.zeros(0, dtype=np.uint64)

  def add(self, batch: pa.RecordBatch, keys: np.ndarray, label_key: str) -> Sample:
    """The rows of `batch` that enter the bottom-k (keys: the rows' content hash, first half)."""
    if label_key not in batch.schema.names:
      return {}
    keys = np.asarray(keys, dtype=np.uint64)
    if len(self.keys) >= self.k:
      rows = np.flatnonzero(keys < self.keys[-1])
    else:
      rows = np.arange(len(keys))
    if not len(rows):
      return {}
    _, first = np.unique(keys[rows], return_index=True)
    rows = rows[first]
    self.keys = np.union1d(self.keys, keys[rows])[:self.k]
    rows = rows[keys[rows] <= self.keys[-1]]
    taken = batch.take(pa.array(rows, type=pa.int64())).to_pylist()
    out = {}
    for key, row in zip(keys[rows].tolist(), taken):
      label = _value(row.pop(label_key))
      if label is not None:
        out[int(key) - 2**63] = [label, {f: _value(v) for f, v in sorted(row.items())
                                 if _value(v) is not None}]
    return out


def merge(into: Sample, other: Mapping[int, list], k: int = SAMPLE_ROWS) -> Sample:
  """The k smallest keys of both (the combiner's step)."""
  into.update(other)
  if len(into) > 2 * k:
    for key in sorted(into)[k:]:
      del into[key]
  return into


def as_result(sample: Mapping[int, list], k: int = SAMPLE_ROWS) -> List[list]:
  return [sample[key] for key in sorted(sample)[:k]]


def _design(rows: Sequence[list]):
  """(X, categorical mask, feature names): numbers as floats, text as category codes."""
  names = sorted({f for _, values in rows for f in values})
  columns, categorical, kept = [], [], []
  for name in names:
    raw = [values.get(name) for _, values in rows]
    present = [v for v in raw if v is not None]
    if all(isinstance(v, (int, float)) for v in present):
      columns.append(np.array([np.nan if v is None else float(v) for v in raw]))
      categorical.append(False)
    else:
      texts = sorted({str(v) for v in present})
      if len(texts) > MAX_CATEGORIES:
        continue
      code = {t: i for i, t in enumerate(texts)}
      columns.append(np.array([np.nan if v is None else code[str(v)] for v in raw], dtype=float))
      categorical.append(True)
    kept.append(name)
  return np.column_stack(columns) if columns else None, np.array(categorical, dtype=bool), kept


def find(rows: Sequence[list]) -> Optional[dict]:
  """Confident learning on the sampled rows ([label, {feature: value}]): {"rows": n judged,
  "issues": [(row index, given, predicted, p(predicted), p(given))]}, None when too few rows."""
  # pylint: disable=g-import-not-at-top
  from sklearn.linear_model import LogisticRegression
  from sklearn.model_selection import StratifiedKFold, cross_val_predict
  from sklearn.pipeline import make_pipeline
  from sklearn.preprocessing import StandardScaler
  # pylint: enable=g-import-not-at-top
  labels = np.array([str(label) for label, _ in rows])
  classes, counts = np.unique(labels, return_counts=True)
  keep = np.isin(labels, classes[counts >= 2])
  rows = [r for r, k in zip(rows, keep) if k]
  labels = labels[keep]
  classes, y = np.unique(labels, return_inverse=True)
  if len(rows) < MIN_ROWS or len(classes) < 2:
    return None
  x, categorical, _ = _design(rows)
  if x is None:
    return None
  folds = int(min(5, np.bincount(y).min()))
  parts = []
  for j in range(x.shape[1]):
    column = x[:, j]
    if categorical[j]:  # one-hot, missing as its own column
      codes = np.where(np.isnan(column), -1, column).astype(int)
      parts += [(codes == c).astype(float) for c in np.unique(codes)]
    else:  # missing (and ±inf): the median, plus an indicator
      missing = ~np.isfinite(column)
      finite = column[~missing]
      median = float(np.median(finite)) if finite.size else 0.0
      column = np.where(missing, median, column)
      if finite.size:
        # Clipped to the 0.5-99.5% quantiles and divided by the largest magnitude left: a value
        # near 1e308 overflowed StandardScaler's variance (sklearn refused "a value too large").
        low, high = np.quantile(finite, [0.005, 0.995])
        column = np.clip(column, low, high)
        scale = float(np.max(np.abs(column)))
        column = column / scale if scale > 0 else column
      parts.append(column)
      if missing.any():
        parts.append(missing.astype(float))
  x = np.column_stack(parts)
  model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
  p = cross_val_predict(model, x, y, method="predict_proba",
                        cv=StratifiedKFold(folds, shuffle=True, random_state=SEED))
  thresholds = np.array([p[y == j, j].mean() for j in range(len(classes))])
  above = p >= thresholds
  above[np.arange(len(y)), y] = False  # only another class contradicts
  confident = np.where(above, p, -1.0).argmax(axis=1)
  issue = (above.any(axis=1) & (p.argmax(axis=1) != y)
           & (p[np.arange(len(y)), confident] >= MIN_CONFIDENCE))
  at = np.flatnonzero(issue)
  return {"rows": len(rows), "features": rows, "issues": [
      (int(i), str(classes[y[i]]), str(classes[confident[i]]), float(p[i, confident[i]]),
       float(p[i, y[i]])) for i in at]}


def findings(add, policy, sample: Sequence[list], label_key: str) -> None:
  """LIKELY_LABEL_ERRORS from the pass's sample (`as_result`), through `add`."""
  if not sample:
    return
  found = find(sample)
  if not found or not found["issues"]:
    return
  n, issues = found["rows"], found["issues"]
  share = len(issues) / n
  threshold = policy.dataset_threshold("label_error_fraction")
  shown = sorted(issues, key=lambda e: -e[3])[:EXAMPLES]
  examples = "; ".join(
      f"{given!r} where the model says {predicted!r} (p = {p_pred:.2f}, p({given!r}) = "
      f"{p_given:.2f}): " + ", ".join(
          f"{f}={v}" for f, v in list(found["features"][i][1].items())[:EXAMPLE_FEATURES])
      for i, given, predicted, p_pred, p_given in shown)
  add("LIKELY_LABEL_ERRORS", label_key, "train",
      f"< {threshold:.0%} of sampled train rows whose label an out-of-fold model confidently "
      "contradicts",
      f"{len(issues)} of {n} sampled train rows ({share:.1%}) are labelled against a confident "
      f"out-of-fold prediction (confident learning), e.g. {examples}",
      f"check how {label_key} was recorded for such rows and correct it at the source; if they "
      f"are hard cases, not errors, list LIKELY_LABEL_ERRORS under features.{label_key}.info.",
      measured=share, threshold=threshold,
      severity=None if share >= threshold else "info")


def merge_all(samples) -> Sample:
  """Beam's CombineGlobally callable: the bottom-k of any number of samples (partial merges
  included, so it is associative)."""
  out: Sample = {}
  for sample in samples:
    merge(out, sample)
  if len(out) > SAMPLE_ROWS:
    for key in sorted(out)[SAMPLE_ROWS:]:
      del out[key]
  return out
