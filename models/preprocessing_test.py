"""The generated preprocessing_fn, run by tf.Transform's Beam implementation on small in-memory data
(the `transform_run` fixture in conftest.py), against numpy/pandas computed on the same data."""
import math

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from tensorflow_transform.tf_metadata import schema_utils

from trainguard.models import fixtures as data
from trainguard.models import features, preprocessing, preprocessing_plan


def _column(rows, name):
  return np.array([float(r[name]) for r in rows])


def _missing(name):
  """Row mask of the cells that count as missing: absent, NaN, ±inf, empty or blank strings."""
  out = []
  for cell in data.COLUMNS[name]:
    if not cell:
      out.append(True)
    elif isinstance(cell[0], bytes):
      out.append(not cell[0].strip())
    else:
      out.append(not math.isfinite(cell[0]))
  return np.array(out)


def _raw(name):
  missing = _missing(name)
  return np.array([np.nan if m else float(c[0]) for m, c in
                   zip(missing, data.COLUMNS[name])])


def test_mean_imputation_then_z_score_use_present_values_only(transform_run):
  raw, missing = _raw("mean_f"), _missing("mean_f")
  present = raw[~missing]  # NaN, ±inf and absent cells are missing, not values
  expected = np.where(missing, 0.0, (raw - present.mean()) / present.std())
  np.testing.assert_allclose(_column(transform_run.rows, "mean_f_xf"), expected, rtol=1e-5,
                             atol=1e-6)


def test_median_imputation_and_min_max_scaling(transform_run):
  raw, missing = _raw("median_f"), _missing("median_f")
  present = raw[~missing]
  got = _column(transform_run.rows, "median_f_xf")
  low, high = present.min(), present.max()
  np.testing.assert_allclose(got[~missing], (present - low) / (high - low), rtol=1e-6)
  imputed = got[missing] * (high - low) + low
  assert len(set(imputed.tolist())) == 1
  # Quantiles are approximate: the imputed value must sit at the middle rank, within epsilon.
  rank = np.mean(present <= imputed[0])
  assert abs(rank - 0.5) <= 0.5 / len(present) + preprocessing.QUANTILE_EPSILON
  assert imputed[0] == pytest.approx(np.median(present), rel=0.25)


def test_most_frequent_imputation_of_a_number_is_the_pandas_mode(transform_run):
  raw, missing = _raw("mode_i"), _missing("mode_i")
  mode = pd.Series(raw[~missing]).mode()
  assert len(mode) == 1
  got = _column(transform_run.rows, "mode_i_xf")
  np.testing.assert_array_equal(got, np.where(missing, mode[0], raw))


def test_constant_imputation_without_scaling(transform_run):
  raw, missing = _raw("const_f"), _missing("const_f")
  np.testing.assert_array_equal(_column(transform_run.rows, "const_f_xf"),
                                np.where(missing, -1.0, raw))


def test_bucketize_gives_equal_frequency_ids_declared_in_the_schema(transform_run):
  raw = _raw("bucket_f")
  ids = _column(transform_run.rows, "bucket_f_xf").astype(int)
  assert sorted(np.bincount(ids, minlength=4).tolist()) == [3, 3, 3, 3]
  assert (np.diff(ids[np.argsort(raw)]) >= 0).all()  # monotone in the raw value
  schema = transform_run.output.transformed_metadata.schema
  assert features.num_ids(schema, "bucket_f_xf") == 4
  assert transform_run.output.transformed_feature_spec()["bucket_f_xf"].dtype == tf.int64


def test_impute_none_outputs_zero_and_the_indicator_says_missing(transform_run):
  raw, missing = _raw("none_f"), _missing("none_f")
  present = raw[~missing]
  expected = np.where(missing, 0.0, (raw - present.mean()) / present.std())
  np.testing.assert_allclose(_column(transform_run.rows, "none_f_xf"), expected, rtol=1e-5)
  np.testing.assert_array_equal(_column(transform_run.rows, "none_f_was_missing_xf"),
                                missing.astype(float))


def test_columns_without_variation_become_a_constant_zero(transform_run):
  # Missing on every train row, and a single value: nothing to learn, never NaN, never a crash.
  assert _column(transform_run.rows, "empty_f_xf").tolist() == [0.0] * data.NUM_ROWS
  assert _column(transform_run.rows, "single_i_xf").tolist() == [0.0] * data.NUM_ROWS
  assert _column(transform_run.rows, "empty_c_xf").tolist() == [0.0] * data.NUM_ROWS
  serving = transform_run.serving_rows[2]  # values the train split never had
  assert (serving["empty_f_xf"], serving["single_i_xf"]) == (0.0, 0.0)


def test_categorical_missing_and_blank_strings_take_the_most_frequent_id(transform_run):
  missing = _missing("colour")
  ids = _column(transform_run.rows, "colour_xf").astype(int)
  counts = pd.Series([c[0] for c, m in zip(data.COLUMNS["colour"], missing)
                      if not m]).value_counts()
  vocabulary = transform_run.output.vocabulary_by_name("colour")
  assert vocabulary == counts.index.tolist()  # most frequent first, blank strings left out
  assert (ids[missing] == 0).all()
  assert [vocabulary[i] for i in ids[~missing]] == [c[0] for c, m in zip(
      data.COLUMNS["colour"], missing) if not m]
  np.testing.assert_array_equal(_column(transform_run.rows, "colour_was_missing_xf"),
                                missing.astype(float))


def test_categorical_constant_gets_its_own_id(transform_run):
  vocabulary = transform_run.output.vocabulary_by_name("shape")
  ids = _column(transform_run.rows, "shape_xf").astype(int)
  missing = _missing("shape")
  assert b"unknown" in vocabulary
  assert (ids[missing] == vocabulary.index(b"unknown")).all()


def test_categorical_impute_none_takes_the_out_of_vocabulary_id(transform_run):
  vocabulary = transform_run.output.vocabulary_by_name("size")
  ids = _column(transform_run.rows, "size_xf").astype(int)
  assert (ids[_missing("size")] == len(vocabulary)).all()
  assert (ids[~_missing("size")] < len(vocabulary)).all()
  assert "size_was_missing_xf" not in transform_run.rows[0]  # the policy turned it off


def test_every_int_output_declares_its_id_range(transform_run):
  output = transform_run.output
  schema = output.transformed_metadata.schema
  for name in ("colour", "shape", "size"):
    assert features.num_ids(schema, name + "_xf") == output.vocabulary_size_by_name(name) + 1
  assert features.num_ids(schema, "empty_c_xf") == 2  # tf.Transform's placeholder + OOV
  assert features.num_ids(schema, "label_xf") is None


def test_no_transformed_value_is_missing_or_nan(transform_run):
  expected = set(transform_run.rows[0])
  assert "row_id_xf" not in expected  # excluded by the policy
  for row in transform_run.rows + transform_run.serving_rows:
    assert set(row) == expected
    for name, value in row.items():
      assert math.isfinite(float(value)), (name, row)


def test_label_ids_follow_the_schema_domain(transform_run):
  labels = [c[0].decode() for c in data.COLUMNS[data.LABEL]]
  assert _column(transform_run.rows, "label_xf").astype(int).tolist() == [
      data.LABEL_CLASSES.index(v) for v in labels]
  assert {r["label_xf"] for r in transform_run.serving_rows} == {-1}


def test_a_config_without_a_plan_is_read_with_the_default_treatments():
  inputs = {"x": tf.constant([1.0]), "c": tf.constant(["a"]), "y": tf.constant(["a"])}
  config = {"label_key": "y", "label_classes": ["a", "b"], "excluded_features": ["x"]}
  plan = preprocessing._plan(inputs, config)
  assert plan["features"]["x"]["excluded"] is True
  assert plan["features"]["c"]["impute"] == "most_frequent"


def test_a_plan_from_another_schema_is_rejected_before_any_analyzer():
  config = preprocessing_plan.config_from_kinds({"x": "numeric"}, "y", ["a", "b"])
  with pytest.raises(ValueError, match="raw feature.* z reach Transform but are not in"):
    preprocessing.preprocessing_fn({"x": tf.constant([1.0]), "z": tf.constant([1.0])}, config)
  with pytest.raises(ValueError, match="'x' is numeric in the plan but arrives as string"):
    preprocessing.preprocessing_fn({"x": tf.constant(["1"])}, config)


def test_label_classes_come_from_the_schema_domain_in_order():
  schema = schema_utils.schema_from_feature_spec({"y": tf.io.VarLenFeature(tf.string)})
  schema.feature[0].string_domain.value.extend(["b", "a", "c"])
  assert features.label_classes_from_schema(schema, "y") == ["b", "a", "c"]
  with pytest.raises(ValueError, match="'z' is not a feature"):
    features.label_classes_from_schema(schema, "z")


# --- the value fixes: policy missing_values and clip (the value_fixes_run fixture) ------------

def _values(name):
  return [r[name][0] if r[name] else None for r in data.VALUES_ROWS]


def test_numeric_missing_values_are_imputed_and_left_out_of_the_mean(value_fixes_run):
  raw = np.array([np.nan if v is None or v in (-999.0, 9999.0) else v
                  for v in _values("sentinel_f")])
  real = raw[~np.isnan(raw)]
  assert len(real) == 94  # 5 sentinels and one absent cell
  got = _column(value_fixes_run.rows, "sentinel_f_xf")
  np.testing.assert_allclose(got, np.where(np.isnan(raw), 0.0, (raw - real.mean()) / real.std()),
                             rtol=1e-5, atol=1e-6)
  # The imputed value is the mean without the sentinels (with them it would be about 1820).
  assert got[3] == 0.0 and got[17] == 0.0
  indicator = _column(value_fixes_run.rows, "sentinel_f_was_missing_xf")
  assert indicator.tolist() == np.isnan(raw).astype(float).tolist()
  served = value_fixes_run.serving_rows
  assert [r["sentinel_f_xf"] for r in served] == [0.0, 0.0, 0.0]  # -999, 9999 and absent


def test_text_missing_values_take_the_imputed_category_and_no_vocabulary_id(value_fixes_run):
  vocabulary = value_fixes_run.output.vocabulary_by_name("sentinel_c")
  assert sorted(vocabulary) == [b"a", b"b"]  # no "unknown", no "-" (matched after trimming)
  ids = _column(value_fixes_run.rows, "sentinel_c_xf")
  most_frequent = vocabulary.index(b"a")
  for row, value in zip(value_fixes_run.rows, _values("sentinel_c")):
    if value.strip() in (b"unknown", b"-"):
      assert row["sentinel_c_xf"] == most_frequent
  assert set(ids.tolist()) == {0.0, 1.0}
  assert [r["sentinel_c_xf"] for r in value_fixes_run.serving_rows] == [most_frequent] * 3


def test_clip_at_train_quantiles_before_scaling(value_fixes_run):
  raw = np.array(_values("clipped_f"))
  got = _column(value_fixes_run.rows, "clipped_f_xf")
  # Outputs are z-scores of the clipped values: recover the bounds from the extremes.
  low_rows, high_rows = got == got.min(), got == got.max()
  assert raw[low_rows].max() <= 6 and raw[high_rows].min() >= 94  # the 5% tails and the planted
  assert high_rows[50] and low_rows[60]  # 1e6 and -1e5 are clipped, not scaled
  inside = ~(low_rows | high_rows)
  slope, intercept = np.polyfit(raw[inside], got[inside], 1)
  low, high = (got.min() - intercept) / slope, (got.max() - intercept) / slope
  # tft.quantiles: the 5% and 95% quantiles of the 100 train values, within a rank or two.
  assert np.mean(raw < low) == pytest.approx(0.05, abs=0.021)
  assert np.mean(raw > high) == pytest.approx(0.05, abs=0.021)
  clipped = np.clip(raw, low, high)
  np.testing.assert_allclose(got, (clipped - clipped.mean()) / clipped.std(), rtol=1e-4,
                             atol=1e-4)
  served = value_fixes_run.serving_rows
  assert served[0]["clipped_f_xf"] == got.max() and served[1]["clipped_f_xf"] == got.min()


def test_clip_and_missing_values_together_on_an_integer_feature(value_fixes_run):
  raw = np.array(_values("clipped_i"), dtype=float)
  got = _column(value_fixes_run.rows, "clipped_i_xf")
  real = raw != -1
  assert got[real].min() == 0.0 and got[real].max() == 1.0  # min_max of the clipped values
  assert raw[real][got[real] == 0.0].max() <= 110 and raw[real][got[real] == 1.0].min() >= 880
  served = value_fixes_run.serving_rows
  assert served[0]["clipped_i_xf"] == 1.0  # 10**9 clipped to the train bound
  assert served[1]["clipped_i_xf"] == got[0]  # -1: missing, imputed like the train rows


@pytest.mark.parametrize("clip, buckets", [((0.01, 0.99), (100, 0, 98)),
                                           ((0.05, 0.95), (20, 0, 18)),
                                           ((0.005, 0.995), (200, 0, 198)),
                                           ((0.25, 0.5), (4, 0, 1)),
                                           ((0.001, 0.999), (1000, 0, 998))])
def test_clip_buckets_put_a_boundary_on_both_quantiles(clip, buckets):
  assert preprocessing.clip_buckets(*clip) == buckets
