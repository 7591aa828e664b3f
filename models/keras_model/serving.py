"""The serving graph's first half, shared by the classifier's and the regressor's signatures: raw
serialized tf.Examples without the label, through the Transform graph fitted on train, into the
model. Written once so the two tasks cannot parse requests differently."""
import tensorflow as tf


def model_outputs(model, transform_layer, tf_transform_output, label_key: str,
                  serialized_examples: tf.Tensor) -> tf.Tensor:
  """The model's raw outputs for serialized requests (the label, if present, is not parsed)."""
  raw_feature_spec = dict(tf_transform_output.raw_feature_spec())
  raw_feature_spec.pop(label_key, None)
  raw_features = tf.io.parse_example(serialized_examples, raw_feature_spec)
  transformed = transform_layer(raw_features)
  return model({k: v for k, v in transformed.items() if k in model.input_names})
