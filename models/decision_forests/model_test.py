"""The gradient-boosted-trees run_fn on the shared Transform run: it trains, writes what the report
reads, and exports the Keras model's serving signature (raw requests with missing values and
unseen categories → probabilities over every class), plus the helpers' edge cases."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from tfx import v1 as tfx

from trainguard import artifacts
from trainguard.models import fixtures as data
from trainguard.models.decision_forests import model
from trainguard.models.keras_model import model_test as keras_model_test
from trainguard.policy import Policy


def test_run_fn_trains_and_exports_the_keras_serving_signature(transform_run, tmp_path):
  examples = keras_model_test._labelled_examples(  # pylint: disable=protected-access
      transform_run, str(tmp_path / "train.tfrecord"))
  fn_args = tfx.components.FnArgs(
      train_files=[examples], eval_files=[examples], transform_output=transform_run.transform_dir,
      data_accessor=keras_model_test._data_accessor(),  # pylint: disable=protected-access
      serving_model_dir=str(tmp_path / "serving"), model_run_dir=str(tmp_path / "run"),
      custom_config={"label_key": data.LABEL, "label_classes": data.LABEL_CLASSES, "seed": 1,
                     "class_weights": True, "num_trees": 20,
                     "policy": Policy.from_dict({}).to_json()})
  model.run_fn(fn_args)

  run = tmp_path / "run"
  with open(run / artifacts.TRANSFORM_SUMMARY_FILE) as f:
    assert json.load(f)["dropped"] == ["empty_c", "empty_f", "single_i"]
  with open(run / artifacts.HISTORY_FILE) as f:
    history = json.load(f)
  assert set(history) <= {"val_loss", "val_accuracy"} and history["val_loss"]
  with open(run / artifacts.TRAINING_RECORD_FILE) as f:
    record = json.load(f)
  assert record["model"] == model.MODEL and record["settings"]["class_weights"]
  assert record["validation_rows"] > 0 and set(record["final"]["val_recall"]) == {"no", "yes"}
  for folder in (run, tmp_path / "serving" / "assets.extra"):
    with open(folder / artifacts.TRAINING_FINDINGS_FILE) as f:
      assert json.load(f)["version"]

  loaded = tf.saved_model.load(str(tmp_path / "serving"))
  assert set(loaded.signatures) == {"serving_default", "transform_features"}
  serving_spec = transform_run.output.raw_feature_spec()
  serving_spec.pop(data.LABEL)
  requests = [data.serialize(r, serving_spec) for r in data.SERVING_ROWS]
  scored = loaded.signatures["serving_default"](examples=tf.constant(requests))
  probabilities = scored["probabilities"].numpy()
  # A binary TFDF model outputs P(class 1) alone; the signature gives both, as the Keras model.
  assert probabilities.shape == (len(requests), len(data.LABEL_CLASSES))
  assert np.isfinite(probabilities).all()
  np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
  np.testing.assert_array_equal(scored["class_ids"].numpy(), probabilities.argmax(axis=1))
  assert set(scored["classes"].numpy().tolist()) <= {b"no", b"yes"}
  transformed = loaded.signatures["transform_features"](examples=tf.constant(requests))
  assert "colour_xf" in transformed


def test_class_probabilities_widen_binary_and_missing_classes():
  binary = model.class_probabilities(tf.constant([[0.25], [1.0]]), 1, 2).numpy()
  np.testing.assert_allclose(binary, [[0.75, 0.25], [0.0, 1.0]])
  # The train split had classes 0 and 1 only of 3: class 2 gets probability 0.
  padded = model.class_probabilities(tf.constant([[0.4]]), 1, 3).numpy()
  np.testing.assert_allclose(padded, [[0.6, 0.4, 0.0]])
  three = model.class_probabilities(tf.constant([[0.2, 0.3, 0.5]]), 3, 3).numpy()
  np.testing.assert_allclose(three, [[0.2, 0.3, 0.5]])


def test_tree_record_lets_the_diagnosis_see_a_collapse():
  from trainguard.models import training_diagnosis  # pylint: disable=g-import-not-at-top
  labels = np.array([0] * 60 + [1] * 30 + [2] * 10)
  predicted = np.tile([0.8, 0.1, 0.1], (100, 1))  # every row the majority class
  record = model.tree_record(predicted, labels, ["a", "b", "c"], np.zeros(0))
  assert record["final"]["val_predicted_share"]["a"] == 1.0
  assert record["final"]["val_recall"] == {"a": 1.0, "b": 0.0, "c": 0.0}
  kinds = {f.kind for f in training_diagnosis.diagnose(record, Policy.from_dict({}))}
  assert "MAJORITY_COLLAPSE" in kinds
  regression = model.tree_record(np.array([1.0, 2.0]), np.array([1.0, 3.0]), [],
                                 np.array([0.0, 4.0]))
  assert regression["epochs"][0]["val_loss"] == pytest.approx(0.5)
  assert regression["baseline_loss"] == pytest.approx(1.0)  # train mean 2 vs 1 and 3


def test_tree_history_keeps_validation_metrics_per_logged_tree_count():
  class Evaluation:
    def __init__(self, loss, accuracy=None, rmse=None):
      self.loss, self.accuracy, self.rmse = loss, accuracy, rmse

  class Log:
    def __init__(self, evaluation):
      self.evaluation = evaluation

  logs = [Log(Evaluation(1.0, 0.5)), Log(None), Log(Evaluation(0.5, 0.8))]
  assert model.tree_history(logs, False) == {"val_loss": [1.0, 0.5], "val_accuracy": [0.5, 0.8]}
  assert model.tree_history([Log(Evaluation(2.0, rmse=1.5))], True) == {
      "val_loss": [2.0], "val_rmse": [1.5]}
  assert os.path.basename(model.__file__) == "model.py"
