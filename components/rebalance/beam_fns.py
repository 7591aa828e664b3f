"""The Beam functions of Rebalance's two passes: count, then route, break ties and synthesise.

Each works a batch of rows at a time (`rows.py` decodes and encodes them without a protobuf per
row) and sums what it counts within a bundle, so a few elements per bundle cross stages, not one
per row. Rows reach their output shard through spill files (`util/spill_shuffle.py`): only file
names and per-bundle counts are grouped, so memory holds one shard at a time, not the split.
"""
import hashlib
import json
import math
from typing import Any, List, Optional, Sequence

import apache_beam as beam
from apache_beam.transforms import window
from apache_beam.utils import windowed_value
import numpy as np

from trainguard.components.rebalance import rows as example_rows
from trainguard.components.rebalance.feature_kinds import FeatureKinds
from trainguard.components.rebalance.params import Params
from trainguard.components.rebalance.plan import BUCKET_BITS, SplitPlan, allocate
from trainguard.components.rebalance.synthesis import synthesize
from trainguard.components.util import spill_shuffle
from trainguard.components.util.spill_shuffle import row_hashes

_OWN, _CONTEXT = 0, 1
TIES, GROUPS = "ties", "groups"
COUNTS = "counts"


class _BundleSums:
  """(rows, smallest, largest) per key, summed within a bundle (a dict, emitted at its end)."""

  def __init__(self):
    self.sums = {}

  def add(self, key, rows: int, low=None, high=None):
    old_rows, old_low, old_high = self.sums.get(key, (0, None, None))
    if low is not None and old_low is not None:
      low, high = min(low, old_low), max(high, old_high)
    elif low is None:
      low, high = old_low, old_high
    self.sums[key] = (old_rows + int(rows), low, high)

  def add_counts(self, prefix: tuple, values: np.ndarray):
    for value, rows in zip(*np.unique(values, return_counts=True)):
      self.add((*prefix, int(value)), rows)


class SumAcrossBundles(beam.CombineFn):
  """(rows, smallest value, largest value) per key, summed across the bundles' `_BundleSums`."""

  def create_accumulator(self):
    return (0, None, None)

  def add_input(self, accumulator, element):
    return self.merge_accumulators([accumulator, element])

  def merge_accumulators(self, accumulators):
    rows, lows, highs = 0, [], []
    for n, low, high in accumulators:
      rows += n
      if low is not None:
        lows.append(low)
        highs.append(high)
    return (rows, min(lows) if lows else None, max(highs) if highs else None)

  def extract_output(self, accumulator):
    return accumulator


def _buckets(hashes: np.ndarray) -> np.ndarray:
  return (hashes >> np.uint64(64 - BUCKET_BITS)).astype(np.int64)


def _decoder(kinds: FeatureKinds) -> example_rows.Decoder:
  column_kinds = {name: example_rows.INT if name in kinds.categorical else example_rows.FLOAT
                  for name in kinds.columns}
  return example_rows.Decoder(kinds.label, kinds.columns, column_kinds)


def _output(element, tag: Optional[str] = None):
  value = windowed_value.WindowedValue(element, 0, [window.GlobalWindow()])
  return value if tag is None else beam.pvalue.TaggedOutput(tag, value)


class CountFn(beam.DoFn):
  """Pass 1, a batch of rows at a time: per row, its class and hash bucket, and any shape or id
  finding. Counts are summed per bundle and emitted in `finish_bundle`, a few elements per
  bundle."""

  def __init__(self, split: str, kinds: FeatureKinds, seed: int):
    self._split = split
    self._kinds = kinds
    self._seed = seed
    self._decoder = None
    self._sums = _BundleSums()

  def setup(self):
    self._decoder = _decoder(self._kinds)

  def start_bundle(self):
    self._sums = _BundleSums()

  def process(self, records: List[bytes]):
    batch = self._decoder.decode(records)
    sums, split = self._sums, self._split
    many = batch.label_counts != 1
    for count, rows in zip(*np.unique(batch.label_counts[many], return_counts=True)):
      sums.add((split, "bad_label", f"{count} values"), rows)
    negative = ~many & (batch.labels < 0)
    for class_id, rows in zip(*np.unique(batch.labels[negative], return_counts=True)):
      sums.add((split, "bad_label", f"class id {class_id}"), rows)
    good = np.flatnonzero(~many & ~negative)
    if not len(good):
      return
    hashes = row_hashes(self._seed, [batch.records[i] for i in good.tolist()], "rank")
    keys, key_rows = np.unique(np.stack([batch.labels[good], _buckets(hashes)], axis=1), axis=0,
                               return_counts=True)
    for (class_id, bucket), rows in zip(keys.tolist(), key_rows.tolist()):
      sums.add((split, "class", class_id, bucket), rows)
    counts, matrix = batch.counts[good], batch.matrix[good]
    for j, name in enumerate(self._kinds.columns):
      fine = (counts[:, j] == 1) & np.isfinite(matrix[:, j])
      if not fine.all():
        sums.add((split, "malformed", name), int((~fine).sum()))
      if name in self._kinds.categorical and fine.any():
        ids = matrix[fine, j]
        sums.add((split, "ids", name), int(fine.sum()), int(ids.min()), int(ids.max()))

  def finish_bundle(self):
    for key, sums in self._sums.sums.items():
      yield _output((key, sums))
    self._sums = _BundleSums()


class _Spiller(spill_shuffle.Spiller):
  """Rows of a class to spill files (see `spill_shuffle`), counted per class. Copy `c` of a row
  is keyed by the row's hash salted with `out<c>`, so the copies of a row spread over shards."""

  def __init__(self, spill_dir: str, seed: int, num_shards: int, split: str):
    super().__init__(spill_dir, num_shards)
    self._seed = seed
    self._split = split
    self.counts = _BundleSums()

  def add_class(self, class_id: int, records: Sequence[bytes], copy: int) -> None:
    if not records:
      return
    self.counts.add((self._split, "class", int(class_id)), len(records))
    self.add(row_hashes(self._seed, records, f"out{copy}"), records)


class _SpillingFn(spill_shuffle.SpillingFn):
  """A DoFn that writes rows to spill files and emits, per bundle, their (shard, file) names as
  its main output and the rows written per class as `COUNTS`."""

  def __init__(self, split: str, seed: int, num_shards: int, spill_dir: str):
    super().__init__(spill_dir, num_shards)
    self._split = split
    self._seed = seed

  def new_spiller(self) -> _Spiller:
    return _Spiller(self._spill_dir, self._seed, self._num_shards, self._split)

  def finish_bundle(self):
    spiller = self._spiller
    yield from super().finish_bundle()
    for key, sums in spiller.counts.sums.items():
      yield _output((key, sums), COUNTS)


class RouteFn(_SpillingFn):
  """Pass 2, a batch of rows at a time: streams each row to its output shard's spill file, to a
  class's tie group, or to a synthesis chunk."""

  def __init__(self, split: str, kinds: FeatureKinds, params: Params, plan: SplitPlan,
               spill_dir: str):
    super().__init__(split, params.seed, plan.num_shards, spill_dir)
    self._kinds = kinds
    self._classes = plan.classes
    self._context = [p for p in plan.classes.values() if p.context_cuts]
    self._decoder = None

  def setup(self):
    self._decoder = _decoder(self._kinds)

  def process(self, records: List[bytes]):
    batch = self._decoder.decode(records)
    hashes = row_hashes(self._seed, batch.records, "rank")
    buckets = _buckets(hashes)
    spill = self._spiller.add_class
    for class_id in np.unique(batch.labels).tolist():
      members = np.flatnonzero(batch.labels == class_id)
      plan = self._classes.get(class_id)
      pick = lambda mask: [batch.records[i] for i in members[mask].tolist()]
      below = buckets[members] < (plan.cut if plan else 0)
      at_cut = buckets[members] == (plan.cut if plan else -1)
      if plan is None or plan.action == "synth":
        spill(class_id, [batch.records[i] for i in members.tolist()], 0)
      elif plan.action == "under":
        spill(class_id, pick(below), 0)
      else:
        everything = [batch.records[i] for i in members.tolist()]
        for copy in range(plan.copies + 1):
          spill(class_id, everything, copy)
        spill(class_id, pick(below), plan.copies + 1)
      if plan is not None and plan.action in ("under", "over") and plan.take:
        for i in members[at_cut].tolist():
          yield beam.pvalue.TaggedOutput(TIES, (class_id, (int(hashes[i]), batch.records[i])))
      if plan is not None and plan.action == "synth":
        chunks = np.searchsorted(np.asarray(plan.chunk_starts, dtype=np.int64), buckets[members],
                                 side="right")
        for i, chunk in zip(members.tolist(), chunks.tolist()):
          yield beam.pvalue.TaggedOutput(
              GROUPS, ((class_id, chunk), (_OWN, int(hashes[i]), tuple(batch.matrix[i].tolist()))))
      for other in self._context:
        if other.class_id == class_id:
          continue
        cut = dict(other.context_cuts).get(class_id, 0)
        for i in members[buckets[members] < cut].tolist():
          vector = tuple(batch.matrix[i].tolist())
          for chunk in range(len(other.chunk_rows)):
            yield beam.pvalue.TaggedOutput(
                GROUPS, ((other.class_id, chunk), (_CONTEXT, int(hashes[i]), vector)))


class TieFn(_SpillingFn):
  """The exact remainder of a hash-ranked selection: the `take` smallest rows of the cut bucket."""

  def __init__(self, split: str, params: Params, plan: SplitPlan, spill_dir: str):
    super().__init__(split, params.seed, plan.num_shards, spill_dir)
    self._classes = plan.classes

  def process(self, element):
    class_id, ties = element
    plan = self._classes[class_id]
    copy = 0 if plan.action == "under" else plan.copies + 1
    self._spiller.add_class(class_id, [record for _, record in sorted(ties)[:plan.take]], copy)
    return []


class SynthesizeFn(_SpillingFn):
  """imbalanced-learn on one chunk of a class (plus, for ADASYN/Borderline, the context sample)."""

  def __init__(self, split: str, kinds: FeatureKinds, params: Params, plan: SplitPlan,
               spill_dir: str):
    super().__init__(split, params.seed, plan.num_shards, spill_dir)
    self._strategy = plan.strategy
    self._kinds = kinds
    self._params = params
    self._classes = plan.classes

  def process(self, element):
    (class_id, chunk), entries = element
    own, context = [], []
    for tag, hash_value, vector in entries:
      (own if tag == _OWN else context).append((hash_value, vector))
    own.sort()
    context.sort()
    width = len(self._kinds.columns)
    own_x = np.array([v for _, v in own], dtype=np.float64).reshape(len(own), width)
    context_x = np.array([v for _, v in context], dtype=np.float64).reshape(len(context), width)
    n_new = self._classes[class_id].chunk_new[chunk]
    # A chunk is at most chunk_size rows unless many rows share one hash bucket (duplicates): then
    # imbalanced-learn still sees at most chunk_size rows at a time, in even parts.
    parts = np.array_split(np.arange(len(own_x)), math.ceil(len(own_x) / self._params.chunk_size))
    shares = allocate(n_new, [len(p) for p in parts])
    # New rows are made at most chunk_size at a time too: imbalanced-learn holds every new row of
    # a call in memory (SMOTE-NC as Python lists per row), and a 1% class asks for 99x its rows.
    for part, (indices, part_new) in enumerate(zip(parts, shares)):
      batches = allocate(part_new, [1] * max(1, math.ceil(part_new / self._params.chunk_size)))
      for batch, batch_new in enumerate(batches):
        seed = (_derived_seed(self._params.seed, class_id, chunk, part) if batch == 0 else
                _derived_seed(self._params.seed, class_id, chunk, part, batch))
        new = synthesize(self._strategy, own_x[indices], batch_new, self._params.k_neighbors,
                         seed, self._kinds.categorical_columns, context_x)
        self._spiller.add_class(class_id, vectors_to_examples(new, self._kinds, class_id), 0)
    return []


def vectors_to_examples(vectors: np.ndarray, kinds: FeatureKinds, class_id: int) -> List[bytes]:
  """Synthetic rows as canonical examples: numeric columns as float32, categorical ones rounded
  (half to even) to int64 ids, and the label."""
  if not len(vectors):
    return []
  features = [(kinds.label, example_rows.INT, np.full(len(vectors), class_id, dtype=np.int64))]
  for j, name in enumerate(kinds.columns):
    if name in kinds.categorical:
      features.append((name, example_rows.INT, np.rint(vectors[:, j]).astype(np.int64)))
    else:
      features.append((name, example_rows.FLOAT, vectors[:, j].astype(np.float32)))
  return example_rows.canonical_examples(features)


def summary_line(element) -> str:
  key, (rows, low, high) = element
  return json.dumps({"key": list(key), "rows": rows, "min": low, "max": high})


def _derived_seed(seed: int, *parts: Any) -> int:
  digest = hashlib.blake2b(":".join(map(str, (seed, *parts))).encode(), digest_size=4).digest()
  return int.from_bytes(digest, "big") & 0x7FFFFFFF
