"""Rank-based label leakage: how well one numeric feature *orders* the label's classes.

Why beside the cells check (`binning.py`, `dataset_findings.label_leakage_scores`): numeric
features there are cut into the statistics' 10 quantile bins, and both of its scores miss a
numeric copy of the label. A score equal to "label is positive" plus noise of 0.05 puts one mixed
bin at the class boundary, which keeps the balanced accuracy under 0.98; and normalized mutual
information against 10 bins can never reach 0.98 for a binary label (H(bins) ≈ 2.3 nats against
H(label) ≤ 0.69). A monotone proxy (exp of the class index plus noise) is missed the same way.
The AUC depends only on the order of the values, so it is the same for a feature and any
monotone transform of it, and it is 1 for any feature that separates the classes.

The score: for every pair of classes (a, b), AUC = P(x_a > x_b) + P(x_a = x_b) / 2, folded to
max(AUC, 1 − AUC) since a leak may run either way; the feature's score is the *smallest* over all
pairs: it orders every pair of classes. Pairs, not one-vs-rest: a monotone proxy of a 3-class
index puts the middle class on both sides of the rest, so its one-vs-rest AUC is about 0.5 while
every pair is separated perfectly. For a binary label it is the plain AUC. For a regression label
the classes are its 10 quantile bins (contiguous ranges of the label), so a monotone copy of the
label orders every pair of bins, and an honest feature cannot.

Bounded memory: the pass counts, per numeric feature and class, its rows in fine bins (the
statistics' quantile bins, each cut into `SUB_BINS` equal-width bins between TFDV's exact min and
max: at most 10 · 64 + 2 bins a feature, whatever the number of rows). Rows in the same fine bin
count as ties (half), which can only lower the AUC, by at most the share of pairs sharing a bin.

Threshold `leakage_auc` (0.995). Measured exactly (scikit-learn's roc_auc_score on the raw values),
the best honest feature's score: breast cancer 0.975 (worst perimeter), iris 0.982 (petal length:
versicolor vs virginica), wine 0.886 (flavanoids), penguins 0.734 (flipper length), digits 0.52. A
binary label plus normal noise of σ has AUC Φ(1 / (σ√2)): 0.995 is σ ≈ 0.27, so the issue's
near-copy (σ = 0.05, AUC 1.0) is far above and an honest feature as strong as iris' best below.
"""
import itertools
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pyarrow as pa
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from trainguard.components.data_guard.binning import Binning

SUB_BINS = 64  # fine bins per quantile bin of the statistics

Cells = Dict[Tuple[str, int, str], int]  # (feature, fine bin, label) → rows


def rank_binnings(train_statistics: statistics_pb2.DatasetFeatureStatisticsList,
                  schema: schema_pb2.Schema, label_key: str) -> List[Binning]:
  """The numeric features' fine bins: each quantile bin of the train statistics (from the min to
  the max) cut into `SUB_BINS` equal-width bins."""
  numeric = {f.name for f in schema.feature
             if f.name != label_key and f.type in (schema_pb2.INT, schema_pb2.FLOAT)}
  out = []
  for feature in train_statistics.datasets[0].features:
    name = ".".join(feature.path.step)
    if name not in numeric or not feature.HasField("num_stats"):
      continue
    stats = feature.num_stats
    points = {stats.min, stats.max}
    for h in stats.histograms:
      if h.type == statistics_pb2.Histogram.QUANTILES:
        points |= {b.low_value for b in h.buckets} | {b.high_value for b in h.buckets}
    points = sorted(p for p in points if np.isfinite(p))
    if len(points) < 2:
      continue
    edges = np.unique(np.concatenate([np.linspace(lo, hi, SUB_BINS + 1)
                                      for lo, hi in zip(points[:-1], points[1:])]))
    out.append(Binning(name, tuple(float(e) for e in edges)))
  return out


def count(batch: pa.RecordBatch, label_of_row: np.ndarray, label_texts: Sequence[str],
          rank_bins: Sequence[Binning], labelled_first_values: Callable,
          numbers: Callable) -> Cells:
  """(feature, fine bin, label) counts of `batch`'s labelled rows (`label_of_row`: the label's
  code per row, -1 without a label). `labelled_first_values` and `numbers` are the pass's readers
  (`dataset_checks._labelled_first_values`, `_numbers`), passed in to keep one way of reading
  values."""
  cells: Cells = {}
  n_labels = len(label_texts)
  for b, column, rows, index in labelled_first_values(batch, rank_bins, label_of_row >= 0):
    x, readable = numbers(column.values, index)
    keep = readable & ~np.isnan(x)
    codes = np.searchsorted(np.asarray(b.boundaries, dtype=np.float64), x[keep], side="right")
    counts = np.bincount(codes * n_labels + label_of_row[rows][keep],
                         minlength=(len(b.boundaries) + 1) * n_labels)
    for flat in np.flatnonzero(counts):
      key = (b.feature, int(flat // n_labels), label_texts[flat % n_labels])
      cells[key] = cells.get(key, 0) + int(counts[flat])
  return cells


def pair_auc(a: np.ndarray, b: np.ndarray) -> float:
  """P(x_a > x_b) + P(x_a = x_b) / 2 from two histograms over the same ordered bins."""
  below_b = np.concatenate([[0.0], np.cumsum(b)[:-1]])
  return float((a * below_b).sum() + 0.5 * (a * b).sum()) / (a.sum() * b.sum())


def scores(cells: Sequence[Sequence]) -> Dict[str, Tuple[float, Optional[Tuple[str, str]]]]:
  """Per feature: (its smallest folded pairwise AUC, the pair of classes it comes from), from the
  pass's [[feature, fine bin, label, rows]]; features with fewer than two classes are left out."""
  tables: Dict[str, Dict[str, Dict[int, int]]] = {}
  for feature, code, label, n in cells:
    tables.setdefault(feature, {}).setdefault(label, {})[int(code)] = int(n)
  out = {}
  for feature, by_label in tables.items():
    labels = sorted(by_label)
    if len(labels) < 2:
      continue
    size = 1 + max(c for counts in by_label.values() for c in counts)
    hist = {}
    for label, counts in by_label.items():
      hist[label] = np.zeros(size)
      hist[label][list(counts)] = list(counts.values())
    worst, pair = 1.0, None
    for a, b in itertools.combinations(labels, 2):
      auc = pair_auc(hist[a], hist[b])
      folded = max(auc, 1.0 - auc)
      if folded < worst or pair is None:
        worst, pair = folded, (a, b)
    out[feature] = (worst, pair)
  return out
