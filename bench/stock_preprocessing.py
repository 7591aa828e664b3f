"""The baseline's tf.Transform `preprocessing_fn`: what a stock TFX user writes first.

Plain z-score for every numeric feature (a missing cell filled with 0 before scaling, as
`tf.sparse.to_dense` does by default), a vocabulary for every string feature (missing: ''), the
label as its vocabulary id. One analyzer phase (no imputation statistic feeds the z-score), no
missing indicators, no checks. Referenced by module path, as the trainguard pipeline references its
own: `bench.stock_preprocessing.preprocessing_fn`.
"""
import tensorflow as tf
import tensorflow_transform as tft

LABEL = "label"


def _dense(tensor):
  if isinstance(tensor, tf.SparseTensor):
    shape = tf.stack([tensor.dense_shape[0], tf.constant(1, tf.int64)])
    default = "" if tensor.dtype == tf.string else tf.zeros([], tensor.dtype)
    return tf.sparse.to_dense(tf.SparseTensor(tensor.indices, tensor.values, shape), default)
  return tf.reshape(tensor, [-1, 1])


def preprocessing_fn(inputs):
  outputs = {}
  for name, tensor in inputs.items():
    dense = _dense(tensor)
    if name == LABEL:
      outputs[name + "_xf"] = tft.compute_and_apply_vocabulary(dense, vocab_filename=name)
    elif dense.dtype == tf.string:
      outputs[name + "_xf"] = tft.compute_and_apply_vocabulary(dense, num_oov_buckets=1,
                                                               vocab_filename=name)
    else:
      outputs[name + "_xf"] = tft.scale_to_z_score(tf.cast(dense, tf.float32))
  return outputs
