"""The tf.Transform `preprocessing_fn`: full-pass imputation, scaling and encoding from the schema.

Why tf.Transform rather than scikit-learn's imputer and scaler: the statistics (means, variances,
vocabularies) are computed by Beam in a full pass over the train split only (Transform's
`splits_config`), and the same graph is exported with the model, so a serving request with a missing
value is imputed with exactly the training value. No feature list is written here: numeric and
categorical features are told apart by the dtype the schema gave them.

Per feature (defaults; `custom_config['excluded_features']` drops a feature):
- numeric (INT or FLOAT): missing, NaN and ±inf are imputed with the mean of the present values, then
  z-scored with the mean and standard deviation of the present values (an imputed value becomes 0).
- categorical (BYTES): a vocabulary of the present values, most frequent first; missing values take
  id 0 (the most frequent category); an unseen category takes the out-of-vocabulary id.
- the label: its id in the schema's string domain; a value outside the domain becomes -1 (DataGuard
  blocks such data before it gets here).
"""
from typing import Any, Dict, Mapping, Tuple

import tensorflow as tf
import tensorflow_transform as tft

from trainguard.models import features


def preprocessing_fn(inputs: Mapping[str, Any], custom_config: Dict[str, Any]) -> Dict[str, tf.Tensor]:
  label_key = custom_config["label_key"]
  label_classes = custom_config["label_classes"]
  excluded = set(custom_config.get("excluded_features", ()))
  outputs = {}
  for name in sorted(inputs):
    if name == label_key or name in excluded:
      continue
    values, present = dense_with_presence(inputs[name])
    if values.dtype == tf.string:
      outputs[features.transformed_name(name)] = _encode_categorical(name, values, present)
    else:
      outputs[features.transformed_name(name)] = _impute_and_z_score(values, present)
  if label_key in inputs:
    outputs[features.transformed_name(label_key)] = label_ids(inputs[label_key], label_classes)
  return outputs


def dense_with_presence(tensor) -> Tuple[tf.Tensor, tf.Tensor]:
  """A `[batch, 1]` dense tensor of the feature and a boolean mask of where a usable value is.

  Schema features without a fixed shape arrive as `SparseTensor`s (absent → no entry); NaN and ±inf
  in float features count as missing too. Absent cells are filled with a placeholder that the mask
  marks as missing, so no analyzer ever sees it.
  """
  if isinstance(tensor, tf.SparseTensor):
    dense_shape = tf.stack([tensor.dense_shape[0], tf.constant(1, tf.int64)])
    placeholder = "" if tensor.dtype == tf.string else 0
    values = tf.sparse.to_dense(
        tf.SparseTensor(tensor.indices, tensor.values, dense_shape), default_value=placeholder)
    present = tf.sparse.to_dense(
        tf.SparseTensor(tensor.indices, tf.ones_like(tensor.values, dtype=tf.bool), dense_shape),
        default_value=False)
  else:
    values = tf.reshape(tensor, [-1, 1])
    present = tf.ones_like(values, dtype=tf.bool)
  if values.dtype != tf.string:
    values = tf.cast(values, tf.float32)
    present = tf.logical_and(present, tf.math.is_finite(values))
  return values, present


def _impute_and_z_score(values: tf.Tensor, present: tf.Tensor) -> tf.Tensor:
  observed = tf.boolean_mask(values, present)
  mean = tft.mean(observed)
  variance = tft.var(observed)
  # A column with no present value in train has no mean: it becomes a constant 0, never NaN.
  mean = tf.where(tf.math.is_finite(mean), mean, 0.0)
  std = tf.sqrt(variance)
  std = tf.where(tf.logical_and(tf.math.is_finite(std), std > 0), std, 1.0)
  imputed = tf.where(present, values, mean)
  return (imputed - mean) / std


def _encode_categorical(name: str, values: tf.Tensor, present: tf.Tensor) -> tf.Tensor:
  vocabulary = tft.vocabulary(
      tf.boolean_mask(values, present), vocab_filename=features.vocabulary_name(name))
  ids = tft.apply_vocabulary(values, vocabulary, num_oov_buckets=features.NUM_OOV_BUCKETS)
  # The vocabulary is sorted by descending frequency, so id 0 is the most frequent category.
  return tf.where(present, ids, tf.zeros_like(ids))


def label_ids(tensor, label_classes) -> tf.Tensor:
  """Class ids `[batch, 1]` from the label's string values; -1 where absent or not a known class."""
  values, present = dense_with_presence(tensor)
  if values.dtype != tf.string:
    values = tf.strings.as_string(tf.cast(values, tf.int64))
  matches = tf.equal(values, tf.constant(list(label_classes))[tf.newaxis, :])
  ids = tf.argmax(tf.cast(matches, tf.int64), axis=1, output_type=tf.int64)[:, tf.newaxis]
  known = tf.logical_and(present, tf.reduce_any(matches, axis=1, keepdims=True))
  return tf.where(known, ids, tf.constant(-1, tf.int64))
