"""The row hash against the canonical text it replaced, one value and one proto at a time."""
import numpy as np
import pyarrow as pa
import tensorflow as tf
from tfx_bsl.coders import example_coder

from trainguard.components.data_guard import row_hash


def _reference_canonical(value) -> str:
  if isinstance(value, bytes):
    text = value.decode("utf-8", "replace").strip()
    try:
      value = float(text)
    except ValueError:
      return "s:" + text
  if isinstance(value, float):
    if value.is_integer() and abs(value) < 1e15:
      return f"n:{int(value)}"
    return f"n:{value:.7g}"
  return f"n:{value}"


def _empty(kind: str) -> tf.train.Feature:
  """A feature with a typed, empty value list ("bytes", "int64" or "float")."""
  feature = tf.train.Feature()
  getattr(feature, f"{kind}_list").SetInParent()
  return feature


def _proto(values: dict, order=None) -> bytes:
  """A tf.Example: a list value is a feature's value list (typed by its first item, float if
  empty), None a feature without any kind, a scalar a one-value list, a tf.train.Feature itself;
  `order` the features' order."""
  example = tf.train.Example()
  for name in order or values:
    value = values[name]
    feature = example.features.feature[name]
    if value is None:
      continue
    if isinstance(value, tf.train.Feature):
      feature.CopyFrom(value)
      continue
    items = value if isinstance(value, list) else [value]
    sample = items[0] if items else 0.0
    if isinstance(sample, (str, bytes)):
      feature.bytes_list.value.extend(v.encode() if isinstance(v, str) else v for v in items)
      feature.bytes_list.SetInParent()
    elif isinstance(sample, int):
      feature.int64_list.value.extend(items)
      feature.int64_list.SetInParent()
    else:
      feature.float_list.value.extend(items)
      feature.float_list.SetInParent()
  return example.SerializeToString()


def _decode(records):
  return example_coder.ExamplesToRecordBatchDecoder().DecodeBatch(records)


def _hashes(values) -> list:
  """The 128-bit hash per value, as (first, second) pairs."""
  if all(isinstance(v, (bytes, str)) for v in values):
    array = pa.array([v.encode() if isinstance(v, str) else v for v in values], pa.large_binary())
  elif all(isinstance(v, int) for v in values):
    array = pa.array(values, pa.int64())
  else:
    array = pa.array(values, pa.float32())
  first, second = row_hash._value_hashes(array)  # pylint: disable=protected-access
  return list(zip(first.tolist(), second.tolist()))


def test_value_hashes_are_equal_exactly_when_the_canonical_texts_are():
  rng = np.random.default_rng(0)
  floats = np.concatenate([
      (rng.normal(size=20000) * 10.0 ** rng.integers(-40, 38, 20000)).astype(np.float32),
      rng.integers(-10 ** 6, 10 ** 6, 5000).astype(np.float32) / np.float32(8),  # .5 and .125s
      np.array([0.0, -0.0, 1.0, 1.0078125, 1.0000001, 0.99999994, 9999999.5, 123456.75, 1e15,
                16777216.0, 3.4e38, 1e-45, np.nan, -np.nan, np.inf, -np.inf], dtype=np.float32)])
  doubles = rng.normal(size=5000) * 10.0 ** rng.integers(-300, 300, 5000)
  texts = ([repr(float(d)) for d in doubles] + [f"{f:.8g}" for f in floats[:3000].astype(float)]
           + [" 1 ", "1.0", "1_000", "+7", "-0", ".5", "5.", "1e3", "1E+03", "0.12345675", "nan",
              "-NaN", "Infinity", "-inf", "1e400", "1e15", "1000000000000000", "", "  ", "a",
              " a", "a ", "\x1ca\x1f", "\xa0b\xa0", "é", " é", "日本", "١٢", "x y", "1 2",
              "0x10"])
  ints = [0, 1, -1, 7, 1000, 10 ** 15 - 1, 10 ** 15, 2 ** 63 - 1, -2 ** 63, 12345678]
  references = ([_reference_canonical(float(f)) for f in floats]
                + [_reference_canonical(t.encode()) for t in texts]
                + [_reference_canonical(i) for i in ints]
                + [_reference_canonical(b"\xff1"), _reference_canonical(b"\xfe1")])
  hashes = (_hashes(list(floats)) + _hashes(texts) + _hashes(ints)
            + _hashes([b"\xff1", b"\xfe1"]))
  by_text, by_hash = {}, {}
  for text, h in zip(references, hashes):
    assert by_text.setdefault(text, h) == h, text
    assert by_hash.setdefault(h, text) == text, (text, by_hash[h])
  # The documented equalities, spelled out.
  assert _hashes([1.0]) == _hashes([1]) == _hashes([" 1 "]) == _hashes(["1.0"])
  assert _hashes(["nan"]) == _hashes([float("nan")]) == _hashes(["-NaN"])
  assert _hashes(["a "]) == _hashes(["a"]) != _hashes(["b"])
  assert _hashes([0.1]) == _hashes(["0.1"]) != _hashes(["0.1000001"])


def _batch_row_hashes(records):
  """The row hashes of `records` decoded as one batch."""
  first, second = row_hash.row_hashes(_decode(records))
  return list(zip(first.tolist(), second.tolist()))


def _row_hash_list(records):
  """The row hash of each record, decoded on its own (the types of a feature may differ)."""
  return [_batch_row_hashes([record])[0] for record in records]


def test_missing_is_equal_to_missing_and_different_from_every_value():
  rows = _row_hash_list([
      _proto({"a": 1, "b": "x"}),
      _proto({"a": 1}),  # b absent
      _proto({"a": 1, "b": _empty("bytes")}),  # b present, no value
      _proto({"a": 1, "b": None}),  # b present, no kind
      _proto({"a": 1, "b": ""}),
      _proto({"a": 1, "b": 0}),
      _proto({"a": 1, "b": float("nan")}),
      _proto({"b": "x", "a": None}),
      _proto({"b": "x"}),
  ])
  assert rows[1] == rows[2] == rows[3]
  assert len({rows[0], rows[1], rows[4], rows[5], rows[6], rows[7]}) == 6
  assert rows[7] == rows[8]


def test_row_hashes_ignore_feature_order_and_which_columns_a_batch_has():
  row = {"x": 1.5, "c": "ü", "k": 3, "m": [1.0, 2.0]}
  alone = _row_hash_list([_proto(row)])
  reordered = _batch_row_hashes([_proto(row, order=["m", "k", "c", "x"]), _proto({"other": "z"}),
                                 _proto({"more": 1, "x": None, "c": _empty("bytes")})])
  assert alone[0] == reordered[0]
  assert _row_hash_list([_proto({"more": 1})]) == reordered[2:]
  # Value lists are ordered, and a feature's name matters.
  assert _row_hash_list([_proto(dict(row, m=[2.0, 1.0]))])[0] != alone[0]
  assert _row_hash_list([_proto({"x": 1.5, "c": "ü", "k": 3, "n": [1.0, 2.0]})])[0] != alone[0]
  assert _row_hash_list([_proto({"a": "1", "b": "2"})]) != _row_hash_list(
      [_proto({"a": "2", "b": "1"})])
