"""DataGuard's executor on real artifacts in a temp dir: what it writes and the properties it sets."""
import json
import os

import numpy as np
import pandas as pd
import pytest
import tensorflow_data_validation as tfdv
from tfx.types import artifact_utils, standard_artifacts
from tfx.utils import io_utils

from trainguard.components.data_guard import executor, spec
from trainguard.components.data_guard.findings import FINDINGS_FILE, read
from trainguard.errors import PolicyError
from trainguard.policy import Policy


def _frame(seed, rows=200):
  rng = np.random.default_rng(seed)
  return pd.DataFrame({"x": rng.normal(size=rows), "c": rng.choice(["a", "b"], rows),
                       "y": rng.choice(["p", "q"], rows)})


def _statistics_artifact(root, name, splits):
  artifact = standard_artifacts.ExampleStatistics()
  artifact.uri = os.path.join(root, name)
  artifact.split_names = artifact_utils.encode_split_names(list(splits))
  for split, frame in splits.items():
    path = os.path.join(artifact_utils.get_split_uri([artifact], split), "FeatureStats.pb")
    os.makedirs(os.path.dirname(path))
    with open(path, "wb") as f:
      f.write(tfdv.generate_statistics_from_dataframe(frame).SerializeToString())
  return artifact


def _run(tmp_path, train, serving=None, baseline=None, policy=None):
  root = str(tmp_path)
  schema = tfdv.infer_schema(tfdv.generate_statistics_from_dataframe(_frame(0)))
  for feature in schema.feature:
    feature.ClearField("shape")
  schema.default_environment.extend(["TRAINING", "SERVING"])
  tfdv.get_feature(schema, "y").not_in_environment.append("SERVING")
  schema_artifact = standard_artifacts.Schema()
  schema_artifact.uri = os.path.join(root, "schema")
  os.makedirs(schema_artifact.uri)
  tfdv.write_schema_text(schema, os.path.join(schema_artifact.uri, "schema.pbtxt"))
  inputs = {
      spec.STATISTICS_KEY: [_statistics_artifact(root, "stats", {"train": train,
                                                                 "eval": _frame(5)})],
      spec.SCHEMA_KEY: [schema_artifact],
  }
  if serving is not None:
    inputs[spec.SERVING_STATISTICS_KEY] = [_statistics_artifact(root, "serving",
                                                                {"serving": serving})]
  if baseline is not None:
    inputs[spec.BASELINE_STATISTICS_KEY] = [_statistics_artifact(
        root, "baseline", {"train": baseline, "eval": _frame(8)})]
  output = standard_artifacts.ExampleAnomalies()
  output.uri = os.path.join(root, "anomalies")
  executor.Executor().Do(inputs, {spec.ANOMALIES_KEY: [output]}, {
      spec.POLICY_KEY: (policy or Policy.from_dict({}, schema=schema)).to_json(),
      spec.LABEL_KEY: "y",
  })
  return output


def test_clean_run_writes_anomalies_per_split_and_zero_blocking(tmp_path):
  output = _run(tmp_path, _frame(1), serving=_frame(2).drop(columns=["y"]), baseline=_frame(3))
  assert artifact_utils.decode_split_names(output.split_names) == ["train", "eval", "serving"]
  for split in ("train", "eval", "serving"):
    assert os.path.isfile(os.path.join(output.uri, f"Split-{split}", "SchemaDiff.pb"))
  assert output.get_int_custom_property(spec.BLOCKING_FINDINGS_PROPERTY) == 0
  report = read(os.path.join(output.uri, FINDINGS_FILE))
  assert not report.blocked


def test_blocking_run_still_writes_findings_and_counts_them(tmp_path):
  train = _frame(1).drop(columns=["c"])
  output = _run(tmp_path, train)
  assert output.get_int_custom_property(spec.BLOCKING_FINDINGS_PROPERTY) == 1
  data = json.loads(io_utils.read_string_file(os.path.join(output.uri, FINDINGS_FILE)))
  assert data["version"] == 1 and data["blocked"] is True
  assert data["counts"] == {"block": 1, "warn": 0, "info": 0}
  (finding,) = data["findings"]
  assert {k: finding[k] for k in ("kind", "feature", "split", "severity")} == {
      "kind": "SCHEMA_MISSING_COLUMN", "feature": "c", "split": "train", "severity": "block"}
  assert set(finding) == {"kind", "feature", "split", "severity", "expected", "found", "fix",
                          "source", "measured", "threshold"}


def test_a_policy_loaded_without_the_schema_has_its_feature_names_checked_here(tmp_path):
  """`DataGuard(policy="schemas/mine")` reads the folder before the schema is data."""
  with pytest.raises(PolicyError, match=r"features.X names a feature the schema does not have; "
                                        r"did you mean x\?"):
    _run(tmp_path, _frame(1), policy=Policy.from_dict({"features": {"X": {"exclude": True}}}))


def test_pass_arguments_carry_the_label_map_to_the_dataset_pass():
  """Issue 21: the pass counts conflicting labels by class, so it gets `Policy.label_class`."""
  statistics = tfdv.generate_statistics_from_dataframe(_frame(0))
  schema = tfdv.infer_schema(statistics)
  mapped = Policy.from_dict({"label": {"map": {"P": "p"}}}, schema=schema)
  arguments = executor.pass_arguments(statistics, schema, "y", mapped)
  assert arguments["label_class"]("P") == "p" and arguments["label_class"]("q") == "q"
  unmapped = executor.pass_arguments(statistics, schema, "y", Policy.from_dict({}))
  assert unmapped["label_class"] is None
  assert executor.pass_arguments(statistics, schema, "y")["label_class"] is None  # the benchmark's
