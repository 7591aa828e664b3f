"""DataGuard's component: its channels, its parameters and the predicate the pipeline gates on."""
import pytest
from tfx import v1 as tfx
from tfx.types import standard_artifacts

import trainguard
from trainguard.components.data_guard import spec
from trainguard.components.data_guard.component import DataGuard
from trainguard.components.rebalance import component as rebalance_component
from trainguard.errors import PolicyError
from trainguard.policy import Policy


def _guard(policy=Policy.from_dict({"findings": {"default": "block"}}), **optional):
  return DataGuard(
      statistics=tfx.dsl.Channel(type=standard_artifacts.ExampleStatistics),
      schema=tfx.dsl.Channel(type=standard_artifacts.Schema),
      policy=policy, label_key="species", **optional)


def test_outputs_a_standard_example_anomalies_artifact():
  guard = _guard()
  assert guard.outputs[spec.ANOMALIES_KEY].type == standard_artifacts.ExampleAnomalies
  assert Policy.from_json(guard.exec_properties[spec.POLICY_KEY]).data["findings"]["default"] == (
      "block")
  assert guard.exec_properties[spec.LABEL_KEY] == "species"


def test_serving_and_baseline_statistics_are_optional_inputs():
  guard = _guard(
      serving_statistics=tfx.dsl.Channel(type=standard_artifacts.ExampleStatistics),
      baseline_statistics=tfx.dsl.Channel(type=standard_artifacts.ExampleStatistics))
  assert {spec.SERVING_STATISTICS_KEY, spec.BASELINE_STATISTICS_KEY} <= set(guard.inputs)
  assert spec.SERVING_STATISTICS_KEY not in _guard().inputs


def test_passed_is_a_predicate_on_the_blocking_count():
  """`passed()` is `blocking_findings == 0` on the anomalies artifact, as the Cond reads it."""
  compare = _guard().passed().encode().operator.compare_op
  prop = compare.lhs.operator.artifact_property_op
  assert prop.key == spec.BLOCKING_FINDINGS_PROPERTY and prop.is_custom_property
  assert compare.rhs.value.int_value == 0
  assert compare.op == compare.EQUAL


def test_the_package_exports_the_component_on_first_use():
  import trainguard.components.data_guard as package  # pylint: disable=g-import-not-at-top
  assert package.DataGuard is DataGuard and "DataGuard" in package.__all__


def test_policy_takes_a_policy_a_schema_folder_or_none(tmp_path):
  (tmp_path / "policy.yaml").write_text("findings: {warn: [LABEL_LEAKAGE]}\n")
  for given in (str(tmp_path), tmp_path):  # str and os.PathLike
    data = Policy.from_json(_guard(policy=given).exec_properties[spec.POLICY_KEY])
    assert data.source == str(tmp_path / "policy.yaml")
    assert data.severity("LABEL_LEAKAGE") == "warn" and data.severity("UNEXPECTED_DATA_TYPE") == (
        "block")
  defaults = Policy.from_json(_guard(policy=None).exec_properties[spec.POLICY_KEY])
  assert defaults.source == "<default policy>" and defaults.data == Policy.default().data


def test_a_policy_of_another_type_is_a_type_error_naming_it(tmp_path):
  with pytest.raises(TypeError, match=r"policy must be a trainguard Policy, a schema folder path "
                                      r"\(str or os.PathLike.*or None for the defaults; got dict"):
    _guard(policy={"findings": {"default": "block"}})
  with pytest.raises(PolicyError, match="no such folder"):
    _guard(policy=str(tmp_path / "nope"))


def test_the_short_public_imports_are_the_component_classes():
  from trainguard import (  # pylint: disable=g-import-not-at-top
      DataGuard as guard, Policy as policy, Rebalance as rebalance)
  assert guard is DataGuard and rebalance is rebalance_component.Rebalance and policy is Policy
  assert {"DataGuard", "Rebalance", "Policy"} <= set(dir(trainguard))


def test_fix_context_defaults_to_a_users_own_pipeline_and_rejects_unknown_values():
  assert _guard().exec_properties[spec.FIX_CONTEXT_KEY] == "components"
  assert _guard(fix_context="cli").exec_properties[spec.FIX_CONTEXT_KEY] == "cli"
  with pytest.raises(ValueError, match="fix_context='ours': expected one of cli, pipeline, "
                                       "components"):
    _guard(fix_context="ours")
