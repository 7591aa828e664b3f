"""Drift and skew in the feature's units: planted shifts found, unshifted real data quiet."""
import numpy as np
import pandas as pd
import pytest
import tensorflow_data_validation as tfdv
from sklearn import datasets

from trainguard.components.data_guard import drift_findings, validation
from trainguard.policy import Policy

LABEL = "y"


def _frame(seed, rows=1000, share_a=0.3):
  rng = np.random.default_rng(seed)
  return pd.DataFrame({
      "x": rng.normal(43.9, 5.5, rows),
      "c": rng.choice(["a", "b"], rows, p=[share_a, 1 - share_a]),
      LABEL: rng.choice(["p", "q"], rows)})


def _planted(frame):  # the case: scaled by 1.3 and shifted by a third of the mean
  return frame.assign(x=frame["x"] * 1.3 + frame["x"].mean() / 3)


@pytest.fixture(scope="module")
def schema():
  schema = tfdv.infer_schema(tfdv.generate_statistics_from_dataframe(_frame(0)))
  for feature in schema.feature:
    feature.ClearField("shape")
  schema.default_environment.extend(["TRAINING", "SERVING"])
  tfdv.get_feature(schema, LABEL).not_in_environment.append("SERVING")
  return schema


def _findings(schema, train, serving=None, baseline=None):
  stats = tfdv.generate_statistics_from_dataframe
  _, report = validation.validate(
      schema, Policy.default(), LABEL, {"train": stats(train)},
      serving_statistics=stats(serving.drop(columns=[LABEL])) if serving is not None else None,
      baseline_statistics=stats(baseline) if baseline is not None else None)
  return [f for f in report.findings
          if f.kind in ("NUMERIC_DRIFT", "NUMERIC_SKEW", "COMPARATOR_L_INFTY_HIGH")]


def test_planted_scale_and_shift_is_drift_against_the_previous_span_and_skew_at_serving(schema):
  (drift,) = _findings(schema, _planted(_frame(1)), baseline=_frame(3))
  assert (drift.kind, drift.feature, drift.split, drift.severity) == (
      "NUMERIC_DRIFT", "x", "train", "block")
  # 43.9 × 1.3 + 14.6 = 71.7: the mean moves 5.1 std; the text says it in the feature's units
  assert drift.threshold == 0.4 and 4.8 < drift.measured < 5.4
  assert drift.found.startswith("mean 44.") and " → 71." in drift.found
  assert "std), median 4" in drift.found and "P90 " in drift.found and "(×1.2" in drift.found
  assert "features.x.drift" in drift.fix and "features.x.info" in drift.fix
  (skew,) = _findings(schema, _frame(1), serving=_planted(_frame(2)))
  assert (skew.kind, skew.feature, skew.split) == ("NUMERIC_SKEW", "x", "serving")
  assert skew.measured > 4.8 and "features.x.skew" in skew.fix


def test_unshifted_spans_and_serving_samples_give_nothing(schema):
  assert _findings(schema, _frame(1), serving=_frame(2), baseline=_frame(3)) == []
  for seed in range(4):  # a 40-row serving sample moves shares and means by chance
    assert _findings(schema, _frame(1), serving=_frame(10 + seed, rows=40)) == []


def test_a_scale_change_alone_is_found_by_the_spread():
  frame = _frame(1, rows=2000)
  mean = frame["x"].mean()
  scaled = frame.assign(x=mean + (_frame(5, rows=2000)["x"] - mean) * 1.3)
  ref = tfdv.generate_statistics_from_dataframe(frame)
  cur = tfdv.generate_statistics_from_dataframe(scaled)
  schema = tfdv.infer_schema(ref)
  (finding,) = drift_findings.shift_findings(ref, cur, schema, Policy.default(), LABEL, "drift",
                                             "train", "previous span")
  assert finding.threshold == 1.2 and 1.22 < finding.measured < 1.38
  assert "the spread changed ×1.2" in finding.found and "std 5.5" in finding.found


@pytest.mark.parametrize("share, found", [(0.67, True), (0.5, True), (0.38, False)])
def test_a_category_share_change_of_20_points_is_found(schema, share, found):
  # 30% → 67% (the mix change) and → 50% (20 points) are drift; 8 points is not
  findings = _findings(schema, _frame(1, share_a=share), baseline=_frame(3))
  assert [f.kind for f in findings] == (["COMPARATOR_L_INFTY_HIGH"] if found else [])
  if found:
    # two categories move alike: the text names one (b: 70% → 33% or 50%)
    assert "share of 'b': 67.4% in the previous span → " in findings[0].found


def _real():
  import palmerpenguins  # pylint: disable=g-import-not-at-top
  yield "penguins", palmerpenguins.load_penguins()
  for name in ("breast_cancer", "wine", "iris", "diabetes", "digits"):
    yield name, getattr(datasets, f"load_{name}")(as_frame=True).frame


def test_random_halves_and_bootstraps_of_real_data_give_nothing():
  # The module docstring's measurement, on 3 of its 20 seeds: no numeric shift, no category move.
  policy = Policy.default()
  for name, frame in _real():
    for seed in range(3):
      rng = np.random.default_rng(seed)
      order = rng.permutation(len(frame))
      halves = (frame.iloc[order[:len(frame) // 2]], frame.iloc[order[len(frame) // 2:]])
      boot = (frame, frame.iloc[rng.integers(0, len(frame), len(frame))])
      for a, b in (halves, boot):
        ref, cur = (tfdv.generate_statistics_from_dataframe(f.reset_index(drop=True))
                    for f in (a, b))
        schema = tfdv.infer_schema(ref)
        for comparison in ("drift", "skew"):
          assert drift_findings.shift_findings(ref, cur, schema, policy, "", comparison,
                                               "train", "reference") == [], (name, seed)
        ref_f, cur_f = drift_findings._features(ref), drift_findings._features(cur)  # pylint: disable=protected-access
        for feature, stats in cur_f.items():
          move = drift_findings.category_move(ref_f[feature], stats) if feature in ref_f else None
          assert move is None or move[3] < drift_findings.MIN_Z, (name, feature, move)


def test_label_drift_judges_the_classes_label_map_makes(schema):
  # Issue 21: a span that spells half its p rows 'P' has not drifted once label.map sends P to p;
  # TFDV's L-infinity compares raw spellings (0.25 here, against 0.15).
  baseline, train = _frame(3), _frame(1)
  train.loc[train[LABEL].eq("p") & (np.arange(len(train)) % 2 == 0), LABEL] = "P"
  stats = tfdv.generate_statistics_from_dataframe
  report = {}
  for name, raw in (("raw", {}), ("mapped", {"label": {"map": {"P": "p"}}})):
    _, report[name] = validation.validate(
        schema, Policy.from_dict(raw, schema=schema), LABEL, {"train": stats(train)},
        baseline_statistics=stats(baseline))
  (raw,) = [f for f in report["raw"].findings if f.kind == "COMPARATOR_L_INFTY_HIGH"]
  assert (raw.feature, raw.split) == (LABEL, "train") and "'P'" in raw.found
  assert [f for f in report["mapped"].findings if f.kind == "COMPARATOR_L_INFTY_HIGH"] == []
  # A real move of the mapped classes is still drift: p's share from 50% to about 80%.
  moved = train.assign(**{LABEL: np.where(np.arange(len(train)) % 5 == 0, "q", "P")})
  _, report = validation.validate(
      schema, Policy.from_dict({"label": {"map": {"P": "p"}}}, schema=schema), LABEL,
      {"train": stats(moved)}, baseline_statistics=stats(baseline))
  (drift,) = [f for f in report.findings if f.kind == "COMPARATOR_L_INFTY_HIGH"]
  assert "share of 'p': " in drift.found and " → 80.0% in train" in drift.found
