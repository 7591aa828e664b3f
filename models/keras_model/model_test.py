"""The Trainer's run_fn on the shared Transform run: summary written, dropped features left out, and
the exported serving signature scores raw requests with missing values and unseen categories."""
import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
from tfx import v1 as tfx
from tfx.components.trainer import fn_args_utils
from tfx.components.util import tfxio_utils
from tfx.proto import example_gen_pb2

from trainguard.models import features
from trainguard.models import fixtures as data
from trainguard.models import trainer_run
from trainguard.models.keras_model import model


def _data_accessor():
  def dataset_factory(file_pattern, options, schema):
    return tfxio_utils.make_tfxio(
        file_pattern=file_pattern, telemetry_descriptors=["trainguard-test"],
        payload_format=example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE,
        schema=schema).TensorFlowDataset(options)
  return fn_args_utils.DataAccessor(tf_dataset_factory=dataset_factory, record_batch_factory=None,
                                    data_view_decode_fn=None)


def _labelled_examples(transform_run, path):
  """The transformed train rows only (serving rows have no label)."""
  spec = transform_run.output.transformed_feature_spec()
  with tf.io.TFRecordWriter(path) as writer:
    for record in tf.data.TFRecordDataset(transform_run.examples_path):
      if tf.io.parse_single_example(record, spec)[data.LABEL + "_xf"].numpy()[0] >= 0:
        writer.write(record.numpy())
  return path


def test_run_fn_writes_the_summary_and_exports_a_model_that_serves_raw_requests(
    transform_run, tmp_path):
  examples = _labelled_examples(transform_run, str(tmp_path / "train.tfrecord"))
  fn_args = tfx.components.FnArgs(
      train_files=[examples], eval_files=[examples], transform_output=transform_run.transform_dir,
      data_accessor=_data_accessor(), serving_model_dir=str(tmp_path / "serving"),
      model_run_dir=str(tmp_path / "run"),
      custom_config={"label_key": data.LABEL, "label_classes": data.LABEL_CLASSES, "epochs": 1,
                     "batch_size": 4, "learning_rate": 0.01, "early_stopping_patience": 1,
                     "seed": 1})
  model.run_fn(fn_args)

  with open(tmp_path / "run" / model.TRANSFORM_SUMMARY_FILE) as f:
    summary = json.load(f)
  assert summary["dropped"] == ["empty_c", "empty_f", "single_i"]
  assert os.path.exists(tmp_path / "run" / model.HISTORY_FILE)

  loaded = tf.saved_model.load(str(tmp_path / "serving"))
  serving_spec = transform_run.output.raw_feature_spec()
  serving_spec.pop(data.LABEL)
  requests = [data.serialize(r, serving_spec) for r in data.SERVING_ROWS]
  scored = loaded.signatures["serving_default"](examples=tf.constant(requests))
  probabilities = scored["probabilities"].numpy()
  assert probabilities.shape == (len(requests), len(data.LABEL_CLASSES))
  assert np.isfinite(probabilities).all()
  np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_build_model_sizes_id_inputs_from_the_schema_and_skips_excluded(transform_run):
  dropped = {features.transformed_name(n) for n in ("empty_c", "empty_f", "single_i")}
  keras_model = model.build_model(transform_run.output, data.LABEL + "_xf", 2, 0.01,
                                  exclude=dropped)
  assert not dropped & set(keras_model.input_names)
  assert {"bucket_f_xf", "colour_xf", "none_f_was_missing_xf"} <= set(keras_model.input_names)
  encodings = {layer.input.name if hasattr(layer.input, "name") else "": layer.num_tokens
               for layer in keras_model.layers if layer.__class__.__name__ == "CategoryEncoding"}
  # bucket_f: 4 buckets; colour, shape, size: 3 categories + the out-of-vocabulary id.
  assert sorted(encodings.values()) == [4, 4, 4, 4]


def test_class_weights_follow_sklearns_balanced_rule():
  from sklearn.utils.class_weight import compute_class_weight
  labels = np.array([0] * 6 + [1] * 3 + [2] * 1)
  dataset = tf.data.Dataset.from_tensor_slices(
      ({"x": np.zeros((10, 1), np.float32)}, labels.reshape(-1, 1))).batch(4)
  weights = trainer_run.class_weights(dataset, 3)
  expected = compute_class_weight("balanced", classes=np.array([0, 1, 2]), y=labels)
  assert [weights[i] for i in range(3)] == pytest.approx(expected.tolist())


def test_labelled_rows_drops_nan_targets_and_negative_class_ids():
  x = {"a": tf.constant([[1.0], [2.0], [3.0]]), "b": tf.constant([[1], [2], [3]], tf.int64)}
  kept, y = trainer_run.labelled_rows(x, tf.constant([[0.5], [np.nan], [1.5]]))
  assert y.numpy().reshape(-1).tolist() == [0.5, 1.5]
  assert kept["a"].numpy().reshape(-1).tolist() == [1.0, 3.0]
  assert kept["b"].numpy().reshape(-1).tolist() == [1, 3]
  _, ids = trainer_run.labelled_rows(x, tf.constant([[2], [-1], [0]], tf.int64))
  assert ids.numpy().reshape(-1).tolist() == [2, 0]


def test_run_fn_leaves_rows_without_a_label_out(transform_run, tmp_path):
  # The shared run's examples hold its serving rows too, with no label (class id -1): what a
  # pipeline built without the CLI brings up to DataGuard's 20%. They used to reach the loss.
  spec = transform_run.output.transformed_feature_spec()
  labels = [tf.io.parse_single_example(r, spec)[data.LABEL + "_xf"].numpy()[0]
            for r in tf.data.TFRecordDataset(transform_run.examples_path)]
  assert min(labels) == -1 and max(labels) >= 0
  splits = {}
  for split in ("train", "eval"):  # as Transform lays out its splits: an eval beside train
    os.makedirs(tmp_path / f"Split-{split}")
    splits[split] = str(tmp_path / f"Split-{split}" / "data.tfrecord")
    shutil.copy(transform_run.examples_path, splits[split])
  fn_args = tfx.components.FnArgs(
      train_files=[splits["train"]], eval_files=[splits["train"]],
      transform_output=transform_run.transform_dir, data_accessor=_data_accessor(),
      serving_model_dir=str(tmp_path / "serving"), model_run_dir=str(tmp_path / "run"),
      custom_config={"label_key": data.LABEL, "label_classes": data.LABEL_CLASSES, "epochs": 2,
                     "batch_size": 4, "learning_rate": 0.01, "early_stopping_patience": 1,
                     "seed": 1})
  model.run_fn(fn_args)
  with open(tmp_path / "run" / model.HISTORY_FILE) as f:
    history = json.load(f)
  # A class id -1 in sparse cross-entropy is a NaN loss on CPU (and stops training).
  assert all(np.isfinite(history["loss"])) and all(np.isfinite(history["val_loss"]))
  # The prediction sample is a regression's (the report's residual charts): none for classes,
  # though an eval split lies beside the train split.
  assert not os.path.exists(tmp_path / "run" / model.REGRESSION_PREDICTIONS_FILE)


def test_the_prediction_sample_reads_the_eval_split_beside_the_train_split():
  sibling = model._sibling_split  # pylint: disable=protected-access
  assert sibling("gs://b/Transform/transformed_examples/7/Split-train/*", "eval") == (
      "gs://b/Transform/transformed_examples/7/Split-eval/*")
  assert sibling("/data/train.tfrecord", "eval") is None
