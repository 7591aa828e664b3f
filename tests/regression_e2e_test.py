"""Regression end to end: scikit-learn's bundled diabetes data (442 rows, target `target`) through
`trainguard run` and the real LocalDagRunner, read back from ML Metadata and the artifacts."""
import glob
import json
import os

import numpy as np
import pytest

from trainguard import cli
from trainguard.pipeline import results


@pytest.fixture(scope="module")
def diabetes_run(tmp_path_factory):
  from sklearn.datasets import load_diabetes  # pylint: disable=g-import-not-at-top
  folder = tmp_path_factory.mktemp("diabetes")
  csv = str(folder / "diabetes.csv")
  load_diabetes(as_frame=True).frame.to_csv(csv, index=False)
  workdir = str(folder / "work")
  code = cli.main(["run", csv, "--label", "target", "--epochs", "25", "--workdir", workdir])
  summary = results.latest_run(results.RunPaths(workdir, "trainguard-diabetes"))
  return code, summary, csv


def test_a_numeric_label_trains_a_regression_that_beats_the_mean_and_is_pushed(diabetes_run):
  code, summary, _ = diabetes_run
  assert code == cli.EXIT_OK
  assert {e.state for e in summary.executions.values()} == {"COMPLETE"}, summary.describe()
  assert "Rebalance" not in summary.executions  # no classes to rebalance
  metrics = summary.eval_metrics
  assert metrics["r2"] > 0.3  # the mean-prediction baseline is R² = 0; blessing asks 0.05
  assert 30 < metrics["mean_absolute_error"] < 60
  assert metrics["mean_squared_error"] == pytest.approx(
      (1 - metrics["r2"]) * _eval_variance(summary), rel=1e-3)
  assert summary.blessed is True and summary.pushed_model


def _eval_labels_and_examples(summary):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  files = glob.glob(os.path.join(summary.artifact_uri("CsvExampleGen", "examples"), "Split-eval",
                                 "*.gz"))
  records = [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]
  labels = [tf.train.Example.FromString(r).features.feature["target"].float_list.value[0]
            for r in records]
  return np.array(labels), records


def _eval_variance(summary):
  labels, _ = _eval_labels_and_examples(summary)
  return float(np.var(labels))


def test_the_pushed_model_answers_raw_requests_in_the_labels_units(diabetes_run):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  _, summary, _ = diabetes_run
  labels, records = _eval_labels_and_examples(summary)
  serve = tf.saved_model.load(summary.pushed_model).signatures["serving_default"]
  predicted = serve(examples=tf.constant(records))["predictions"].numpy().reshape(-1)
  # The serving signature undoes the Trainer's standardisation: TFMA saw the same numbers.
  assert predicted.mean() == pytest.approx(summary.eval_metrics["mean_prediction"], rel=1e-4)
  assert 25 < predicted.min() and predicted.max() < 346  # diabetes targets run 25..346
  assert np.corrcoef(predicted, labels)[0, 1] > 0.55


def test_data_guard_and_the_training_diagnosis_read_the_label_as_a_number(diabetes_run):
  _, summary, _ = diabetes_run
  kinds = {f.kind for f in summary.findings.findings}
  assert not kinds & {"CLASS_IMBALANCE", "LABEL_LEAKAGE"}, kinds
  run_dir = summary.artifact_uri("Trainer", "model_run")
  with open(os.path.join(run_dir, "training_record.json")) as f:
    record = json.load(f)
  assert record["task"] == "regression" and record["baseline_loss"] > 0.5
  assert record["baseline"]["metric"] == "R²"
  assert summary.training_findings is not None and not summary.training_findings.blocked


def test_the_trainer_writes_a_sample_of_eval_predictions_in_label_units(diabetes_run):
  from trainguard import artifacts  # pylint: disable=g-import-not-at-top
  _, summary, _ = diabetes_run
  path = os.path.join(summary.artifact_uri("Trainer", "model_run"),
                      artifacts.REGRESSION_PREDICTIONS_FILE)
  with open(path) as f:
    sample = json.load(f)
  assert set(sample) == {"actual", "predicted", "rows_total", "rows_sampled"}
  labels, _ = _eval_labels_and_examples(summary)
  # Under 2,000 eval rows, every one: the eval split's labels, and TFMA's mean prediction.
  assert sample["rows_total"] == sample["rows_sampled"] == len(labels) == len(sample["actual"])
  assert len(sample["predicted"]) == len(labels)
  np.testing.assert_allclose(sorted(sample["actual"]), sorted(labels), rtol=1e-6)
  assert np.mean(sample["predicted"]) == pytest.approx(summary.eval_metrics["mean_prediction"],
                                                       rel=1e-4)
  assert all(isinstance(v, float) for v in sample["actual"] + sample["predicted"])


def test_the_report_shows_predictions_and_no_class_sections(diabetes_run):
  from trainguard.report import gather, render_report  # pylint: disable=g-import-not-at-top
  _, summary, _ = diabetes_run
  data = gather(summary)
  assert data.task == "regression" and len(data.regression_predictions["actual"]) > 50
  page = render_report(data)
  evaluation = page[page.index('<section id="evaluation">'):]
  evaluation = evaluation[:evaluation.index("</section>")]
  assert 'id="regression-charts"' in evaluation and "Predicted vs actual" in evaluation
  assert "Per class" not in evaluation and "Confusion matrix" not in evaluation
  rebalance = page[page.index('<section id="rebalance">'):]
  assert "class rebalancing does not apply to a numeric label" in rebalance[:600]
  assert 'data-feature="target"' in page  # the label's card, a number
