"""The transform summary, recovered by probing the serving layer, vs numpy on the train rows."""
import json
import os

import numpy as np
import pandas as pd
import pytest

from trainguard.models import fixtures as data
from trainguard.models import preprocessing, preprocessing_summary


@pytest.fixture(scope="module")
def summary(transform_run):
  return preprocessing_summary.summarize(transform_run.output, transform_run.config)


def _present(name):
  return np.array(data.present_values(name), dtype=float)


def test_mean_and_z_score_parameters(summary):
  present = _present("mean_f")
  entry = summary["features"]["mean_f"]
  assert entry["imputation"] == {"method": "mean", "value": pytest.approx(present.mean(), rel=1e-6)}
  assert entry["scaling"] == {"method": "z_score", "mean": pytest.approx(present.mean(), rel=1e-6),
                              "std": pytest.approx(present.std(), rel=1e-6)}
  assert entry["missing_indicator"] is False and entry["dropped"] is False


def test_median_and_min_max_parameters(summary, transform_run):
  present = _present("median_f")
  entry = summary["features"]["median_f"]
  assert entry["scaling"] == {"method": "min_max", "min": pytest.approx(present.min()),
                              "max": pytest.approx(present.max())}
  median = entry["imputation"]["value"]
  assert entry["imputation"]["method"] == "median"
  tolerance = 0.5 / len(present) + preprocessing.QUANTILE_EPSILON
  assert abs(np.mean(present <= median) - 0.5) <= tolerance
  # The same value the Beam run imputed.
  row = next(r for r, cell in zip(transform_run.rows, data.COLUMNS["median_f"]) if not cell)
  assert row["median_f_xf"] == pytest.approx((median - present.min()) / np.ptp(present))


def test_mode_constant_and_none(summary):
  features = summary["features"]
  assert features["mode_i"]["imputation"] == {
      "method": "most_frequent", "value": pd.Series(_present("mode_i")).mode()[0]}
  assert features["mode_i"]["scaling"] == {"method": "none"}
  assert features["const_f"]["imputation"] == {"method": "constant", "value": -1.0}
  none_f = features["none_f"]
  assert none_f["imputation"]["value"] is None and none_f["imputation"]["missing_output"] == 0.0
  assert none_f["missing_indicator"] is True
  assert none_f["scaling"]["std"] == pytest.approx(_present("none_f").std(), rel=1e-6)


def test_bucket_boundaries_match_the_transformed_rows(summary, transform_run):
  entry = summary["features"]["bucket_f"]
  boundaries = entry["scaling"]["boundaries"]
  assert entry["scaling"]["num_buckets"] == 4 and len(boundaries) == 3
  raw = _present("bucket_f")
  got = np.array([r["bucket_f_xf"] for r in transform_run.rows])
  np.testing.assert_array_equal(np.searchsorted(boundaries, raw, side="right"), got)
  # Approximate quantiles: each boundary within one data step of numpy's.
  np.testing.assert_allclose(boundaries, np.quantile(raw, [0.25, 0.5, 0.75]), atol=1.0)
  mean_bucket = int(np.searchsorted(boundaries, raw.mean(), side="right"))
  assert entry["imputation"] == {"method": "mean", "bucket": mean_bucket}


def test_vocabularies_and_categorical_imputation(summary):
  colour = summary["features"]["colour"]
  counts = pd.Series(data.present_values("colour")).value_counts()
  assert colour["vocabulary_size"] == len(counts)
  assert colour["top_values"] == [v.decode() for v in counts.index]
  assert colour["num_ids"] == len(counts) + 1 and colour["unseen_id"] == len(counts)
  assert colour["imputation"] == {"method": "most_frequent", "id": 0, "value": "red"}
  assert colour["missing_indicator"] is True
  shape = summary["features"]["shape"]["imputation"]
  assert shape["method"] == "constant" and shape["value"] == "unknown"
  size = summary["features"]["size"]
  assert size["imputation"]["id"] == size["unseen_id"] and size["imputation"]["value"] is None


def test_columns_without_variation_are_dropped_with_a_warning(summary):
  assert summary["dropped"] == ["empty_c", "empty_f", "single_i"]
  assert len(summary["warnings"]) == 3
  assert summary["warnings"][1].startswith("empty_f: no variation in the train split")
  assert summary["features"]["empty_c"]["reason"].startswith("no value in the train split")


def test_excluded_feature_and_label(summary):
  assert summary["features"]["row_id"]["excluded"] is True
  assert summary["label"] == {"key": data.LABEL, "output": data.LABEL + "_xf",
                              "classes": data.LABEL_CLASSES}
  assert data.LABEL not in summary["features"]


def test_without_the_plan_the_same_numbers_under_neutral_names(transform_run, summary):
  bare = preprocessing_summary.summarize(transform_run.transform_dir, label_key=data.LABEL)
  present = _present("median_f")
  entry = bare["features"]["median_f"]
  assert entry["scaling"]["method"] == "affine"
  assert entry["scaling"]["center"] == pytest.approx(present.min())
  assert entry["scaling"]["divisor"] == pytest.approx(np.ptp(present))
  assert entry["imputation"]["value"] == summary["features"]["median_f"]["imputation"]["value"]
  assert bare["dropped"] == summary["dropped"]
  assert bare["features"]["bucket_f"]["scaling"] == summary["features"]["bucket_f"]["scaling"]


def test_written_as_json(summary, tmp_path):
  path = preprocessing_summary.write(summary, str(tmp_path / "run"))
  assert os.path.basename(path) == "transform_summary.json"
  with open(path) as f:
    assert json.load(f) == json.loads(json.dumps(summary))


def test_clip_bounds_and_missing_values_are_reported(value_fixes_run):
  summary = preprocessing_summary.summarize(value_fixes_run.output, value_fixes_run.config)
  features = summary["features"]
  assert summary["dropped"] == []
  raw = np.array([r["clipped_f"][0] for r in data.VALUES_ROWS])
  got = np.array([float(r["clipped_f_xf"]) for r in value_fixes_run.rows])
  clip = features["clipped_f"]["clip"]
  assert clip["quantiles"] == [0.05, 0.95]
  # The bounds are the values the extreme train rows were clipped to.
  scaling = features["clipped_f"]["scaling"]
  assert scaling["method"] == "z_score"
  for bound, out in ((clip["low"], got.min()), (clip["high"], got.max())):
    assert (bound - scaling["mean"]) / scaling["std"] == pytest.approx(out, abs=1e-5)
  clipped = np.clip(raw, clip["low"], clip["high"])
  assert scaling["mean"] == pytest.approx(clipped.mean(), rel=1e-5)
  assert features["clipped_f"]["imputation"]["value"] == pytest.approx(clipped.mean(), rel=1e-5)
  integer = features["clipped_i"]
  assert integer["clip"]["low"] == integer["scaling"]["min"] == 100.0
  assert integer["clip"]["high"] == integer["scaling"]["max"] == 890.0
  assert integer["missing_values"] == [-1.0]
  assert features["sentinel_f"]["missing_values"] == [-999.0, 9999.0]
  assert features["sentinel_c"]["missing_values"] == ["unknown", "-"]
  assert "unknown" not in features["sentinel_c"]["top_values"]
