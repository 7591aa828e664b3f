"""The veto on real blessing artifacts and a model folder as the Trainer writes it."""
import os

import tensorflow as tf
import tensorflow_model_analysis as tfma
from tfx.components.evaluator import constants
from tfx.types import artifact_utils, standard_artifacts
from tfx_bsl.coders import example_coder

from trainguard.components.data_guard.findings import Finding, FindingsReport
from trainguard.components.evaluator import component, executor, labelled


def _blessing(tmp_path, blessed: bool):
  blessing = standard_artifacts.ModelBlessing()
  blessing.uri = str(tmp_path / "blessing")
  os.makedirs(blessing.uri)
  name = constants.BLESSED_FILE_NAME if blessed else constants.NOT_BLESSED_FILE_NAME
  open(os.path.join(blessing.uri, name), "w").close()
  blessing.set_int_custom_property(constants.ARTIFACT_PROPERTY_BLESSED_KEY, int(blessed))
  return blessing


def _model_with(tmp_path, severity):
  uri = str(tmp_path / "model")
  folder = os.path.join(uri, "Format-Serving", "assets.extra")
  os.makedirs(folder)
  report = FindingsReport([Finding("NOT_LEARNING", "", "validation", severity, "a loss below 1.0",
                                   "1.09", "check --label", source="training")])
  with open(os.path.join(folder, "training_findings.json"), "w") as f:
    f.write(report.to_json())
  return uri


def test_a_blocking_training_finding_withholds_the_blessing_and_says_why(tmp_path):
  blessing = _blessing(tmp_path, blessed=True)
  assert executor.veto(blessing, executor.training_findings(_model_with(tmp_path, "block")))
  assert sorted(os.listdir(blessing.uri)) == [constants.NOT_BLESSED_FILE_NAME]
  assert blessing.get_int_custom_property("blessed") == 0
  assert blessing.get_string_custom_property("not_blessed_reason") == (
      "training diagnosis: NOT_LEARNING: 1.09")


def test_warnings_and_models_without_a_diagnosis_keep_the_blessing(tmp_path):
  blessing = _blessing(tmp_path, blessed=True)
  assert not executor.veto(blessing, executor.training_findings(_model_with(tmp_path, "warn")))
  assert not executor.veto(blessing, executor.training_findings(str(tmp_path / "other")))
  assert sorted(os.listdir(blessing.uri)) == [constants.BLESSED_FILE_NAME]
  assert blessing.get_int_custom_property("blessed") == 1


def test_the_component_is_stocks_with_this_executor():
  from tfx.components.evaluator import component as stock  # pylint: disable=g-import-not-at-top
  assert component.Evaluator.EXECUTOR_SPEC.executor_class is executor.Executor
  assert component.Evaluator.SPEC_CLASS is stock.Evaluator.SPEC_CLASS



def _serialized(row):
  example = tf.train.Example()
  for name, values in row.items():
    feature = example.features.feature[name]
    if values and isinstance(values[0], bytes):
      feature.bytes_list.value.extend(values)
    else:
      feature.float_list.value.extend(values)
  return example.SerializeToString()


def _raw_examples(folder, rows):
  """Train and eval splits of raw examples as ExampleGen writes them (GZIP TFRecords)."""
  examples = standard_artifacts.Examples()
  examples.uri = str(folder)
  examples.split_names = artifact_utils.encode_split_names(["train", "eval"])
  for split in ("train", "eval"):
    os.makedirs(os.path.join(examples.uri, f"Split-{split}"))
    path = os.path.join(examples.uri, f"Split-{split}", "data-00000-of-00001.gz")
    with tf.io.TFRecordWriter(path, tf.io.TFRecordOptions(compression_type="GZIP")) as writer:
      for row in rows:
        writer.write(_serialized(row))
  return examples


def _labels(artifact, split, name):
  folder = os.path.join(artifact.uri, f"Split-{split}")
  files = [os.path.join(folder, f) for f in os.listdir(folder)]
  return [list(tf.train.Example.FromString(r.numpy()).features.feature[name].float_list.value)
          for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def test_tfma_scores_only_the_eval_rows_that_have_a_label(tmp_path):
  rows = [{"x": [1.0], "y": [10.0]}, {"x": [2.0]}, {"x": [3.0], "y": []},
          {"x": [4.0], "y": [float("nan")]}, {"x": [5.0], "y": [50.0]}]
  examples = _raw_examples(tmp_path / "examples", rows)
  copy = labelled.labelled_copy(examples, ["eval"], "y", str(tmp_path / "copy"))
  assert copy.split_names == '["eval"]' and copy.uri == str(tmp_path / "copy")
  assert _labels(copy, "eval", "y") == [[10.0], [50.0]]
  # Every row labelled (every CLI run), or a feature no row has: no copy, TFMA reads the original.
  clean = _raw_examples(tmp_path / "clean", [rows[0], rows[4]])
  assert labelled.labelled_copy(clean, ["eval"], "y", str(tmp_path / "none")) is None
  assert labelled.labelled_copy(examples, ["eval"], "not_a_feature", str(tmp_path / "n")) is None


def test_the_label_is_the_eval_configs_raw_or_transformed_key_and_blank_text_is_none():
  for key, raw in (("target", "target"), ("species_xf", "species")):
    config = tfma.EvalConfig(model_specs=[tfma.ModelSpec(label_key=key)])
    assert labelled.raw_label(config) == raw
  records = [_serialized(r) for r in ({"c": [b"a"]}, {"c": [b"  "]}, {"c": []})]
  decoder = example_coder.ExamplesToRecordBatchDecoder()
  assert labelled.labelled(decoder, records, "c").tolist() == [True, False, False]
