"""The preprocessing_fn on small in-memory data, run by tf.Transform's own Beam implementation."""
import math
import tempfile

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from trainguard.models import features, preprocessing

CONFIG = {"label_key": "label", "label_classes": ["no", "yes"]}

RAW_SPEC = {
    "length": tf.io.VarLenFeature(tf.float32),
    "count": tf.io.VarLenFeature(tf.int64),
    "colour": tf.io.VarLenFeature(tf.string),
    "label": tf.io.VarLenFeature(tf.string),
}

ROWS = [
    {"length": [1.0], "count": [10], "colour": [b"red"], "label": [b"no"]},
    {"length": [2.0], "count": [], "colour": [b"red"], "label": [b"yes"]},
    {"length": [], "count": [30], "colour": [b"blue"], "label": [b"no"]},
    {"length": [float("nan")], "count": [40], "colour": [], "label": [b"yes"]},
    {"length": [6.0], "count": [50], "colour": [b"red"], "label": [b"maybe"]},
    {"length": [float("inf")], "count": [60], "colour": [b"green"], "label": []},
]


def _analyze_and_transform(rows, config=CONFIG, raw_spec=RAW_SPEC):
  metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(raw_spec))
  with tempfile.TemporaryDirectory() as temp_dir, tft_beam.Context(temp_dir=temp_dir):
    (transformed, _), _ = (
        (rows, metadata)
        | tft_beam.AnalyzeAndTransformDataset(
            lambda inputs: preprocessing.preprocessing_fn(inputs, config)))
  return transformed


@pytest.fixture(scope="module")
def transformed():
  return _analyze_and_transform(ROWS)


def _column(rows, name):
  return np.array([float(np.asarray(r[name]).reshape(-1)[0]) for r in rows])


def test_numeric_is_mean_imputed_then_z_scored_with_present_values_only(transformed):
  present = np.array([1.0, 2.0, 6.0])  # NaN, inf and the absent cell are missing, not values
  mean, std = present.mean(), present.std()
  expected = [(1 - mean) / std, (2 - mean) / std, 0.0, 0.0, (6 - mean) / std, 0.0]
  np.testing.assert_allclose(_column(transformed, "length_xf"), expected, rtol=1e-5, atol=1e-6)


def test_integer_feature_is_scaled_as_float_and_imputed(transformed):
  present = np.array([10, 30, 40, 50, 60], dtype=float)
  got = _column(transformed, "count_xf")
  assert got[1] == pytest.approx(0.0, abs=1e-6)  # the absent cell takes the mean
  np.testing.assert_allclose(got[[0, 2, 3, 4, 5]], (present - present.mean()) / present.std(),
                             rtol=1e-5)


def test_no_transformed_value_is_missing_or_nan(transformed):
  for row in transformed:
    for name in ("length_xf", "count_xf", "colour_xf", "label_xf"):
      value = np.asarray(row[name]).reshape(-1)
      assert value.shape == (1,), (name, row)
      assert math.isfinite(float(value[0])), (name, row)


def test_categorical_missing_takes_the_most_frequent_category(transformed):
  ids = _column(transformed, "colour_xf").astype(int).tolist()
  # Vocabulary by descending frequency: red (3) = 0; blue and green once each take 1 and 2.
  assert ids[0] == ids[1] == ids[4] == 0
  assert ids[3] == 0  # absent → most frequent
  assert sorted([ids[2], ids[5]]) == [1, 2]


def test_label_ids_follow_the_schema_domain_and_mark_unknowns(transformed):
  assert _column(transformed, "label_xf").astype(int).tolist() == [0, 1, 0, 1, -1, -1]


def test_excluded_feature_is_not_output():
  rows = _analyze_and_transform(ROWS[:3], config={**CONFIG, "excluded_features": ["count"]})
  assert "count_xf" not in rows[0]
  assert "length_xf" in rows[0]


def test_constant_and_all_missing_columns_stay_finite():
  rows = [
      {"length": [], "count": [7], "colour": [b"a"], "label": [b"no"]},
      {"length": [], "count": [7], "colour": [b"a"], "label": [b"yes"]},
  ]
  out = _analyze_and_transform(rows)
  assert _column(out, "length_xf").tolist() == [0.0, 0.0]
  assert _column(out, "count_xf").tolist() == [0.0, 0.0]


def test_label_classes_come_from_the_schema_domain_in_order():
  schema = schema_utils.schema_from_feature_spec({"y": tf.io.VarLenFeature(tf.string)})
  schema.feature[0].string_domain.value.extend(["b", "a", "c"])
  assert features.label_classes_from_schema(schema, "y") == ["b", "a", "c"]
  with pytest.raises(ValueError, match="'z' is not a feature"):
    features.label_classes_from_schema(schema, "z")
