"""The regression half of the Trainer: a standardised target, a linear head, and a serving signature
that answers in the label's units.

Why the target is standardised here and not in Transform: an unscaled target (prices in the
hundreds of thousands, durations in seconds) gives MSE gradients of that size, the same failure as
an unscaled feature; dividing by the train rows' spread makes the loss of predicting the mean 1.0
whatever the units, so one learning rate fits every data set. Mean and spread come from the train
split the model fits (one pass over its labels), and the serving signature multiplies back, then
undoes the policy's `regression.label_transform: log` (log1p in Transform) with expm1, so the pushed
model returns values in the label's own units and TFMA scores them against the raw label.
"""
import dataclasses
import json
import math
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf
import tf_keras as keras

from trainguard.models.keras_model import serving

PREDICTIONS = "predictions"
HUBER_DELTA = 1.0  # in standard deviations of the target
PREDICTION_SAMPLE_ROWS = 2000  # rows of regression_predictions.json at most


@dataclasses.dataclass(frozen=True)
class TargetScale:
  """How the Trainer standardised the target: y_model = (y - mean) / std."""
  mean: float
  std: float
  label_transform: str = "none"

  def to_model(self, y: tf.Tensor) -> tf.Tensor:
    return (tf.cast(y, tf.float32) - self.mean) / self.std

  def to_label_units(self, y: tf.Tensor) -> tf.Tensor:
    y = y * self.std + self.mean
    return tf.math.expm1(y) if self.label_transform == "log" else y


def target_scale(dataset: tf.data.Dataset, label_transform: str = "none") -> TargetScale:
  """Mean and standard deviation of the train labels (finite ones), in one pass."""
  count, total, squares = 0, 0.0, 0.0
  for _, y in dataset:
    values = y.numpy().astype(np.float64).reshape(-1)
    values = values[np.isfinite(values)]
    count += len(values)
    total += float(values.sum())
    squares += float((values ** 2).sum())
  if not count:
    raise ValueError("the train split has no finite label value to fit a regression on.")
  mean = total / count
  std = math.sqrt(max(squares / count - mean ** 2, 0.0))
  return TargetScale(mean, std if std > 0 else 1.0, label_transform)


def regressor(inputs: Dict[str, Any], encoded: List[Any], learning_rate: float,
              hidden_units: Sequence[int], clip_norm: Optional[float] = None,
              loss: str = "mse") -> keras.Model:
  """The network on encoded inputs: ReLU layers of `hidden_units`, one linear output (the target
  in standard deviations), Adam on MSE or Huber (policy `regression.loss`)."""
  x = keras.layers.concatenate(encoded) if len(encoded) > 1 else encoded[0]
  for units in hidden_units:
    x = keras.layers.Dense(units, activation="relu")(x)
  outputs = keras.layers.Dense(1, name=PREDICTIONS)(x)
  model = keras.Model(inputs=inputs, outputs=outputs)
  model.compile(
      optimizer=keras.optimizers.Adam(learning_rate,
                                      **({"clipnorm": clip_norm} if clip_norm else {})),
      loss=(keras.losses.Huber(delta=HUBER_DELTA) if loss == "huber"
            else keras.losses.MeanSquaredError()),
      metrics=[keras.metrics.MeanAbsoluteError(name="mae")])
  return model


def signatures(model: keras.Model, tf_transform_output, label_key: str,
               scale: TargetScale) -> Dict[str, Any]:
  """`serving_default`: raw serialized tf.Examples → {"predictions": [batch, 1]} in label units."""
  model.tft_layer = tf_transform_output.transform_features_layer()

  @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
  def serve_tf_examples(serialized_examples):
    predicted = serving.model_outputs(model, model.tft_layer, tf_transform_output, label_key,
                                      serialized_examples)
    return {PREDICTIONS: scale.to_label_units(predicted)}

  return {"serving_default": serve_tf_examples.get_concrete_function()}


def prediction_sample(model: keras.Model, dataset: tf.data.Dataset, scale: TargetScale,
                      seed: int, limit: int = PREDICTION_SAMPLE_ROWS) -> Dict[str, Any]:
  """A seeded uniform sample of at most `limit` rows of `dataset` (the Transform eval split), as
  `{"actual": [...], "predicted": [...], "rows_total": n, "rows_sampled": m}` in the label's units.

  For the report's residual and predicted-vs-actual charts only: the Trainer writes it after the
  model is chosen, and nothing selects, stops or tunes on it (early stopping and the diagnosis
  read the validation split). Rows without a finite label are left out, as in training. One pass
  in bounded memory: each row gets a seeded random key and the `limit` smallest keys are kept
  (a uniform sample without replacement, the same rows for the same seed and data).
  """
  rng = np.random.default_rng(seed)
  keys, actual, predicted = np.empty(0), np.empty(0), np.empty(0)
  total = 0
  for x, y in dataset:
    label = y.numpy().astype(np.float64).reshape(-1)
    finite = np.isfinite(label)
    if not finite.any():
      continue
    guess = scale.to_label_units(model(x, training=False)).numpy().astype(np.float64).reshape(-1)
    label = np.expm1(label) if scale.label_transform == "log" else label
    total += int(finite.sum())
    keys = np.concatenate([keys, rng.random(int(finite.sum()))])
    actual = np.concatenate([actual, label[finite]])
    predicted = np.concatenate([predicted, guess[finite]])
    if len(keys) > limit:
      kept = np.argpartition(keys, limit)[:limit]
      keys, actual, predicted = keys[kept], actual[kept], predicted[kept]
  order = np.argsort(keys, kind="stable")
  return {"actual": [float(v) for v in actual[order]],
          "predicted": [float(v) for v in predicted[order]],
          "rows_total": total, "rows_sampled": int(len(order))}


def write_prediction_sample(sample: Dict[str, Any], path: str) -> None:
  with tf.io.gfile.GFile(path, "w") as f:
    json.dump(sample, f)
