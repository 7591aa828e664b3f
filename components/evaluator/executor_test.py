"""The veto on real blessing artifacts and a model folder as the Trainer writes it."""
import os

from tfx.components.evaluator import constants
from tfx.types import standard_artifacts

from trainguard.components.data_guard.findings import Finding, FindingsReport
from trainguard.components.evaluator import component, executor


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
