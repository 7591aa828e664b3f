"""How often the train split's most extreme numeric values occur, and where the rest ends: measured
in the dataset pass, for sentinel numbers (`-999`, `9999`) that stand for "unknown".

Why in the pass and not from the statistics alone: TFDV records a numeric feature's min and max
but neither how many rows hold them nor where the other values end (its histograms are ranges:
the bucket holding a min of -999 also holds whatever lies within a tenth of the range from it).
Given the train statistics' min and max, each batch counts, per numeric feature, the rows equal to
each, and the min and max of the other values: four numbers a feature, merged by sum and min/max,
so memory does not grow with the rows. Only a row's first value counts, as in the leakage tables;
text in a numeric column counts when Python's float() reads it.
"""
import dataclasses
import math
from typing import Dict, List

import numpy as np
import pyarrow as pa
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from trainguard.components.data_guard import row_hash


@dataclasses.dataclass(frozen=True)
class Extremes:
  feature: str
  low: float   # the train statistics' min
  high: float  # ... and max


def extremes(train_statistics: statistics_pb2.DatasetFeatureStatisticsList,
             schema: schema_pb2.Schema, label_key: str) -> List[Extremes]:
  """The numeric features to measure, with their train min and max."""
  numeric = {f.name for f in schema.feature
             if f.type in (schema_pb2.INT, schema_pb2.FLOAT) and f.name != label_key}
  out = []
  for feature in train_statistics.datasets[0].features:
    name = ".".join(feature.path.step)
    s = feature.num_stats
    if name in numeric and feature.HasField("num_stats") and s.max > s.min:
      out.append(Extremes(name, float(s.min), float(s.max)))
  return out


def measure(batch: pa.RecordBatch, features: List[Extremes], numbers) -> Dict[str, List[float]]:
  """{feature: [rows at low, rows at high, min of the others, max of the others]} of `batch`;
  `numbers(values, index)` reads the values as numbers, text too (dataset_checks._numbers)."""
  out: Dict[str, List[float]] = {}
  for e in features:
    column = row_hash.typed_column(batch, e.feature)
    if column is None:
      continue
    offsets, lengths = row_hash.list_offsets(column)
    index = offsets[:-1][lengths > 0]
    if not len(index):
      continue
    x, readable = numbers(column.values, index)
    x = x[readable]
    x = x[np.isfinite(x)]
    at_low, at_high = x == e.low, x == e.high
    inner_low, inner_high = x[~at_low], x[~at_high]
    out[e.feature] = [int(at_low.sum()), int(at_high.sum()),
                      float(inner_low.min()) if len(inner_low) else math.inf,
                      float(inner_high.max()) if len(inner_high) else -math.inf]
  return out


def merge(into: Dict[str, List[float]], other: Dict[str, List[float]]) -> None:
  for feature, (at_low, at_high, inner_low, inner_high) in other.items():
    if feature not in into:
      into[feature] = [at_low, at_high, inner_low, inner_high]
      continue
    mine = into[feature]
    into[feature] = [mine[0] + at_low, mine[1] + at_high, min(mine[2], inner_low),
                     max(mine[3], inner_high)]


def as_result(measured: Dict[str, List[float]], features: List[Extremes]) -> Dict[str, dict]:
  """The result's "extremes": {feature: {"low", "high", "rows_at_low", "rows_at_high",
  "inner_low", "inner_high"}} (inner: the min and max of the values other than low and high;
  null when there are none)."""
  by_name = {e.feature: e for e in features}
  out = {}
  for feature, (at_low, at_high, inner_low, inner_high) in sorted(measured.items()):
    e = by_name[feature]
    out[feature] = {"low": e.low, "high": e.high, "rows_at_low": int(at_low),
                    "rows_at_high": int(at_high),
                    "inner_low": inner_low if math.isfinite(inner_low) else None,
                    "inner_high": inner_high if math.isfinite(inner_high) else None}
  return out
