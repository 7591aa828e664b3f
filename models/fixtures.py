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


def run_transform(root: str) -> TransformRun:
  """Analyzes ROWS, transforms ROWS + SERVING_ROWS, and writes everything under `root`."""
  transform_dir = os.path.join(root, "transform_graph")
  examples_path = os.path.join(root, "transformed.tfrecord")
  config = transform_config()
  metadata = dataset_metadata.DatasetMetadata(schema())
  with beam.Pipeline() as pipeline, tft_beam.Context(temp_dir=os.path.join(root, "tmp")):
    train = pipeline | "Train" >> beam.Create(ROWS, reshuffle=False)
    transform_fn = (train, metadata) | tft_beam.AnalyzeDataset(_with_row_id(config))
    _ = transform_fn | tft_beam.WriteTransformFn(transform_dir)
    every_row = pipeline | "Every row" >> beam.Create(ROWS + SERVING_ROWS, reshuffle=False)
    transformed = ((every_row, metadata), transform_fn) | tft_beam.TransformDataset()
    _ = (transformed
         | tft_beam.EncodeTransformedDataset()
         | beam.io.WriteToTFRecord(examples_path, shard_name_template=""))
  # TFX's Transform writes the raw schema beside the graph too; TFTransformOutput reads it.
  metadata_io.write_metadata(
      metadata, os.path.join(transform_dir, tft.TFTransformOutput.RAW_METADATA_DIR))
  spec = tft.TFTransformOutput(transform_dir).transformed_feature_spec()
  rows = []
  for record in tf.data.TFRecordDataset(examples_path):
    parsed = tf.io.parse_single_example(record, spec)
    rows.append({k: v.numpy().reshape(-1)[0] for k, v in parsed.items()})
  rows.sort(key=lambda r: r["row_id"])
  return TransformRun(config, transform_dir, examples_path, rows[:NUM_ROWS], rows[NUM_ROWS:])
