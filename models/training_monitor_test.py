"""Planted training failures, one each, through the real network, monitor and diagnosis in-process:
each gives its own finding kind, and a healthy run gives none."""
import json

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from trainguard.models import training_monitor, training_repairs
from trainguard.models.keras_model import model as keras_model
from trainguard.policy import Policy

CLASSES = ["a", "b", "c"]


def _data(rows, seed, scale=1.0, weights=(1, 1, 1), shuffle_labels=False):
  """Three classes around three centres in two features, z-scored unless `scale` says otherwise."""
  rng = np.random.default_rng(seed)
  labels = rng.choice(3, size=rows, p=np.array(weights) / sum(weights))
  centres = np.array([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.5]])
  x = centres[labels] + rng.normal(0, 0.6, size=(rows, 2))
  x = (x - x.mean(axis=0)) / x.std(axis=0)
  if shuffle_labels:
    labels = rng.permutation(labels)
  return {"u_xf": (x[:, :1] * scale).astype(np.float32),
          "v_xf": x[:, 1:].astype(np.float32)}, labels.reshape(-1, 1).astype(np.int64)


def _dataset(data, batch_size=32):
  return tf.data.Dataset.from_tensor_slices(data).batch(batch_size)


def _train(train, validation, epochs=20, learning_rate=0.01, hidden_units=(16, 8), patience=8,
           batch_size=32, summary=None):
  keras.utils.set_random_seed(3)
  inputs = {name: keras.Input(shape=(1,), name=name, dtype=tf.float32) for name in ("u_xf", "v_xf")}
  network = keras_model.classifier(inputs, list(inputs.values()), 3, learning_rate, hidden_units)
  train_ds, validation_ds = _dataset(train, batch_size), _dataset(validation, batch_size)
  monitor = training_monitor.TrainingMonitor(train_ds, validation_ds, 3, CLASSES)
  network.fit(train_ds, validation_data=validation_ds, epochs=epochs, verbose=0, callbacks=[
      keras.callbacks.TerminateOnNaN(),
      keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience,
                                    restore_best_weights=True),
      monitor])
  monitor.record["settings"] = {"learning_rate": learning_rate, "batch_size": batch_size,
                                "epochs": epochs, "hidden_units": ",".join(map(str, hidden_units))}
  report = keras_model.diagnose_training(monitor, train_ds, Policy.from_dict({}), summary, seed=1)
  return monitor.record, {f.kind: f for f in report.findings}


def test_a_healthy_model_gets_no_training_finding():
  record, found = _train(_data(600, 1), _data(200, 2), epochs=8)
  assert found == {}, [f.line() for f in found.values()]
  epoch = record["epochs"][-1]
  assert set(epoch["layer_grad_norms"]) == set(record["layers"])
  assert 0 < epoch["grad_norm"] < 100
  assert set(epoch["dead_fraction"]) == set(record["relu_layers"]) and len(record["relu_layers"]) == 2
  assert epoch["max_abs_input"]["feature"] in ("u_xf", "v_xf")
  assert record["final"]["val_recall"]["a"] > 0.9
  assert record["baseline"]["trees_score"] > 0.9 and record["baseline"]["network_score"] > 0.9
  json.dumps(record, allow_nan=False)  # the record is plain JSON


def test_shuffled_labels_are_not_learning():
  _, found = _train(_data(600, 1, shuffle_labels=True), _data(200, 2, shuffle_labels=True))
  assert "NOT_LEARNING" in found
  assert found["NOT_LEARNING"].severity == "block" and found["NOT_LEARNING"].split == "validation"


def test_an_unscaled_huge_feature_with_a_high_learning_rate_is_named():
  summary = {"features": {"u": {"kind": "numeric", "scaling": {"method": "none"}}}}
  record, found = _train(_data(600, 1, scale=1e6), _data(200, 2, scale=1e6), learning_rate=5.0,
                         summary=summary)
  kinds = set(found) & {"LOSS_NOT_FINITE", "EXPLODING_GRADIENTS"}
  assert kinds, sorted(found)
  finding = found[sorted(kinds)[0]]
  assert "features.u.scale: z_score" in finding.fix and "u is left unscaled" in finding.fix


def test_a_tiny_learning_rate_plateaus():
  _, found = _train(_data(600, 1), _data(200, 2), epochs=4, learning_rate=1e-7)
  assert "PLATEAU" in found and found["PLATEAU"].severity == "info"
  assert "--learning-rate (now 1e-07)" in found["PLATEAU"].fix


def test_extreme_imbalance_without_rebalancing_collapses_onto_the_majority():
  weights = (97, 2, 1)
  train = _data(600, 1, weights=weights)
  validation = _data(400, 2, weights=(60, 25, 15))
  _, found = _train(train, validation, epochs=3, learning_rate=0.003)
  assert "MAJORITY_COLLAPSE" in found, sorted(found)
  assert "--class-weights" in found["MAJORITY_COLLAPSE"].fix


def test_a_tiny_train_split_and_many_epochs_overfit():
  train = _data(24, 1, shuffle_labels=True)
  _, found = _train(train, _data(300, 2), epochs=80, learning_rate=0.03, hidden_units=(64, 64),
                    patience=80, batch_size=8)
  assert "OVERFITTING" in found, sorted(found)
  assert found["OVERFITTING"].measured >= 1.25


# The flags the fixes name in prose, and every flag a repair sets (training_repairs.FLAGS, from
# which the fixes word their repairs; models/training_repairs_test.py parses each repair's values).
@pytest.mark.parametrize("flag", sorted({"--learning-rate", "--batch-size", "--hidden-units",
                                         "--clip-norm", "--epochs", "--class-weights",
                                         "--rebalance"} | set(training_repairs.FLAGS)))
def test_every_flag_a_training_fix_names_parses(flag):
  from trainguard import cli  # pylint: disable=g-import-not-at-top
  values = {"--learning-rate": ["0.001"], "--batch-size": ["64"], "--hidden-units": ["32,16"],
            "--clip-norm": ["1.0"], "--epochs": ["5"], "--class-weights": [],
            "--rebalance": ["auto"]}
  args = cli.build_parser().parse_args(["run", "x.csv", "--label", "y", flag, *values[flag]])
  options = cli.run_options_of(args)
  assert options.hidden_units == ((32, 16) if flag == "--hidden-units" else (16, 8))
