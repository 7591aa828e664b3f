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
import math
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf
import tf_keras as keras

from trainguard.models.keras_model import serving

PREDICTIONS = "predictions"
HUBER_DELTA = 1.0  # in standard deviations of the target


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
