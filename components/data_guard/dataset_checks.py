"""Dataset checks TFDV does not do, from one Beam pass over the examples plus the statistics.

- Cross-split leakage: rows whose content (every feature and the label) appears in train and eval.
- Duplicate rows within a split.
- Label leakage: a single feature that predicts the label almost perfectly. Definition: from the
  train split's per-(feature value, label) counts, the predictor "most frequent label of this value"
  is scored by balanced accuracy, and the feature/label association by normalized mutual
  information (arithmetic normalization, as scikit-learn's default). Numeric features are bucketized
  into the statistics' quantile bins (10 by default); categorical features are used as they are when
  they have at most `MAX_CATEGORIES` values (an ID-like column would "predict" perfectly by
  memorising rows, and is reported as ID-like instead). A feature leaks when either score reaches
  its threshold (0.98 by default): genuinely strong features stay below (on scikit-learn's breast
  cancer data the best real feature reaches a balanced accuracy of about 0.92).
- Class imbalance, scale disparity, ID-like and constant columns: from the statistics.

The Beam pass keeps nothing per row in memory but the content hashes (counted per key; 20 bytes
each): contingency tables are summed per bundle, then combined per (feature, bin, label); both
results are small.
"""
import bisect
import dataclasses
import hashlib
import json
import math
import os
from typing import Dict, Iterable, List, Optional, Tuple

import apache_beam as beam
from apache_beam.transforms import window
from apache_beam.utils import windowed_value
import numpy as np
import tensorflow as tf
from scipy import stats as scipy_stats
from sklearn import metrics
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

MAX_CATEGORIES = 50
RESULT_FILE = "dataset_checks.json"


@dataclasses.dataclass(frozen=True)
class Binning:
  """How the label-leakage pass turns one feature's values into a few categories."""
  feature: str
  boundaries: Tuple[float, ...] = ()  # numeric: quantile bin edges; empty: categorical as is

  def bin_of(self, values) -> Optional[str]:
    if not values:
      return None  # missing: not evidence either way
    value = values[0]
    if self.boundaries:
      return f"bin{bisect.bisect_right(self.boundaries, float(value))}"
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


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


def _values(feature: tf.train.Feature):
  kind = feature.WhichOneof("kind")
  return list(getattr(feature, kind).value) if kind else []


def _canonical(value) -> str:
  """One text form per value, whatever type ExampleGen inferred for its column in this split: a
  column typed as text in train (one stray word) and as float in eval must still match."""
  if isinstance(value, bytes):
    text = value.decode("utf-8", "replace").strip()
    try:
      value = float(text)
    except ValueError:
      return "s:" + text
  if isinstance(value, float):
    if value.is_integer() and abs(value) < 1e15:
      return f"n:{int(value)}"
    return f"n:{value:.7g}"  # float32 precision, as tf.Example stores floats
  return f"n:{value}"


def _feature_values(example: tf.train.Example) -> Dict[str, list]:
  """Every feature's values, read from the proto once (each map lookup builds a wrapper object:
  reading a row once for its hash and once more per binned feature cost twice the parse)."""
  return {name: _values(feature) for name, feature in example.features.feature.items()}


def _row_key(example: tf.train.Example) -> bytes:
  """A content hash independent of how the proto happened to be serialized and of column types."""
  return _content_key(_feature_values(example))


def _content_key(values: Dict[str, list]) -> bytes:
  text = "".join(name + "|".join(_canonical(v) for v in values[name]) + "\x00"
                 for name in sorted(values))
  return hashlib.sha1(text.encode()).digest()  # 20 bytes: half the hex text


class _Parse(beam.DoFn):
  """Per row: its content hash (one element per row: duplicates need every hash). Label and
  (feature, bin, label) counts are summed per bundle and leave the DoFn in `finish_bundle`: one
  element per row and feature (about 20 per row here) would pay Beam's per-element cost 20 times
  per row for counts that a dictionary sums in place."""

  def __init__(self, split: str, label_key: str, binning: List[Binning]):
    self._split = split
    self._label_key = label_key
    self._binning = binning
    self._label_binning = Binning(label_key)
    self._labels: Dict[str, int] = {}
    self._cells: Dict[Tuple[str, str, str], int] = {}

  def start_bundle(self):
    self._labels, self._cells = {}, {}

  def process(self, record: bytes):
    values = _feature_values(tf.train.Example.FromString(record))
    yield beam.pvalue.TaggedOutput("hashes", (_content_key(values), self._split))
    if self._split != "train":
      return
    label = self._label_binning.bin_of(values.get(self._label_key))
    if label is None:
      return
    self._labels[label] = self._labels.get(label, 0) + 1
    for binning in self._binning:
      value = binning.bin_of(values.get(binning.feature))
      if value is not None:
        key = (binning.feature, value, label)
        self._cells[key] = self._cells.get(key, 0) + 1

  def finish_bundle(self):
    for tag, counts in (("label", self._labels), ("cells", self._cells)):
      for key, n in counts.items():
        yield beam.pvalue.TaggedOutput(tag, windowed_value.WindowedValue(
            (key, n), 0, [window.GlobalWindow()]))
    self._labels, self._cells = {}, {}


def _summarize_hashes(keyed):
  """Per content hash: its row count per split → duplicates within splits, and cross-split rows."""
  _, splits = keyed
  counts: Dict[str, int] = {}
  for split in splits:
    counts[split] = counts.get(split, 0) + 1
  out = {f"duplicates/{s}": n - 1 for s, n in counts.items() if n > 1}
  if "train" in counts:
    for split, n in counts.items():
      if split != "train":
        out[f"shared_with_train/{split}"] = n
  return out


class _MergeCounts(beam.CombineFn):

  def create_accumulator(self):
    return {}

  def add_input(self, acc, counts):
    for key, n in counts.items():
      acc[key] = acc.get(key, 0) + n
    return acc

  def merge_accumulators(self, accs):
    out = {}
    for acc in accs:
      self.add_input(out, acc)
    return out

  def extract_output(self, acc):
    return acc


def run_beam_pass(pipeline: beam.Pipeline, split_patterns: Dict[str, str], label_key: str,
                  binning: List[Binning], output_path: str) -> None:
  """Adds the pass to `pipeline`; the result lands as one JSON file at `output_path`."""
  hashes, labels, cells = [], [], []
  for split, pattern in sorted(split_patterns.items()):
    parsed = (
        pipeline
        | f"Read[{split}]" >> beam.io.ReadFromTFRecord(pattern, coder=beam.coders.BytesCoder())
        | f"Parse[{split}]" >> beam.ParDo(_Parse(split, label_key, binning)).with_outputs(
            "hashes", "label", "cells"))
    hashes.append(parsed.hashes)
    labels.append(parsed.label)
    cells.append(parsed.cells)
  row_counts = (
      hashes | "AllHashes" >> beam.Flatten() | "GroupByContent" >> beam.GroupByKey()
      | "CountsPerContent" >> beam.Map(_summarize_hashes)
      | "SumCounts" >> beam.CombineGlobally(_MergeCounts()))
  label_counts = (labels | "AllLabels" >> beam.Flatten() | "CountLabels" >> beam.CombinePerKey(sum)
                  | "LabelDict" >> beam.combiners.ToDict())
  table = (cells | "AllCells" >> beam.Flatten() | "CountCells" >> beam.CombinePerKey(sum)
           | "CellList" >> beam.combiners.ToList())

  def _to_json(rows, labels_dict, cell_list):
    return json.dumps({
        "rows": rows,
        "labels": labels_dict,
        "cells": [[f, v, l, n] for (f, v, l), n in sorted(cell_list)],
    }, sort_keys=True)

  _ = (
      row_counts
      | "ToJson" >> beam.Map(_to_json, beam.pvalue.AsSingleton(label_counts),
                             beam.pvalue.AsSingleton(table))
      | "Write" >> beam.io.WriteToText(output_path, shard_name_template="", num_shards=1))


def read_result(output_path: str) -> dict:
  with tf.io.gfile.GFile(output_path) as f:
    return json.loads(f.read())


def label_leakage_scores(cells: Iterable[List]) -> Dict[str, Tuple[float, float]]:
  """Per feature: (balanced accuracy of its best single-value predictor, normalized MI)."""
  tables: Dict[str, Dict[Tuple[str, str], int]] = {}
  for feature, value, label, n in cells:
    tables.setdefault(feature, {})[(value, label)] = n
  scores = {}
  for feature, table in tables.items():
    values = sorted({v for v, _ in table})
    labels = sorted({l for _, l in table})
    counts = np.array([[table.get((v, l), 0) for l in labels] for v in values], dtype=float)
    if len(labels) < 2 or counts.sum() == 0:
      continue
    predicted = counts.argmax(axis=1)
    y_true = [labels[j] for i in range(len(values)) for j in range(len(labels))]
    y_pred = [labels[predicted[i]] for i in range(len(values)) for _ in labels]
    balanced = metrics.balanced_accuracy_score(y_true, y_pred, sample_weight=counts.ravel())
    mi = metrics.mutual_info_score(None, None, contingency=counts)
    h_x = scipy_stats.entropy(counts.sum(axis=1))
    h_y = scipy_stats.entropy(counts.sum(axis=0))
    nmi = mi / ((h_x + h_y) / 2) if h_x + h_y > 0 else 0.0
    scores[feature] = (float(balanced), float(min(1.0, nmi)))
  return scores


def split_patterns(examples_uri: str, splits: Iterable[str]) -> Dict[str, str]:
  return {s: os.path.join(examples_uri, f"Split-{s}", "*") for s in splits}


def numeric_spread(statistics: statistics_pb2.DatasetFeatureStatisticsList,
                   schema: schema_pb2.Schema, label_key: str) -> Dict[str, Tuple[float, float]]:
  """Per numeric feature: (standard deviation, max |value|), from the statistics."""
  numeric = {f.name for f in schema.feature
             if f.type in (schema_pb2.INT, schema_pb2.FLOAT) and f.name != label_key}
  out = {}
  for feature in statistics.datasets[0].features:
    name = ".".join(feature.path.step)
    if name in numeric and feature.HasField("num_stats"):
      s = feature.num_stats
      out[name] = (float(s.std_dev), float(max(abs(s.min), abs(s.max))))
  return out


def distinct_counts(statistics: statistics_pb2.DatasetFeatureStatisticsList
                    ) -> Dict[str, Tuple[Optional[int], int, float]]:
  """Per feature: (distinct values if TFDV counted them, rows with a value, std dev if numeric)."""
  out = {}
  dataset = statistics.datasets[0]
  for feature in dataset.features:
    name = ".".join(feature.path.step)
    if feature.HasField("string_stats"):
      common = feature.string_stats.common_stats
      out[name] = (int(feature.string_stats.unique), int(common.tot_num_values), math.nan)
    elif feature.HasField("num_stats"):
      common = feature.num_stats.common_stats
      unique = None
      if feature.num_stats.std_dev == 0 and common.tot_num_values > 0:
        unique = 1
      out[name] = (unique, int(common.tot_num_values), float(feature.num_stats.std_dev))
  return out
