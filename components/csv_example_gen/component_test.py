"""The CsvExampleGen component: stock's id, spec, driver and properties; our executor."""
from tfx import components as stock
from tfx.dsl.components.base import executor_spec
from tfx.orchestration import data_types
from tfx.proto import example_gen_pb2

from trainguard.components.csv_example_gen import component, executor


def test_same_id_spec_and_driver_as_stock_with_our_executor():
  gen = component.CsvExampleGen(input_base="/data")
  reference = stock.CsvExampleGen(input_base="/data")
  assert gen.id == reference.id == "CsvExampleGen"
  assert type(gen).SPEC_CLASS is type(reference).SPEC_CLASS
  assert type(gen).DRIVER_CLASS is type(reference).DRIVER_CLASS
  assert gen.exec_properties == reference.exec_properties
  assert gen.outputs["examples"].type == reference.outputs["examples"].type
  assert isinstance(gen.executor_spec, executor_spec.BeamExecutorSpec)
  assert gen.executor_spec.executor_class is executor.Executor


def test_configs_and_runtime_parameters_pass_through():
  input_config = example_gen_pb2.Input(splits=[
      example_gen_pb2.Input.Split(name="train", pattern="train/*"),
      example_gen_pb2.Input.Split(name="eval", pattern="eval/*")])
  root = data_types.RuntimeParameter(name="data_root", ptype=str, default="/data")
  gen = component.CsvExampleGen(input_base=root, input_config=input_config).with_id("main")
  reference = stock.CsvExampleGen(input_base=root, input_config=input_config)
  assert gen.id == "main"
  assert gen.exec_properties == reference.exec_properties
