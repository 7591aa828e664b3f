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

How the pass runs: vectorised per batch, with no Beam element and no Python object per row.
- Records are batched (`BATCH_SIZE`) and decoded in C++ into an Arrow record batch by tfx_bsl's
  `ExamplesToRecordBatchDecoder`, without a schema, so that every feature of the examples counts
  whatever type ExampleGen inferred for its column in this split (a batch in which a feature's type
  varies between examples is decoded one example at a time and regrouped).
- Row content hash: 128 bits, as two uint64 arrays per batch, computed with numpy. Every value gets
  a hash of its canonical form (below); a feature's values in a row are combined in list order with
  the feature's name; the row's hash is the sum (mod 2**64, per half) over its features. It does not
  depend on the order of features in the proto, on which columns a batch happens to have, nor on
  Python's hash seed. A feature without a value in a row (absent, an empty value list, or no type at
  all) adds nothing: missing equals missing and differs from every value (the per-row version told
  an absent feature from an empty list; CsvExampleGen writes every column in every row, so their
  findings are the same). Two different rows get the same hash with a probability of about 2**-128
  (the hash is not cryptographic: a row crafted to collide is not the concern here).
- Canonical form of a value, the same in every split and for every column type (so a column typed
  as text in one split because of a stray word still matches its rows typed as float in another):
  text is decoded as UTF-8, stripped of surrounding whitespace and read as a number when Python's
  `float()` reads it; numbers equal to an integer (below 1e15 in magnitude for floats) are that
  integer whatever their type (int 1, float 1.0 and text " 1 " are one value); other numbers are
  compared at 7 significant digits (float32 precision, as tf.Example stores floats; rounded half to
  even as Python's '%.7g', which is the reference `_seven_digits` reproduces); every NaN is one
  value; other text is compared as its stripped UTF-8 bytes. ASCII text goes through Arrow kernels;
  only distinct non-ASCII text values and numbers within 1e-6 of a 7-digit rounding tie go through
  Python, once per batch.
- Duplicates and cross-split rows: each bundle spills its rows' hashes (16 bytes a row) to a file
  in blocks sorted by a hash prefix (`hash_buckets.py`); only (bucket, file range) pairs are
  grouped, and each bucket is read and counted by sorting on its own (`_row_counts`), since equal
  rows fall into the same bucket. Memory is one block (4 MB) per bundle and one bucket (1/256 of
  the rows) at a time, whatever the number of rows.
- Contingency tables (train only): each batch counts its (feature, bin, label) cells with numpy,
  numeric features binned by `np.searchsorted(boundaries, value, side="right")` (which is
  `bisect.bisect_right`, as `Binning.bin_of`), categorical ones by their text; the combiner sums
  the small dicts.
"""
import bisect
import dataclasses
import functools
import hashlib
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
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2
from tfx_bsl.coders import example_coder

from trainguard.components import tfrecord_batches
from trainguard.components.data_guard import dataset_findings, hash_buckets

MAX_CATEGORIES = 50
RESULT_FILE = "dataset_checks.json"
BATCH_SIZE = 4096  # examples decoded and hashed together
# Schema review read it here before it moved to dataset_findings; kept while it still does.
distinct_counts = dataset_findings.distinct_counts


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


# ---------------------------------------------------------------------------------------------
# Hashing, vectorised. Every array below is uint64 and wraps modulo 2**64 (numpy does not check
# overflow on arrays). Two "lanes" with different constants make the 128 bits.

_U64 = np.uint64
_LANES = (0, 1)
_SEED = (_U64(0x9E3779B97F4A7C15), _U64(0xD1B54A32D192ED03))
_BYTE_SEED = (_U64(0x8CB92BA72F3D8DD7), _U64(0xABC98388FB8FAC03))
_POSITION = (_U64(0xC2B2AE3D27D4EB4F), _U64(0x165667B19E3779F9))
_LENGTH = (_U64(0x27D4EB2F165667C5), _U64(0x94D049BB133111EB))
# Value classes of the canonical form: separate salts, so that no two classes share a hash.
_INT, _FLOAT, _SPECIAL, _TEXT = 0, 1, 2, 3
_CLASS = (np.array([0x2545F4914F6CDD1D, 0x5851F42D4C957F2D, 0x14057B7EF767814F,
                    0x9FB21C651E98DF25], dtype=np.uint64),
          np.array([0xE7037ED1A0B428DB, 0x8EBC6AF09C88C6E3, 0x589965CC75374CC3,
                    0x1D8E4E27C47D124F], dtype=np.uint64))
_M1, _M2, _S33 = _U64(0xFF51AFD7ED558CCD), _U64(0xC4CEB9FE1A85EC53), _U64(33)


def _mix(h: np.ndarray) -> np.ndarray:
  """MurmurHash3's 64-bit finalizer: a bijection that spreads every input bit; mutates `h`."""
  h ^= h >> _S33
  h *= _M1
  h ^= h >> _S33
  h *= _M2
  h ^= h >> _S33
  return h


def _key_hashes(classes: np.ndarray, payload: np.ndarray) -> List[np.ndarray]:
  """Per (class, 64-bit payload): its two hash lanes (distinct within a class: `_mix` is a
  bijection; across classes, different salts)."""
  return [_mix(payload ^ _SEED[lane]) + _CLASS[lane][classes] for lane in _LANES]


# Canonical numbers. The reference is the text form `'n:%d' % v` for integers (int64 values, and
# floats equal to an integer below 1e15 in magnitude) and `'n:%.7g' % v` for other floats. Keys:
# _INT + the int64; _FLOAT + sign, decimal exponent and 7-digit mantissa; _SPECIAL + nan/inf/-inf.
_POW10 = np.array([float(10 ** k) for k in range(309)])  # exact to 10**22, correctly rounded after
_INT_POW10 = np.array([10 ** k for k in range(7)], dtype=np.int64)


def _scaled(a: np.ndarray, exponent: np.ndarray) -> np.ndarray:
  """a * 10**(6 - exponent): the 7 significant digits before the point (exact up to 10**12)."""
  shift = 6 - exponent
  up = np.clip(shift, 0, 300)
  out = a * _POW10[up] * _POW10[np.clip(shift - up, 0, 308)]
  down = shift < 0
  if down.any():
    out[down] = a[down] / _POW10[np.minimum(-shift[down], 308)]
  return out


def _seven_digits(x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
  """Keys of finite non-integral floats, equal exactly when their `'%.7g'` texts are equal."""
  a = np.abs(x)
  exponent = np.floor(np.log10(a)).astype(np.int64)
  scaled = _scaled(a, exponent)
  for _ in range(3):  # log10 can be one off next to a power of ten
    low, high = scaled < 999999.5, scaled >= 9999999.5
    if not (low.any() or high.any()):
      break
    exponent = exponent - low + high
    scaled = _scaled(a, exponent)
  mantissa = np.rint(scaled).astype(np.int64)  # half to even, as '%.7g'
  carry = mantissa >= 10 ** 7
  mantissa[carry] //= 10
  exponent[carry] += 1
  # Within 1e-6 of a rounding tie the float arithmetic may not tell the side: ask Python.
  fraction = scaled - np.floor(scaled)
  for i in np.flatnonzero(np.abs(fraction - 0.5) < 1e-6):
    digits, power = f"{a[i]:.6e}".split("e")
    mantissa[i], exponent[i] = int(digits.replace(".", "")), int(power)
  negative = x < 0
  # '%.7g' writes 1e-4 <= |x| < 1e7 in fixed notation: an integral text is that integer's key.
  fixed = (exponent >= 0) & (exponent <= 6)
  divisor = _INT_POW10[np.clip(6 - exponent, 0, 6)]
  integral = fixed & (mantissa % divisor == 0)
  integers = np.where(negative, -(mantissa // divisor), mantissa // divisor)
  packed = ((negative.astype(np.uint64) << _U64(63)) | ((exponent + 2048).astype(np.uint64)
                                                          << _U64(24)) | mantissa.astype(np.uint64))
  classes = np.where(integral, _INT, _FLOAT).astype(np.uint8)
  payload = np.where(integral, integers.view(np.uint64), packed)
  return classes, payload


def _number_keys(x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
  """(class, payload) per float64 value; see the module docstring."""
  x = np.asarray(x, dtype=np.float64)
  classes = np.full(len(x), _INT, dtype=np.uint8)
  payload = np.zeros(len(x), dtype=np.uint64)
  finite = np.isfinite(x)
  if not finite.all():
    classes[~finite] = _SPECIAL
    payload[np.isposinf(x)] = 1
    payload[np.isneginf(x)] = 2
  integral = finite & (np.abs(x) < 1e15) & (np.floor(x) == x)
  payload[integral] = x[integral].astype(np.int64).view(np.uint64)
  rest = np.flatnonzero(finite & ~integral)
  if len(rest):
    classes[rest], payload[rest] = _seven_digits(x[rest])
  return classes, payload


def _bytes_hashes(strings: pa.Array) -> List[np.ndarray]:
  """Per value of a binary or string array without nulls: the two lanes of a hash of its bytes
  (a sum of a mixed (position, byte) term per byte, then mixed with the length)."""
  n = len(strings)
  large = pa.types.is_large_binary(strings.type) or pa.types.is_large_string(strings.type)
  buffers = strings.buffers()
  offsets = np.frombuffer(buffers[1], dtype=np.int64 if large else np.int32)[
      strings.offset:strings.offset + n + 1].astype(np.int64)
  start, end = int(offsets[0]), int(offsets[-1])
  data = (np.frombuffer(buffers[2], dtype=np.uint8)[start:end] if buffers[2] is not None
          else np.zeros(0, dtype=np.uint8))
  lengths = np.diff(offsets)
  position = np.arange(end - start, dtype=np.int64) - np.repeat(offsets[:-1] - start, lengths)
  key = (position.astype(np.uint64) << _U64(8)) | data.astype(np.uint64)
  out = []
  for lane in _LANES:
    summed = np.zeros(end - start + 1, dtype=np.uint64)
    np.cumsum(_mix(key ^ _BYTE_SEED[lane]), out=summed[1:])
    per_string = summed[offsets[1:] - start] - summed[offsets[:-1] - start]
    out.append(_mix((per_string ^ _SEED[lane]) + lengths.astype(np.uint64) * _LENGTH[lane])
               + _CLASS[lane][_TEXT])
  return out


_ASCII_SPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"  # what str.strip() strips among ASCII characters
# What Python's float() reads, in ASCII, once stripped (PEP 515 underscores included)...
_NUMBER = r"^[+-]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?$"
_SPECIAL_NUMBER = r"^[+-]?(?:inf|infinity|nan)$"  # ... and its special values, in any case


def _text_hashes(values: pa.Array) -> List[np.ndarray]:
  """Per value of a binary or string array without nulls: the hash of its canonical form.
  Distinct values are canonicalised once (categorical columns have few per batch); ASCII ones with
  Arrow kernels, the others (rare) with Python's own strip() and float()."""
  encoded = pc.dictionary_encode(values)
  indices = np.asarray(encoded.indices)
  unique = encoded.dictionary
  n = len(unique)
  out = [np.zeros(n, dtype=np.uint64) for _ in _LANES]

  def put(where, hashes):
    for lane in _LANES:
      out[lane][where] = hashes[lane]

  if pa.types.is_large_binary(unique.type):
    text = unique.view(pa.large_string())
  elif pa.types.is_binary(unique.type):
    text = unique.view(pa.string())
  else:
    text = unique
  ascii_ = np.asarray(pc.string_is_ascii(text))
  where = np.flatnonzero(ascii_)
  if len(where):
    stripped = pc.ascii_trim(text if len(where) == n else text.take(pa.array(where)),
                             characters=_ASCII_SPACE)
    number = np.asarray(pc.match_substring_regex(stripped, _NUMBER))
    special = np.asarray(pc.match_substring_regex(stripped, _SPECIAL_NUMBER, ignore_case=True))
    other = np.flatnonzero(~(number | special))
    if len(other):
      put(where[other], _bytes_hashes(stripped.take(pa.array(other))))
    number = np.flatnonzero(number)
    if len(number):
      digits = pc.replace_substring(pc.replace_substring_regex(
          stripped.take(pa.array(number)), r"^\+", ""), "_", "")
      put(where[number], _key_hashes(*_number_keys(np.asarray(pc.cast(digits, pa.float64())))))
    special = np.flatnonzero(special)
    if len(special):
      put(where[special], _key_hashes(*_number_keys(np.array(
          [float(s) for s in stripped.take(pa.array(special)).to_pylist()]))))
  where = np.flatnonzero(~ascii_)
  if len(where):
    numbers, number_at, texts, text_at = [], [], [], []
    for i, raw in zip(where, unique.take(pa.array(where)).to_pylist()):
      stripped = (raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw).strip()
      try:
        numbers.append(float(stripped))
        number_at.append(i)
      except ValueError:
        texts.append(stripped.encode("utf-8"))
        text_at.append(i)
    if numbers:
      put(np.array(number_at), _key_hashes(*_number_keys(np.array(numbers))))
    if texts:
      put(np.array(text_at), _bytes_hashes(pa.array(texts, pa.large_binary())))
  return [lane[indices] for lane in out]


def _value_hashes(values: pa.Array) -> List[np.ndarray]:
  """Per value (flattened, no nulls): the two lanes of the hash of its canonical form."""
  kind = values.type
  if pa.types.is_integer(kind):
    payload = np.asarray(values.cast(pa.int64())).view(np.uint64)
    return _key_hashes(np.full(len(values), _INT, dtype=np.uint8), payload)
  if pa.types.is_floating(kind):
    return _key_hashes(*_number_keys(np.asarray(values).astype(np.float64)))
  if (pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_string(kind)
      or pa.types.is_large_string(kind)):
    return _text_hashes(values)
  raise TypeError(f"dataset checks: no canonical form for values of type {kind}")


@functools.lru_cache(maxsize=4096)
def _name_salts(name: str) -> Tuple[np.uint64, np.uint64]:
  digest = hashlib.blake2b(name.encode("utf-8"), digest_size=16, person=b"dataguard-row").digest()
  return _U64(int.from_bytes(digest[:8], "little")), _U64(int.from_bytes(digest[8:], "little"))


def _lists(column: pa.Array) -> Tuple[np.ndarray, np.ndarray]:
  """(offsets into `column.values`, values per row: 0 where null) of a list column."""
  offsets = np.asarray(column.offsets).astype(np.int64)
  lengths = np.diff(offsets)
  if column.null_count:
    lengths[~column.is_valid().to_numpy(zero_copy_only=False)] = 0
  return offsets, lengths


def _row_hashes(batch: pa.RecordBatch) -> List[np.ndarray]:
  """Per row of `batch`: the two lanes of its content hash (module docstring). A feature's term in
  a row with values v_0, v_1, ... is mix((sum_i hash(v_i) * w_i) ^ salt(name) + count * c), with
  w_0 = 1 and odd pseudo-random w_i after it (the order of values matters), or 0 without values."""
  rows = [np.zeros(batch.num_rows, dtype=np.uint64) for _ in _LANES]
  for name, column in zip(batch.schema.names, batch.columns):
    if pa.types.is_null(column.type) or column.null_count == len(column):
      continue
    offsets, lengths = _lists(column)
    start, end = int(offsets[0]), int(offsets[-1])
    if end == start:
      continue
    values = _value_hashes(column.values.slice(start, end - start))
    per_value = np.diff(offsets)
    if per_value.max() <= 1:  # one value or none per row (CsvExampleGen): no sums needed
      first = np.minimum(offsets[:-1] - start, end - start - 1)
      sums = [values[lane][first] for lane in _LANES]
    else:
      position = (np.arange(end - start, dtype=np.int64)
                  - np.repeat(offsets[:-1] - start, per_value)).astype(np.uint64)
      sums = []
      for lane in _LANES:
        weight = _mix(position + _POSITION[lane]) | _U64(1)
        weight[position == 0] = 1
        summed = np.zeros(end - start + 1, dtype=np.uint64)
        np.cumsum(values[lane] * weight, out=summed[1:])
        sums.append(summed[offsets[1:] - start] - summed[offsets[:-1] - start])
    salts = _name_salts(name)
    missing = lengths == 0
    for lane in _LANES:
      term = _mix((sums[lane] ^ salts[lane]) + lengths.astype(np.uint64) * _LENGTH[lane])
      term[missing] = 0
      rows[lane] += term
  return rows


# ---------------------------------------------------------------------------------------------
# Contingency tables, vectorised.


def _first_values(column: pa.Array) -> Tuple[np.ndarray, np.ndarray]:
  """(rows with at least one value, index in `column.values` of their first value)."""
  offsets, lengths = _lists(column)
  present = lengths > 0
  return present, offsets[:-1][present]


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
  """(float(v), readable) for text `values[index]` in a numeric column: `Binning.bin_of` read them
  with float() and failed on the rest; here the rest is skipped, as a missing value."""
  codes, texts = _texts(values, index)
  x, readable = np.full(len(texts), np.nan), np.zeros(len(texts), dtype=bool)
  for k, text in enumerate(texts):
    try:
      x[k], readable[k] = float(text), True
    except ValueError:
      pass
  return x[codes], readable[codes]


def _cell_counts(batch: pa.RecordBatch, label_key: str, binning: Sequence[Binning]
                 ) -> Tuple[Dict[str, int], Dict[Tuple[str, str, str], int]]:
  """Label counts and (feature, bin, label) counts of the rows of `batch` that have a label."""
  names = batch.schema.names
  if label_key not in names:
    return {}, {}
  label_column = batch.column(names.index(label_key))
  if pa.types.is_null(label_column.type):
    return {}, {}
  labelled, label_index = _first_values(label_column)
  if not labelled.any():
    return {}, {}
  label_codes, label_texts = _texts(label_column.values, label_index)
  n_labels = len(label_texts)
  labels = {label_texts[k]: int(n) for k, n in enumerate(np.bincount(label_codes,
                                                                     minlength=n_labels)) if n}
  code_of_row = np.full(batch.num_rows, -1, dtype=np.int64)
  code_of_row[labelled] = label_codes
  cells: Dict[Tuple[str, str, str], int] = {}
  for b in binning:
    if b.feature not in names:
      continue
    column = batch.column(names.index(b.feature))
    if pa.types.is_null(column.type):
      continue
    present, first = _first_values(column)
    first_of_row = np.full(batch.num_rows, -1, dtype=np.int64)
    first_of_row[present] = first
    rows = np.flatnonzero(present & labelled)
    if not len(rows):
      continue
    index, row_labels = first_of_row[rows], code_of_row[rows]
    if b.boundaries:
      if pa.types.is_integer(column.values.type) or pa.types.is_floating(column.values.type):
        x = np.asarray(column.values)[index].astype(np.float64)
      else:  # text in a numeric column: what float() reads (bin_of raised on the rest)
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
  and, for the train split, (label counts, (feature, bin, label) counts); at the end of the bundle,
  the spill file's (bucket, Range)s to the `RANGES` output."""
  RANGES = "ranges"

  def __init__(self, split: str, label_key: str, binning: Sequence[Binning], spill_dir: str):
    self._split = split
    self._label_key = label_key
    self._binning = list(binning)
    self._spill_dir = spill_dir
    self._decoder = None
    self._spill = None

  def setup(self):
    self._decoder = example_coder.ExamplesToRecordBatchDecoder()

  def start_bundle(self):
    self._spill = hash_buckets.HashSpill(self._spill_dir, self._split)

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
      self._spill.add(*_row_hashes(batch))
      if self._split == "train":
        yield _cell_counts(batch, self._label_key, self._binning)

  def finish_bundle(self):
    for bucket_range in self._spill.close():
      yield beam.pvalue.TaggedOutput(self.RANGES, windowed_value.WindowedValue(
          bucket_range, window.GlobalWindow().max_timestamp(), (window.GlobalWindow(),)))
    self._spill = None


class _SumCounts(beam.CombineFn):
  """Sums dicts of counts (or, for `pairs`, tuples of such dicts element by element)."""

  def __init__(self, pairs: bool = False):
    self._pairs = pairs

  def create_accumulator(self):
    return ({}, {}) if self._pairs else ({},)

  @staticmethod
  def _add(into, counts):
    for key, n in counts.items():
      into[key] = into.get(key, 0) + n

  def add_input(self, acc, element):
    for into, counts in zip(acc, element if self._pairs else (element,)):
      self._add(into, counts)
    return acc

  def merge_accumulators(self, accs):
    out = self.create_accumulator()
    for acc in accs:
      for into, counts in zip(out, acc):
        self._add(into, counts)
    return out

  def extract_output(self, acc):
    return acc if self._pairs else acc[0]


def _bucket_row_counts(element: Tuple[int, Iterable[hash_buckets.Range]]) -> Dict[str, int]:
  _, ranges = element
  return _row_counts(hash_buckets.read_bucket(ranges))


def _result(counts: Tuple[dict, dict], rows: Dict[str, int]) -> dict:
  """The pass's result: {"rows": `_row_counts` summed over buckets, "labels": {label: n},
  "cells": [[feature, bin, label, n]]}."""
  labels, cells = counts
  return {"rows": {k: n for k, n in sorted(rows.items()) if n}, "labels": labels,
          "cells": [[f, v, l, n] for (f, v, l), n in sorted(cells.items())]}


def _member(first: np.ndarray, second: np.ndarray, sorted_first: np.ndarray,
            sorted_second: np.ndarray) -> np.ndarray:
  """Which (first, second) hashes are among the sorted distinct ones."""
  low = np.searchsorted(sorted_first, first, side="left")
  high = np.searchsorted(sorted_first, first, side="right")
  found = np.zeros(len(first), dtype=bool)
  one = np.flatnonzero(high - low == 1)
  found[one] = sorted_second[low[one]] == second[one]
  for i in np.flatnonzero(high - low > 1):  # equal first halves: about never
    run = sorted_second[low[i]:high[i]]
    j = np.searchsorted(run, second[i])
    found[i] = j < len(run) and run[j] == second[i]
  return found


def _row_counts(hashes: Dict[str, List[Tuple[np.ndarray, np.ndarray]]]) -> Dict[str, int]:
  """{"duplicates/<split>": rows whose content an earlier row of the split had,
  "shared_with_train/<split>": rows of the split whose content is in train}; zeros left out.
  Memory: one split's hashes at a time are gathered and sorted (about 40 bytes per row of that
  split), and train's distinct hashes are kept (16 bytes per distinct row) for the other splits;
  the pass calls it on one hash bucket at a time."""
  out: Dict[str, int] = {}
  train = None
  for split in sorted(hashes, key=lambda s: (s != "train", s)):
    first = np.concatenate([p[0] for p in hashes[split]])
    second = np.concatenate([p[1] for p in hashes[split]])
    rows = len(first)
    if train is not None:
      shared = int(np.count_nonzero(_member(first, second, *train)))
      if shared:
        out[f"shared_with_train/{split}"] = shared
    order = np.lexsort((second, first))
    first = first[order]
    second = second[order]
    del order
    new = np.ones(rows, dtype=bool)
    new[1:] = (first[1:] != first[:-1]) | (second[1:] != second[:-1])
    first, second = first[new], second[new]  # distinct, sorted by (first, second)
    del new
    if rows > len(first):
      out[f"duplicates/{split}"] = rows - len(first)
    if split == "train":
      train = first, second
  return out


def run_beam_pass(pipeline: beam.Pipeline, split_patterns: Dict[str, str], label_key: str,
                  binning: List[Binning], output_path: str, spill_dir: str,
                  batch_size: Optional[int] = None) -> None:
  """Adds the pass to `pipeline`; the result lands as one JSON file at `output_path`. `spill_dir`
  (an existing folder every worker can reach) receives the row-hash spill files: remove it once
  the pipeline has run."""
  batch_size = batch_size or BATCH_SIZE
  counts, ranges = [], []
  for split, pattern in sorted(split_patterns.items()):
    outputs = (
        pipeline
        | f"Read[{split}]" >> tfrecord_batches.ReadTFRecordBatches(pattern, batch_size)
        | f"Hash[{split}]" >> beam.ParDo(_Batches(split, label_key, binning, spill_dir)
                                         ).with_outputs(_Batches.RANGES, main="counts"))
    counts.append(outputs.counts)
    ranges.append(outputs[_Batches.RANGES])
  rows = (ranges
          | "AllRanges" >> beam.Flatten()
          | "GroupBuckets" >> beam.GroupByKey()
          | "CountBucket" >> beam.Map(_bucket_row_counts)
          | "SumRows" >> beam.CombineGlobally(_SumCounts()))
  _ = (counts
       | "AllCounts" >> beam.Flatten()
       | "SumCounts" >> beam.CombineGlobally(_SumCounts(pairs=True))
       | "Result" >> beam.Map(_result, rows=beam.pvalue.AsSingleton(rows))
       | "ToJson" >> beam.Map(json.dumps, sort_keys=True)
       | "Write" >> beam.io.WriteToText(output_path, shard_name_template="", num_shards=1))


def read_result(output_path: str) -> dict:
  with tf.io.gfile.GFile(output_path) as f:
    return json.loads(f.read())


def split_patterns(examples_uri: str, splits: Iterable[str]) -> Dict[str, str]:
  return {s: os.path.join(examples_uri, f"Split-{s}", "*") for s in splits}
