"""The Rebalance component's spec: its inputs, output and parameters, and the parameter defaults.

Non-primitive parameters (`sampling_strategy`, `splits_to_resample`) travel as JSON strings, so the
spec compiles unchanged for LocalDagRunner and Kubeflow; `component.Rebalance` encodes them.
"""
from tfx import types
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

EXAMPLES_KEY = "examples"
TRANSFORM_GRAPH_KEY = "transform_graph"
REBALANCED_EXAMPLES_KEY = "rebalanced_examples"

LABEL_KEY = "label_key"
STRATEGY_KEY = "strategy"
SAMPLING_STRATEGY_KEY = "sampling_strategy"
K_NEIGHBORS_KEY = "k_neighbors"
SEED_KEY = "seed"
CHUNK_SIZE_KEY = "chunk_size"
SPLITS_TO_RESAMPLE_KEY = "splits_to_resample"

DEFAULT_STRATEGY = "auto"
DEFAULT_SAMPLING_STRATEGY = "auto"
DEFAULT_K_NEIGHBORS = 5
DEFAULT_SEED = 42
DEFAULT_CHUNK_SIZE = 100_000
DEFAULT_SPLITS_TO_RESAMPLE = ("train",)


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
  }
  INPUTS = {
      EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
      TRANSFORM_GRAPH_KEY: ChannelParameter(type=standard_artifacts.TransformGraph),
  }
  OUTPUTS = {
      REBALANCED_EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
  }


class RebalanceError(ValueError):
  """Parameters that do not fit the data (a class too small for k_neighbors, a sampling_strategy
  that names no class, ...): the user's to fix, so the CLI reports it as a usage error."""
