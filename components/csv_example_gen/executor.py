"""The CsvExampleGen executor: stock CsvExampleGen's examples, read by Arrow and encoded in C++.

Stock CsvExampleGen (tfx 1.16) parses every line in Python, infers each column's type with
`tfx_bsl.coders.csv_decoder` as a Beam side input (so Beam's in-process runner holds every parsed
line until the inference is done) and builds each `tf.train.Example` in Python, cell by cell. This
executor writes the same examples, split the same way, in two streaming passes over each file with
`pyarrow.csv.open_csv` (bounded blocks, so memory does not grow with rows):

1. Types. Every column read as text; per block, each column's non-empty values are matched with
   regular expressions in Arrow (`^-?[0-9]+$`, plain decimals) and the integers range-checked by an
   Arrow cast; the few values that match neither (spaces, `+`, `_`, `inf`, `nan`, text) go through
   the same Python test as stock (`value_type`, tfx_bsl's `_InferValueType`), which stops at a
   column's first text value. Types per column (`column_types.py`): INT if every non-empty value is an int64, else
   FLOAT if every one is a float, else STRING; UNKNOWN (no value at all) for an all-empty column.
   Files of a split are combined by a small `CombineGlobally` (one tuple per file), fed to pass 2
   as a side input: no row crosses a stage boundary.
2. Examples. Each file read again with those types as Arrow column types (a column whose values
   Arrow would parse differently from Python, e.g. ` 12` or `1_000`, is read as text and converted
   by Python's `int`/`float`, as stock does), each column turned into a list column (one value per
   row, an empty list for an empty cell) and encoded by tfx_bsl's C++
   `RecordBatchToExamplesEncoder`.

Same examples, same split. Stock writes an empty cell of a typed column as an empty value list
(`Feature(int64_list=Int64List())`: TFDV counts it as present, with no value) and every cell of an
all-empty column as `Feature()` (no kind: TFDV counts it as missing); so do these, through the
encoder (an empty list, resp. a null list). The base executor partitions records into hash-bucket
splits by the SHA-256 of the record, and for stock's `tf.train.Example` records the record is
`SerializeToString(deterministic=True)`, i.e. with the feature map in key order. The encoder
serializes a whole example's map in C++ hash order, so each column is encoded on its own and the
single-feature examples are spliced, with numpy, into one example whose map is in key order:
byte for byte the deterministic serialization of stock's example. Records are yielded as those
bytes (the base executor accepts `bytes` for FORMAT_TF_EXAMPLE and writes them as they are), so
every row lands in the same split as under stock, and the output files are byte-stable run to run.
"""
import math
import os
from typing import Any, Dict, Iterable, Iterator, List, Sequence, Tuple

import apache_beam as beam
import numpy as np
import pyarrow as pa
import tensorflow as tf
from absl import logging
from tfx import types
from tfx.components.example_gen import utils as example_gen_utils
from tfx.components.example_gen import write_split
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.components.util import examples_utils
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils
from tfx_bsl.coders import example_coder

from trainguard.components.csv_example_gen.column_types import (
    DEFAULT_BLOCK_SIZE, FLOAT, INT, STRING, TYPE_NAMES, UNKNOWN, ColumnTypes,
    header, infer_types, join_types, read_blocks)
from trainguard.components.util import spill_shuffle

# Protobuf's double -> float conversion (what stock's FloatList does with Python's float): to the
# nearest float32, except that values up to halfway between FLT_MAX and 2**128 become FLT_MAX, not
# inf as a plain cast rounds the exact halfway point.
_FLT_MAX = float(np.finfo(np.float32).max)
_FLT_HALFWAY = float.fromhex("0x1.ffffffp+127")


# ---------------------------------------------------------------------------------------------
# Pass 2: blocks of typed columns -> canonical serialized examples


def _to_float32(values: np.ndarray) -> np.ndarray:
  """float64 -> float32 as protobuf stores a Python float in a FloatList."""
  with np.errstate(over="ignore", invalid="ignore"):
    out = values.astype(np.float32)
    halfway = np.isinf(out) & np.isfinite(values) & (np.abs(values) <= _FLT_HALFWAY)
  if halfway.any():
    out[halfway] = np.copysign(_FLT_MAX, values[halfway]).astype(np.float32)
  return out


def _values(column: pa.Array, kind: int, python: bool) -> pa.Array:
  """A column's non-empty cells as the values stock's handlers store (int64, float32, bytes)."""
  present = column.drop_null() if column.null_count else column
  if python:  # text: stock's own int() / float() on the cell's bytes
    cells = present.cast(pa.binary()).to_pylist()
    if kind == INT:
      return pa.array(np.array([int(c) for c in cells], dtype=np.int64))
    if kind == FLOAT:
      return pa.array(_to_float32(np.array([float(c) for c in cells], dtype=np.float64)))
  if kind == FLOAT:
    return pa.array(_to_float32(present.to_numpy(zero_copy_only=False)))
  return present


def _list_column(column: pa.Array, kind: int, python: bool) -> pa.Array:
  """One value per non-empty cell, an empty list per empty cell (stock's handlers), or a null
  list per cell of an all-empty column (stock's `tf.train.Feature()`)."""
  n = len(column)
  if kind == UNKNOWN:
    return pa.nulls(n, pa.list_(pa.int64()))
  values = _values(column, kind, python)
  if column.null_count:
    present = column.is_valid().to_numpy(zero_copy_only=False)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(present, out=offsets[1:])
  else:
    offsets = np.arange(n + 1, dtype=np.int32)
  return pa.ListArray.from_arrays(pa.array(offsets), values)


def _varint_size(values: np.ndarray) -> np.ndarray:
  size = np.ones(len(values), dtype=np.int64)
  for bits in (7, 14, 21, 28, 35, 42, 49, 56, 63):
    size += values >= (1 << bits)
  return size


def _gather(out: np.ndarray, dst: np.ndarray, data: np.ndarray, src: np.ndarray,
            lengths: np.ndarray) -> None:
  """out[dst[i]:dst[i] + lengths[i]] = data[src[i]:src[i] + lengths[i]] for every i."""
  total = int(lengths.sum())
  within = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
  out[np.repeat(dst, lengths) + within] = data[np.repeat(src, lengths) + within]


def splice(single_feature_examples: Sequence[Sequence[bytes]], rows: int) -> List[bytes]:
  """Row r's serialized examples holding one feature each (`[column][row]`, columns in key
  order) -> one serialized example per row holding them all, the map entries in that order.

  A serialized Example holding one feature is `0x0A varint(n) <n bytes>`, where the n bytes are the
  Features message: one map entry (`0x0A varint(m) <entry>`). An Example's serialization with the
  map in key order is `0x0A varint(sum of entries' sizes)` followed by the entries in key order."""
  if not rows:
    return []
  body = np.zeros(rows, dtype=np.int64)
  pieces = []
  for encoded in single_feature_examples:
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    sizes = np.fromiter(map(len, encoded), dtype=np.int64, count=rows)
    starts = np.cumsum(sizes) - sizes
    # Header: tag byte + varint of the rest; a varint's bytes but the last have the top bit set.
    head = np.full(rows, 2, dtype=np.int64)
    more = data[starts + 1] >= 0x80
    while more.any():
      head += more
      more &= data[np.minimum(starts + head - 1, len(data) - 1)] >= 0x80
    entry = sizes - head
    pieces.append((data, starts + head, entry))
    body += entry
  body_size = _varint_size(body)
  sizes = 1 + body_size + body
  ends = np.cumsum(sizes)
  starts = ends - sizes
  out = np.empty(int(ends[-1]), dtype=np.uint8)
  out[starts] = 0x0A
  rest = body.copy()
  for j in range(int(body_size.max())):
    has = body_size > j
    byte = (rest & 0x7F) | np.where(body_size > j + 1, 0x80, 0)
    out[(starts + 1 + j)[has]] = byte[has]
    rest >>= 7
  position = starts + 1 + body_size
  for data, src, entry in pieces:
    _gather(out, position, data, src, entry)
    position = position + entry
  offsets = np.empty(rows + 1, dtype=np.int64)
  offsets[0] = 0
  offsets[1:] = ends
  return pa.Array.from_buffers(pa.large_binary(), rows,
                               [None, pa.py_buffer(offsets), pa.py_buffer(out)]).to_pylist()


class Encoder:
  """Blocks of one split's files -> canonical serialized tf.Examples."""

  def __init__(self, column_names: Sequence[str], file_types: ColumnTypes):
    self.column_names = list(column_names)
    self.types, python, self.block_size = file_types
    # Python converts numbers only: a column that became text after some value needed Python (in
    # an earlier block or another file) is read as bytes like any text column.
    self.python = tuple(p and kind in (INT, FLOAT) for p, kind in zip(python, self.types))
    # Map entries in key order, as protobuf's deterministic serialization sorts string keys (by
    # their UTF-8 bytes, which is code point order).
    self.order = sorted(range(len(self.column_names)), key=lambda i: self.column_names[i])
    self._encoder = example_coder.RecordBatchToExamplesEncoder()

  def arrow_types(self) -> Dict[str, pa.DataType]:
    kinds = {INT: pa.int64(), FLOAT: pa.float64(), STRING: pa.binary()}
    return {name: pa.string() if python else kinds[kind]
            for name, kind, python in zip(self.column_names, self.types, self.python)
            if kind != UNKNOWN}

  def read(self, path: str, block_size: int = 0) -> Iterator[pa.RecordBatch]:
    """The file's blocks with these column types (blocks of at least pass 1's block size)."""
    typed = self.arrow_types()
    text = {name: pa.string() for name in self.column_names if name not in typed}
    return read_blocks(path, self.column_names, {**text, **typed}, max(block_size, self.block_size))

  def encode(self, batch: pa.RecordBatch) -> List[bytes]:
    rows = batch.num_rows
    single = []
    for i in self.order:
      name = self.column_names[i]
      column = _list_column(batch.column(i), self.types[i], self.python[i])
      single.append(self._encoder.encode(pa.RecordBatch.from_arrays([column], [name])))
    return splice(single, rows)


# ---------------------------------------------------------------------------------------------
# Beam


@beam.typehints.with_input_types(str)
@beam.typehints.with_output_types(ColumnTypes)
class _InferFileTypes(beam.DoFn):
  """Pass 1 of one file: one small ColumnTypes per file."""

  def __init__(self, column_names: Sequence[str], block_size: int):
    self._column_names = list(column_names)
    self._block_size = block_size

  def process(self, path: str) -> Iterable[ColumnTypes]:
    yield infer_types(path, self._column_names, self._block_size)


class _JoinColumnTypes(beam.CombineFn):
  """Per column: the highest type seen in any file, and whether any file needs Python."""

  def __init__(self, columns: int):
    self._columns = columns

  def create_accumulator(self) -> ColumnTypes:
    return ColumnTypes((UNKNOWN,) * self._columns, (False,) * self._columns, 0)

  def add_input(self, accumulator: ColumnTypes, file_types: ColumnTypes) -> ColumnTypes:
    return join_types(accumulator, file_types)

  def merge_accumulators(self, accumulators: Iterable[ColumnTypes]) -> ColumnTypes:
    result = self.create_accumulator()
    for accumulator in accumulators:
      result = join_types(result, accumulator)
    return result

  def extract_output(self, accumulator: ColumnTypes) -> ColumnTypes:
    return accumulator


@beam.typehints.with_input_types(str, ColumnTypes)
@beam.typehints.with_output_types(bytes)
class _EncodeFile(beam.DoFn):
  """Pass 2 of one file: its rows as canonical serialized tf.Examples, block by block."""

  def __init__(self, column_names: Sequence[str]):
    self._column_names = list(column_names)
    self._encoder = None
    self._types = None
    self._rows = beam.metrics.Metrics.counter("trainguard_csv_example_gen", "rows")

  def process(self, path: str, file_types: ColumnTypes) -> Iterable[bytes]:
    if self._encoder is None or self._types != file_types:
      self._encoder = Encoder(self._column_names, file_types)
      self._types = file_types
      logging.info("Column types: %s", ", ".join(
          f"{name} {TYPE_NAMES[kind]}{' (converted by Python)' if python else ''}"
          for name, kind, python in zip(self._column_names, file_types.types, file_types.python)))
    for batch in self._encoder.read(path):
      self._rows.inc(batch.num_rows)
      yield from self._encoder.encode(batch)


def split_files(input_base: str, split_pattern: str) -> Tuple[List[str], List[str]]:
  """The split's files and their column names, checked as stock checks them."""
  pattern = os.path.join(input_base, split_pattern)
  files = fileio.glob(pattern)
  if not files:
    raise RuntimeError(f"Split pattern {pattern} does not match any files.")
  column_names = header(files[0])
  for path in files[1:]:
    if header(path) != column_names:
      raise RuntimeError(f"Files in same split {pattern} have different header.")
  duplicated = sorted({n for n in column_names if column_names.count(n) > 1})
  if duplicated:
    # Stock keeps the last column of a name and merges the types of all of them; refuse instead.
    raise RuntimeError(f"{files[0]}: the header names a column more than once: {duplicated}")
  return files, column_names


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(bytes)
def CsvToSerializedExamples(  # pylint: disable=invalid-name
    pipeline: beam.Pipeline, exec_properties: Dict[str, Any], split_pattern: str,
    block_size: int = DEFAULT_BLOCK_SIZE) -> beam.pvalue.PCollection:
  """One input split's CSV files -> serialized tf.Examples, as stock CsvExampleGen's."""
  input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
  files, column_names = split_files(input_base, split_pattern)
  logging.info("Reading %d CSV file(s) of %s with %d columns.", len(files),
               os.path.join(input_base, split_pattern), len(column_names))
  paths = pipeline | "Files" >> beam.Create(files)
  split_types = (paths
                   | "InferTypes" >> beam.ParDo(_InferFileTypes(column_names, block_size))
                   | "JoinTypes" >> beam.CombineGlobally(_JoinColumnTypes(len(column_names))))
  return paths | "Encode" >> beam.ParDo(_EncodeFile(column_names),
                                        beam.pvalue.AsSingleton(split_types))


# CSV bytes per output shard: a shard is held in memory while it is sorted and written (about
# 3-4x the CSV bytes as records), so this bounds the writer's memory whatever the split's size.
CSV_BYTES_PER_SHARD = 16 << 20
MAX_SHARDS = 1000


def shards_for(csv_bytes: float) -> int:
  return max(1, min(MAX_SHARDS, math.ceil(csv_bytes / CSV_BYTES_PER_SHARD)))


def split_shards(exec_properties: Dict[str, Any]) -> Dict[str, int]:
  """Output shards per split, from the size of the CSV files that feed it."""
  input_config = example_gen_pb2.Input()
  proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY],
                            input_config)
  output_config = example_gen_pb2.Output()
  proto_utils.json_to_proto(exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY],
                            output_config)
  input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]

  def csv_bytes(pattern: str) -> int:
    return sum(tf.io.gfile.stat(path).length for path in fileio.glob(os.path.join(input_base, pattern)))

  names = example_gen_utils.generate_output_split_names(input_config, output_config)
  if output_config.split_config.splits:
    total = csv_bytes(input_config.splits[0].pattern)
    buckets = [split.hash_buckets for split in output_config.split_config.splits]
    return {name: shards_for(total * b / sum(buckets)) for name, b in zip(names, buckets)}
  return {name: shards_for(csv_bytes(split.pattern))
          for name, split in zip(names, input_config.splits)}


class Executor(BaseExampleGenExecutor):
  """CSV -> tf.Example, stock CsvExampleGen's examples and splits, streamed through Arrow.

  Each split is written by `spill_shuffle` instead of the base executor's `WriteSplit`, whose
  `Reshuffle` makes Beam's DirectRunner hold the whole split in memory: the same records, in a
  seeded pseudo-random order (stock's is random too), byte-identical from run to run, in
  `data_tfrecord-SSSSS-of-NNNNN.gz` files of about `CSV_BYTES_PER_SHARD` of CSV each.
  """

  def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
    return CsvToSerializedExamples

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
    self._log_startup(input_dict, output_dict, exec_properties)
    payload = exec_properties.get(standard_component_specs.OUTPUT_DATA_FORMAT_KEY)
    if payload not in (None, example_gen_pb2.FORMAT_TF_EXAMPLE):
      raise ValueError(f"output_data_format {payload} is not supported: this CsvExampleGen "
                       "writes tf.Example (FORMAT_TF_EXAMPLE) only.")
    file_format = exec_properties.get(standard_component_specs.OUTPUT_FILE_FORMAT_KEY)
    if file_format not in (None, example_gen_pb2.FILE_FORMAT_UNSPECIFIED,
                           example_gen_pb2.FORMAT_TFRECORDS_GZIP):
      raise ValueError(f"output_file_format {file_format} is not supported: this CsvExampleGen "
                       "writes GZIP TFRecords only.")
    examples = artifact_utils.get_single_instance(
        output_dict[standard_component_specs.EXAMPLES_KEY])
    shards = split_shards(exec_properties)
    examples.split_names = artifact_utils.encode_split_names(list(shards))
    spill_root = spill_shuffle.spill_root(self, examples.uri, "shuffle")
    logging.info("Generating examples: %s.",
                 ", ".join(f"{name} in {n} shard(s)" for name, n in shards.items()))
    try:
      with self._make_beam_pipeline() as pipeline:
        for name, records in self.GenerateExamplesByBeam(pipeline, exec_properties).items():
          directory = artifact_utils.get_split_uri([examples], name)
          if fileio.exists(directory):  # a retried execution: no stale shard may survive
            fileio.rmtree(directory)
          fileio.makedirs(directory)
          spill_dir = os.path.join(spill_root, name)
          fileio.makedirs(spill_dir)
          _ = records | f"WriteSplit[{name}]" >> spill_shuffle.ShuffleToTFRecords(
              directory, write_split.DEFAULT_TF_RECORD_FILE_NAME, shards[name], spill_dir)
    finally:
      if fileio.exists(spill_root):
        fileio.rmtree(spill_root)
    examples_utils.set_payload_format(examples, example_gen_pb2.FORMAT_TF_EXAMPLE)
    examples_utils.set_file_format(
        examples, write_split.to_file_format_str(example_gen_pb2.FORMAT_TFRECORDS_GZIP))
    logging.info("Examples generated.")
