"""DataGuard's component: its channels, its parameters and the predicate the pipeline gates on."""
from tfx import v1 as tfx
from tfx.types import standard_artifacts

from trainguard.components.data_guard import spec
from trainguard.components.data_guard.component import DataGuard
from trainguard.policy import Policy


def _guard(**optional):
  return DataGuard(
      statistics=tfx.dsl.Channel(type=standard_artifacts.ExampleStatistics),
      schema=tfx.dsl.Channel(type=standard_artifacts.Schema),
      policy=Policy.from_dict({"findings": {"default": "block"}}),
      label_key="species", **optional)


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
