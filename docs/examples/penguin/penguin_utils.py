"""The model code of the adapted TFX penguin example (docs/adopting.md): a user's own, not ours.

As TFX 1.16's `penguin_utils_keras.py`: four numeric features z-scored by tf.Transform, the label
an integer class id (0, 1, 2), a small Keras network, and a serving signature that parses raw
tf.Examples and applies the Transform graph (what the Evaluator and serving call). Nothing here
imports trainguard: DataGuard and Rebalance work with whatever `preprocessing_fn` a user has.
"""
from typing import List

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras  # Keras 2: tf.Transform's layer is one (TF 2.16's tf.keras is Keras 3)
from tfx import v1 as tfx
from tfx_bsl.public import tfxio

FEATURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
LABEL = "species"
CLASSES = 3
BATCH_SIZE = 20


def transformed(name: str) -> str:
  return name + "_xf"


def preprocessing_fn(inputs):
  """z-scores the features (learned on the train split); the label passes through as an int64."""
  outputs = {transformed(k): tft.scale_to_z_score(tf.cast(inputs[k], tf.float32))
             for k in FEATURES}
  outputs[transformed(LABEL)] = tf.cast(inputs[LABEL], tf.int64)
  return outputs


def _dataset(file_pattern: List[str], data_accessor, tf_transform_output, batch_size: int):
  return data_accessor.tf_dataset_factory(
      file_pattern,
      tfxio.TensorFlowDatasetOptions(batch_size=batch_size, label_key=transformed(LABEL)),
      tf_transform_output.transformed_metadata.schema).repeat()


def _model() -> keras.Model:
  inputs = [keras.layers.Input(shape=(1,), name=transformed(k)) for k in FEATURES]
  x = keras.layers.concatenate(inputs)
  x = keras.layers.Dense(8, activation="relu")(x)
  outputs = keras.layers.Dense(CLASSES)(x)
  model = keras.Model(inputs=inputs, outputs=outputs)
  model.compile(optimizer=keras.optimizers.Adam(1e-2),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=[keras.metrics.SparseCategoricalAccuracy()])
  return model


def _serving_signature(model, tf_transform_output):
  model.tft_layer = tf_transform_output.transform_features_layer()

  @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
  def serve(serialized):
    spec = tf_transform_output.raw_feature_spec()
    spec.pop(LABEL)
    parsed = tf.io.parse_example(serialized, spec)
    return model(model.tft_layer(parsed))

  return serve


def run_fn(fn_args: tfx.components.FnArgs):
  """Trains on the (rebalanced) transformed train split; no early stopping, so nothing selects
  the model on the eval split the Evaluator blesses on."""
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
  train = _dataset(fn_args.train_files, fn_args.data_accessor, tf_transform_output, BATCH_SIZE)
  model = _model()
  model.fit(train, steps_per_epoch=fn_args.train_steps, epochs=1, verbose=0)
  model.save(fn_args.serving_model_dir, save_format="tf", signatures={
      "serving_default": _serving_signature(model, tf_transform_output)})
