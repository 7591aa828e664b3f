"""Batch decoding and canonical encoding agree with the protobuf API, row for row, byte for byte."""
import numpy as np
import pytest
from tensorflow.core.example import example_pb2

from trainguard.components.rebalance import beam_fns, rows
from trainguard.components.rebalance.feature_kinds import FeatureKinds
from trainguard.components.rebalance.plan_test import row_hash
from trainguard.components.util.spill_shuffle import row_hashes


def _example(features):
  example = example_pb2.Example()
  for name, kind, values in features:
    feature = example.features.feature[name]
    if kind == rows.FLOAT:
      feature.float_list.value.extend(values)
    elif kind == rows.INT:
      feature.int64_list.value.extend(values)
    elif kind == "bytes":
      feature.bytes_list.value.extend(values)
    else:
      feature.SetInParent()  # an entry with no value kind
  return example


def _deterministic(example):
  return example.SerializeToString(deterministic=True)


def test_canonical_bytes_equal_deterministic_serialization():
  rng = np.random.RandomState(0)
  n = 500
  ints = rng.randint(-5, 5, n) * (10 ** rng.randint(0, 18, n))
  ints[:4] = [0, -1, 2 ** 63 - 1, -2 ** 63]
  floats = rng.normal(0, 1e6, n).astype(np.float32)
  floats[:4] = [0.0, -0.0, np.inf, np.nan]
  names = ["b", "a" * 200, "é_xf", "label_xf"]  # a long key: multi-byte lengths
  features = [(names[0], rows.FLOAT, floats), (names[1], rows.INT, ints),
              (names[2], rows.FLOAT, floats[::-1].copy()), (names[3], rows.INT, np.arange(n))]
  encoded = rows.canonical_examples(features)
  for i in range(n):
    expected = _deterministic(_example([(name, kind, [values[i]]) for name, kind, values in
                                        features]))
    assert encoded[i] == expected, i


def test_many_features_make_long_rows():
  features = [(f"f{j:03d}_xf", rows.FLOAT if j % 2 else rows.INT, np.arange(3) * j)
              for j in range(120)]
  encoded = rows.canonical_examples(features)
  for i in range(3):
    assert encoded[i] == _deterministic(_example([(n, k, [v[i]]) for n, k, v in features]))


def test_decoder_reads_regular_and_irregular_rows_as_the_protobuf_api_does():
  regular = [("x_xf", rows.FLOAT, [1.5]), ("c_xf", rows.INT, [2]), ("label_xf", rows.INT, [1])]
  examples = [
      _example(regular),
      _example([("x_xf", rows.FLOAT, []), ("c_xf", rows.INT, [2]), ("label_xf", rows.INT, [0])]),
      _example([("c_xf", rows.INT, [3, 4]), ("label_xf", rows.INT, [1])]),  # x missing, c twice
      _example(regular + [("extra", "bytes", [b"v"])]),  # a feature the schema does not have
      _example([("x_xf", rows.INT, [7]), ("c_xf", rows.INT, [1]), ("label_xf", rows.INT, [1])]),
      _example([("x_xf", rows.FLOAT, [0.25]), ("c_xf", rows.INT, [1])]),  # no label
      _example([("x_xf", rows.FLOAT, [2.0]), ("c_xf", "none", []), ("label_xf", rows.INT, [2])]),
      _example([("x_xf", rows.FLOAT, [float("nan")]), ("c_xf", rows.INT, [0]),
                ("label_xf", rows.INT, [-1])]),
  ]
  # Serialized in reverse key order, as another process's writer might: the output is canonical.
  records = [b"".join(_example([f]).SerializeToString() for f in sorted(
      _fields(e), key=lambda f: f[0], reverse=True)) for e in examples]
  batch = rows.Decoder("label_xf", ("c_xf", "x_xf"),
                       {"x_xf": rows.FLOAT, "c_xf": rows.INT}).decode(records)
  assert batch.records == [_deterministic(e) for e in examples]
  assert batch.label_counts.tolist() == [1, 1, 1, 1, 1, 0, 1, 1]
  assert batch.labels.tolist() == [1, 0, 1, 1, 1, -1, 2, -1]
  assert batch.counts.tolist() == [[1, 1], [1, 0], [2, 0], [1, 1], [1, 1], [1, 1], [0, 1], [1, 1]]
  np.testing.assert_array_equal(batch.matrix[:, 0], [2, 2, 3, 2, 1, 1, np.nan, 0])
  np.testing.assert_array_equal(batch.matrix[:, 1], [1.5, np.nan, np.nan, 1.5, 7, 0.25, 2, np.nan])
  # Without the row whose x is an int (which makes the whole batch take the protobuf path), the
  # regular rows take the batch path: same bytes and values.
  kept = [0, 1, 2, 3, 5, 6, 7]
  batch = rows.Decoder("label_xf", ("c_xf", "x_xf"),
                       {"x_xf": rows.FLOAT, "c_xf": rows.INT}).decode([records[i] for i in kept])
  assert batch.records == [_deterministic(examples[i]) for i in kept]
  assert batch.labels.tolist() == [1, 0, 1, 1, -1, 2, -1]
  np.testing.assert_array_equal(batch.matrix[:, 1], [1.5, np.nan, np.nan, 1.5, 0.25, 2, np.nan])


def _fields(example):
  for name, feature in example.features.feature.items():
    kind = feature.WhichOneof("kind")
    if kind == "float_list":
      yield name, rows.FLOAT, list(feature.float_list.value)
    elif kind == "int64_list":
      yield name, rows.INT, list(feature.int64_list.value)
    elif kind == "bytes_list":
      yield name, "bytes", list(feature.bytes_list.value)
    else:
      yield name, "none", []


def test_empty_batch():
  batch = rows.Decoder("label_xf", ("x_xf",), {"x_xf": rows.FLOAT}).decode([])
  assert len(batch) == 0 and batch.counts.shape == (0, 1)


@pytest.mark.parametrize("categorical", [False, True])
def test_synthetic_rows_are_encoded_as_the_protobuf_api_writes_them(categorical):
  kinds = FeatureKinds(
      "label_xf", ("x_xf", "y_xf"), {"colour_xf": 3} if categorical else {}, ())
  rng = np.random.RandomState(1)
  vectors = rng.normal(0, 3, (200, len(kinds.columns)))
  if categorical:
    vectors[:, kinds.categorical_columns[0]] = rng.choice([0.5, 1.5, 2.49, 2.51, 3.0], 200)
  encoded = beam_fns.vectors_to_examples(vectors, kinds, class_id=2)
  for vector, record in zip(vectors, encoded):
    example = example_pb2.Example()  # what the protobuf API writes for the same row
    for name, value in zip(kinds.columns, vector):
      if name in kinds.categorical:
        example.features.feature[name].int64_list.value.append(int(round(value)))
      else:
        example.features.feature[name].float_list.value.append(float(np.float32(value)))
    example.features.feature[kinds.label].int64_list.value.append(2)
    assert record == _deterministic(example)


def test_row_hashes_are_row_hash():
  records = [b"row %d" % i for i in range(100)]
  assert row_hashes(42, records, "out3").tolist() == [row_hash(42, r, "out3") for r in records]


def test_a_feature_without_a_value_kind_in_every_row_takes_the_protobuf_path():
  examples = [_example([("x_xf", rows.FLOAT, [float(i)]), ("label_xf", "none", [])])
              for i in range(3)]
  batch = rows.Decoder("label_xf", ("x_xf",), {"x_xf": rows.FLOAT}).decode(
      [e.SerializeToString() for e in examples])
  assert batch.records == [_deterministic(e) for e in examples]
  assert batch.label_counts.tolist() == [0, 0, 0] and batch.labels.tolist() == [-1, -1, -1]
  np.testing.assert_array_equal(batch.matrix[:, 0], [0.0, 1.0, 2.0])


def test_class_ids_stay_exact_int64():
  big = 2 ** 60 + 1  # not representable as a float64
  examples = [_example([("x_xf", rows.FLOAT, [1.0]), ("label_xf", rows.INT, [big])]),
              _example([("x_xf", rows.FLOAT, []), ("label_xf", rows.INT, [big])])]
  batch = rows.Decoder("label_xf", ("x_xf",), {"x_xf": rows.FLOAT}).decode(
      [e.SerializeToString() for e in examples])
  assert batch.labels.tolist() == [big, big]
