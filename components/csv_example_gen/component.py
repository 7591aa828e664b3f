"""The CsvExampleGen component: a drop-in for TFX's, with a streaming Arrow + C++ executor."""
from typing import Optional, Union

from tfx.components.example_gen import component
from tfx.dsl.components.base import executor_spec
from tfx.dsl.placeholder import placeholder
from tfx.orchestration import data_types
from tfx.proto import example_gen_pb2, range_config_pb2

from trainguard.components.csv_example_gen import executor


class CsvExampleGen(component.FileBasedExampleGen):
  """CSV files -> train/eval `Examples`, the same examples and splits as TFX's CsvExampleGen.

  Same parameters, driver (spans, versions, fingerprints), outputs and default id
  (`CsvExampleGen`) as `tfx.components.CsvExampleGen`; only the executor differs: two streaming
  passes over each file with Arrow (column types, then examples encoded by tfx_bsl in C++), no
  per-cell Python, no side input holding the parsed lines. Column types are inferred per split
  exactly as stock does (INT if every non-empty value is an int64, else FLOAT if every one is a
  float, else STRING); an empty cell is an empty value list of the column's type, a column with no
  value at all is `tf.train.Feature()` in every row. Each example is written with its feature map
  in key order (stock's bytes are in hash order), so records land in the same hash-bucket split as
  under stock and the files are byte-stable from run to run.

  Example:
    example_gen = CsvExampleGen(
        input_base=data_root,
        output_config=example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(splits=[
            example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=2),
            example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=1)])))

  Output `examples` (Examples): GZIP TFRecords of tf.Example, one folder per split.
  """

  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

  def __init__(
      self,
      input_base: Optional[str] = None,
      input_config: Optional[Union[example_gen_pb2.Input, data_types.RuntimeParameter]] = None,
      output_config: Optional[Union[example_gen_pb2.Output, data_types.RuntimeParameter]] = None,
      range_config: Optional[Union[placeholder.Placeholder, range_config_pb2.RangeConfig,
                                   data_types.RuntimeParameter]] = None):
    """Constructs a CsvExampleGen.

    Args:
      input_base: a folder of CSV files, each with a header line (the same in every file of a
        split).
      input_config: the input splits (file patterns relative to `input_base`); by default every
        file under `input_base` is one split.
      output_config: the output splits (hash buckets) when the input is one split; by default
        `train` and `eval`, 2:1.
      range_config: the spans to consider (see TFX's ExampleGen); by default the latest.
    """
    super().__init__(input_base=input_base, input_config=input_config,
                     output_config=output_config, range_config=range_config)
