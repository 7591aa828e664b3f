"""The CsvExampleGen executor against stock CsvExampleGen (tfx 1.16) on small temporary CSVs.

Stock is the reference for everything: column types (tfx_bsl's csv_decoder inference), the examples
(compared parsed, and as bytes against stock's deterministic serialization, which is what the base
executor hashes to pick a split), the split of every row, and what TFDV counts in the statistics.
Beam runs in-process.
"""
import csv
import io
import math
import os
import random

import apache_beam as beam
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_data_validation as tfdv
from tfx.components.example_gen import base_example_gen_executor
from tfx.components.example_gen.csv_example_gen import executor as stock
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.utils import proto_utils
from tfx_bsl.coders import csv_decoder

from trainguard.components.csv_example_gen import column_types
from trainguard.components.csv_example_gen import executor as ours

BEAM_ARGS = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]

# Columns chosen to trip a vectorised inference: each must get the type stock gives it.
TRICKY = {
    "ints": ["1", "-3", "007", "0", "", "-9223372036854775808", "9223372036854775807"],
    "floats": ["1.5", "", "-.5", "1.", "1e3", "2", "-0"],
    "exp_only": ["1e3", "2E-2", "3e+1", "", "4", "5", "6"],
    "negative": ["-1", "-2", "-3", "-4", "", "-5", "-6"],
    "empty_cells": ["", "", "7", "", "", "", "8"],
    "all_empty": ["", "", "", "", "", "", ""],
    "numeric_then_text": ["1", "2", "3", "4", "5", "6", "seven"],
    "text_then_numeric": ["a", "2", "3", "4", "5", "6", "7"],
    "int_overflow": ["1", "2", "9223372036854775808", "4", "5", "6", "7"],
    "overflow_in_floats": ["1.5", "2", "-9223372036854775809", "4", "", "6", "7"],
    "quoted_commas": ["a,b", "c", "d,e,f", "", "g", "h", "i"],
    "embedded_newlines": ["line1\nline2", "x", "y\r\nz", "", "w", "v", "u"],
    "quoted_numbers": ["1,000", "2", "3", "4", "5", "6", "7"],
    "quotes": ['say "hi"', '"', '""', "x", "y", "z", "w"],
    "unicode": ["héllo", "日本", "😀", "", "ñ", "ü", "e\u0301"],
    "unicode_digits": ["١٢", "3", "4", "5", "6", "7", "8"],
    "spaces_ints": [" 12", "13 ", "\t14", "15", "", "16", "17"],
    "spaces_text": [" ", "1", "2", "3", "4", "5", "6"],
    "plus_and_underscores": ["+5", "1_000", "-2", "3", "", "4", "5"],
    "underscore_floats": ["1_0.5", "2.5", "3", "4", "5", "6", "7"],
    "inf_nan": ["inf", "-Infinity", "nan", "NaN", "-nan", "1.5", "+inf"],
    "hex": ["0x10", "1", "2", "3", "4", "5", "6"],
    "float_edges": ["3.4028235677973366e38", "-3.4028235677973366e38", "1e39", "1e-46",
                    "1e400", "-1e-400", "3.40282357e38"],
    "long_digits": ["1" * 30, "2", "3", "4", "5", "6", "7"],
    "huge_digits": ["9" * 5000, "2", "3", "4", "5", "6", "7"],
    "long_text": ["x" * 200, "y" * 20000, "z", "", "w", "v", "u"],
}


def _write_csv(path, columns, rows, line_terminator="\n", trailing_newline=True):
  buffer = io.StringIO()
  writer = csv.writer(buffer, lineterminator=line_terminator)
  writer.writerow(columns)
  writer.writerows(rows)
  text = buffer.getvalue()
  if not trailing_newline:
    text = text[:-len(line_terminator)]
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w", encoding="utf-8", newline="") as f:
    f.write(text)
  return path


def _tricky_rows():
  columns = list(TRICKY)
  return columns, [list(cells) for cells in zip(*TRICKY.values())]


def _run(transform, input_base, pattern, out):
  """The PTransform's records as serialized bytes (stock's tf.Examples deterministically)."""
  with beam.Pipeline(argv=BEAM_ARGS) as pipeline:
    _ = (pipeline
         | transform({standard_component_specs.INPUT_BASE_KEY: input_base}, pattern)
         | beam.Map(lambda e: e if isinstance(e, bytes) else e.SerializeToString(
             deterministic=True))
         | beam.io.WriteToTFRecord(out, shard_name_template=""))
  return list(tf.data.TFRecordDataset(out).as_numpy_iterator())


def _parsed(record):
  """A feature map as comparable Python values; NaN as a string so that NaN == NaN."""
  example = tf.train.Example.FromString(record)
  result = {}
  for name, feature in example.features.feature.items():
    kind = feature.WhichOneof("kind")
    values = list(getattr(feature, kind).value) if kind else None
    if kind == "float_list":
      values = [("nan", math.copysign(1, v)) if math.isnan(v) else v for v in values]
    result[name] = (kind, values)
  return result


def _both(tmp_path, text=None, files=None, pattern="*"):
  """(stock records, our records) for one split made of `files` ({name: text}) or one file."""
  files = files or {"data.csv": text}
  base = tmp_path / "input"
  for name, content in files.items():
    os.makedirs(os.path.dirname(base / name), exist_ok=True)
    with open(base / name, "w", encoding="utf-8", newline="") as f:
      f.write(content)
  expected = _run(stock._CsvToExample, str(base), pattern, str(tmp_path / "stock.tfrecord"))
  actual = _run(ours.CsvToSerializedExamples, str(base), pattern, str(tmp_path / "ours.tfrecord"))
  return expected, actual


def _assert_same_examples(expected, actual):
  assert len(actual) == len(expected)
  key = lambda parsed: repr(sorted(parsed.items()))  # pylint: disable=unnecessary-lambda-assignment
  assert sorted(map(_parsed, actual), key=key) == sorted(map(_parsed, expected), key=key)
  # Byte for byte stock's deterministic serialization, which is what picks a row's split.
  assert sorted(actual) == sorted(expected)


# ---------------------------------------------------------------------------------------------
# Types


def _stock_types(path):
  """tfx_bsl's own inference over the file's rows, as stock's InferColumnTypes combine sees them."""
  with open(path, encoding="utf-8", newline="") as f:
    reader = csv.reader(f)
    columns = next(reader)
    inferrer = csv_decoder.ColumnTypeInferrer(columns, skip_blank_lines=True)
    accumulator = inferrer.create_accumulator()
    for row in reader:
      accumulator = inferrer.add_input(accumulator, [c.encode() for c in row])
  names = {csv_decoder.ColumnType.UNKNOWN: "UNKNOWN", csv_decoder.ColumnType.INT: "INT",
           csv_decoder.ColumnType.FLOAT: "FLOAT", csv_decoder.ColumnType.STRING: "STRING"}
  return {info.name: names[info.type] for info in inferrer.extract_output(accumulator)}


def test_value_type_is_tfx_bsls():
  values = [v.encode() for cells in TRICKY.values() for v in cells] + [
      b"1e", b"e3", b".", b"-", b"+", b"--1", b"1-", b"0x1p3", b"1__0", b"_1", b"1_", b"infinity",
      b"infinit", b"nan1", b"1.5.5", b"\xc2\xa012", b"\n12\n", b"12\x00", b"0b101", b"1j",
      b"+5", b"1_000", b"-0", b"1e309", "１２".encode(), "١٢".encode(), b"9" * 25, b"-" + b"9" * 19,
      b"12\xc2\x85", b"\xff", b" 12 "]
  expected = {csv_decoder.ColumnType.UNKNOWN: column_types.UNKNOWN, csv_decoder.ColumnType.INT: column_types.INT,
              csv_decoder.ColumnType.FLOAT: column_types.FLOAT, csv_decoder.ColumnType.STRING: column_types.STRING}
  for value in values:
    assert column_types.value_type(value) == expected[csv_decoder._InferValueType(value)], value


@pytest.mark.parametrize("block_size", [1 << 10, 1 << 16, column_types.DEFAULT_BLOCK_SIZE])
def test_column_types_are_stocks_on_tricky_columns(tmp_path, block_size):
  columns, rows = _tricky_rows()
  # Enough rows that small blocks split the file: the tricky rows come last, in the last block.
  plain = [["1", "2.5", "3", "-1", "", "", "1", "a", "1", "1", "x", "a", "1", "x", "a", "1",
            "1", "1", "1", "1.5", "1.5", "1", "1.5", "1", "1", "x"]] * 200
  assert len(plain[0]) == len(columns)
  path = _write_csv(str(tmp_path / "data.csv"), columns, plain + rows)
  types, _, used_block_size = column_types.infer_types(path, column_types.header(path), block_size)
  # Blocks too small for the longest row (20,000 bytes) are doubled until they hold it.
  assert (used_block_size > block_size) == (block_size == 1 << 10)
  assert {c: column_types.TYPE_NAMES[t] for c, t in zip(columns, types)} == _stock_types(path)
  assert dict(zip(columns, (column_types.TYPE_NAMES[t] for t in types))) == {
      "ints": "INT", "floats": "FLOAT", "exp_only": "FLOAT", "negative": "INT",
      "empty_cells": "INT", "all_empty": "UNKNOWN", "numeric_then_text": "STRING",
      "text_then_numeric": "STRING", "int_overflow": "STRING", "overflow_in_floats": "STRING",
      "quoted_commas": "STRING", "embedded_newlines": "STRING", "quoted_numbers": "STRING",
      "quotes": "STRING", "unicode": "STRING", "unicode_digits": "STRING", "spaces_ints": "INT",
      "spaces_text": "STRING", "plus_and_underscores": "INT", "underscore_floats": "FLOAT",
      "inf_nan": "FLOAT", "hex": "STRING", "float_edges": "FLOAT", "long_digits": "STRING",
      "huge_digits": "FLOAT", "long_text": "STRING"}


def test_values_arrow_would_parse_differently_are_converted_by_python(tmp_path):
  columns, rows = _tricky_rows()
  path = _write_csv(str(tmp_path / "data.csv"), columns, rows)
  types, python, _ = column_types.infer_types(path, column_types.header(path))
  needs_python = {c for c, t, p in zip(columns, types, python) if p and t != column_types.STRING}
  assert needs_python == {"spaces_ints", "plus_and_underscores", "underscore_floats", "inf_nan",
                          "huge_digits"}


# ---------------------------------------------------------------------------------------------
# Examples


def test_tricky_columns_give_stocks_examples(tmp_path):
  columns, rows = _tricky_rows()
  buffer = io.StringIO()
  writer = csv.writer(buffer, lineterminator="\n")
  writer.writerow(columns)
  writer.writerows(rows)
  expected, actual = _both(tmp_path, buffer.getvalue())
  _assert_same_examples(expected, actual)
  kinds = {name: kind for name, (kind, _) in _parsed(actual[0]).items()}
  assert kinds["all_empty"] is None and kinds["ints"] == "int64_list"
  assert kinds["floats"] == "float_list" and kinds["unicode"] == "bytes_list"


@pytest.mark.parametrize("text", [
    # CRLF, with a quoted CRLF inside a value.
    'a,b,c\r\n1,"x\r\ny",2.5\r\n3,z,\r\n',
    # No newline after the last row.
    "a,b\n1,2\n3,4",
    # Blank lines between rows and at the end.
    "a,b\n1,x\n\n2,y\n\r\n\n",
    # Stock's own multi-line test file (quotes inside a quoted field spanning lines).
    'A,B,C,D\n1,2,3,4\n1,"""2,\n""3"",\n4\n5""",6,7\n1,2,3,4\n',
    # Stock's own empty-column test file.
    "A,B,C,D\n1,,x,0.1\n2,,y,0.2\n3,,,0.3\n",
    # Quoted empty strings and quoted numbers.
    'a,b,c\n"",1,"2"\n"x","",3\n',
    # A header only: no example.
    "a,b\n",
    # One column (a blank line is no row, as for stock).
    "a\n1\n\n2\n",
    # Unicode column names (key order is by UTF-8 bytes), an empty column name.
    "é,z,a,日,,A\n1,2,3,4,5,6\n",
    # A byte-order mark (part of the first column's name, as stock reads the header), and a
    # quoted value followed by more characters.
    '\ufeffa,b\n1,"ab"c\n2,d\n',
])
def test_csv_dialect_gives_stocks_examples(tmp_path, text):
  expected, actual = _both(tmp_path, text)
  _assert_same_examples(expected, actual)


def test_types_are_inferred_over_all_files_of_a_split(tmp_path):
  # w: an integer Python converts (" 5") in one file, text in the other: STRING.
  expected, actual = _both(tmp_path, files={
      "train/a.csv": "x,y,z,w\n1,a,, 5\n2,b,,6\n", "train/b.csv": "x,y,z,w\n2.5,3,,text\n,4,,\n",
      "eval/c.csv": "x,y,z,w\ntext,1,,\n"}, pattern="train/*")
  _assert_same_examples(expected, actual)
  assert len(actual) == 4
  assert {name: k for name, (k, _) in _parsed(actual[0]).items()} == {
      "x": "float_list", "y": "bytes_list", "z": None, "w": "bytes_list"}


def test_block_boundaries_do_not_change_the_examples(tmp_path):
  rng = random.Random(3)
  rows = [[str(rng.randint(-5, 5)) if rng.random() > 0.2 else "",
           f"{rng.random():.6g}" if rng.random() > 0.2 else "",
           rng.choice(["a", "b,c", "d\ne", ""])] for _ in range(3000)]
  path = _write_csv(str(tmp_path / "data.csv"), ["i", "f", "s"], rows)
  names = column_types.header(path)
  small, large = (ours.Encoder(names, column_types.infer_types(path, names, size))
                  for size in (1 << 10, column_types.DEFAULT_BLOCK_SIZE))
  assert small.block_size == 1 << 10 and small.types == large.types
  assert len(list(small.read(path))) > 10 and len(list(large.read(path))) == 1
  examples = [[r for b in encoder.read(path) for r in encoder.encode(b)]
              for encoder in (small, large)]
  assert len(examples[0]) == 3000 and examples[0] == examples[1]


def test_splice_is_the_deterministic_serialization():
  rng = random.Random(7)
  names = sorted(["a", "b", "long" * 40, "é", "z" * 200])
  examples = []
  for _ in range(300):
    feature = {}
    for name in names:
      kind = rng.choice(["int", "float", "bytes", "none", "empty"])
      if kind == "int":
        feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(
            value=[rng.randint(-2**63, 2**63 - 1) for _ in range(rng.randint(0, 3))]))
      elif kind == "float":
        feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=[rng.random()]))
      elif kind == "bytes":  # up to 3-byte varint lengths
        feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(
            value=[b"x" * rng.choice([0, 5, 127, 128, 300, 16383, 16384, 70000])]))
      elif kind == "empty":
        feature[name] = tf.train.Feature(int64_list=tf.train.Int64List())
      else:
        feature[name] = tf.train.Feature()
    examples.append(tf.train.Example(features=tf.train.Features(feature=feature)))
  single = [[tf.train.Example(features=tf.train.Features(
      feature={name: e.features.feature[name]})).SerializeToString() for e in examples]
            for name in names]
  assert ours.splice(single, len(examples)) == [
      e.SerializeToString(deterministic=True) for e in examples]
  assert ours.splice([], 0) == []


def test_float_conversion_is_protobufs():
  values = np.array([3.4028235677973366e38, -3.4028235677973366e38, 3.402823567797337e38,
                     3.4028235e38, 1e39, -1e39, 1e-46, 7e-46, 2.1e-45, 1 + 2**-24, 0.1,
                     float("inf"), float("-inf")])
  expected = list(tf.train.FloatList(value=values.tolist()).value)
  assert ours._to_float32(values).astype(np.float64).tolist() == expected


def test_a_bad_row_fails_with_the_file_name(tmp_path):
  path = tmp_path / "input" / "data.csv"
  os.makedirs(path.parent)
  path.write_text("a,b\n1,2\n3\n", encoding="utf-8")
  with pytest.raises(Exception, match="data.csv"):
    _run(ours.CsvToSerializedExamples, str(path.parent), "*", str(tmp_path / "o.tfrecord"))
  path.write_bytes(b"a,b\n1,\xff\n")  # not UTF-8 (stock fails too)
  with pytest.raises(Exception, match="data.csv"):
    _run(ours.CsvToSerializedExamples, str(path.parent), "*", str(tmp_path / "o2.tfrecord"))


def test_split_files_checks_as_stock(tmp_path):
  base = tmp_path / "input"
  os.makedirs(base)
  with pytest.raises(RuntimeError, match="does not match any files"):
    ours.split_files(str(base), "*")
  (base / "a.csv").write_text("x,y\n1,2\n")
  (base / "b.csv").write_text("x,z\n1,2\n")
  with pytest.raises(RuntimeError, match="different header"):
    ours.split_files(str(base), "*")
  (base / "b.csv").write_text("x,x\n1,2\n")
  with pytest.raises(RuntimeError, match="more than once"):
    ours.split_files(str(base), "b.csv")


# ---------------------------------------------------------------------------------------------
# The executor: splits and statistics


def _generated_csv(path, rows=600, seed=5):
  rng = np.random.default_rng(seed)
  out = []
  for i in range(rows):
    out.append([
        str(i),
        "" if rng.random() < 0.2 else f"{rng.normal(10, 3):.5g}",
        "" if rng.random() < 0.3 else str(int(rng.integers(-100, 100))),
        "" if rng.random() < 0.1 else rng.choice(["red", "green", "blue, dark", "ünï\ncode"]),
        "",
        rng.choice(["yes", "no"]),
    ])
  return _write_csv(path, ["id", "num", "count", "colour", "nothing", "label"], out,
                    line_terminator="\r\n")


def _do(executor_class, input_base, output_uri, output_config=None, input_config=None):
  examples = standard_artifacts.Examples()
  examples.uri = output_uri
  input_config = input_config or example_gen_pb2.Input(
      splits=[example_gen_pb2.Input.Split(name="single_split", pattern="*")])
  exec_properties = {
      standard_component_specs.INPUT_BASE_KEY: input_base,
      standard_component_specs.INPUT_CONFIG_KEY: proto_utils.proto_to_json(input_config),
      standard_component_specs.OUTPUT_CONFIG_KEY: proto_utils.proto_to_json(
          output_config or example_gen_pb2.Output()),
      standard_component_specs.OUTPUT_DATA_FORMAT_KEY: example_gen_pb2.FORMAT_TF_EXAMPLE,
      standard_component_specs.OUTPUT_FILE_FORMAT_KEY: example_gen_pb2.FORMAT_TFRECORDS_GZIP,
  }
  executor = executor_class(
      base_beam_executor.BaseBeamExecutor.Context(beam_pipeline_args=BEAM_ARGS))
  executor.Do({}, {standard_component_specs.EXAMPLES_KEY: [examples]}, exec_properties)
  return examples


def _split_records(examples, split):
  folder = artifact_utils.get_split_uri([examples], split)
  paths = sorted(os.path.join(folder, n) for n in os.listdir(folder))
  return list(tf.data.TFRecordDataset(paths, compression_type="GZIP").as_numpy_iterator())


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
  """Stock's and our executor on the same CSV, split 3:1:1 into train/eval/test."""
  root = tmp_path_factory.mktemp("executed")
  _generated_csv(str(root / "input" / "data.csv"))
  output_config = example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(splits=[
      example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=3),
      example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=1),
      example_gen_pb2.SplitConfig.Split(name="test", hash_buckets=1)]))
  return {name: _do(executor_class, str(root / "input"), str(root / name), output_config)
          for name, executor_class in (("stock", stock.Executor), ("ours", ours.Executor))}


SPLITS = ("train", "eval", "test")


def test_every_row_lands_in_stocks_split_by_the_hash_buckets(executed):
  assert executed["ours"].split_names == executed["stock"].split_names == \
      artifact_utils.encode_split_names(list(SPLITS))
  total = 0
  for index, split in enumerate(SPLITS):
    records = _split_records(executed["ours"], split)
    expected = [tf.train.Example.FromString(r).SerializeToString(deterministic=True)
                for r in _split_records(executed["stock"], split)]
    _assert_same_examples(expected, records)
    # The base executor's own partition function, on our records, puts each in this split.
    config = example_gen_pb2.SplitConfig(splits=[
        example_gen_pb2.SplitConfig.Split(name=s, hash_buckets=b)
        for s, b in zip(SPLITS, (3, 1, 1))])
    assert {base_example_gen_executor._PartitionFn(r, 3, [3, 4, 5], config)
            for r in records} == {index}
    total += len(records)
  assert total == 600
  assert 0.45 < len(_split_records(executed["ours"], "train")) / total < 0.75


def test_output_is_byte_stable_and_marked_as_tf_examples(executed, tmp_path):
  again = _do(ours.Executor, os.path.dirname(_input_of(executed)), str(tmp_path / "again"),
              example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(splits=[
                  example_gen_pb2.SplitConfig.Split(name=s, hash_buckets=b)
                  for s, b in zip(SPLITS, (3, 1, 1))])))
  for split in SPLITS:
    assert _split_records(again, split) == _split_records(executed["ours"], split)
  assert executed["ours"].get_string_custom_property("payload_format") == "FORMAT_TF_EXAMPLE"
  assert executed["ours"].get_string_custom_property("file_format") == "tfrecords_gzip"


def _input_of(executed):
  return os.path.join(os.path.dirname(executed["ours"].uri), "input", "data.csv")


def _statistics(examples, split, tmp_path):
  folder = artifact_utils.get_split_uri([examples], split)
  stats = tfdv.generate_statistics_from_tfrecord(
      data_location=os.path.join(folder, "*"), output_path=str(tmp_path / f"{split}.stats"),
      pipeline_options=beam.options.pipeline_options.PipelineOptions(BEAM_ARGS))
  return {f.path.step[0]: f for f in stats.datasets[0].features}, stats.datasets[0].num_examples


def test_tfdv_counts_missing_values_as_for_stocks_examples(executed, tmp_path):
  ours_stats, ours_rows = _statistics(executed["ours"], "train", tmp_path / "ours")
  stock_stats, stock_rows = _statistics(executed["stock"], "train", tmp_path / "stock")
  assert ours_rows == stock_rows
  assert set(ours_stats) == set(stock_stats) == {"id", "num", "count", "colour", "nothing",
                                                 "label"}
  for name, expected in stock_stats.items():
    actual = ours_stats[name]
    assert actual.type == expected.type, name
    kind = expected.WhichOneof("stats")
    assert actual.WhichOneof("stats") == kind, name
    common, stock_common = (getattr(actual, kind).common_stats,
                            getattr(expected, kind).common_stats)
    for field in ("num_missing", "num_non_missing", "min_num_values", "max_num_values",
                  "tot_num_values"):
      assert getattr(common, field) == getattr(stock_common, field), (name, field)
    if kind == "num_stats":
      for field in ("min", "max", "mean", "std_dev", "num_zeros"):
        assert getattr(actual.num_stats, field) == pytest.approx(
            getattr(expected.num_stats, field)), (name, field)
    if kind == "string_stats":
      assert actual.string_stats.unique == expected.string_stats.unique, name
  # What both write: an empty cell of a typed column is an empty value list, which TFDV counts as
  # present with no value (not missing); a column with no value at all is missing in every row.
  num = ours_stats["num"].num_stats.common_stats
  assert num.num_missing == 0 and num.min_num_values == 0 and num.tot_num_values < ours_rows
  assert ours_stats["nothing"].string_stats.common_stats.num_missing == ours_rows


def test_splits_are_written_in_bounded_shuffled_shards(executed, tmp_path, monkeypatch):
  """A split is written in shards of about CSV_BYTES_PER_SHARD of CSV each (the writer's memory),
  in a shuffled order, with the same records as stock's split, and no spill file left behind."""
  csv_bytes = os.path.getsize(_input_of(executed))
  monkeypatch.setattr(ours, "CSV_BYTES_PER_SHARD", csv_bytes // 10)
  sharded = _do(ours.Executor, os.path.dirname(_input_of(executed)), str(tmp_path / "sharded"),
                example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(splits=[
                    example_gen_pb2.SplitConfig.Split(name=s, hash_buckets=b)
                    for s, b in zip(SPLITS, (3, 1, 1))])))
  for split, shards in zip(SPLITS, (7, 3, 3)):  # ceil(10 * 3/5) and ceil(10 * 1/5) (+1 rounding)
    folder = artifact_utils.get_split_uri([sharded], split)
    assert sorted(os.listdir(folder)) == [
        f"data_tfrecord-{i:05d}-of-{shards:05d}.gz" for i in range(shards)], split
    records = _split_records(sharded, split)
    assert sorted(records) == sorted(_split_records(executed["ours"], split))
  assert sorted(os.listdir(sharded.uri)) == sorted(f"Split-{s}" for s in SPLITS)  # no spill left
  ids = [tf.train.Example.FromString(r).features.feature["id"].int64_list.value[0]
         for r in _split_records(sharded, "train")]
  assert ids != sorted(ids)


def test_shards_per_split_follow_the_csv_bytes_that_feed_it(tmp_path, monkeypatch):
  monkeypatch.setattr(ours, "CSV_BYTES_PER_SHARD", 100)
  (tmp_path / "a").mkdir()
  (tmp_path / "b").mkdir()
  (tmp_path / "a" / "x.csv").write_text("h\n" + "1\n" * 449)  # 900 bytes
  (tmp_path / "b" / "y.csv").write_text("h\n" + "1\n" * 49)  # 100 bytes
  props = lambda input_config, output_config: {
      standard_component_specs.INPUT_BASE_KEY: str(tmp_path),
      standard_component_specs.INPUT_CONFIG_KEY: proto_utils.proto_to_json(input_config),
      standard_component_specs.OUTPUT_CONFIG_KEY: proto_utils.proto_to_json(output_config)}
  two_inputs = example_gen_pb2.Input(splits=[
      example_gen_pb2.Input.Split(name="train", pattern="a/*"),
      example_gen_pb2.Input.Split(name="eval", pattern="b/*")])
  assert ours.split_shards(props(two_inputs, example_gen_pb2.Output())) == {"train": 9, "eval": 1}
  one_input = example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name="all", pattern="*/*")])
  assert ours.split_shards(props(one_input, example_gen_pb2.Output(
      split_config=example_gen_pb2.SplitConfig(splits=[
          example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=3),
          example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=1)])))) == {
              "train": 8, "eval": 3}
  monkeypatch.setattr(ours, "MAX_SHARDS", 4)
  assert ours.split_shards(props(two_inputs, example_gen_pb2.Output())) == {"train": 4, "eval": 1}
