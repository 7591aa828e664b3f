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
without the CLI brings, are left out of every batch (`labelled_rows`). After training, a regression
writes `regression_predictions.json` (a seeded sample of eval predictions, for the report's charts
only).
"""
import json
import logging
import math
import os
from typing import Any, Collection, Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from tfx.components.trainer.fn_args_utils import FnArgs
from tfx_bsl.public import tfxio

from trainguard import artifacts
from trainguard import errors
from trainguard.components.data_guard import findings as findings_lib
from trainguard.models import (autograph_rules, baseline_model, features, preprocessing_summary,
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
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
  label = features.transformed_name(config["label_key"])

  # Written before training, so a run that diverges still shows what the inputs were.
  # The Transform custom_config (the plan) names the treatments; without it the summary has the
  # same numbers under neutral names (see preprocessing_summary).
  plan = config.get("transform_config") or {"label_key": config["label_key"],
                                             "label_classes": config["label_classes"]}
  summary = preprocessing_summary.summarize(tf_transform_output, transform_config=plan)
  preprocessing_summary.write(summary, fn_args.model_run_dir)
  for warning in summary["warnings"]:
    logging.warning("transform summary: %s", warning)
  dropped = {features.transformed_name(name) for name in summary["dropped"]}

  hidden_units = tuple(config.get("hidden_units") or HIDDEN_UNITS)
  settings = config.get("regression") or {}
  is_regression = config.get("task") == "regression"
  num_classes = 0 if is_regression else len(config["label_classes"])
  model = build_model(tf_transform_output, label, num_classes,
                      config["learning_rate"], exclude=dropped, hidden_units=hidden_units,
                      clip_norm=config.get("clip_norm"), loss=settings.get("loss", "mse"))
  train_dataset = _dataset(fn_args.train_files, fn_args.data_accessor, tf_transform_output, label,
                           config["batch_size"], seed=config["seed"], shuffle=True,
                           keep=model.input_names)
  eval_dataset = _dataset(fn_args.eval_files, fn_args.data_accessor, tf_transform_output, label,
                          config["batch_size"], seed=config["seed"], shuffle=False,
                          keep=model.input_names)
  scale = None
  if is_regression:
    scale = regression.target_scale(train_dataset, settings.get("label_transform", "none"))
    logging.info("regression target: mean %.6g, std %.6g (standardised for training)",
                 scale.mean, scale.std)
    train_dataset = train_dataset.map(lambda x, y: (x, scale.to_model(y)))
    eval_dataset = eval_dataset.map(lambda x, y: (x, scale.to_model(y)))
  weights = None
  if config.get("class_weights") and not is_regression:
    weights = class_weights(train_dataset, len(config["label_classes"]))
    logging.info("class weights: %s", weights)
  # fn_args.eval_files is the validation split (the pipeline's EvalArgs): early stopping and the
  # diagnosis never read the eval rows the Evaluator blesses on.
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
  _write_history(history.history, fn_args.model_run_dir)
  monitor.record["settings"] = {
      "learning_rate": config["learning_rate"], "batch_size": config["batch_size"],
      "epochs": config["epochs"], "hidden_units": ",".join(map(str, hidden_units)),
      "clip_norm": config.get("clip_norm"), "class_weights": bool(config.get("class_weights"))}
  report = _diagnose(monitor, train_dataset, summary, config, fn_args.model_run_dir)
  _check_converged(history.history, report)

  if is_regression:
    _write_prediction_sample(model, fn_args, tf_transform_output, label, scale, config)
    signatures = regression.signatures(model, tf_transform_output, config["label_key"], scale)
  else:
    signatures = _signatures(model, tf_transform_output, config["label_key"],
                             config["label_classes"])
  model.save(fn_args.serving_model_dir, save_format="tf", signatures=signatures)
  # The verdict travels with the model: the Evaluator withholds the blessing on a blocking finding
  # (components/evaluator); serving ignores assets.extra/.
  extra = os.path.join(fn_args.serving_model_dir, "assets.extra")
  tf.io.gfile.makedirs(extra)
  with tf.io.gfile.GFile(os.path.join(extra, TRAINING_FINDINGS_FILE), "w") as f:
    f.write(report.to_json() + "\n")


def class_weights(dataset: tf.data.Dataset, num_classes: int) -> Dict[int, float]:
  """Weights that make every class weigh the same in the loss: rows / (classes × rows of the class),
  scikit-learn's "balanced" rule, from one pass over the train split's labels. For users who prefer
  reweighting to Rebalance's resampling (`--class-weights`, usually with `--rebalance none`)."""
  counts = np.zeros(num_classes)
  for _, labels in dataset:
    ids = labels.numpy().reshape(-1)
    counts += np.bincount(ids[(ids >= 0) & (ids < num_classes)], minlength=num_classes)
  present = counts > 0
  total = counts.sum()
  return {i: float(total / (present.sum() * counts[i])) if counts[i] else 0.0
          for i in range(num_classes)}


def _dataset(file_pattern: List[str], data_accessor, tf_transform_output, label: str,
             batch_size: int, seed: int, shuffle: bool, keep: Collection[str]) -> tf.data.Dataset:
  dataset = data_accessor.tf_dataset_factory(
      file_pattern,
      tfxio.TensorFlowDatasetOptions(
          batch_size=batch_size, label_key=label, num_epochs=1, shuffle=shuffle,
          shuffle_seed=seed),
      tf_transform_output.transformed_metadata.schema)
  keep = set(keep)
  dataset = dataset.map(lambda x, y: labelled_rows({k: v for k, v in x.items() if k in keep}, y))
  return dataset.filter(lambda x, y: tf.shape(y)[0] > 0)  # a batch of unlabelled rows: none left


def labelled_rows(x: Dict[str, tf.Tensor], y: tf.Tensor):
  """A batch without its rows that have no label: NaN for a regression label, a class id below 0
  for classes (Transform's `label_values` / `label_ids` where the label is absent or empty).

  Why here: a pipeline built without the CLI (which drops such rows before ExampleGen) brings
  them, and DataGuard lets up to the CLI's 20% through (LABEL_MISSING_ROWS_DROPPED); one NaN
  target made the loss NaN, a class id -1 is no class. Training, validation (early stopping, the
  diagnosis) and the regression prediction sample all read batches through this."""
  flat = tf.reshape(y, [tf.shape(y)[0], -1])[:, 0]
  keep = (tf.math.is_finite(flat) if y.dtype.is_floating else flat >= 0)
  return {k: tf.boolean_mask(v, keep) for k, v in x.items()}, tf.boolean_mask(y, keep)


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
              summary: Dict[str, Any], config: Dict[str, Any],
              model_run_dir: str) -> findings_lib.FindingsReport:
  """`diagnose_training` with the run's policy, written next to history.json (the record and the
  findings) and logged."""
  policy = Policy.from_json(config["policy"]) if config.get("policy") else Policy.from_dict({})
  report = diagnose_training(monitor, train_dataset, policy, summary, config["seed"])
  tf.io.gfile.makedirs(model_run_dir)
  monitor.write(os.path.join(model_run_dir, TRAINING_RECORD_FILE))
  with tf.io.gfile.GFile(os.path.join(model_run_dir, TRAINING_FINDINGS_FILE), "w") as f:
    f.write(report.to_json() + "\n")
  for finding in report.findings:
    logging.warning("training diagnosis: %s: %s", finding.severity.upper(), finding.line())
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
  dataset = _dataset(patterns, fn_args.data_accessor, tf_transform_output, label,
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


def _write_history(history: Dict[str, List[float]], model_run_dir: str) -> None:
  tf.io.gfile.makedirs(model_run_dir)
  with tf.io.gfile.GFile(os.path.join(model_run_dir, HISTORY_FILE), "w") as f:
    json.dump({k: [float(v) for v in values] for k, values in history.items()}, f, indent=1)


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
