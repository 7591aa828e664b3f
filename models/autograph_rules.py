"""Keep autograph out of the graph-mode libraries the pipeline traces through.

TensorFlow 2.16's autograph skips modules under `tensorflow` and `keras`, but not `tf_keras` (Keras
2, which tf.Transform's layer needs and which was the `keras` package until TF 2.15),
`tensorflow_transform`, `tfx_bsl` or `tensorflow_model_analysis`. Every `tf.function` traced
through them (Keras' train and test steps, the Transform layer in the serving signatures, the
analyzers of a preprocessing_fn) therefore had their Python source parsed and rewritten: on the
penguins Trainer, `run_fn` took 66 s, of which `fit` 50 s for 2.4 s of training, and 12.9 s with
these rules (docs/benchmarks.md). The libraries are written for graph mode (explicit `tf.cond`
and `tf.while_loop`), so skipping the conversion does not change what they compute; our own
functions (the preprocessing_fn, the serving signatures) are still converted.

Called where tracing starts: `run_fn`, `preprocessing_fn`, and the CLI before a run (for the
Evaluator, which runs TFMA in the same process).
"""
LIBRARIES = ("tf_keras", "tensorflow_transform", "tfx_bsl", "tensorflow_model_analysis")


def skip_library_conversion() -> None:
  """Adds a do-not-convert rule per library, once (autograph reads the rules at each call)."""
  from tensorflow.python.autograph.core import config  # pylint: disable=g-import-not-at-top
  present = {getattr(rule, "_prefix", None) for rule in config.CONVERSION_RULES
             if isinstance(rule, config.DoNotConvert)}
  missing = tuple(config.DoNotConvert(name) for name in LIBRARIES if name not in present)
  if missing:
    config.CONVERSION_RULES = missing + tuple(config.CONVERSION_RULES)
