"""Test data and the one tf.Transform Beam run shared by the preprocessing, serving-parity, summary
and trainer tests (registered as the `transform_run` fixture in conftest.py).

A Beam run costs tens of seconds on two cores, so every test here reads the same run: the generated
preprocessing_fn analyzed by `tft_beam.AnalyzeDataset` on small in-memory train rows where each
column exercises one treatment, then applied by `tft_beam.TransformDataset` to those rows and to
serving-like rows (unseen categories, NaN, values outside the train range, nothing at all); the
transform graph is written with `tft_beam.WriteTransformFn` plus the raw schema, as TFX's Transform
writes it, and read back through `tft.TFTransformOutput` as the Trainer does. The transformed rows
are written as tf.Examples (uncompressed TFRecord).
"""
import dataclasses
import math
import os
from typing import Any, Dict, List

import apache_beam as beam
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io, schema_utils

from trainguard.models import preprocessing, preprocessing_plan
from trainguard.policy import Policy

NAN, INF = float("nan"), float("inf")
LABEL = "label"
LABEL_CLASSES = ["no", "yes"]

RAW_SPEC = {
    "row_id": tf.io.FixedLenFeature([], tf.int64),  # excluded by the policy; passed through
    "mean_f": tf.io.VarLenFeature(tf.float32),      # defaults: mean, z_score
    "median_f": tf.io.VarLenFeature(tf.float32),    # median, min_max
    "mode_i": tf.io.VarLenFeature(tf.int64),        # most_frequent, none
    "const_f": tf.io.VarLenFeature(tf.float32),     # constant:-1, none
    "bucket_f": tf.io.VarLenFeature(tf.float32),    # mean, bucketize:4
    "none_f": tf.io.VarLenFeature(tf.float32),      # none (indicator on by default), z_score
    "empty_f": tf.io.VarLenFeature(tf.float32),     # missing on every row
    "single_i": tf.io.VarLenFeature(tf.int64),      # one value on every present row
    "colour": tf.io.VarLenFeature(tf.string),       # defaults, with a missing indicator
    "shape": tf.io.VarLenFeature(tf.string),        # constant:unknown
    "size": tf.io.VarLenFeature(tf.string),         # none → out-of-vocabulary id
    "empty_c": tf.io.VarLenFeature(tf.string),      # missing on every row
    LABEL: tf.io.VarLenFeature(tf.string),
}

POLICY = {
    "features": {
        "row_id": {"exclude": True},
        "median_f": {"impute": "median", "scale": "min_max"},
        "mode_i": {"impute": "most_frequent", "scale": "none"},
        "const_f": {"impute": "constant:-1", "scale": "none"},
        "bucket_f": {"scale": "bucketize:4"},
        "none_f": {"impute": "none"},
        "colour": {"missing_indicator": True},
        "shape": {"impute": "constant:unknown"},
        "size": {"impute": "none", "missing_indicator": False},
    },
}

# Missing cells: [] (absent), NaN, ±inf, b"" and b"  " (blank strings).
COLUMNS: Dict[str, List[List[Any]]] = {
    "mean_f": [[1.0], [2.0], [], [NAN], [6.0], [INF], [3.0], [-INF], [4.0], [5.0], [], [7.0]],
    "median_f": [[10.0], [], [30.0], [20.0], [NAN], [50.0], [40.0], [60.0], [], [70.0], [80.0],
                 [90.0]],
    "mode_i": [[3], [5], [3], [], [7], [3], [5], [], [9], [3], [5], [1]],
    "const_f": [[2.5], [], [4.5], [NAN], [], [8.0], [1.0], [], [3.0], [2.0], [], [6.0]],
    "bucket_f": [[float(v)] for v in (12, 3, 7, 1, 10, 5, 8, 2, 11, 4, 9, 6)],
    "none_f": [[100.0], [], [300.0], [200.0], [NAN], [], [400.0], [500.0], [], [600.0], [700.0],
               [800.0]],
    "empty_f": [[], [NAN], [], [], [INF], [], [], [], [], [], [], []],
    "single_i": [[42], [42], [], [42], [42], [42], [], [42], [42], [42], [42], [42]],
    "colour": [[b"red"], [b"red"], [b"blue"], [], [b"red"], [b""], [b"green"], [b"blue"],
               [b"red"], [b"  "], [b"blue"], [b"red"]],
    "shape": [[b"round"], [], [b"square"], [b"round"], [], [b"round"], [b""], [b"square"],
              [b"round"], [b"round"], [], [b"square"]],
    "size": [[b"S"], [b"M"], [], [b"M"], [b"L"], [b""], [b"M"], [b"S"], [], [b"M"], [b"L"],
             [b"M"]],
    "empty_c": [[], [b""], [], [], [], [], [], [b" "], [], [], [], []],
    LABEL: [[b"no"], [b"yes"], [b"no"], [b"yes"], [b"no"], [b"yes"], [b"no"], [b"yes"], [b"no"],
            [b"yes"], [b"no"], [b"yes"]],
}
NUM_ROWS = 12
ROWS = [dict({name: values[i] for name, values in COLUMNS.items()}, row_id=i)
        for i in range(NUM_ROWS)]

# Rows never analyzed, as a serving request could send them (no label).
_EMPTY = {name: [] for name in RAW_SPEC}
SERVING_ROWS = [
    dict(_EMPTY, row_id=100),  # nothing at all
    dict(_EMPTY, row_id=101, mean_f=[NAN], median_f=[INF], mode_i=[], const_f=[-INF],
         bucket_f=[NAN], none_f=[NAN], colour=[b""], shape=[b" "], size=[b""]),
    dict(_EMPTY, row_id=102, mean_f=[100.0], median_f=[1000.0], mode_i=[-4], const_f=[0.5],
         bucket_f=[-5.0], none_f=[-1.0], empty_f=[3.0], single_i=[7], colour=[b"purple"],
         shape=[b"hexagon"], size=[b"XL"], empty_c=[b"x"]),
    dict(_EMPTY, row_id=103, mean_f=[4.0], median_f=[10.0], mode_i=[3], const_f=[2.5],
         bucket_f=[50.0], none_f=[450.0], single_i=[42], colour=[b"green"], shape=[b"unknown"],
         size=[b"M"]),
]


def schema():
  return schema_utils.schema_from_feature_spec(RAW_SPEC)


def transform_config() -> Dict[str, Any]:
  policy = Policy.from_dict(POLICY, source="policy.yaml", schema=schema())
  return preprocessing_plan.transform_config(policy, schema(), LABEL, LABEL_CLASSES)


def present_values(name: str) -> List[float]:
  """The column's usable values: what every analyzer must see, and nothing else."""
  out = []
  for cell in COLUMNS[name]:
    if not cell:
      continue
    value = cell[0]
    if isinstance(value, bytes):
      if value.strip():
        out.append(value)
    elif math.isfinite(value):
      out.append(value)
  return out


@dataclasses.dataclass
class TransformRun:
  config: Dict[str, Any]
  transform_dir: str
  examples_path: str  # the transformed train and serving rows, as tf.Examples
  rows: List[Dict[str, Any]]  # the transformed train rows, in row_id order
  serving_rows: List[Dict[str, Any]]  # the transformed SERVING_ROWS, in row_id order

  @property
  def output(self) -> tft.TFTransformOutput:
    return tft.TFTransformOutput(self.transform_dir)


def serialize(row, raw_spec) -> bytes:
  """A serialized tf.Example of the row's values in `raw_spec`; an empty list is an absent
  feature."""
  example = tf.train.Example()
  for name, values in row.items():
    if name not in raw_spec:
      continue
    values = values if isinstance(values, list) else [values]
    if not values:
      continue
    feature = example.features.feature[name]
    if raw_spec[name].dtype == tf.string:
      feature.bytes_list.value.extend(values)
    elif raw_spec[name].dtype == tf.int64:
      feature.int64_list.value.extend(values)
    else:
      feature.float_list.value.extend(values)
  return example.SerializeToString()


def _with_row_id(config):
  """The generated preprocessing_fn, plus `row_id` passed through so rows can be matched (as a
  float, which the Trainer takes as one more numeric input)."""
  def fn(inputs):
    outputs = preprocessing.preprocessing_fn(inputs, config)
    outputs["row_id"] = tf.reshape(tf.cast(inputs["row_id"], tf.float32), [-1, 1])
    return outputs
  return fn


def run_transform(root: str, raw_spec=None, rows=None, serving_rows=None,
                  policy=None, label_classes=None) -> TransformRun:
  """Analyzes ROWS, transforms ROWS + SERVING_ROWS, and writes everything under `root` (or the
  same for another data set: its raw spec, rows, serving rows, policy and label domain)."""
  raw_spec = raw_spec or RAW_SPEC
  rows, serving_rows = rows or ROWS, serving_rows or SERVING_ROWS
  transform_dir = os.path.join(root, "transform_graph")
  examples_path = os.path.join(root, "transformed.tfrecord")
  raw_schema = schema_utils.schema_from_feature_spec(raw_spec)
  config = preprocessing_plan.transform_config(
      Policy.from_dict(policy or POLICY, source="policy.yaml", schema=raw_schema), raw_schema,
      LABEL, label_classes or LABEL_CLASSES)
  metadata = dataset_metadata.DatasetMetadata(raw_schema)
  with beam.Pipeline() as pipeline, tft_beam.Context(temp_dir=os.path.join(root, "tmp")):
    train = pipeline | "Train" >> beam.Create(rows, reshuffle=False)
    transform_fn = (train, metadata) | tft_beam.AnalyzeDataset(_with_row_id(config))
    _ = transform_fn | tft_beam.WriteTransformFn(transform_dir)
    every_row = pipeline | "Every row" >> beam.Create(rows + serving_rows, reshuffle=False)
    transformed = ((every_row, metadata), transform_fn) | tft_beam.TransformDataset()
    _ = (transformed
         | tft_beam.EncodeTransformedDataset()
         | beam.io.WriteToTFRecord(examples_path, shard_name_template=""))
  # TFX's Transform writes the raw schema beside the graph too; TFTransformOutput reads it.
  metadata_io.write_metadata(
      metadata, os.path.join(transform_dir, tft.TFTransformOutput.RAW_METADATA_DIR))
  spec = tft.TFTransformOutput(transform_dir).transformed_feature_spec()
  out = []
  for record in tf.data.TFRecordDataset(examples_path):
    parsed = tf.io.parse_single_example(record, spec)
    out.append({k: v.numpy().reshape(-1)[0] for k, v in parsed.items()})
  out.sort(key=lambda r: r["row_id"])
  return TransformRun(config, transform_dir, examples_path, out[:len(rows)], out[len(rows):])


# The value fixes (policy `missing_values`, `clip`), on a data set of their own: 100 train rows.
VALUES_SPEC = {
    "row_id": tf.io.FixedLenFeature([], tf.int64),
    "sentinel_f": tf.io.VarLenFeature(tf.float32),   # missing_values [-999, 9999]: mean, z_score
    "sentinel_c": tf.io.VarLenFeature(tf.string),    # missing_values ["unknown", "-"]
    "clipped_f": tf.io.VarLenFeature(tf.float32),    # clip [0.05, 0.95], then z_score
    "clipped_i": tf.io.VarLenFeature(tf.int64),      # clip [0.1, 0.9], min_max, sentinel -1
    LABEL: tf.io.VarLenFeature(tf.string),
}
VALUES_POLICY = {"features": {
    "row_id": {"exclude": True},
    "sentinel_f": {"missing_values": [-999, 9999], "missing_indicator": True},
    "sentinel_c": {"missing_values": ["unknown", "-"]},
    "clipped_f": {"clip": [0.05, 0.95]},
    "clipped_i": {"clip": [0.1, 0.9], "scale": "min_max", "missing_values": [-1]},
}}
_SENTINELS = {3: -999.0, 17: 9999.0, 40: -999.0, 77: 9999.0, 90: -999.0}
VALUES_ROWS = [{
    "row_id": i,
    "sentinel_f": [_SENTINELS.get(i, float(i % 10))] if i != 5 else [],
    "sentinel_c": [(b"unknown" if i % 7 == 0 else b" - " if i % 11 == 0 else
                    b"a" if i % 3 else b"b")],
    "clipped_f": [1e6 if i == 50 else -1e5 if i == 60 else float(i)],
    "clipped_i": [-1 if i % 13 == 0 else i * 10],
    LABEL: [b"yes" if i % 2 else b"no"],
} for i in range(100)]
VALUES_SERVING_ROWS = [
    {"row_id": 200, "sentinel_f": [-999.0], "sentinel_c": [b"unknown"], "clipped_f": [1e9],
     "clipped_i": [10 ** 9], LABEL: []},
    {"row_id": 201, "sentinel_f": [9999.0], "sentinel_c": [b"-"], "clipped_f": [-1e9],
     "clipped_i": [-1], LABEL: []},
    {"row_id": 202, "sentinel_f": [], "sentinel_c": [], "clipped_f": [], "clipped_i": [],
     LABEL: []},
]


def run_value_fixes(root: str) -> TransformRun:
  return run_transform(root, VALUES_SPEC, VALUES_ROWS, VALUES_SERVING_ROWS, VALUES_POLICY)


# Real-world defects fixed in the graph (issue 21), on a data set of their own: `normalize`, and
# label spellings (`label.map`) in a domain that lists them all, as an inferred schema's does.
DEFECTS_SPEC = {
    "row_id": tf.io.FixedLenFeature([], tf.int64),
    "island": tf.io.VarLenFeature(tf.string),   # normalize: true, missing_values ["Unknown"]
    "colour": tf.io.VarLenFeature(tf.string),   # normalize: true, constant:Other
    "when": tf.io.VarLenFeature(tf.string),     # datetime: parts (numeric default: mean, none)
    LABEL: tf.io.VarLenFeature(tf.string),
}
DEFECTS_POLICY = {"features": {
    "row_id": {"exclude": True},
    "island": {"normalize": True, "missing_values": ["Unknown"]},
    "colour": {"normalize": True, "impute": "constant:Other"},
    "when": {"datetime": "parts", "missing_indicator": True, "missing_values": ["unknown"]},
}, "label": {"map": {"No ": "no", "YES": "yes", "Yes": "yes"}},
   "preprocessing": {"numeric": {"scale": "none"}}}  # the parts as numbers, to read them back
DEFECTS_LABEL_DOMAIN = ["No ", "YES", "Yes", "no", "yes"]
_LABELS = [b"no", b"yes", b"No ", b"YES", b"no", b"Yes", b"no", b"yes", b"No ", b"yes", b"no",
           b"yes", b"no", b"YES"]
_ISLANDS = [b"Biscoe", b"biscoe", b"BISCOE ", b" Biscoe", b"Dream", b"dream", b"Dream\xc2\xa0",
            b"Torgersen", b"torgersen", b"UNKNOWN", b"unknown ", b"Biscoe", b"Dream", b"Biscoe"]
_COLOURS = [b"Red", b"red", b"light  blue", b"Light Blue", b"", b"red", b"OTHER", b"Red",
            b"light blue", b"", b"red", b"blue", b"Blue", b"red"]
# Every format DataGuard's DATETIME_COLUMN names, and values that are no date (missing, imputed).
_WHEN = [b"2021-03-04", b"2021-03-04T05:06:07Z", b"2020-02-29 23:59", b"04/03/2021",
         b"03/25/2021 10:30", b"4 Mar 2021", b"March 5, 2021", b"05-Mar-2021", b"31.12.1999",
         b"2021/01/01 00:00", b"not a date", b"", b"2021-02-30", b"1969-12-31T12:00+01:00"]
DEFECTS_ROWS = [{
    "row_id": i, "island": [_ISLANDS[i]], "colour": [_COLOURS[i]], "when": [_WHEN[i]],
    LABEL: [_LABELS[i]],
} for i in range(len(_ISLANDS))]
DEFECTS_SERVING_ROWS = [
    {"row_id": 300, "island": [b"bIsCoE"], "colour": [b"LIGHT\tBLUE"], LABEL: [b"Yes"],
     "when": [b"2024-02-29T08:00"]},
    {"row_id": 301, "island": [b"\xef\xbc\xa4ream"], "colour": [], LABEL: [b"NO"],  # full-width D
     "when": []},
    {"row_id": 302, "island": [b"Unknown"], "colour": [b"  red  "], LABEL: [], "when": [b"unknown"]},
]


def run_defect_fixes(root: str) -> TransformRun:
  return run_transform(root, DEFECTS_SPEC, DEFECTS_ROWS, DEFECTS_SERVING_ROWS, DEFECTS_POLICY,
                       DEFECTS_LABEL_DOMAIN)
