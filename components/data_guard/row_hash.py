"""The content hash of a row: 128 bits, vectorised per Arrow record batch, canonical across types.

Why its own module: DataGuard's pass (`dataset_checks.py`) finds duplicate and cross-split rows by
comparing these hashes, and the hash is a self-contained algorithm with its own reference test
(`row_hash_test.py`); the pass only spills and counts them.

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
"""
import functools
import hashlib
from typing import List, Optional, Tuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

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


def typed_column(batch: pa.RecordBatch, name: str) -> Optional[pa.Array]:
  """`name`'s column of `batch`, or None when the batch lacks it or it holds no typed value (a
  feature absent from every example of the batch decodes as a null column)."""
  names = batch.schema.names
  if name not in names:
    return None
  column = batch.column(names.index(name))
  return None if pa.types.is_null(column.type) else column


def list_offsets(column: pa.Array) -> Tuple[np.ndarray, np.ndarray]:
  """(offsets into `column.values`, values per row: 0 where null) of a list column."""
  offsets = np.asarray(column.offsets).astype(np.int64)
  lengths = np.diff(offsets)
  if column.null_count:
    lengths[~column.is_valid().to_numpy(zero_copy_only=False)] = 0
  return offsets, lengths


def row_hashes(batch: pa.RecordBatch) -> List[np.ndarray]:
  """Per row of `batch`: the two lanes of its content hash (module docstring). A feature's term in
  a row with values v_0, v_1, ... is mix((sum_i hash(v_i) * w_i) ^ salt(name) + count * c), with
  w_0 = 1 and odd pseudo-random w_i after it (the order of values matters), or 0 without values."""
  rows = [np.zeros(batch.num_rows, dtype=np.uint64) for _ in _LANES]
  for name, column in zip(batch.schema.names, batch.columns):
    if pa.types.is_null(column.type) or column.null_count == len(column):
      continue
    offsets, lengths = list_offsets(column)
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
