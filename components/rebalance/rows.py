"""Batches of transformed examples as arrays, and their canonical bytes, without a Python proto per row.

Why: Rebalance hashes and writes every row of the train split twice (count, then resample), and
with the protobuf API each row cost a parse, a deterministic serialization and a map lookup per
feature: about 0.4 ms per row, i.e. minutes per million rows, where imbalanced-learn's SMOTE on the
same rows in memory takes seconds. Here a batch of records is decoded by tfx_bsl's C++ decoder into
Arrow columns, and the canonical bytes of every regular row (each expected feature holds exactly one
value of its type, nothing else is set) are built for the whole batch with numpy. Only the rows that
are not regular (a missing or repeated value, an unexpected feature) take the protobuf path; their
bytes and values are the same either way.

Canonical bytes are what `SerializeToString(deterministic=True)` writes: map entries in key order.
The writers upstream (Transform's C++ encoder) order them by a per-process hash, so the same row
arrives as different bytes from run to run; hashing and writing canonical bytes keeps Rebalance's
output byte-identical for the same rows and seed.

One difference from the protobuf path is accepted: a feature entry with no value kind at all
(`Feature()`) decodes like an absent feature, so a regular row that also carries such an entry for
a feature not in the transformed schema loses it. Transform never writes one.
"""
import dataclasses
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pyarrow as pa
from tensorflow.core.example import example_pb2
from tfx_bsl.coders import example_coder

FLOAT, INT = "float", "int"


def _varint(value: int) -> bytes:
  out = bytearray()
  value &= (1 << 64) - 1
  while True:
    low = value & 0x7F
    value >>= 7
    if value:
      out.append(low | 0x80)
    else:
      out.append(low)
      return bytes(out)


def _varint_lengths(values: np.ndarray) -> np.ndarray:
  """Bytes of each int64's varint (two's complement for negatives: 10 bytes)."""
  unsigned = values.astype(np.int64).view(np.uint64)
  lengths = np.ones(len(unsigned), dtype=np.int64)
  for k in range(1, 10):
    lengths += unsigned >= np.uint64(1 << (7 * k))
  return lengths


def _varint_bytes(values: np.ndarray, length: int) -> np.ndarray:
  """(rows, length) uint8: the varints of `values`, all of `length` bytes."""
  unsigned = values.astype(np.int64).view(np.uint64)
  out = np.empty((len(unsigned), length), dtype=np.uint8)
  for j in range(length):
    byte = (unsigned >> np.uint64(7 * j)) & np.uint64(0x7F)
    if j < length - 1:
      byte |= np.uint64(0x80)
    out[:, j] = byte.astype(np.uint8)
  return out


def _entry_prefix(name: bytes, kind: str, value_length: int) -> Tuple[bytes, int]:
  """The bytes of a map entry up to its value, and the entry's total length."""
  if kind == FLOAT:
    value_list = b"\x0a" + _varint(value_length)  # FloatList.value, packed
    feature = b"\x12" + _varint(len(value_list) + value_length)  # Feature.float_list
  else:
    value_list = b"\x0a" + _varint(value_length)  # Int64List.value, packed
    feature = b"\x1a" + _varint(len(value_list) + value_length)  # Feature.int64_list
  feature_length = len(feature) + len(value_list) + value_length
  body = b"\x0a" + _varint(len(name)) + name + b"\x12" + _varint(feature_length)
  body_length = len(body) + feature_length
  head = b"\x0a" + _varint(body_length)  # Features.feature map entry
  prefix = head + body + feature + value_list
  return prefix, len(head) + body_length


def canonical_examples(features: Sequence[Tuple[str, str, np.ndarray]]) -> List[bytes]:
  """Serialized tf.Examples, one per row, each feature holding its row's one value.

  `features`: (name, FLOAT or INT, values) with one value per row; FLOAT values are written as
  float32. The bytes equal `SerializeToString(deterministic=True)` of the same Example.
  """
  features = sorted(features, key=lambda f: f[0].encode("utf-8"))
  rows = len(features[0][2]) if features else 0
  if rows == 0:
    return []
  ints = [i for i, (_, kind, _) in enumerate(features) if kind == INT]
  lengths = (np.stack([_varint_lengths(features[i][2]) for i in ints], axis=1)
             if ints else np.zeros((rows, 0), dtype=np.int64))
  patterns, group_of = np.unique(lengths, axis=0, return_inverse=True)
  group_of = np.asarray(group_of).reshape(-1)
  out: List[Optional[bytes]] = [None] * rows
  for g, pattern in enumerate(patterns):
    members = np.flatnonzero(group_of == g)
    value_lengths = dict(zip(ints, (int(k) for k in pattern)))
    pieces, entries_length = [], 0
    for i, (name, kind, values) in enumerate(features):
      length = 4 if kind == FLOAT else value_lengths[i]
      prefix, entry_length = _entry_prefix(name.encode("utf-8"), kind, length)
      entries_length += entry_length
      prefix_bytes = np.frombuffer(prefix, dtype=np.uint8)
      pieces.append(np.broadcast_to(prefix_bytes, (len(members), len(prefix_bytes))))
      chosen = values[members]
      if kind == FLOAT:
        pieces.append(chosen.astype("<f4").view(np.uint8).reshape(len(members), 4))
      else:
        pieces.append(_varint_bytes(chosen, length))
    features_head = np.frombuffer(b"\x0a" + _varint(entries_length), dtype=np.uint8)
    pieces.insert(0, np.broadcast_to(features_head, (len(members), len(features_head))))
    matrix = np.ascontiguousarray(np.concatenate(pieces, axis=1))
    width = matrix.shape[1]
    buffer = matrix.tobytes()
    for j, row in enumerate(members.tolist()):
      out[row] = buffer[j * width:(j + 1) * width]
  return out


@dataclasses.dataclass
class RowBatch:
  """A batch of examples: canonical bytes and, per expected column, value counts and first values."""
  records: List[bytes]
  label_counts: np.ndarray  # values of the label per row
  labels: np.ndarray  # int64 class id where the label is one number, else -1
  counts: np.ndarray  # (rows, columns): values per expected column
  matrix: np.ndarray  # (rows, columns) float64: first value, NaN where none

  def __len__(self) -> int:
    return len(self.records)


class Decoder:
  """Decodes serialized examples into a `RowBatch` for a fixed label and column order."""

  def __init__(self, label: str, columns: Sequence[str], kinds: Dict[str, str]):
    self._label = label
    self._columns = tuple(columns)
    self._kinds = dict(kinds)  # column or label -> FLOAT / INT
    self._kinds[label] = INT
    self._decoder = example_coder.ExamplesToRecordBatchDecoder()

  def decode(self, records: Sequence[bytes]) -> RowBatch:
    n = len(records)
    names = (self._label, *self._columns)
    counts = np.zeros((n, len(names)), dtype=np.int64)
    matrix = np.full((n, len(names)), np.nan)
    regular = np.ones(n, dtype=bool)
    typed: Dict[str, np.ndarray] = {}
    batch = None
    if n:
      try:
        batch = self._decoder.DecodeBatch(list(records))
      except RuntimeError:  # a feature with different types in different rows: slow path
        regular[:] = False
    if batch is not None:
      present = set(batch.schema.names)
      for name in present - set(names):  # a feature the transformed schema does not have
        regular &= np.asarray(batch.column(name).is_null().to_numpy(zero_copy_only=False))
      for j, name in enumerate(names):
        column = batch.column(name) if name in present else None
        if column is None or pa.types.is_null(column.type):  # no row of the batch has a value
          regular[:] = False
          continue
        offsets = np.asarray(column.offsets)
        lengths = np.diff(offsets)
        counts[:, j] = lengths
        values = column.flatten().to_numpy(zero_copy_only=False)
        has = lengths > 0
        expected = np.float32 if self._kinds[name] == FLOAT else np.int64
        if values.dtype != expected:  # another type than the transformed schema's: slow path
          regular[has] = False
        elif len(values):
          matrix[has, j] = values[offsets[:-1][has]].astype(np.float64)
        regular &= lengths == 1
        typed[name] = values[np.minimum(offsets[:-1], max(len(values) - 1, 0))] if len(values) else values
    labels = np.full(n, -1, dtype=np.int64)
    out: List[Optional[bytes]] = [None] * n
    fast = np.flatnonzero(regular)
    if len(fast):
      labels[fast] = typed[self._label][fast]
    if len(fast):
      encoded = canonical_examples([(name, self._kinds[name], typed[name][fast]) for name in names])
      for row, record in zip(fast.tolist(), encoded):
        out[row] = record
    for row in np.flatnonzero(~regular).tolist():
      example = example_pb2.Example.FromString(records[row])
      out[row] = example.SerializeToString(deterministic=True)
      for j, name in enumerate(names):
        values = _values(example, name)
        counts[row, j] = len(values)
        matrix[row, j] = _number(values[0]) if len(values) else np.nan
      labels[row] = _class_id(_values(example, self._label))
    return RowBatch(out, counts[:, 0], labels, counts[:, 1:], matrix[:, 1:])


def _class_id(values) -> int:
  """The row's class id from its label values; -1 (a bad label) unless one finite number."""
  if len(values) != 1 or isinstance(values[0], bytes) or not np.isfinite(values[0]):
    return -1
  return int(values[0])


def _number(value) -> float:
  try:
    return float(value)
  except (TypeError, ValueError):  # bytes where a number is expected
    return np.nan


def _values(example: example_pb2.Example, name: str):
  if name not in example.features.feature:
    return ()
  feature = example.features.feature[name]
  kind = feature.WhichOneof("kind")
  return getattr(feature, kind).value if kind else ()
