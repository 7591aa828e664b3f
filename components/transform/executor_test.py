"""The Transform executor's batch size: fixed for tf.Example, stock's answer otherwise."""
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx.proto import example_gen_pb2

from trainguard.components.transform import component, executor


def test_tf_examples_are_batched_by_a_fixed_size():
  ours = executor.FixedBatchTransformProcessor()
  assert ours._GetDesiredBatchSize(  # pylint: disable=protected-access
      example_gen_pb2.FORMAT_TF_EXAMPLE, schema_pb2.Schema()) == executor.BATCH_SIZE


def test_the_component_is_stocks_with_this_executor():
  assert component.Transform.EXECUTOR_SPEC.executor_class is executor.Executor
  from tfx.types import standard_component_specs  # pylint: disable=g-import-not-at-top
  assert component.Transform.SPEC_CLASS is standard_component_specs.TransformSpec


def test_do_runs_the_fixed_batch_processor_and_restores_stocks(monkeypatch):
  from tfx.components.transform import executor as tfx_transform  # pylint: disable=g-import-not-at-top
  stock = tfx_transform.TransformProcessor
  seen = []
  monkeypatch.setattr(tfx_transform.Executor, "Do",
                      lambda self, *args: seen.append(tfx_transform.TransformProcessor))
  executor.Executor().Do({}, {}, {})
  assert seen == [executor.FixedBatchTransformProcessor]
  assert tfx_transform.TransformProcessor is stock
