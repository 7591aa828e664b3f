"""TFX's Evaluator component (same spec, parameters and id) with a blessing that also reads the
training diagnosis."""
from tfx.components.evaluator import component
from tfx.dsl.components.base import executor_spec

from trainguard.components.evaluator import executor


class Evaluator(component.Evaluator):
  """`tfx.components.Evaluator` whose executor, after TFMA's blessing, withholds it from a model
  whose training diagnosis has a blocking finding (see executor.py)."""

  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)
