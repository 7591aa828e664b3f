"""OUTLIERS from TFDV's statistics: the threshold boundary, a planted value, clean real data."""
import numpy as np
import pandas as pd
import pytest
import tensorflow_data_validation as tfdv
from sklearn import datasets

from trainguard.components.data_guard import numeric_findings
from trainguard.policy import Policy


def _findings(frame, label="y", policy_raw=None):
  stats = tfdv.generate_statistics_from_dataframe(frame)
  schema = tfdv.infer_schema(stats)
  policy = Policy.from_dict(policy_raw or {}, schema=schema)
  return numeric_findings.numeric_findings(stats, schema, policy, label)


def _frame(extreme, n=400):
  x = np.arange(n, dtype=float) % 100  # quartiles 24.75 and 74.25 at any n multiple of 100
  x[0] = extreme
  return pd.DataFrame({"x": x, "y": np.arange(n) % 2})


def _real_frames():
  import palmerpenguins  # pylint: disable=g-import-not-at-top
  yield "penguins", palmerpenguins.load_penguins(), "species"
  for name in ("breast_cancer", "wine", "iris", "digits", "diabetes"):
    yield name, getattr(datasets, f"load_{name}")(as_frame=True).frame, "target"


@pytest.mark.parametrize("name", ["penguins", "breast_cancer", "wine", "iris", "digits",
                                  "diabetes"])
def test_clean_real_data_has_no_outliers(name):
  frames = {n: (f, l) for n, f, l in _real_frames()}
  frame, label = frames[name]
  assert [f.line() for f in _findings(frame, label)] == []


def test_a_value_a_million_times_the_rest_is_an_outlier():
  frame = datasets.load_breast_cancer(as_frame=True).frame
  frame.loc[5, "mean radius"] = frame["mean radius"].max() * 1e6
  (finding,) = _findings(frame, "target")
  assert (finding.kind, finding.feature, finding.split, finding.severity) == (
      "OUTLIERS", "mean radius", "train", "warn")
  assert finding.measured > 1e6 and finding.threshold == 50
  assert "at least 1 of 569 values (0.18%)" in finding.found
  assert "features.mean radius.clip: [0.01, 0.99]" in finding.fix
  assert "features.mean radius.missing_values: [28110000]" in finding.fix


def test_outlier_threshold_boundary():
  # IQR 49.5 read off TFDV's deciles; the max is (extreme − Q3) / IQR IQRs out.
  stats = tfdv.generate_statistics_from_dataframe(_frame(0.0))
  feature = [f for f in stats.datasets[0].features if f.path.step[0] == "x"][0]
  q1, q3 = numeric_findings.quartiles(feature.num_stats)
  iqr = q3 - q1
  assert _findings(_frame(q3 + 49 * iqr)) == []
  (finding,) = _findings(_frame(q3 + 52 * iqr))
  assert 51 < finding.measured < 53
  assert _findings(_frame(q3 + 52 * iqr), policy_raw={
      "thresholds": {"dataset": {"outlier_iqr_multiple": 60}}}) == []
  (low,) = _findings(_frame(q1 - 80 * iqr))
  assert "min " in low.found and "max " not in low.found


def test_the_label_an_excluded_or_a_sparse_feature_is_not_judged():
  frame = _frame(1e9)
  frame["y"] = frame["x"]
  frame["sparse"] = 0.0
  frame.loc[:3, "sparse"] = 1e9  # IQR 0: most rows one value
  frame["x2"] = frame["x"]
  found = _findings(frame, "y", {"features": {"x": {"exclude": True}}})
  assert [f.feature for f in found] == ["x2"]


def test_a_feature_the_policy_clips_is_not_reported_again():
  assert len(_findings(_frame(1e9))) == 1
  assert _findings(_frame(1e9), policy_raw={"features": {"x": {"clip": [0.01, 0.99]}}}) == []
