"""A regression label's findings from small in-memory statistics: quiet on clean targets (diabetes,
normal ones), each kind on a planted defect, the policy's keys, and no finding for classes."""
import numpy as np
import pandas as pd
import pytest
import tensorflow_data_validation as tfdv
from sklearn import datasets

from trainguard.components.data_guard import fixes, label_findings, validation
from trainguard.policy import Policy

KINDS = {"LABEL_OUTLIERS", "SKEWED_LABEL", "LABEL_DRIFT"}


def _split(frame, seed=0):
  """Train and eval as the pipeline's 5:1:3 hash split leaves them (validation aside)."""
  draw = np.random.default_rng(seed).random(len(frame))
  return frame[draw < 5 / 9], frame[draw >= 6 / 9]


def _findings(train, evaluation, label="y", policy_raw=None, context=fixes.PIPELINE):
  stats = {"train": tfdv.generate_statistics_from_dataframe(train),
           "eval": tfdv.generate_statistics_from_dataframe(evaluation)}
  policy = Policy.from_dict(policy_raw or {})
  return label_findings.label_findings(stats, policy, label, context)


def _frame(y, seed=0):
  rng = np.random.default_rng(seed)
  return pd.DataFrame({"x": rng.normal(size=len(y)), "y": np.asarray(y, dtype=float)})


def _diabetes():
  return datasets.load_diabetes(as_frame=True).frame


def test_the_clean_diabetes_target_is_quiet():
  train, evaluation = _split(_diabetes())
  assert _findings(train, evaluation, "target") == []


@pytest.mark.parametrize("seed", range(5))
def test_clean_normal_targets_are_quiet(seed):
  y = np.random.default_rng(seed).normal(100.0, 15.0, 200)
  assert _findings(*_split(_frame(y, seed), seed)) == []


def test_a_label_value_far_outside_the_bulk_is_a_label_outlier():
  frame = _diabetes()
  frame.loc[8, "target"] = 346.0 * 1000  # a unit slip: the largest target, in thousandths
  train, evaluation = _split(frame)
  assert 8 in train.index
  (finding,) = [f for f in _findings(train, evaluation, "target") if f.kind == "LABEL_OUTLIERS"]
  assert (finding.feature, finding.split, finding.severity) == ("target", "train", "warn")
  assert finding.threshold == 50 and finding.measured > 1000
  assert "max 346000" in finding.found
  assert "regression.loss: huber" in finding.fix
  assert "regression.label_transform: log" in finding.fix
  # The features' rule: a larger multiple in the policy moves both.
  assert [f for f in _findings(train, evaluation, "target", {"thresholds": {"dataset": {
      "outlier_iqr_multiple": 5000}}}) if f.kind == "LABEL_OUTLIERS"] == []


def test_a_long_right_tail_is_a_skewed_label_with_the_log_transform_as_fix():
  y = np.exp(np.random.default_rng(3).normal(3.0, 1.0, 200))  # lognormal, σ = 1
  train, evaluation = _split(_frame(y))
  (finding,) = _findings(train, evaluation)
  assert (finding.kind, finding.split, finding.severity) == ("SKEWED_LABEL", "train", "info")
  assert finding.threshold == 0.4 and 0.4 < finding.measured < 0.7
  assert "regression.label_transform: log" in finding.fix
  # Done already, or a label the log cannot help: nothing to suggest.
  assert _findings(train, evaluation, policy_raw={"regression": {"label_transform": "log"}}) == []
  assert _findings(train.assign(y=train.y - 50), evaluation.assign(y=evaluation.y - 50)) == []
  tiny = _findings(train.assign(y=train.y * 1e-6), evaluation.assign(y=evaluation.y * 1e-6))
  assert tiny == []


def test_outside_trainguards_pipeline_the_fix_names_no_policy_key_it_would_ignore():
  y = np.exp(np.random.default_rng(3).normal(3.0, 1.0, 200))
  (finding,) = _findings(*_split(_frame(y)), context=fixes.COMPONENTS)
  assert "preprocessing_fn" in finding.fix and "expm1" in finding.fix
  assert not finding.fix.startswith("set regression")


def test_an_eval_split_shifted_by_one_standard_deviation_is_label_drift():
  train, evaluation = _split(_diabetes())
  shifted = evaluation.assign(target=evaluation.target + train.target.std())
  (finding,) = _findings(train, shifted, "target")
  assert (finding.kind, finding.split, finding.severity) == ("LABEL_DRIFT", "eval", "warn")
  assert finding.threshold == 0.5 and finding.measured == pytest.approx(1.0, abs=0.15)
  assert "ExampleGen" in finding.fix and "features.target.info" in finding.fix
  assert "--eval-data" in _findings(train, shifted, "target", context=fixes.CLI)[0].fix
  assert _findings(train, shifted, "target", {"thresholds": {"dataset": {
      "label_drift_shift": 1.5}}}) == []


def test_an_eval_split_with_a_wider_spread_is_label_drift():
  train, evaluation = _split(_diabetes())
  mean = evaluation.target.mean()
  wider = evaluation.assign(target=mean + (evaluation.target - mean) * 1.5)  # same mean
  (finding,) = _findings(train, wider, "target")
  assert (finding.kind, finding.split) == ("LABEL_DRIFT", "eval")
  assert finding.threshold == 1.3 and finding.measured == pytest.approx(1.5, abs=0.15)
  assert "; std " in finding.found and "standard errors of its log" in finding.found
  assert _findings(train, wider, "target", {"thresholds": {"dataset": {
      "label_drift_std_ratio": 1.8}}}) == []
  for seed in range(5):  # a random split's own spread is not drift
    assert _findings(*_split(_diabetes(), seed), "target") == []


def test_a_large_shift_in_a_handful_of_rows_is_chance_not_drift():
  y = np.random.default_rng(0).normal(100.0, 15.0, 60)
  frame = _frame(y)
  # 6 eval rows 0.9 std above: d = 0.9 but only about 2 standard errors.
  assert _findings(frame, frame[:6].assign(y=frame.y[:6] * 0 + 100 + 0.9 * 15)) == []


def _schema(frame):
  schema = tfdv.infer_schema(tfdv.generate_statistics_from_dataframe(frame))
  for feature in schema.feature:
    feature.ClearField("shape")
  return schema


def test_data_guard_reports_them_for_a_regression_label_only():
  frame = _diabetes()
  frame.loc[8, "target"] = 346.0 * 1000
  train, evaluation = _split(frame)
  stats = {"train": tfdv.generate_statistics_from_dataframe(train),
           "eval": tfdv.generate_statistics_from_dataframe(evaluation)}
  schema = _schema(frame)
  _, report = validation.validate(schema, Policy.default(), "target", stats)
  assert {f.kind for f in report.findings} & KINDS == {"LABEL_OUTLIERS"}
  # The same numbers as class ids (an integer label in a range of at most 100): no label finding.
  classes = frame.assign(target=(frame.target % 3).astype(int))
  train, evaluation = _split(classes)
  stats = {"train": tfdv.generate_statistics_from_dataframe(train),
           "eval": tfdv.generate_statistics_from_dataframe(evaluation)}
  _, report = validation.validate(_schema(classes), Policy.default(), "target", stats)
  assert not {f.kind for f in report.findings} & KINDS
