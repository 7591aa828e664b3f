"""The Rebalance component's spec: its inputs, output and parameters, and the parameter defaults.

Non-primitive parameters (`sampling_strategy`, `splits_to_resample`) travel as JSON strings, so the
spec compiles unchanged for LocalDagRunner and Kubeflow; `component.Rebalance` encodes them.

The parameter names, their defaults and `RebalanceError` are defined in `params.py`, which imports
no TensorFlow (this module does, through TFX), and are re-exported here: `spec.LABEL_KEY`,
`spec.RebalanceError` and the rest keep working.
"""
from tfx import types
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

# pylint: disable=unused-import
from trainguard.components.rebalance.params import (
    CHUNK_SIZE_KEY, DEFAULT_CHUNK_SIZE, DEFAULT_K_NEIGHBORS, DEFAULT_MIN_IMBALANCE,
    DEFAULT_SAMPLING_STRATEGY, DEFAULT_SEED, DEFAULT_SPLITS_TO_RESAMPLE, DEFAULT_STRATEGY,
    K_NEIGHBORS_KEY, LABEL_KEY, MIN_IMBALANCE_KEY, SAMPLING_STRATEGY_KEY, SEED_KEY,
    SPLITS_TO_RESAMPLE_KEY, STRATEGY_KEY, RebalanceError)
# pylint: enable=unused-import

EXAMPLES_KEY = "examples"
TRANSFORM_GRAPH_KEY = "transform_graph"
REBALANCED_EXAMPLES_KEY = "rebalanced_examples"


class RebalanceSpec(types.ComponentSpec):
  """Transformed examples and their transform graph in; the same splits, rebalanced, out."""

  PARAMETERS = {
      LABEL_KEY: ExecutionParameter(type=str),
      STRATEGY_KEY: ExecutionParameter(type=str, optional=True),
      # 'auto', another imbalanced-learn string, a float, or a JSON object {class id: row count}.
      SAMPLING_STRATEGY_KEY: ExecutionParameter(type=str, optional=True),
      K_NEIGHBORS_KEY: ExecutionParameter(type=int, optional=True),
      SEED_KEY: ExecutionParameter(type=int, optional=True),
      CHUNK_SIZE_KEY: ExecutionParameter(type=int, optional=True),
      # A JSON list of split names, e.g. '["train"]'.
      SPLITS_TO_RESAMPLE_KEY: ExecutionParameter(type=str, optional=True),
      # `auto` resamples from this majority/minority ratio (the policy's imbalance_ratio).
      MIN_IMBALANCE_KEY: ExecutionParameter(type=float, optional=True),
  }
  INPUTS = {
      EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
      TRANSFORM_GRAPH_KEY: ChannelParameter(type=standard_artifacts.TransformGraph),
  }
  OUTPUTS = {
      REBALANCED_EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
  }
