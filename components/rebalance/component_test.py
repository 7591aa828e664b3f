"""The Rebalance component: its spec, outputs, encoded parameters and construction-time checks."""
import json

import pytest
from tfx import types
from tfx.dsl.components.base import executor_spec
from tfx.orchestration import data_types
from tfx.types import standard_artifacts

from trainguard.components.rebalance import component, executor, params, spec


def _rebalance(**kwargs):
  return component.Rebalance(
      examples=types.Channel(type=standard_artifacts.Examples),
      transform_graph=types.Channel(type=standard_artifacts.TransformGraph),
      label_key="species_xf", **kwargs)


def test_inputs_outputs_and_executor():
  rebalance = _rebalance()
  assert set(rebalance.inputs) == {spec.EXAMPLES_KEY, spec.TRANSFORM_GRAPH_KEY}
  assert rebalance.inputs[spec.TRANSFORM_GRAPH_KEY].type == standard_artifacts.TransformGraph
  output = rebalance.outputs[spec.REBALANCED_EXAMPLES_KEY]
  assert output.type == standard_artifacts.Examples
  assert isinstance(rebalance.executor_spec, executor_spec.BeamExecutorSpec)
  assert rebalance.executor_spec.executor_class is executor.Executor


def test_defaults_are_the_documented_ones():
  assert _rebalance().exec_properties == {
      spec.LABEL_KEY: "species_xf",
      spec.STRATEGY_KEY: "auto",
      spec.SAMPLING_STRATEGY_KEY: "auto",
      spec.K_NEIGHBORS_KEY: 5,
      spec.SEED_KEY: 42,
      spec.CHUNK_SIZE_KEY: 100_000,
      spec.SPLITS_TO_RESAMPLE_KEY: '["train"]',
      spec.MIN_IMBALANCE_KEY: 1.5,
  }


@pytest.mark.parametrize("sampling_strategy,encoded,decoded", [
    ("not majority", "not majority", "not majority"),
    (0.8, "0.8", 0.8),
    ({2: 152, 1: 140}, '{"1": 140, "2": 152}', {1: 140, 2: 152}),
])
def test_sampling_strategy_round_trips_through_its_exec_property(sampling_strategy, encoded,
                                                                 decoded):
  rebalance = _rebalance(strategy="smotenc", sampling_strategy=sampling_strategy)
  assert rebalance.exec_properties[spec.SAMPLING_STRATEGY_KEY] == encoded
  assert params.parse_params(rebalance.exec_properties).sampling_strategy == decoded


def test_splits_to_resample_are_encoded_as_json():
  rebalance = _rebalance(splits_to_resample=["train", "extra"])
  assert json.loads(rebalance.exec_properties[spec.SPLITS_TO_RESAMPLE_KEY]) == ["train", "extra"]
  assert _rebalance(splits_to_resample="train").exec_properties[spec.SPLITS_TO_RESAMPLE_KEY] == (
      '["train"]')


@pytest.mark.parametrize("kwargs,message", [
    ({"strategy": "smoothe"}, r"strategy='smoothe' is not a rebalancing strategy"),
    ({"sampling_strategy": 2.0}, r"sampling_strategy='2.0' is a ratio outside \(0, 1\]"),
    ({"sampling_strategy": {"x": 1}}, r"has key 'x', which is not a class id"),
    ({"strategy": "random_under", "sampling_strategy": "minority"},
     r"'minority' cannot be used with strategy='random_under'"),
    ({"k_neighbors": 0}, r"k_neighbors=0 is below 1"),
    ({"chunk_size": 10}, r"chunk_size=10 is below 12"),
    ({"splits_to_resample": []}, r"splits_to_resample='\[\]': give a non-empty JSON list"),
])
def test_bad_parameters_fail_when_the_pipeline_is_built(kwargs, message):
  with pytest.raises(ValueError, match=message):
    _rebalance(**kwargs)


def test_runtime_parameters_are_checked_by_the_executor_instead():
  seed = data_types.RuntimeParameter(name="seed", ptype=int, default=42)
  assert _rebalance(seed=seed).exec_properties[spec.SEED_KEY] is seed


def test_min_imbalance_is_a_float_exec_property_checked_when_the_pipeline_is_built():
  assert _rebalance(min_imbalance=3).exec_properties[spec.MIN_IMBALANCE_KEY] == 3.0
  assert isinstance(_rebalance(min_imbalance=3).exec_properties[spec.MIN_IMBALANCE_KEY], float)
  with pytest.raises(ValueError, match=r"min_imbalance=0.0 must be above 0"):
    _rebalance(min_imbalance=0)


def test_the_package_exports_the_component_on_first_use():
  import trainguard.components.rebalance as package  # pylint: disable=g-import-not-at-top
  assert package.Rebalance is component.Rebalance and "Rebalance" in package.__all__
