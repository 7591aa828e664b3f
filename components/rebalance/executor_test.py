"""The Rebalance executor on small in-memory examples, run by Beam's DirectRunner in-process.

The examples are written as Transform writes them (GZIP TFRecords of tf.Example, one value per
feature, `<raw>_xf` names). The transform graph holds what the executor reads from it, written with
tf.Transform's own metadata writer: the transformed schema and the `colour` vocabulary (3 values,
so ids 0..3 with the out-of-vocabulary id).
"""
import collections
import itertools
import json
import os

import apache_beam as beam
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io, schema_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils, standard_artifacts

from trainguard import artifacts
from trainguard.components.rebalance import beam_fns, spec
from trainguard.components.rebalance import executor as rebalance
from trainguard.components.util import spill_shuffle

BEAM_ARGS = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
VOCABULARY = ["red", "blue", "green"]
LARGEST_ID = len(VOCABULARY)  # the out-of-vocabulary id
NUMERIC = ("x_xf", "y_xf")
LABEL = "label_xf"


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _transform_graph(path, categorical):
  feature_spec = {name: tf.io.FixedLenFeature([1], tf.float32) for name in NUMERIC}
  feature_spec[LABEL] = tf.io.FixedLenFeature([1], tf.int64)
  if categorical:
    feature_spec["colour_xf"] = tf.io.FixedLenFeature([1], tf.int64)
  metadata_io.write_metadata(
      dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(feature_spec)),
      os.path.join(path, tft.TFTransformOutput.TRANSFORMED_METADATA_DIR))
  assets = os.path.join(path, tft.TFTransformOutput.TRANSFORM_FN_DIR, "assets")
  os.makedirs(assets)
  with open(os.path.join(assets, "colour"), "w") as f:
    f.write("\n".join(VOCABULARY) + "\n")
  return str(path)


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
  root = tmp_path_factory.mktemp("graphs")
  return {
      "categorical": _transform_graph(root / "categorical", True),
      "numeric": _transform_graph(root / "numeric", False),
  }


def make_rows(counts, categorical, seed=0):
  """Serialized transformed examples: each class a cloud of points, colours 0..3 (3 = OOV)."""
  rng = np.random.RandomState(seed)
  rows = []
  for class_id, n in counts.items():
    for _ in range(n):
      example = tf.train.Example()
      features = example.features.feature
      features["x_xf"].float_list.value.append(rng.normal(2.0 * class_id, 1.0))
      features["y_xf"].float_list.value.append(rng.normal(-1.0 * class_id, 1.0))
      if categorical:
        features["colour_xf"].int64_list.value.append(int(rng.randint(0, LARGEST_ID + 1)))
      features[LABEL].int64_list.value.append(class_id)
      rows.append(example.SerializeToString(deterministic=True))  # canonical: keys in order
  rng.shuffle(rows)
  return rows


def _write_split(directory, rows, files=2):
  os.makedirs(directory, exist_ok=True)
  options = tf.io.TFRecordOptions(compression_type="GZIP")
  for i in range(files):
    path = os.path.join(directory, f"transformed_examples-{i:05d}-of-{files:05d}.gz")
    with tf.io.TFRecordWriter(path, options) as writer:
      for row in rows[i::files]:
        writer.write(row)


def make_examples(path, train_rows, eval_rows):
  examples = standard_artifacts.Examples()
  examples.uri = str(path)
  examples.split_names = artifact_utils.encode_split_names(["train", "eval"])
  _write_split(os.path.join(examples.uri, "Split-train"), train_rows)
  _write_split(os.path.join(examples.uri, "Split-eval"), eval_rows)
  return examples


def run(path, examples, graph, beam_args_in_context=False, beam_args=BEAM_ARGS, **properties):
  """Runs the executor; returns the output artifact.

  The pipeline's Beam args reach the executor as `beam_pipeline_args` (as in a real run) when
  `beam_args_in_context`; otherwise the same args come through `make_beam_pipeline_fn`, which
  skips TFX's per-executor build of an ephemeral sdist for remote workers (2 s per test).
  """
  transform_graph = standard_artifacts.TransformGraph()
  transform_graph.uri = graph
  output = standard_artifacts.Examples()
  output.uri = str(path)
  os.makedirs(output.uri, exist_ok=True)
  properties.setdefault(spec.LABEL_KEY, LABEL)
  context = base_beam_executor.BaseBeamExecutor.Context(
      tmp_dir=os.path.join(str(path), "..", "tmp"), unique_id=os.path.basename(str(path)),
      **({"beam_pipeline_args": beam_args} if beam_args_in_context else
         {"make_beam_pipeline_fn": lambda: beam.Pipeline(argv=beam_args)}))
  rebalance.Executor(context).Do(
      {spec.EXAMPLES_KEY: [examples], spec.TRANSFORM_GRAPH_KEY: [transform_graph]},
      {spec.REBALANCED_EXAMPLES_KEY: [output]}, properties)
  return output


def split_files(artifact, split):
  directory = os.path.join(artifact.uri, f"Split-{split}")
  return {name: open(os.path.join(directory, name), "rb").read()
          for name in sorted(os.listdir(directory))}


def read_split(artifact, split):
  directory = os.path.join(artifact.uri, f"Split-{split}")
  paths = sorted(os.path.join(directory, name) for name in os.listdir(directory))
  return list(tf.data.TFRecordDataset(paths, compression_type="GZIP").as_numpy_iterator())


def parse(record):
  features = tf.train.Example.FromString(record).features.feature
  numeric = np.array([features[name].float_list.value[0] for name in NUMERIC], dtype=np.float64)
  colour = features["colour_xf"].int64_list.value[0] if "colour_xf" in features else None
  return int(features[LABEL].int64_list.value[0]), numeric, colour


def class_counts(records):
  return dict(sorted(collections.Counter(parse(r)[0] for r in records).items()))


def on_a_segment(point, points, tolerance=1e-5):
  """Whether `point` is a + t (b - a), 0 <= t <= 1, for two of `points` (float32 rounding aside)."""
  for a, b in itertools.combinations(points, 2):
    direction = b - a
    length = float(direction @ direction)
    if length == 0:
      continue
    t = float((point - a) @ direction) / length
    if -tolerance <= t <= 1 + tolerance and np.linalg.norm(a + t * direction - point) <= tolerance:
      return True
  return False


def synthetic_rows(input_records, output_records):
  """The output rows that are not rows of the input."""
  real = set(input_records)
  return [r for r in output_records if r not in real]


def assert_synthetic_rows_are_plausible(train, output_records, categorical):
  by_class = collections.defaultdict(list)
  for record in train:
    label, numeric, _ = parse(record)
    by_class[label].append(numeric)
  synthetic = synthetic_rows(train, output_records)
  assert synthetic
  for record in synthetic:
    label, numeric, colour = parse(record)
    assert on_a_segment(numeric, by_class[label]), (label, numeric)
    if categorical:
      assert 0 <= colour <= LARGEST_ID
    else:
      assert colour is None
  return synthetic


def report(output):
  with open(os.path.join(output.uri, artifacts.REBALANCE_FILE)) as f:
    return json.load(f)


TWO = {0: 60, 1: 15}
THREE = {0: 40, 1: 30, 2: 12}
# Small chunks: class 1 (30 rows) is synthesised in two chunks, the output written in 5 files.
AUTO_PROPERTIES = {spec.K_NEIGHBORS_KEY: 3, spec.CHUNK_SIZE_KEY: 24}


@pytest.fixture(scope="module")
def two_class(tmp_path_factory):
  path = tmp_path_factory.mktemp("two_class")
  train, eval_ = make_rows(TWO, categorical=False), make_rows({0: 10, 1: 3}, False, seed=1)
  return train, make_examples(path / "input", train, eval_)


@pytest.fixture(scope="module")
def three_class(tmp_path_factory):
  path = tmp_path_factory.mktemp("three_class")
  train, eval_ = make_rows(THREE, categorical=True), make_rows({0: 8, 1: 5, 2: 2}, True, seed=1)
  return train, make_examples(path / "input", train, eval_)


@pytest.fixture(scope="module")
def smote_run(two_class, graphs, tmp_path_factory):
  _, examples = two_class
  return run(tmp_path_factory.mktemp("smote") / "out", examples, graphs["numeric"],
             beam_args_in_context=True, strategy="smote", k_neighbors=3)


@pytest.fixture(scope="module")
def auto_run(three_class, graphs, tmp_path_factory):
  _, examples = three_class
  return run(tmp_path_factory.mktemp("auto") / "out", examples, graphs["categorical"],
             **AUTO_PROPERTIES)


# ---------------------------------------------------------------------------------------------
# Exact strategies
# ---------------------------------------------------------------------------------------------


def test_smote_balances_two_classes_exactly(two_class, smote_run):
  train, _ = two_class
  output = read_split(smote_run, "train")
  assert class_counts(output) == {0: 60, 1: 60}
  assert set(train) <= set(output)  # every real row is kept
  assert len(assert_synthetic_rows_are_plausible(train, output, categorical=False)) == 45


def test_other_splits_are_copied_byte_for_byte(two_class, smote_run):
  _, examples = two_class
  assert split_files(smote_run, "eval") == split_files(examples, "eval")


def test_counts_are_recorded_in_json_and_on_the_artifact(smote_run):
  recorded = report(smote_run)
  train = recorded["splits"]["train"]
  assert recorded["strategy"] == "smote" and train["exact"]
  assert train["class_counts_before"] == {"0": 60, "1": 15}
  assert train["class_counts_after"] == {"0": 60, "1": 60}
  assert recorded["copied_splits"] == ["eval"]
  assert recorded["parameters"][spec.K_NEIGHBORS_KEY] == 3
  assert smote_run.get_string_custom_property("strategy") == "smote"
  assert json.loads(smote_run.get_string_custom_property("class_counts_after")) == {
      "train": {"0": 60, "1": 60}}
  assert json.loads(smote_run.get_string_custom_property("class_counts_before")) == {
      "train": {"0": 60, "1": 15}}
  assert artifact_utils.decode_split_names(smote_run.split_names) == ["train", "eval"]


def test_auto_picks_smotenc_for_categorical_features_and_balances_three_classes(
    three_class, auto_run):
  train, _ = three_class
  output = read_split(auto_run, "train")
  recorded = report(auto_run)["splits"]["train"]
  assert recorded["strategy"] == "smotenc" and recorded["requested_strategy"] == "auto"
  assert recorded["synthetic_chunks"] == {"1": 2, "2": 1}
  assert len(split_files(auto_run, "train")) == recorded["output_shards"] == 5
  assert class_counts(output) == {0: 40, 1: 40, 2: 40}
  assert set(train) <= set(output)
  synthetic = assert_synthetic_rows_are_plausible(train, output, categorical=True)
  assert len(synthetic) == 10 + 28


def test_random_over_copies_rows_evenly_to_the_exact_count(three_class, graphs, tmp_path):
  train, examples = three_class
  output = run(tmp_path / "out", examples, graphs["categorical"], strategy="random_over",
               sampling_strategy=json.dumps({"1": 35, "2": 31}))
  records = read_split(output, "train")
  assert class_counts(records) == {0: 40, 1: 35, 2: 31}
  assert set(records) == set(train)  # copies only, nothing invented
  copies = collections.Counter(records)
  for record in train:
    label = parse(record)[0]
    # 31 rows of class 2 from 12: every row 2 or 3 times; 35 of class 1 from 30: 1 or 2 times.
    assert copies[record] in {0: {1}, 1: {1, 2}, 2: {2, 3}}[label]


def test_random_under_keeps_an_exact_subset(three_class, graphs, tmp_path):
  train, examples = three_class
  output = run(tmp_path / "out", examples, graphs["categorical"], strategy="random_under")
  records = read_split(output, "train")
  assert class_counts(records) == {0: 12, 1: 12, 2: 12}
  assert len(set(records)) == len(records) and set(records) <= set(train)
  minority = {r for r in train if parse(r)[0] == 2}
  assert minority <= set(records)


def test_large_classes_are_synthesised_in_bounded_chunks_exactly(two_class, graphs, tmp_path):
  train, examples = two_class
  output = run(tmp_path / "out", examples, graphs["numeric"], strategy="smote", k_neighbors=2,
               chunk_size=8)
  records = read_split(output, "train")
  assert class_counts(records) == {0: 60, 1: 60}
  assert_synthetic_rows_are_plausible(train, records, categorical=False)
  recorded = report(output)["splits"]["train"]
  assert recorded["synthetic_chunks"] == {"1": 2}  # 15 minority rows, at most 8 per chunk
  assert recorded["output_shards"] == 15  # 120 rows, about 8 per file
  assert len(split_files(output, "train")) <= 15


# ---------------------------------------------------------------------------------------------
# Approximate strategies: the counts reached are recorded
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["adasyn", "borderline_smote"])
def test_approximate_strategies_record_the_counts_they_reach(strategy, three_class, graphs,
                                                             tmp_path):
  train, examples = three_class
  output = run(tmp_path / "out", examples, graphs["categorical"], strategy=strategy,
               k_neighbors=3)
  records = read_split(output, "train")
  recorded = report(output)["splits"]["train"]
  assert not recorded["exact"] and recorded["strategy"] == strategy
  reached = {int(c): n for c, n in recorded["class_counts_after"].items()}
  assert reached == class_counts(records)
  assert reached[0] == 40
  for c in (1, 2):
    if strategy == "adasyn":  # rounds each row's share: off by at most half a row per row
      assert abs(reached[c] - 40) <= THREE[c] / 2 and reached[c] > THREE[c]
    else:  # per chunk, the target or nothing (no row in danger)
      assert reached[c] in (THREE[c], 40)
  assert_synthetic_rows_are_plausible(train, records, categorical=True)


# ---------------------------------------------------------------------------------------------
# Determinism
# ---------------------------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_output_and_another_seed_differs(
    three_class, graphs, auto_run, tmp_path):
  _, examples = three_class
  # Another bundling of the same rows (two threads) must not change a byte.
  again = run(tmp_path / "again", examples, graphs["categorical"], **AUTO_PROPERTIES,
              beam_args=["--direct_running_mode=multi_threading", "--direct_num_workers=2"])
  assert split_files(again, "train") == split_files(auto_run, "train")
  assert report(again) == report(auto_run)
  # The same rows with their feature maps in another wire order (as CsvExampleGen and Transform
  # write them in another process) must not change a byte either.
  train, evaluation = three_class[0], read_split(examples, "eval")
  reordered = make_examples(tmp_path / "reordered", [_reversed_wire_order(r) for r in train],
                            evaluation)
  assert set(read_split(reordered, "train")).isdisjoint(train)
  again = run(tmp_path / "again-reordered", reordered, graphs["categorical"], **AUTO_PROPERTIES)
  assert split_files(again, "train") == split_files(auto_run, "train")
  other = run(tmp_path / "other", examples, graphs["categorical"], **AUTO_PROPERTIES, seed=7)
  assert split_files(other, "train") != split_files(auto_run, "train")
  assert set(read_split(other, "train")) != set(read_split(auto_run, "train"))
  assert class_counts(read_split(other, "train")) == {0: 40, 1: 40, 2: 40}


def _reversed_wire_order(record: bytes) -> bytes:
  """The same example serialized with its features in reverse key order: concatenated messages
  merge, so one single-feature Example per key, last key first."""
  example = tf.train.Example.FromString(record)
  parts = []
  for key in sorted(example.features.feature, reverse=True):
    single = tf.train.Example()
    single.features.feature[key].CopyFrom(example.features.feature[key])
    parts.append(single.SerializeToString())
  return b"".join(parts)


def test_auto_on_balanced_enough_data_copies_the_train_split(graphs, tmp_path):
  examples = make_examples(tmp_path / "input", make_rows({0: 20, 1: 15}, False),
                           make_rows({0: 3, 1: 3}, False, seed=1))
  output = run(tmp_path / "out", examples, graphs["numeric"])
  assert split_files(output, "train") == split_files(examples, "train")
  assert report(output)["splits"]["train"]["strategy"] == "none"
  assert output.get_string_custom_property("strategy") == "none"


def test_auto_below_min_imbalance_copies_the_train_split(two_class, graphs, tmp_path):
  _, examples = two_class  # 60:15, an imbalance of 4
  output = run(tmp_path / "out", examples, graphs["numeric"], min_imbalance=5.0)
  assert split_files(output, "train") == split_files(examples, "train")
  recorded = report(output)
  assert recorded["splits"]["train"]["strategy"] == "none"
  assert recorded["parameters"][spec.MIN_IMBALANCE_KEY] == 5.0


@pytest.mark.parametrize("strategy", ["smote", "random_over", "none"])
def test_rows_without_a_label_are_copied_and_not_counted(strategy, graphs, tmp_path):
  # Transform's class id -1 (no label): DataGuard lets up to 20% through, the Trainer drops them.
  train = make_rows({0: 40, 1: 10}, categorical=False) + make_rows({-1: 3}, False, seed=1)
  examples = make_examples(tmp_path / "in", train, make_rows({0: 5, 1: 5}, False, seed=2))
  output = run(tmp_path / "out", examples, graphs["numeric"], strategy=strategy)
  counts = class_counts(read_split(output, "train"))
  assert counts[-1] == 3
  assert counts[0] == 40 and counts[1] == (10 if strategy == "none" else 40)
  assert set(train) <= set(read_split(output, "train"))


# ---------------------------------------------------------------------------------------------
# Bad parameters: clear errors before any row is resampled
# ---------------------------------------------------------------------------------------------


def _assert_nothing_written(output_dir):
  assert not os.path.exists(os.path.join(output_dir, "Split-train"))
  assert not os.path.exists(os.path.join(output_dir, artifacts.REBALANCE_FILE))


def test_unknown_strategy(two_class, graphs, tmp_path):
  _, examples = two_class
  with pytest.raises(ValueError, match=r"strategy='smoothe' is not a rebalancing strategy; use "
                     r"one of auto, smote"):
    run(tmp_path / "out", examples, graphs["numeric"], strategy="smoothe")
  _assert_nothing_written(tmp_path / "out")


def test_class_smaller_than_k_neighbors_plus_one(graphs, tmp_path):
  examples = make_examples(tmp_path / "input", make_rows({0: 30, 1: 4}, False),
                           make_rows({0: 3, 1: 3}, False, seed=1))
  with pytest.raises(ValueError, match=r"class 1 of split 'train' has 4 row\(s\), but "
                     r"strategy='smote' with k_neighbors=5 needs at least 6 .* lower k_neighbors "
                     r"to 3 or less, or use strategy 'random_over'"):
    run(tmp_path / "out", examples, graphs["numeric"], strategy="smote")
  _assert_nothing_written(tmp_path / "out")


def test_label_not_in_the_examples(two_class, graphs, tmp_path):
  _, examples = two_class
  with pytest.raises(ValueError, match=r"label_key='label' is not a feature of the transformed "
                     r"examples .* The transformed label is 'label_xf'"):
    run(tmp_path / "out", examples, graphs["numeric"], label_key="label")
  _assert_nothing_written(tmp_path / "out")


def test_ratio_that_would_undersample_the_minority(two_class, graphs, tmp_path):
  _, examples = two_class
  with pytest.raises(ValueError, match=r"sampling_strategy='0.1' would undersample the minority "
                     r"class 1 of split 'train' \(15 rows -> 6\).*use at least 0.25"):
    run(tmp_path / "out", examples, graphs["numeric"], strategy="smote", sampling_strategy="0.1")
  _assert_nothing_written(tmp_path / "out")


def test_ratio_with_more_than_two_classes(three_class, graphs, tmp_path):
  _, examples = three_class
  with pytest.raises(ValueError, match=r"ratio, which imbalanced-learn defines for two classes "
                     r"only.*give a JSON object"):
    run(tmp_path / "out", examples, graphs["categorical"], sampling_strategy="0.8")


@pytest.mark.parametrize("rows", [None, []], ids=["no files", "empty file"])
def test_empty_train_split(rows, graphs, tmp_path):
  examples = standard_artifacts.Examples()
  examples.uri = str(tmp_path / "input")
  examples.split_names = artifact_utils.encode_split_names(["train", "eval"])
  os.makedirs(os.path.join(examples.uri, "Split-train"))
  if rows is not None:
    _write_split(os.path.join(examples.uri, "Split-train"), rows, files=1)
  _write_split(os.path.join(examples.uri, "Split-eval"), make_rows({0: 3, 1: 3}, False))
  with pytest.raises(ValueError, match=r"split 'train' has no (files|rows) .*non-empty split"):
    run(tmp_path / "out", examples, graphs["numeric"])
  _assert_nothing_written(tmp_path / "out")


def test_smote_refuses_to_interpolate_categorical_ids(three_class, graphs, tmp_path):
  _, examples = three_class
  with pytest.raises(ValueError, match=r"strategy='smote' interpolates every feature.*colour_xf; "
                     r"use 'smotenc'"):
    run(tmp_path / "out", examples, graphs["categorical"], strategy="smote")


def test_split_to_resample_must_exist(two_class, graphs, tmp_path):
  _, examples = two_class
  with pytest.raises(ValueError, match=r"names split\(s\) test that the examples .* do not have"):
    run(tmp_path / "out", examples, graphs["numeric"],
        splits_to_resample=json.dumps(["train", "test"]))


def test_spill_buffers_hold_about_one_block_across_all_shards(tmp_path, monkeypatch):
  monkeypatch.setattr(beam_fns._Spiller, "BLOCK_BYTES", 1000)
  spiller = beam_fns._Spiller(str(tmp_path), seed=1, num_shards=50, split="train")
  records = [b"r%03d" % i + b"x" * 10 for i in range(400)]
  for start in range(0, 400, 40):
    spiller.add_class(0, records[start:start + 40], copy=0)
    assert spiller._buffered < 1000 + 40 * 26
  closed = spiller.close()
  written = sorted(r for _, path in closed for _, r in spill_shuffle.read_frames(path))
  assert written == sorted(records)
  assert spiller.counts.sums == {("train", "class", 0): (400, None, None)}

