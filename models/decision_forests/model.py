"""The Trainer's `run_fn` for `--model gradient_boosted_trees`: TensorFlow Decision Forests'
GradientBoostedTreesModel on the same transformed features as the Keras network.

Why a second model family: on real tabular data tried as a user would, gradient-boosted trees beat
the default network (vega cars macro F1 0.81 vs 0.76; ISLP Caravan minority PR-AUC 0.16 vs 0.11),
and the training diagnosis says so when it happens (`BASELINE_GAP`). TFDF, not scikit-learn,
because the trees then live in a TensorFlow SavedModel: the serving signature is the Keras model's
(raw serialized tf.Examples through the Transform graph fitted on train; `probabilities`,
`class_ids`, `classes`, or a regression's `predictions` in label units), so the same Evaluator
blesses it and the same Pusher pushes it. Loading the SavedModel needs TFDF's ops registered
(`import tensorflow_decision_forests`): TFMA imports it itself when it is installed
(tensorflow_model_analysis/utils/model_util.py), in the Evaluator and its Beam workers alike; a
stock TensorFlow Serving binary does not have them (TFDF's docs list the builds that do).

Differences from the network, and why:
- Category and bucket ids (int64 inputs) are CATEGORICAL features, not one-hot vectors: trees
  split on sets of categories directly. Floats are NUMERICAL as Transform left them (trees do not
  care about scale, so an unscaled feature costs nothing here).
- Imbalance: class weights (scikit-learn's "balanced" rule, `trainer_run.class_weights`) on train
  and validation rows instead of Rebalance's resampling (create_pipeline turns the policy's `auto`
  into that for this run_fn): interpolated SMOTE rows are points trees split on, weights are not.
- Early stopping: TFDF's own, on the validation split (never eval), as the network's.
- The training diagnosis has no gradients, units or epochs to look at: the record holds the
  validation log loss, per-class recall and predicted shares of the exported trees, so
  NOT_LEARNING and MAJORITY_COLLAPSE are judged as for the network; `history.json` holds TFDF's
  validation loss (and accuracy or RMSE) per tree count, which the report draws as its curves.
"""
import math
import tempfile
from typing import Any, Dict, List, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_decision_forests as tfdf
from tfx.components.trainer.fn_args_utils import FnArgs

from trainguard.components.data_guard import findings as findings_lib
from trainguard.models import trainer_run, training_diagnosis
from trainguard.models.decision_forests import native_output
from trainguard.models.keras_model import regression
from trainguard.pipeline import configs

MODEL = configs.GRADIENT_BOOSTED_TREES
NUM_TREES = configs.NUM_TREES  # `--num-trees`'s default, TFDF's; early stopping usually keeps fewer
READ_BATCH_SIZE = 1024   # TFDF reads the whole split once; the batch size only sets the read step
MAX_DIAGNOSIS_ROWS = 20_000  # validation rows the diagnosis predicts (baseline_model's bound)


def run_fn(fn_args: FnArgs) -> None:
  config = fn_args.custom_config
  seed = config["seed"]
  tf.random.set_seed(seed)
  np.random.seed(seed)
  run = trainer_run.start(fn_args)
  tf_transform_output = run.tf_transform_output
  is_regression, classes = run.is_regression, run.classes
  names = input_features(tf_transform_output, run.label, exclude=run.dropped)
  train, validation = run.datasets(READ_BATCH_SIZE, keep=names, shuffle_train=False)
  weights = run.class_weights(train)
  if weights is not None:
    train, fit_validation = with_weights(train, weights), with_weights(validation, weights)
  else:
    fit_validation = validation

  # TFDF's training files in `workspace`; YDF's C++ output into the run's log (native_output).
  with tempfile.TemporaryDirectory(prefix="tfdf-") as workspace, native_output.to_python_streams():
    model = build_model(tf_transform_output, names, is_regression, seed, workspace,
                        num_trees=int(config.get("num_trees") or NUM_TREES))
    model.fit(train, validation_data=fit_validation, verbose=0)
    inspector = model.make_inspector()
    history = tree_history(inspector.training_logs(), is_regression)
    trainer_run.write_history(history, fn_args.model_run_dir)

    x_val, y_val = _rows(validation, MAX_DIAGNOSIS_ROWS)
    outputs = model.predict(x_val, verbose=0, batch_size=READ_BATCH_SIZE) if len(y_val) else None
    width = int(outputs.shape[-1]) if outputs is not None else (1 if len(classes) == 2
                                                               else len(classes))
    record = {"model": MODEL, "settings": {"model": MODEL, "num_trees": inspector.num_trees(),
                                           "class_weights": bool(weights)},
              "importances": _importances(inspector)}
    if outputs is not None:
      predicted = (outputs.reshape(-1) if is_regression
                   else np.asarray(class_probabilities(outputs, width, len(classes))))
      record.update(tree_record(predicted, y_val, classes, _train_labels(train, is_regression)))
    report = _diagnose(record, run)

    if is_regression:
      scale = regression.TargetScale(0.0, 1.0, (config.get("regression") or {}).get(
          "label_transform", "none"))
      signatures = regression_signatures(model, tf_transform_output, config["label_key"], names,
                                         scale)
    else:
      signatures = classifier_signatures(model, tf_transform_output, config["label_key"], classes,
                                         names, width)
    model.save(fn_args.serving_model_dir, save_format="tf", signatures=signatures)
  trainer_run.write_model_findings(report, fn_args.serving_model_dir)


def input_features(tf_transform_output, label: str, exclude: Sequence[str] = ()) -> List[str]:
  """Every transformed feature but the label and `exclude` (what the summary marks dropped)."""
  names = sorted(set(tf_transform_output.transformed_feature_spec()) - {label} - set(exclude))
  if not names:
    raise ValueError(
        "no feature is left to train on: every transformed feature was excluded by the policy or "
        "dropped for having no variation in the train split (see transform_summary.json).")
  return names


def build_model(tf_transform_output, names: Sequence[str], is_regression: bool, seed: int,
                workspace: str, num_trees: int = NUM_TREES) -> tfdf.keras.GradientBoostedTreesModel:
  """Gradient-boosted trees on `names`: int64 features (category and bucket ids) categorical,
  floats numerical; TFDF's defaults otherwise (300 trees, depth 6, shrinkage 0.1)."""
  spec = tf_transform_output.transformed_feature_spec()
  semantic = tfdf.keras.FeatureSemantic
  usages = [tfdf.keras.FeatureUsage(name, semantic=(semantic.CATEGORICAL
                                                    if spec[name].dtype == tf.int64
                                                    else semantic.NUMERICAL))
            for name in names]
  return tfdf.keras.GradientBoostedTreesModel(
      task=tfdf.keras.Task.REGRESSION if is_regression else tfdf.keras.Task.CLASSIFICATION,
      features=usages, exclude_non_specified_features=True, num_trees=num_trees,
      random_seed=seed, temp_directory=workspace, verbose=0)


def with_weights(dataset: tf.data.Dataset, weights: Dict[int, float]) -> tf.data.Dataset:
  """(x, y) batches as (x, y, w), w each row's class weight: how TFDF takes sample weights."""
  table = tf.constant([weights[i] for i in range(len(weights))], tf.float32)
  return dataset.map(lambda x, y: (x, y, tf.gather(table, tf.reshape(y, [-1]))))


def class_probabilities(outputs, width: int, num_classes: int):
  """TFDF's classifier outputs as `[batch, num_classes]` probabilities: a binary model returns
  P(class 1) alone, and a model whose train split lacked the highest class ids has fewer
  columns (TFDF counts classes from the labels it saw; the Evaluator binarizes every class id)."""
  if width == 1:
    outputs = tf.concat([1.0 - outputs, outputs], axis=1)
    width = 2
  if width < num_classes:
    outputs = tf.pad(outputs, [[0, 0], [0, num_classes - width]])
  return outputs


def classifier_signatures(model, tf_transform_output, label_key: str, classes: List[str],
                          names: Sequence[str], width: int) -> Dict[str, Any]:
  """The Keras classifier's two signatures (`keras_model._signatures`) over the trees."""
  model.tft_layer = tf_transform_output.transform_features_layer()
  model.tft_layer_eval = tf_transform_output.transform_features_layer()
  class_names = tf.constant(classes)

  @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
  def serve_tf_examples(serialized_examples):
    transformed = _transform(model.tft_layer, tf_transform_output, label_key, serialized_examples)
    probabilities = class_probabilities(model({k: transformed[k] for k in names}), width,
                                        len(classes))
    class_ids = tf.argmax(probabilities, axis=1)
    return {"probabilities": probabilities, "class_ids": class_ids,
            "classes": tf.gather(class_names, class_ids)}

  @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
  def transform_features(serialized_examples):
    raw_features = tf.io.parse_example(serialized_examples, tf_transform_output.raw_feature_spec())
    return model.tft_layer_eval(raw_features)

  return {"serving_default": serve_tf_examples.get_concrete_function(),
          "transform_features": transform_features.get_concrete_function()}


def regression_signatures(model, tf_transform_output, label_key: str, names: Sequence[str],
                          scale: regression.TargetScale) -> Dict[str, Any]:
  """`serving_default` → {"predictions": [batch, 1]} in label units, as `regression.signatures`
  (the trees fit the transformed label itself, so only `label_transform: log` is undone)."""
  model.tft_layer = tf_transform_output.transform_features_layer()

  @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
  def serve_tf_examples(serialized_examples):
    transformed = _transform(model.tft_layer, tf_transform_output, label_key, serialized_examples)
    predicted = tf.reshape(model({k: transformed[k] for k in names}), [-1, 1])
    return {regression.PREDICTIONS: scale.to_label_units(predicted)}

  return {"serving_default": serve_tf_examples.get_concrete_function()}


def _transform(layer, tf_transform_output, label_key: str, serialized_examples):
  raw_feature_spec = dict(tf_transform_output.raw_feature_spec())
  raw_feature_spec.pop(label_key, None)
  return layer(tf.io.parse_example(serialized_examples, raw_feature_spec))


def tree_history(logs, is_regression: bool) -> Dict[str, List[float]]:
  """TFDF's training logs as a Keras-like history: one entry per logged tree count, validation
  metrics only (TFDF logs no train loss per tree)."""
  history: Dict[str, List[float]] = {"val_loss": [],
                                     "val_rmse" if is_regression else "val_accuracy": []}
  for log in logs:
    evaluation = log.evaluation
    if evaluation is None or evaluation.loss is None:
      continue
    history["val_loss"].append(float(evaluation.loss))
    other = evaluation.rmse if is_regression else evaluation.accuracy
    key = "val_rmse" if is_regression else "val_accuracy"
    history[key].append(float(other) if other is not None else float("nan"))
  return {k: v for k, v in history.items() if v}


def tree_record(predicted: np.ndarray, labels: np.ndarray, classes: List[str],
                train_labels: np.ndarray) -> Dict[str, Any]:
  """The part of a TrainingMonitor record that `training_diagnosis` can judge for trees: one
  "epoch" (the exported trees) with the validation loss and, for classes, recall per class; the
  prior's loss (class shares, or the train mean for a regression) and the predicted shares."""
  if not classes:
    loss = float(np.mean((predicted - labels) ** 2))
    prior = float(np.mean((labels - np.mean(train_labels)) ** 2)) if len(train_labels) else None
    return {"task": "regression", "classes": [], "non_finite": None,
            "validation_rows": int(len(labels)), "baseline_loss": prior,
            "epochs": [{"epoch": 1, "val_loss": loss}]}
  labels = labels.astype(np.int64)
  picked = np.clip(predicted[np.arange(len(labels)), np.clip(labels, 0, len(classes) - 1)],
                   1e-7, 1.0)
  ids = predicted.argmax(axis=1)
  share = np.bincount(labels, minlength=len(classes))[:len(classes)] / max(len(labels), 1)
  recall = {name: (float((ids[labels == i] == i).mean()) if (labels == i).any() else None)
            for i, name in enumerate(classes)}
  return {"task": "classification", "classes": classes, "non_finite": None,
          "validation_rows": int(len(labels)),
          "validation_class_share": {name: float(share[i]) for i, name in enumerate(classes)},
          "baseline_loss": float(-sum(s * math.log(s) for s in share if s > 0)),
          "epochs": [{"epoch": 1, "val_loss": float(-np.log(picked).mean()), "val_recall": recall}],
          "final": {"val_recall": recall,
                    "val_predicted_share": {name: float((ids == i).mean())
                                            for i, name in enumerate(classes)}}}


def _rows(dataset: tf.data.Dataset, limit: int):
  """Up to `limit` rows of (x, y) batches as one dict of arrays and the labels, flattened."""
  xs: Dict[str, List[np.ndarray]] = {}
  ys: List[np.ndarray] = []
  taken = 0
  for batch in dataset:
    x, y = batch[0], batch[1]
    for name, value in x.items():
      xs.setdefault(name, []).append(value.numpy())
    ys.append(y.numpy().reshape(-1))
    taken += len(ys[-1])
    if taken >= limit:
      break
  if not ys:
    return {}, np.zeros(0)
  return ({k: np.concatenate(v)[:limit] for k, v in xs.items()},
          np.concatenate(ys)[:limit])


def _train_labels(dataset: tf.data.Dataset, is_regression: bool) -> np.ndarray:
  if not is_regression:
    return np.zeros(0)
  return np.concatenate([batch[1].numpy().reshape(-1) for batch in dataset] or [np.zeros(0)])


def _importances(inspector) -> Dict[str, float]:
  """Each feature's SUM_SCORE (loss reduction summed over its splits): what the trees lean on."""
  scores = inspector.variable_importances().get("SUM_SCORE") or []
  return {feature.name: float(score) for feature, score in scores}


def _diagnose(record: Dict[str, Any], run: trainer_run.TrainerRun) -> findings_lib.FindingsReport:
  """The training diagnosis of the trees (`training_diagnosis.diagnose` on `tree_record`),
  written next to history.json and logged; the Evaluator withholds the blessing on a blocking
  finding, as for the network."""
  policy = run.policy()
  found = training_diagnosis.diagnose(record, policy, run.summary) if record.get("epochs") else []
  report = findings_lib.FindingsReport(found, policy.source)
  trainer_run.write_diagnosis(record, report, run.fn_args.model_run_dir)
  return report
