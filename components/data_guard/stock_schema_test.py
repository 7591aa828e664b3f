"""DataGuard behind stock components: a schema inferred by TFDV (as stock SchemaGen writes it, with
no environments and no curation), and the fix texts of a user's own pipeline (issue 24)."""
import logging
import os

import numpy as np
import pandas as pd
import pytest
import tensorflow_data_validation as tfdv
from tfx.types import artifact_utils, standard_artifacts

from trainguard import task
from trainguard.components.data_guard import executor, fixes, spec, validation
from trainguard.components.data_guard.executor_test import _statistics_artifact
from trainguard.components.data_guard.findings import FINDINGS_FILE, read
from trainguard.errors import InputError
from trainguard.policy import Policy


def _frame(seed=0, rows=300, text_cells=0):
  rng = np.random.default_rng(seed)
  length = [f"{v:.1f}" for v in rng.normal(44.0, 5.0, rows)]
  for i in range(text_cells):
    length[i * 7] = "n/a" if i % 2 else "?"
  return pd.DataFrame({
      "bill_length_mm": length if text_cells else rng.normal(44.0, 5.0, rows),
      "island": rng.choice(["Biscoe", "Dream", "Torgersen"], rows),
      "year": rng.choice(["2007", "2008", "2009"], rows),  # a category written as digits
      "flag": rng.choice(["0", "unknown"], rows, p=[0.95, 0.05]),
      "species": rng.choice([0, 1, 2], rows, p=[0.5, 0.3, 0.2]),  # the TFX example's int label
  })


def _stats(frame):
  return tfdv.generate_statistics_from_dataframe(frame)


def _inferred(frame):
  return tfdv.infer_schema(_stats(frame))  # what stock SchemaGen does, environments and all


def _validate(frame, schema=None, label="species", context=fixes.COMPONENTS, **kwargs):
  schema = schema or _inferred(frame)
  return validation.validate(schema, Policy.from_dict({}, schema=schema), label,
                             {"train": _stats(frame), "eval": _stats(_frame(seed=5))},
                             context=context, **kwargs)


def test_numeric_column_with_a_few_text_cells_blocks_with_an_inferred_schema():
  frame = _frame(text_cells=6)
  _, report = _validate(frame)
  (finding,) = [f for f in report.findings if f.kind == "NUMERIC_COLUMN_WITH_TEXT"]
  assert (finding.feature, finding.split, finding.severity) == ("bill_length_mm", "train", "block")
  assert "'?' ×3" in finding.found and "'n/a' ×3" in finding.found
  assert "98% numeric" in finding.expected
  assert "tft.scale_to_z_score" in finding.fix and "--na-values" not in finding.fix
  assert report.blocked


def test_digit_categories_and_a_flag_column_are_not_numeric_columns_with_text():
  _, report = _validate(_frame())
  assert not [f for f in report.findings if f.kind == "NUMERIC_COLUMN_WITH_TEXT"]
  assert not report.blocked, report.block_message()


def test_the_pre_flight_saying_it_first_is_not_repeated():
  frame = _frame(text_cells=6)
  _, first = _validate(frame)
  (said,) = [f for f in first.findings if f.kind == "NUMERIC_COLUMN_WITH_TEXT"]
  import dataclasses  # pylint: disable=g-import-not-at-top
  _, report = _validate(frame, preflight_findings=[dataclasses.replace(said, split="input")])
  assert [f.split for f in report.findings if f.kind == "NUMERIC_COLUMN_WITH_TEXT"] == ["input"]


def test_a_wrongly_cased_label_key_is_an_error_naming_the_right_one():
  with pytest.raises(InputError, match=r"label_key 'Species' is not a feature.*Did you mean "
                                       r"'species'\?"):
    _validate(_frame(), label="Species")


def test_statistics_without_a_train_split_are_an_error_naming_the_splits():
  schema = _inferred(_frame())
  with pytest.raises(InputError, match=r"no 'train' split \(splits: training, eval\).*output_config"):
    validation.validate(schema, Policy.from_dict({}, schema=schema), "species",
                        {"training": _stats(_frame()), "eval": _stats(_frame(seed=1))})


def test_a_serving_sample_without_the_label_passes_an_inferred_schema_without_environments():
  serving = _frame(seed=2).drop(columns=["species"])
  anomalies, report = _validate(_frame(), serving_statistics=_stats(serving))
  assert "serving" in anomalies
  assert not [f for f in report.findings if f.split == "serving" and f.severity == "block"], (
      report.block_message())
  # Any other column missing at serving still blocks.
  _, report = _validate(_frame(), serving_statistics=_stats(serving.drop(columns=["island"])))
  assert ("SCHEMA_MISSING_COLUMN", "island", "serving") in {
      (f.kind, f.feature, f.split) for f in report.findings if f.severity == "block"}


def test_every_split_of_a_split_serving_sample_is_validated_and_compared():
  shifted = _frame(seed=3)
  shifted["island"] = "Dream"  # only the sample's second split is skewed
  serving = {"train": _stats(_frame(seed=2).drop(columns=["species"])),
             "eval": _stats(shifted.drop(columns=["species"]))}
  anomalies, report = _validate(_frame(), serving_statistics=serving)
  assert {"serving-train", "serving-eval"} <= set(anomalies)
  skew = [f for f in report.findings if f.kind == "COMPARATOR_L_INFTY_HIGH"
          and f.feature == "island"]
  assert skew and skew[0].split == "train" and skew[0].severity == "block"


def test_an_integer_label_with_few_values_is_a_class_id_from_the_statistics():
  schema = _inferred(_frame())
  assert task.of_schema(schema, "species") == task.REGRESSION  # the schema alone says nothing
  assert task.of_schema(schema, "species", _stats(_frame())) == task.CLASSIFICATION
  wide = pd.DataFrame({"price": np.arange(0, 1000, 5), "x": np.arange(200)})
  assert task.of_schema(_inferred(wide), "price", _stats(wide)) == task.REGRESSION


def test_fixes_name_only_what_exists_where_dataguard_runs():
  serving = _frame(seed=2).drop(columns=["species", "island"])
  for context, present, absent in (
      (fixes.CLI, "fix or blank those cells (empty cells are imputed)", "SchemaGen"),
      (fixes.COMPONENTS, "SchemaGen infers a string feature", "--na-values")):
    _, report = _validate(_frame(text_cells=6), context=context,
                          serving_statistics=_stats(serving))
    (text,) = {f.fix for f in report.findings if f.kind == "NUMERIC_COLUMN_WITH_TEXT"}
    assert present in text and absent not in text
  missing = _frame().drop(columns=["species"])
  schema = _inferred(_frame())
  for context, named in ((fixes.CLI, "check --label"),
                         (fixes.COMPONENTS, "check DataGuard's label_key")):
    _, report = validation.validate(schema, Policy.from_dict({}, schema=schema), "species",
                                    {"train": _stats(_frame()), "eval": _stats(missing)},
                                    context=context)
    (finding,) = [f for f in report.findings if f.kind == "SCHEMA_MISSING_COLUMN"]
    assert named in finding.fix and finding.split == "eval"


def test_missing_values_fix_promises_imputation_only_where_our_transform_runs():
  frame = _frame()
  frame.loc[:20, "island"] = None
  texts = {context: {f.fix for f in _validate(frame, context=context)[1].findings
                     if f.kind == "MISSING_VALUES" and f.split == "train"}.pop()
           for context in fixes.CONTEXTS}
  assert texts[fixes.CLI].startswith("Transform imputes them")
  assert texts[fixes.COMPONENTS].startswith("your preprocessing_fn must fill them")


def test_policy_keys_of_our_transform_are_marked_outside_our_pipeline():
  from trainguard.components.data_guard.findings import Finding  # pylint: disable=g-import-not-at-top
  finding = Finding(kind="OUTLIERS", feature="x", split="train", severity="warn", expected="",
                    found="", fix="clip at train quantiles with features.x.clip: [0.01, 0.99].")
  (ours,) = fixes.for_context([finding], fixes.PIPELINE)
  (theirs,) = fixes.for_context([finding], fixes.COMPONENTS)
  assert ours.fix == finding.fix
  assert "trainguard's own Transform applies that policy key" in theirs.fix


def test_executor_validates_a_two_split_serving_sample_and_logs_a_passing_runs_warnings(
    tmp_path, caplog):
  root = str(tmp_path)
  frame = _frame()
  frame.loc[:20, "island"] = None  # a warning (MISSING_VALUES), nothing that blocks
  schema = _inferred(_frame())
  schema_artifact = standard_artifacts.Schema()
  schema_artifact.uri = os.path.join(root, "schema")
  os.makedirs(schema_artifact.uri)
  tfdv.write_schema_text(schema, os.path.join(schema_artifact.uri, "schema.pbtxt"))
  serving = _frame(seed=2).drop(columns=["species"])
  output = standard_artifacts.ExampleAnomalies()
  output.uri = os.path.join(root, "anomalies")
  with caplog.at_level(logging.WARNING):
    executor.Executor().Do({
        spec.STATISTICS_KEY: [_statistics_artifact(root, "stats", {"train": frame,
                                                                   "eval": _frame(5)})],
        spec.SCHEMA_KEY: [schema_artifact],
        spec.SERVING_STATISTICS_KEY: [_statistics_artifact(
            root, "serving", {"train": serving[:200], "eval": serving[200:]})],
    }, {spec.ANOMALIES_KEY: [output]}, {
        spec.POLICY_KEY: Policy.from_dict({}, schema=schema).to_json(),
        spec.LABEL_KEY: "species",
    })
  assert set(artifact_utils.decode_split_names(output.split_names)) == {
      "train", "eval", "serving-train", "serving-eval"}
  report = read(os.path.join(output.uri, FINDINGS_FILE))
  assert not report.blocked, report.block_message()
  assert output.get_int_custom_property(spec.BLOCKING_FINDINGS_PROPERTY) == 0
  logged = "\n".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
  assert "DataGuard passed with" in logged and "MISSING_VALUES" in logged
  assert "your preprocessing_fn must fill them" in logged  # the default: a user's own pipeline
