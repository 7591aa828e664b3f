"""DataGuard's one Beam pass over the examples: what the dataset checks TFDV does not do count.
(One concept: the pass and the per-batch counting it runs; how features are cut into bins is
`binning.py`, the bucket spills are `hash_buckets.py`, the judging `dataset_findings.py`.)

The pass measures; `dataset_findings.py` judges what it measured (and the statistics) against the
policy, with the definitions and thresholds of each check.

- Cross-split leakage: rows whose content (every feature and the label) appears in train and eval.
- Duplicate rows within a split.
- Conflicting labels (classification): train rows equal in every feature but with different
  labels (`label_conflicts.py`: the row hash minus the label's, spilled and counted per bucket);
  with `label.map`, different classes (`label_class`: spellings of one class do not conflict).
  The pass's other label counts stay raw spellings: `dataset_findings.mapped_classes` regroups them.
- Label leakage: the train split's per-(feature value, label) counts. Numeric features are
  bucketized into the statistics' quantile bins (10 by default); categorical features are used as
  they are when they have at most `binning.MAX_CATEGORIES` values (an ID-like column would "predict"
  perfectly by memorising rows, and is reported as ID-like instead). And per numeric feature its
  rows per class in fine bins, for the rank-based score that finds a numeric copy of the label the
  10 bins miss (`rank_leakage.py`).
- Class imbalance: the train split's label counts.
- Sentinel numbers: per numeric feature, the train rows at its min and max and the range of the
  other values (`extreme_values.py`).

How the pass runs: vectorised per batch, with no Beam element and no Python object per row.
- Records are batched (`BATCH_SIZE`) and decoded in C++ into an Arrow record batch by tfx_bsl's
  `ExamplesToRecordBatchDecoder`, without a schema, so that every feature of the examples counts
  whatever type ExampleGen inferred for its column in this split (a batch in which a feature's type
  varies between examples is decoded one example at a time and regrouped).
- Row content hash: 128 bits per row, the same for equal content whatever the column types
  (`row_hash.py`, which documents the canonical form of a value).
- Duplicates and cross-split rows: each bundle spills its rows' hashes (16 bytes a row) to a file
  in blocks sorted by a hash prefix (`hash_buckets.py`); only (bucket, file range) pairs are
  grouped, and each bucket is read and counted by sorting on its own (`hash_buckets.row_counts`),
  since equal rows fall into the same bucket. Memory is one block (4 MB) per bundle and one bucket
  (1/256 of the rows) at a time, whatever the number of rows.
- Contingency tables (train only): each batch counts its (feature, bin, label) cells with numpy,
  numeric features binned by `np.searchsorted(boundaries, value, side="right")` (which is
  `bisect.bisect_right`, as `Binning.bin_of`), categorical ones by their text; the combiner sums
  the small dicts.
"""
import json
import os
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam.transforms import window
from apache_beam.utils import windowed_value
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import tensorflow as tf
from tfx_bsl.coders import example_coder

from trainguard.components.util import tfrecord_batches
from trainguard.components.data_guard import (extreme_values, hash_buckets, label_conflicts,
                                              label_errors, rank_leakage, repetition, row_hash)
from trainguard.components.data_guard.binning import Binning

_row_counts = hash_buckets.row_counts  # its tests' name for it
BATCH_SIZE = 4096  # examples decoded and hashed together


# ---------------------------------------------------------------------------------------------
# Contingency tables, vectorised.


def _first_values(column: pa.Array) -> Tuple[np.ndarray, np.ndarray]:
  """(rows with at least one value, index in `column.values` of their first value)."""
  offsets, lengths = row_hash.list_offsets(column)
  present = lengths > 0
  return present, offsets[:-1][present]


def _labelled_first_values(batch: pa.RecordBatch, binning: Sequence[Binning],
                           labelled: np.ndarray
                           ) -> Iterator[Tuple[Binning, pa.Array, np.ndarray, np.ndarray]]:
  """Per binning whose feature has a value in a `labelled` row of `batch`: (the binning, the
  feature's column, those rows, index in `column.values` of each one's first value). Features
  the batch lacks, or that no labelled row has, are left out."""
  for b in binning:
    column = row_hash.typed_column(batch, b.feature)
    if column is None:
      continue
    present, first = _first_values(column)
    first_of_row = np.full(batch.num_rows, -1, dtype=np.int64)
    first_of_row[present] = first
    rows = np.flatnonzero(present & labelled)
    if len(rows):
      yield b, column, rows, first_of_row[rows]


def _texts(values: pa.Array, index: np.ndarray) -> Tuple[np.ndarray, List[str]]:
  """(code per taken value, text per code) for `values[index]`, with `Binning.bin_of`'s text:
  UTF-8 (invalid bytes replaced) for bytes, `str()` for numbers."""
  kind = values.type
  if pa.types.is_integer(kind) or pa.types.is_floating(kind):
    taken = np.asarray(values)[index]
    bits = taken  # floats by their bits: 0.0 and -0.0 print differently
    if pa.types.is_floating(kind):
      bits = taken.view(np.uint32 if taken.dtype == np.float32 else np.uint64)
    unique, codes = np.unique(bits, return_inverse=True)
    raw = unique.view(taken.dtype).tolist()
    texts = [str(v) for v in raw]
  else:
    encoded = pc.dictionary_encode(values.take(pa.array(index, type=pa.int64())))
    codes = np.asarray(encoded.indices)
    texts = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
             for v in encoded.dictionary.to_pylist()]
  merged: Dict[str, int] = {}
  remap = np.array([merged.setdefault(t, len(merged)) for t in texts], dtype=np.int64)
  return remap[codes], list(merged)


def _numbers(values: pa.Array, index: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
  """(float(v), readable) for `values[index]`: numbers as they are (all readable); text in a
  numeric column as float() reads it (`Binning.bin_of` failed on the rest; here the rest is
  skipped, as a missing value)."""
  if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
    x = np.asarray(values)[index].astype(np.float64)
    return x, np.ones(len(x), dtype=bool)
  codes, texts = _texts(values, index)
  x, readable = np.full(len(texts), np.nan), np.zeros(len(texts), dtype=bool)
  for k, text in enumerate(texts):
    try:
      x[k], readable[k] = float(text), True
    except ValueError:
      pass
  return x[codes], readable[codes]


def _label_codes(batch: pa.RecordBatch, label_key: str, label_bins: Optional[Binning] = None
                 ) -> Tuple[np.ndarray, List[str]]:
  """(label code per row of `batch`, -1 without a label; text per code): a class label by its
  text, a regression label (`label_bins`) by its bin."""
  label_column = row_hash.typed_column(batch, label_key)
  if label_column is None:
    return np.full(batch.num_rows, -1, dtype=np.int64), []
  labelled, label_index = _first_values(label_column)
  if label_bins is not None and label_bins.boundaries:
    y, _ = _numbers(label_column.values, label_index)  # unreadable text: NaN, the last bin
    label_codes = np.searchsorted(np.asarray(label_bins.boundaries, dtype=np.float64), y,
                                  side="right")
    label_texts = [f"bin{k}" for k in range(len(label_bins.boundaries) + 1)]
  else:
    label_codes, label_texts = _texts(label_column.values, label_index)
  code_of_row = np.full(batch.num_rows, -1, dtype=np.int64)
  code_of_row[labelled] = label_codes
  return code_of_row, label_texts


def _cell_counts(batch: pa.RecordBatch, label_key: str, binning: Sequence[Binning],
                 label_bins: Optional[Binning] = None
                 ) -> Tuple[Dict[str, int], Dict[Tuple[str, str, str], int]]:
  """Label counts and (feature, bin, label) counts of the rows of `batch` that have a label (its
  bin, for a regression label given `label_bins`)."""
  code_of_row, label_texts = _label_codes(batch, label_key, label_bins)
  labelled = code_of_row >= 0
  if not labelled.any():
    return {}, {}
  n_labels = len(label_texts)
  labels = {label_texts[k]: int(n) for k, n in enumerate(np.bincount(code_of_row[labelled],
                                                                     minlength=n_labels)) if n}
  cells: Dict[Tuple[str, str, str], int] = {}
  for b, column, rows, index in _labelled_first_values(batch, binning, labelled):
    row_labels = code_of_row[rows]
    if b.boundaries:
      x, readable = _numbers(column.values, index)
      x, row_labels = x[readable], row_labels[readable]
      codes = np.searchsorted(np.asarray(b.boundaries, dtype=np.float64), x, side="right")
      texts = [f"bin{k}" for k in range(len(b.boundaries) + 1)]
    else:
      codes, texts = _texts(column.values, index)
    counts = np.bincount(codes * n_labels + row_labels, minlength=len(texts) * n_labels)
    for flat in np.flatnonzero(counts):
      key = (b.feature, texts[flat // n_labels], label_texts[flat % n_labels])
      cells[key] = cells.get(key, 0) + int(counts[flat])
  return labels, cells


# ---------------------------------------------------------------------------------------------
# The Beam pass.


class _Batches(beam.DoFn):
  """Per batch of serialized examples of one split: its rows' hashes to the bundle's spill file
  and, for the train split, (label counts, (feature, bin, label) counts, label names by hash) and,
  for a class label, its rows' (features' hash, label's hash) to a second spill file; at the end of
  the bundle, the spill files' (bucket, Range)s to the `RANGES` output."""
  RANGES = "ranges"
  SAMPLE = "sample"

  def __init__(self, split: str, label_key: str, binning: Sequence[Binning], spill_dir: str,
               label_bins: Optional[Binning] = None,
               extremes: Sequence[extreme_values.Extremes] = (), rank_bins: Sequence[Binning] = (),
               label_class: label_conflicts.LabelClass = None):
    self._split = split
    self._label_class = label_class
    self._rank_bins = list(rank_bins)
    self._extremes = list(extremes)
    self._label_key = label_key
    self._binning = list(binning)
    self._label_bins = label_bins
    self._spill_dir = spill_dir
    self._decoder = None
    self._spill = None
    self._conflict_spill = None
    self._sketch = None

  def setup(self):
    self._decoder = example_coder.ExamplesToRecordBatchDecoder()

  def start_bundle(self):
    self._spill = hash_buckets.HashSpill(self._spill_dir, self._split)
    if self._split == "train" and self._label_bins is None:  # a class label: conflicts count
      self._conflict_spill = hash_buckets.HashSpill(self._spill_dir, label_conflicts.SPILL,
                                                    width=label_conflicts.WIDTH)
      self._sketch = label_conflicts.ValueSketch()
      self._sample = label_errors.Sketch()  # rows for LIKELY_LABEL_ERRORS' model

  def _decode(self, records: List[bytes]) -> Iterator[pa.RecordBatch]:
    try:
      batch = self._decoder.DecodeBatch(records)
    except RuntimeError:  # a feature typed differently in two examples of the batch
      batch = None
    if batch is not None:
      yield batch
      return
    by_schema: Dict[pa.Schema, List[pa.RecordBatch]] = {}
    for record in records:
      batch = self._decoder.DecodeBatch([record])  # raises on a corrupt record, as it should
      by_schema.setdefault(batch.schema, []).append(batch)
    for batches in by_schema.values():
      yield from pa.Table.from_batches(batches).combine_chunks().to_batches()

  def process(self, records: List[bytes]):
    for batch in self._decode(records):
      if not batch.num_rows:
        continue
      hashes = row_hash.row_hashes(batch)
      self._spill.add(*hashes)
      if self._split == "train":
        names, values = {}, {}
        if self._conflict_spill is not None:
          self._conflict_spill.add(*label_conflicts.feature_and_label_hashes(
              batch, hashes, self._label_key, self._sketch, self._label_class))
          names = label_conflicts.label_hash_names(batch, self._label_key, self._label_class)
          values, self._sketch.new = self._sketch.new, {}
          yield beam.pvalue.TaggedOutput(self.SAMPLE, self._sample.add(batch, hashes[0],
                                                                       self._label_key))
        ranks = rank_leakage.count(batch, *_label_codes(batch, self._label_key, self._label_bins),
                                   self._rank_bins, _labelled_first_values, _numbers)
        yield (*_cell_counts(batch, self._label_key, self._binning, self._label_bins), names,
               ranks, values, extreme_values.measure(batch, self._extremes, _numbers))

  def finish_bundle(self):
    ranges = self._spill.close()
    if self._conflict_spill is not None:
      ranges += self._conflict_spill.close()
    for bucket_range in ranges:
      yield beam.pvalue.TaggedOutput(self.RANGES, windowed_value.WindowedValue(
          bucket_range, window.GlobalWindow().max_timestamp(), (window.GlobalWindow(),)))
    self._spill = self._conflict_spill = None


class _SumCounts(beam.CombineFn):
  """Sums tuples of `width` dicts of counts, element by element; with `extremes`, the last one is
  merged by `extreme_values.merge` and the one before (conflicting groups' values) by
  `label_conflicts.merge_values`."""

  def __init__(self, width: int, extremes: bool = False):
    self._width = width
    self._extremes = extremes

  def create_accumulator(self):
    return tuple({} for _ in range(self._width))

  def _add_all(self, acc, element):
    for k, (into, counts) in enumerate(zip(acc, element)):
      if self._extremes and k == self._width - 1:
        extreme_values.merge(into, counts)
      elif self._extremes and k == self._width - 2:  # the conflicting groups' values
        label_conflicts.merge_values(into, counts)
      else:
        self._add(into, counts)

  @staticmethod
  def _add(into, counts):
    for key, n in counts.items():
      into[key] = into.get(key, 0) + n

  def add_input(self, acc, element):
    self._add_all(acc, element)
    return acc

  def merge_accumulators(self, accs):
    out = self.create_accumulator()
    for acc in accs:
      self._add_all(out, acc)
    return out

  def extract_output(self, acc):
    return acc


def _bucket_row_counts(element: Tuple[int, Iterable[hash_buckets.Range]]
                       ) -> Tuple[Dict[str, int], List[label_conflicts.Example]]:
  """One bucket's row counts (`hash_buckets.row_counts`, `label_conflicts.count`) and its
  conflict examples."""
  _, ranges = element
  hashes = hash_buckets.read_bucket(ranges)
  conflicts, examples = label_conflicts.count(hashes.pop(label_conflicts.SPILL, []))
  counts = hash_buckets.row_counts(hashes, multiplicities=True)
  counts.update(conflicts)
  return counts, examples


class _SumBuckets(beam.CombineFn):
  """Sums the buckets' row counts and keeps the largest conflict examples."""

  def create_accumulator(self):
    return {}, []

  def add_input(self, acc, element):
    return self.merge_accumulators([acc, element])

  def merge_accumulators(self, accs):
    counts, examples = {}, []
    for acc_counts, acc_examples in accs:
      for key, n in acc_counts.items():
        counts[key] = counts.get(key, 0) + n
      examples = label_conflicts.largest(examples + list(acc_examples))
    return counts, examples

  def extract_output(self, acc):
    return acc


def _result(counts: Tuple[dict, dict, dict, dict, dict, dict], rows: Tuple[Dict[str, int], list],
            extremes: Sequence[extreme_values.Extremes] = (), sample=None) -> dict:
  """The pass's result: {"rows": `hash_buckets.row_counts` and the conflict counts summed over
  buckets, "multiplicities": {split: {k: distinct rows seen k times}} (`repetition.py`),
  "labels": {label: n}, "cells": [[feature, bin, label, n]], "ranks": [[feature, fine bin, label,
  n]] (`rank_leakage.py`), "conflicts": [{"rows": n, "labels": {label: n}, "values":
  {feature: text}}] (the largest conflicting groups; values where the sketch kept them:
  `label_conflicts.named`), "extremes": `extreme_values.as_result`, "label_sample": the train rows
  `label_errors.py` judges}.
  """
  labels, cells, label_names, ranks, values, measured = counts
  (rows, multiplicities), examples = repetition.split_counts(rows[0]), rows[1]
  return {"rows": rows, "multiplicities": multiplicities, "labels": labels,
          "cells": [[f, v, l, n] for (f, v, l), n in sorted(cells.items())],
          "ranks": [[f, b, l, n] for (f, b, l), n in sorted(ranks.items())],
          "conflicts": label_conflicts.named(examples, label_names, values),
          "extremes": extreme_values.as_result(measured, list(extremes)),
          "label_sample": label_errors.as_result(sample or {})}


def run_beam_pass(pipeline: beam.Pipeline, split_patterns: Dict[str, str], label_key: str,
                  binning: List[Binning], output_path: str, spill_dir: str,
                  batch_size: Optional[int] = None, label_bins: Optional[Binning] = None,
                  extremes: Sequence[extreme_values.Extremes] = (),
                  rank_bins: Sequence[Binning] = (),
                  label_class: label_conflicts.LabelClass = None) -> None:
  """Adds the pass to `pipeline`; the result lands as one JSON file at `output_path`. `spill_dir`
  (an existing folder every worker can reach) receives the row-hash spill files: remove it once
  the pipeline has run. `rank_bins`: `rank_leakage.rank_binnings`. `label_class`: the policy's
  `Policy.label_class` when it has a `label.map`, by which conflicting labels are classes."""
  batch_size = batch_size or BATCH_SIZE
  counts, ranges, samples = [], [], []
  for split, pattern in sorted(split_patterns.items()):
    outputs = (
        pipeline
        | f"Read[{split}]" >> tfrecord_batches.ReadTFRecordBatches(pattern, batch_size)
        | f"Hash[{split}]" >> beam.ParDo(_Batches(split, label_key, binning, spill_dir,
                                                  label_bins, extremes, rank_bins, label_class)
                                         ).with_outputs(_Batches.RANGES, _Batches.SAMPLE,
                                                        main="counts"))
    counts.append(outputs.counts)
    samples.append(outputs[_Batches.SAMPLE])
    ranges.append(outputs[_Batches.RANGES])
  rows = (ranges
          | "AllRanges" >> beam.Flatten()
          | "GroupBuckets" >> beam.GroupByKey()
          | "CountBucket" >> beam.Map(_bucket_row_counts)
          | "SumRows" >> beam.CombineGlobally(_SumBuckets()))
  _ = (counts
       | "AllCounts" >> beam.Flatten()
       | "SumCounts" >> beam.CombineGlobally(_SumCounts(width=6, extremes=True))
       | "Result" >> beam.Map(_result, rows=beam.pvalue.AsSingleton(rows), extremes=list(extremes),
                              sample=beam.pvalue.AsSingleton(
                                  samples | "AllSamples" >> beam.Flatten()
                                  | "Sample" >> beam.CombineGlobally(label_errors.merge_all)))
       | "ToJson" >> beam.Map(json.dumps, sort_keys=True)
       | "Write" >> beam.io.WriteToText(output_path, shard_name_template="", num_shards=1))


def read_result(output_path: str) -> dict:
  with tf.io.gfile.GFile(output_path) as f:
    return json.loads(f.read())


def split_patterns(examples_uri: str, splits: Iterable[str]) -> Dict[str, str]:
  return {s: os.path.join(examples_uri, f"Split-{s}", "*") for s in splits}
