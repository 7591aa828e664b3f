"""How the label-leakage pass cuts each feature (and a regression label) into a few cells, from the
train statistics alone: numeric features into their quantile bins (TFDV's QUANTILES histogram, 10
by default), categorical ones as they are when they have at most `MAX_CATEGORIES` values (an
ID-like column would "predict" perfectly by memorising rows, and is reported as ID-like instead).
"""
import bisect
import dataclasses
from typing import List, Optional, Tuple

from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

MAX_CATEGORIES = 50


@dataclasses.dataclass(frozen=True)
class Binning:
  """How the label-leakage pass turns one feature's values into a few categories."""
  feature: str
  boundaries: Tuple[float, ...] = ()  # numeric: quantile bin edges; empty: categorical as is

  def bin_of(self, values) -> Optional[str]:
    """The bin of one row's values (the reference for the vectorised `_cell_counts`)."""
    if not values:
      return None  # missing: not evidence either way
    value = values[0]
    if self.boundaries:
      return f"bin{bisect.bisect_right(self.boundaries, float(value))}"
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def label_binning(train_statistics: statistics_pb2.DatasetFeatureStatisticsList,
                  label_key: str) -> Optional[Binning]:
  """A regression label's quantile bins (trainguard.task): leakage is then scored against ten
  bins of the label, not against each of its distinct values (which could be as many as rows)."""
  for feature in train_statistics.datasets[0].features:
    if ".".join(feature.path.step) == label_key and feature.HasField("num_stats"):
      edges = sorted({b.high_value for h in feature.num_stats.histograms
                      if h.type == statistics_pb2.Histogram.QUANTILES for b in h.buckets[:-1]})
      return Binning(label_key, tuple(edges)) if edges else None
  return None


def binnings(train_statistics: statistics_pb2.DatasetFeatureStatisticsList,
             schema: schema_pb2.Schema, label_key: str) -> List[Binning]:
  """The features the label-leakage check can score, with their bins, from the train statistics."""
  kept = {f.name: f for f in schema.feature if f.name != label_key}
  out = []
  for feature in train_statistics.datasets[0].features:
    name = ".".join(feature.path.step)
    if name not in kept:
      continue
    if feature.HasField("num_stats") and kept[name].type != schema_pb2.BYTES:
      edges = sorted({b.high_value for h in feature.num_stats.histograms
                      if h.type == statistics_pb2.Histogram.QUANTILES for b in h.buckets[:-1]})
      if edges:
        out.append(Binning(name, tuple(edges)))
    elif feature.HasField("string_stats") and 0 < feature.string_stats.unique <= MAX_CATEGORIES:
      out.append(Binning(name))
  return out
