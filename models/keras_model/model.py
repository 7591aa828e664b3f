"""The Trainer's `run_fn`: a Keras classifier built from the Transform output, not a feature list.

Why `tf_keras`: TensorFlow 2.16's `tf.keras` is Keras 3, while tf.Transform's
`TransformFeaturesLayer` is a Keras 2 layer; mixing them fails when the serving graph is saved.

The exported SavedModel takes raw serialized `tf.Example`s (`serving_default`), runs the same
Transform graph that was fitted on the train split (so missing values are imputed exactly as in
training) and returns class probabilities with the class names from the schema. A second signature,
`transform_features`, lets TFMA compute the transformed label from raw eval examples.

Before training, what Transform learned (imputed values, scaling parameters, bucket boundaries,
vocabularies) is written to `transform_summary.json` in the model run directory, next to
`history.json`. Features that summary marks `dropped` (no variation in the train split) are left out
of the model, with a warning. Rows without a label (NaN target, class id -1), which a pipeline built
without the CLI brings, are left out of every batch (`trainer_run.labelled_rows`). After training, a regression
writes `regression_predictions.json` (a seeded sample of eval predictions, for the report's charts
only).
"""
import logging
import math
import os
from typing import Any, Collection, Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf
import tf_keras as keras
from tfx.components.trainer.fn_args_utils import FnArgs

from trainguard import artifacts
from trainguard import errors
from trainguard.components.data_guard import findings as findings_lib
from trainguard.models import (autograph_rules, baseline_model, features, trainer_run,
                               training_diagnosis, training_monitor)
from trainguard.models.keras_model import regression, serving
from trainguard.policy import Policy

autograph_rules.skip_library_conversion()  # before Keras traces its train and test steps

HISTORY_FILE = artifacts.HISTORY_FILE
TRANSFORM_SUMMARY_FILE = artifacts.TRANSFORM_SUMMARY_FILE
TRAINING_RECORD_FILE = artifacts.TRAINING_RECORD_FILE
TRAINING_FINDINGS_FILE = artifacts.TRAINING_FINDINGS_FILE
REGRESSION_PREDICTIONS_FILE = artifacts.REGRESSION_PREDICTIONS_FILE
EVAL_SPLIT = "eval"  # configs.EVAL_SPLIT: the split the Evaluator blesses on
HIDDEN_UNITS = (16, 8)  # configs.HIDDEN_UNITS: a run_fn reused elsewhere gets the same default


class TrainingDivergedError(errors.DataError):
  """The loss became NaN or infinite: the model would predict garbage, so nothing is exported."""

  context = "training diverged"
  # The LOSS_NOT_FINITE finding, when the diagnosis made one: `trainguard run --repair` reads its
  # repair from here, as a diverged run exports no model and no findings artifact.
  finding = None


def run_fn(fn_args: FnArgs) -> None:
  config = fn_args.custom_config
  # Same seed, same model: seeded Python/NumPy/TF generators, and kernels that do not pick a
  # reduction order at run time (tests/reliability_e2e_test.py compares two runs' metrics).
  keras.utils.set_random_seed(config["seed"])
  tf.config.experimental.enable_op_determinism()
  run = trainer_run.start(fn_args)
  tf_transform_output, label = run.tf_transform_output, run.label

  hidden_units = tuple(config.get("hidden_units") or HIDDEN_UNITS)
  settings = config.get("regression") or {}
  is_regression = run.is_regression
  num_classes = len(run.classes)
  model = build_model(tf_transform_output, label, num_classes,
                      config["learning_rate"], exclude=run.dropped, hidden_units=hidden_units,
                      clip_norm=config.get("clip_norm"), loss=settings.get("loss", "mse"))
  # The validation split (fn_args.eval_files): see TrainerRun.datasets.
  train_dataset, eval_dataset = run.datasets(config["batch_size"], keep=model.input_names,
                                             shuffle_train=True)
  scale = None
  if is_regression:
    scale = regression.target_scale(train_dataset, settings.get("label_transform", "none"))
    logging.info("regression target: mean %.6g, std %.6g (standardised for training)",
                 scale.mean, scale.std)
    train_dataset = train_dataset.map(lambda x, y: (x, scale.to_model(y)))
    eval_dataset = eval_dataset.map(lambda x, y: (x, scale.to_model(y)))
  weights = run.class_weights(train_dataset)
  monitor = training_monitor.TrainingMonitor(
      train_dataset, eval_dataset, num_classes=num_classes,
      class_names=config["label_classes"] if num_classes else None)
  history = model.fit(
      train_dataset,
      validation_data=eval_dataset,
      epochs=config["epochs"],
      class_weight=weights,
      verbose=2,
      callbacks=[
          keras.callbacks.TerminateOnNaN(),
          keras.callbacks.EarlyStopping(
              monitor="val_loss", patience=config["early_stopping_patience"],
              restore_best_weights=True),
          monitor,
      ])
  trainer_run.write_history(history.history, fn_args.model_run_dir)
  monitor.record["settings"] = {
      "learning_rate": config["learning_rate"], "batch_size": config["batch_size"],
      "epochs": config["epochs"], "hidden_units": ",".join(map(str, hidden_units)),
      "clip_norm": config.get("clip_norm"), "class_weights": bool(config.get("class_weights"))}
  report = _diagnose(monitor, train_dataset, run)
  _check_converged(history.history, report)

  if is_regression:
    _write_prediction_sample(model, fn_args, tf_transform_output, label, scale, config)
    signatures = regression.signatures(model, tf_transform_output, config["label_key"], scale)
  else:
    signatures = _signatures(model, tf_transform_output, config["label_key"],
                             config["label_classes"])
  model.save(fn_args.serving_model_dir, save_format="tf", signatures=signatures)
  trainer_run.write_model_findings(report, fn_args.serving_model_dir)



def build_model(tf_transform_output, label: str, num_classes: int, learning_rate: float,
                exclude: Collection[str] = (), hidden_units: Sequence[int] = HIDDEN_UNITS,
                clip_norm: Optional[float] = None, loss: str = "mse") -> keras.Model:
  """One input per transformed feature (except `exclude`): floats as they are, ids one-hot encoded.

  Every int64 feature but the label is a category id or a bucket id; how many ids it takes comes
  from its `int_domain` in the transformed schema (see `features.num_ids`), or for a graph without
  one, from its vocabulary size plus the out-of-vocabulary id.
  """
  feature_spec = dict(tf_transform_output.transformed_feature_spec())
  feature_spec.pop(label)
  schema = tf_transform_output.transformed_metadata.schema
  inputs, encoded = {}, []
  for name in sorted(set(feature_spec) - set(exclude)):
    spec = feature_spec[name]
    inputs[name] = keras.Input(shape=spec.shape or (1,), name=name, dtype=spec.dtype)
    if spec.dtype == tf.int64:
      num_tokens = features.num_ids(schema, name)
      if num_tokens is None:
        num_tokens = tf_transform_output.vocabulary_size_by_name(
            features.vocabulary_name(features.raw_name(name))) + features.NUM_OOV_BUCKETS
      encoded.append(keras.layers.CategoryEncoding(num_tokens=num_tokens, output_mode="one_hot")(
          inputs[name]))
    else:
      encoded.append(inputs[name])
  if not encoded:
    raise ValueError(
        "no feature is left to train on: every transformed feature was excluded by the policy or "
        "dropped for having no variation in the train split (see transform_summary.json).")
  if num_classes == 0:  # a regression (trainguard.task): one linear output, `loss` MSE or Huber
    return regression.regressor(inputs, encoded, learning_rate, hidden_units, clip_norm, loss)
  return classifier(inputs, encoded, num_classes, learning_rate, hidden_units, clip_norm)


def classifier(inputs: Dict[str, Any], encoded: List[Any], num_classes: int, learning_rate: float,
               hidden_units: Sequence[int] = HIDDEN_UNITS,
               clip_norm: Optional[float] = None) -> keras.Model:
  """The network on encoded inputs: ReLU layers of `hidden_units`, a softmax over the classes,
  Adam on sparse categorical cross-entropy (gradients clipped to `clip_norm` when given)."""
  x = keras.layers.concatenate(encoded) if len(encoded) > 1 else encoded[0]
  for units in hidden_units:
    x = keras.layers.Dense(units, activation="relu")(x)
  outputs = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
  model = keras.Model(inputs=inputs, outputs=outputs)
  model.compile(
      optimizer=keras.optimizers.Adam(learning_rate, **({"clipnorm": clip_norm} if clip_norm else {})),
      loss=keras.losses.SparseCategoricalCrossentropy(),
      metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
  return model


def diagnose_training(monitor: training_monitor.TrainingMonitor, train_dataset: tf.data.Dataset,
                      policy: Policy, summary: Optional[Dict[str, Any]] = None,
                      seed: int = 0) -> findings_lib.FindingsReport:
  """The training diagnosis of the model as training left it (early stopping's best weights):
  its validation predictions and, when the loss stayed finite, the gradient-boosted baseline on the
  same features, added to the monitor's record, then judged (`training_diagnosis`)."""
  baseline = None
  sample = monitor.validation_sample()
  if monitor.record["non_finite"] is None and sample is not None:
    regression = monitor.record["task"] == "regression"
    predicted = monitor.predict_validation()
    if not regression:
      monitor.record["final"] = monitor.validation_summary(predicted)
    names = sorted(sample[0])
    integer = [sample[0][n].dtype.kind in "iu" for n in names
               for _ in range(int(np.prod(sample[0][n].shape[1:]) or 1))]
    train = baseline_model.table(((x, y.numpy()) for x, y in train_dataset), names)
    validation = baseline_model.table([(sample[0], sample[1])], names)
    baseline = (baseline_model.compare_regression(train, validation, predicted, integer, seed)
                if regression else
                baseline_model.compare(train, validation, predicted,
                                       len(monitor.record["classes"]), integer, seed))
    monitor.record["baseline"] = baseline
  found = training_diagnosis.diagnose(monitor.record, policy, summary, baseline)
  return findings_lib.FindingsReport(found, policy.source)


def _diagnose(monitor: training_monitor.TrainingMonitor, train_dataset: tf.data.Dataset,
              run: trainer_run.TrainerRun) -> findings_lib.FindingsReport:
  """`diagnose_training` with the run's policy, written next to history.json (the record and the
  findings, `trainer_run.write_diagnosis`) and logged."""
  report = diagnose_training(monitor, train_dataset, run.policy(), run.summary, run.config["seed"])
  trainer_run.write_diagnosis(monitor.record, report, run.fn_args.model_run_dir, sort_keys=True)
  return report


def _check_converged(history: Dict[str, List[float]],
                     report: Optional[findings_lib.FindingsReport] = None) -> None:
  losses = history.get("loss", [])
  if not losses or all(math.isfinite(v) for v in losses):
    return
  epoch = next(i for i, v in enumerate(losses) if not math.isfinite(v)) + 1
  diagnosis = next((f for f in (report.findings if report else []) if f.kind == "LOSS_NOT_FINITE"),
                   None)
  if diagnosis is not None:
    error = TrainingDivergedError(f"{diagnosis.found}; no model was exported. Fix: {diagnosis.fix}")
    error.finding = diagnosis
    raise error
  raise TrainingDivergedError(
      f"training loss became {losses[epoch - 1]} at epoch {epoch}; no model was exported. Likely "
      "causes: a feature left unscaled (scaling 'none' in policy.yaml on a large-valued column), a "
      "column that is missing on every train row, or a learning rate too high (lower "
      "--learning-rate).")


def _write_prediction_sample(model: keras.Model, fn_args: FnArgs, tf_transform_output,
                             label: str, scale: regression.TargetScale,
                             config: Dict[str, Any]) -> None:
  """`regression_predictions.json` in the model run directory: a seeded sample of the Transform
  eval split's predictions in label units, for the report's charts (`regression.
  prediction_sample`; nothing selects or tunes on it). The eval split sits beside the train split
  the Trainer read (`Split-train` → `Split-eval`); without one, nothing is written."""
  patterns = [_sibling_split(p, EVAL_SPLIT) for p in fn_args.train_files]
  if not all(patterns) or not all(tf.io.gfile.glob(p) for p in patterns):
    logging.info("no %s split beside the train split: %s not written", EVAL_SPLIT,
                 REGRESSION_PREDICTIONS_FILE)
    return
  dataset = trainer_run.dataset(patterns, fn_args.data_accessor, tf_transform_output, label,
                     PREDICTION_BATCH_SIZE, seed=config["seed"], shuffle=False,
                     keep=model.input_names)
  sample = regression.prediction_sample(model, dataset, scale, config["seed"])
  tf.io.gfile.makedirs(fn_args.model_run_dir)
  regression.write_prediction_sample(
      sample, os.path.join(fn_args.model_run_dir, REGRESSION_PREDICTIONS_FILE))


PREDICTION_BATCH_SIZE = 1024  # rows a prediction batch; only the forward pass runs


def _sibling_split(pattern: str, split: str) -> Optional[str]:
  """`.../Split-train/*` as `.../Split-<split>/*`; None when the pattern names no split folder."""
  parts = pattern.split("/")
  found = [i for i, part in enumerate(parts) if part.startswith("Split-")]
  if not found:
    return None
  parts[found[-1]] = f"Split-{split}"
  return "/".join(parts)


def _signatures(model: keras.Model, tf_transform_output, label_key: str,
                label_classes: List[str]) -> Dict[str, Any]:
  # Two layers: the serving graph sees no label, the TFMA graph does; a Keras layer keeps one
  # input structure per instance.
  model.tft_layer = tf_transform_output.transform_features_layer()
  model.tft_layer_eval = tf_transform_output.transform_features_layer()
  classes = tf.constant(list(label_classes))

  @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
  def serve_tf_examples(serialized_examples):
    probabilities = serving.model_outputs(model, model.tft_layer, tf_transform_output, label_key,
                                          serialized_examples)
    class_ids = tf.argmax(probabilities, axis=1)
    return {
        "probabilities": probabilities,
        "class_ids": class_ids,
        "classes": tf.gather(classes, class_ids),
    }

  @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
  def transform_features(serialized_examples):
    raw_features = tf.io.parse_example(serialized_examples, tf_transform_output.raw_feature_spec())
    return model.tft_layer_eval(raw_features)

  return {
      "serving_default": serve_tf_examples.get_concrete_function(),
      "transform_features": transform_features.get_concrete_function(),
  }
