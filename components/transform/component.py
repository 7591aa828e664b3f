"""TFX's Transform component (same spec, parameters and id) with a reproducible batch size."""
from tfx.components.transform import component
from tfx.dsl.components.base import executor_spec

from trainguard.components.transform import executor


class Transform(component.Transform):
  """`tfx.components.Transform` whose executor batches by a fixed size (see executor.py): the same
  rows give the same learned means, variances and vocabularies from run to run."""

  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)
