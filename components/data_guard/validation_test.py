"""One defect per test: statistics of a small generated frame (fixed seed) against a schema inferred
from a clean frame, validated by DataGuard with the default policy."""
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
import tensorflow_data_validation as tfdv

from trainguard.components.data_guard import validation
from trainguard.policy import Policy

LABEL = "y"


def _frame(seed=0, rows=400):
  rng = np.random.default_rng(seed)
  return pd.DataFrame({
      "x": rng.normal(10.0, 2.0, rows),
      "n": rng.integers(0, 50, rows),
      "c": rng.choice(["a", "b", "c"], rows, p=[0.5, 0.3, 0.2]),
      LABEL: rng.choice(["p", "q"], rows),
  })


def _stats(frame):
  return tfdv.generate_statistics_from_dataframe(frame)


@pytest.fixture(scope="module")
def schema():
  schema = tfdv.infer_schema(_stats(_frame()))
  for feature in schema.feature:
    feature.ClearField("shape")  # as curated schemas do: any feature may be absent at serving
    feature.value_count.max = 1
  schema.default_environment.extend(["TRAINING", "SERVING"])
  tfdv.get_feature(schema, LABEL).not_in_environment.append("SERVING")
  return schema


@pytest.fixture(scope="module")
def policy(schema):
  return Policy.from_dict({}, schema=schema)


def _validate(schema, policy, train, serving=None, baseline=None):
  _, report = validation.validate(
      schema, policy, LABEL, {"train": _stats(train), "eval": _stats(_frame(seed=9))},
      serving_statistics=_stats(serving) if serving is not None else None,
      baseline_statistics=_stats(baseline) if baseline is not None else None)
  return report


def _kinds(report, severity=None):
  return {(f.kind, f.feature, f.split, f.severity) for f in report.findings
          if severity is None or f.severity == severity}


def test_clean_data_gives_no_blocking_or_warning_finding(schema, policy):
  report = _validate(schema, policy, _frame(seed=1), serving=_frame(seed=2).drop(columns=[LABEL]),
                     baseline=_frame(seed=3))
  assert not report.blocked
  assert _kinds(report) == set(), report.to_json()


def test_numeric_column_with_stray_strings_blocks(schema, policy):
  frame = _frame(seed=1)
  frame["x"] = frame["x"].astype(str)
  frame.loc[7, "x"] = "n.a."
  report = _validate(schema, policy, frame)
  assert ("UNEXPECTED_DATA_TYPE", "x", "train", "block") in _kinds(report)
  finding = report.blocking[0]
  assert finding.expected == "FLOAT values"
  assert "'n.a.'" in finding.found
  assert "x" in report.block_message() and "Fix:" in report.block_message()


def test_int_column_that_became_float_blocks(schema, policy):
  frame = _frame(seed=1)
  frame["n"] = frame["n"] + 0.5
  assert _kinds(report := _validate(schema, policy, frame), "block") == {
      ("UNEXPECTED_DATA_TYPE", "n", "train", "block")}, report.to_json()


def test_dropped_column_blocks(schema, policy):
  report = _validate(schema, policy, _frame(seed=1).drop(columns=["c"]))
  assert _kinds(report, "block") == {("SCHEMA_MISSING_COLUMN", "c", "train", "block")}


def test_nan_in_a_float_column_warns_with_its_count(schema, policy, tmp_path):
  # NaN survives only in tf.Examples (a DataFrame's NaN is read as missing): write a few.
  path = str(tmp_path / "nan.tfrecord")
  with tf.io.TFRecordWriter(path) as writer:
    for i, value in enumerate([1.0, float("nan"), 3.0, float("nan")]):
      example = tf.train.Example()
      example.features.feature["x"].float_list.value.append(value)
      example.features.feature["n"].int64_list.value.append(i)
      example.features.feature["c"].bytes_list.value.append(b"a")
      example.features.feature[LABEL].bytes_list.value.append(b"p")
      writer.write(example.SerializeToString())
  stats = tfdv.generate_statistics_from_tfrecord(path)
  _, report = validation.validate(schema, policy, LABEL, {"train": stats})
  nan = [f for f in report.findings if f.kind == "NAN_VALUES"]
  assert [(f.feature, f.severity, f.measured) for f in nan] == [("x", "warn", 0.5)]
  assert not report.blocked


def test_missing_values_are_counted_per_feature(schema, policy):
  frame = _frame(seed=1)
  frame.loc[:39, "x"] = np.nan
  report = _validate(schema, policy, frame)
  missing = [f for f in report.findings if f.kind == "MISSING_VALUES" and f.split == "train"]
  assert [(f.feature, f.severity, f.measured) for f in missing] == [("x", "info", 0.1)]
  assert "40 of 400 rows" in missing[0].found and "mean" in missing[0].fix


def test_new_category_at_serving_warns(schema, policy):
  serving = _frame(seed=2).drop(columns=[LABEL])
  serving.loc[:9, "c"] = "zebra"
  report = _validate(schema, policy, _frame(seed=1), serving=serving)
  assert ("ENUM_TYPE_UNEXPECTED_STRING_VALUES", "c", "serving", "warn") in _kinds(report)
  assert not report.blocked


def test_serving_sample_without_label_is_fine_but_skewed_categorical_blocks(schema, policy):
  serving = _frame(seed=2).drop(columns=[LABEL])
  serving["c"] = np.where(np.arange(len(serving)) < 360, "c", "a")  # 90% "c" vs 20% in training
  report = _validate(schema, policy, _frame(seed=1), serving=serving)
  skew = [f for f in report.blocking if f.kind == "COMPARATOR_L_INFTY_HIGH"]
  assert [(f.feature, f.split) for f in skew] == [("c", "train")]
  assert skew[0].threshold == pytest.approx(0.15)
  assert skew[0].measured > 0.15
  assert "share of 'c': 90.0% in serving → " in skew[0].found  # the move, in shares
  assert not [f for f in report.findings if f.feature == LABEL], "label absent at serving is fine"


def test_shifted_numeric_distribution_in_the_next_span_blocks(schema, policy):
  current = _frame(seed=1)
  current["x"] = current["x"] + 8.0  # four standard deviations
  report = _validate(schema, policy, current, baseline=_frame(seed=3))
  drift = [f for f in report.blocking if f.kind == "NUMERIC_DRIFT"]
  assert [(f.feature, f.split) for f in drift] == [("x", "train")]
  assert drift[0].measured > drift[0].threshold == 0.4  # the mean's move, in std
  assert drift[0].found.startswith("mean 10.") and " std), median " in drift[0].found


def test_rows_without_a_label_warn_up_to_the_clis_share_and_block_above_it(schema, policy):
  # The CLI drops up to 20% of rows without a label and refuses more: the pipeline path the same.
  frame = _frame(seed=1)
  frame[LABEL] = frame[LABEL].astype(object)
  frame.loc[:19, LABEL] = None  # 20 of 400
  report = _validate(schema, policy, frame)
  (finding,) = [f for f in report.findings if f.feature == LABEL]
  assert (finding.kind, finding.split, finding.severity) == (
      "LABEL_MISSING_ROWS_DROPPED", "train", "warn")
  assert finding.measured == pytest.approx(0.05) and finding.threshold == 0.2
  assert "left out" in finding.fix and not report.blocked  # not TFDV's presence anomaly either
  frame.loc[:99, LABEL] = None  # 25%
  report = _validate(schema, policy, frame)
  (finding,) = [f for f in report.findings if f.feature == LABEL]
  assert (finding.kind, finding.severity) == ("LABEL_MISSING_ROWS_DROPPED", "block")
  assert "too many to drop" in finding.fix


def test_nan_regression_labels_are_rows_without_a_label():
  frame = _frame(seed=2).drop(columns=[LABEL]).assign(**{LABEL: np.linspace(0.0, 50.0, 400)})
  schema = tfdv.infer_schema(_stats(frame))  # presence 1.0: TFDV would block one row
  frame.loc[::25, LABEL] = np.nan  # 16 of 400
  _, report = validation.validate(schema, Policy.default(), LABEL, {"train": _stats(frame)})
  label = [f for f in report.findings if f.feature == LABEL]
  # An inferred schema's fixed shape cannot parse a row without the label: it blocks, saying so.
  assert {(f.kind, f.severity) for f in label} == {("LABEL_MISSING_ROWS_DROPPED", "warn"),
                                                   ("INVALID_FEATURE_SHAPE", "block")}
  assert "remove shape" in next(f.fix for f in label if f.kind == "INVALID_FEATURE_SHAPE")
  tfdv.get_feature(schema, LABEL).ClearField("shape")  # as curated schemas have it
  _, report = validation.validate(schema, Policy.default(), LABEL, {"train": _stats(frame)})
  label = [f for f in report.findings if f.feature == LABEL]
  assert [(f.kind, f.severity) for f in label] == [("LABEL_MISSING_ROWS_DROPPED", "warn")], label
  assert "16 of 400" in label[0].found


def test_unknown_label_class_blocks(schema, policy):
  frame = _frame(seed=1)
  frame.loc[:4, LABEL] = "r"
  report = _validate(schema, policy, frame)
  assert _kinds(report, "block") == {("ENUM_TYPE_UNEXPECTED_STRING_VALUES", LABEL, "train", "block")}


def test_spellings_label_map_sends_into_the_domain_are_not_unexpected(schema, policy):
  # Issue 21: the curated domain lists the classes (p, q) alone; label.map sends 'P' to p, so
  # TFDV expects 'P' (Transform maps it), while 'Q ' outside the map is still unexpected.
  frame = _frame(seed=1)
  frame.loc[:9, LABEL] = "P"
  mapped = Policy.from_dict({"label": {"map": {"P": "p"}}}, schema=schema)
  assert not [f for f in _validate(schema, mapped, frame).findings if f.feature == LABEL]
  assert _kinds(_validate(schema, policy, frame), "block") == {
      ("ENUM_TYPE_UNEXPECTED_STRING_VALUES", LABEL, "train", "block")}
  frame.loc[10:14, LABEL] = "Q "
  (left,) = [f for f in _validate(schema, mapped, frame).findings if f.feature == LABEL]
  assert (left.kind, left.split, left.severity) == (
      "ENUM_TYPE_UNEXPECTED_STRING_VALUES", "train", "block")
  assert "Q " in left.found and "P" not in left.found.replace("Examples", "")
  assert list(tfdv.get_domain(schema, LABEL).value) == ["p", "q"]  # the schema is not edited


def test_policy_can_downgrade_a_blocking_kind_for_one_feature(schema):
  policy = Policy.from_dict({"features": {"c": {"warn": ["SCHEMA_MISSING_COLUMN"]}}}, schema=schema)
  report = _validate(schema, policy, _frame(seed=1).drop(columns=["c"]))
  assert _kinds(report) == {("SCHEMA_MISSING_COLUMN", "c", "train", "warn")}


def test_schema_comparator_wins_over_policy_default(schema, policy):
  custom = type(schema)()
  custom.CopyFrom(schema)
  tfdv.get_feature(custom, "c").skew_comparator.infinity_norm.threshold = 0.95
  serving = _frame(seed=2).drop(columns=[LABEL])
  serving["c"] = np.where(np.arange(len(serving)) < 360, "c", "a")
  assert not _validate(custom, policy, _frame(seed=1), serving=serving).blocked


def test_missing_values_of_an_excluded_feature_are_not_imputed(schema):
  policy = Policy.from_dict({"features": {"x": {"exclude": True}}}, schema=schema)
  frame = _frame(seed=1)
  frame.loc[:39, "x"] = np.nan
  report = _validate(schema, policy, frame)
  (missing,) = [f for f in report.findings if f.kind == "MISSING_VALUES" and f.split == "train"]
  assert "features.x.exclude" in missing.fix and "imputes them" not in missing.fix
