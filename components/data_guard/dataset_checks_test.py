"""Dataset checks on small generated data with known answers, negatives and threshold boundaries."""
import json
import os

import apache_beam as beam
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import tensorflow as tf
import tensorflow_data_validation as tfdv
from sklearn import datasets
from tfx_bsl.coders import example_coder

from trainguard.components.data_guard import dataset_checks, dataset_findings, hash_buckets
from trainguard.policy import Policy


def _example(**values):
  example = tf.train.Example()
  for name, value in values.items():
    feature = example.features.feature[name]
    if isinstance(value, str):
      feature.bytes_list.value.append(value.encode())
    elif isinstance(value, int):
      feature.int64_list.value.append(value)
    else:
      feature.float_list.value.append(value)
  return example


def _write_split(root, split, rows):
  folder = os.path.join(root, f"Split-{split}")
  os.makedirs(folder, exist_ok=True)
  with tf.io.TFRecordWriter(os.path.join(folder, "data.tfrecord")) as writer:
    for row in rows:
      writer.write(_example(**row).SerializeToString())


def _rows(seed, n, leak=False, minority=0.5):
  rng = np.random.default_rng(seed)
  out = []
  for i in range(n):
    y = "rare" if rng.random() < minority else "common"
    row = {"x": float(rng.normal()), "c": str(rng.choice(["a", "b", "c"])), "y": y,
           "uid": f"id{seed}-{i}", "const": "k", "big": float(rng.normal(0, 5000))}
    if leak:
      row["echo"] = "yes" if y == "rare" else "no"
    out.append(row)
  return out


def _run(tmp_path, train, evaluation, policy_raw=None):
  root = str(tmp_path / "examples")
  _write_split(root, "train", train)
  _write_split(root, "eval", evaluation)
  stats = {s: tfdv.generate_statistics_from_tfrecord(os.path.join(root, f"Split-{s}", "*"))
           for s in ("train", "eval")}
  schema = tfdv.infer_schema(stats["train"])
  policy = Policy.from_dict(policy_raw or {}, schema=schema)
  out = str(tmp_path / "result.json")
  spill_dir = tmp_path / "spill"
  spill_dir.mkdir()
  with beam.Pipeline() as pipeline:
    dataset_checks.run_beam_pass(
        pipeline, dataset_checks.split_patterns(root, ["train", "eval"]), "y",
        dataset_checks.binnings(stats["train"], schema, "y"), out, str(spill_dir))
  result = dataset_checks.read_result(out)
  return result, dataset_findings.dataset_findings(result, stats, schema, policy, "y")


@pytest.fixture(scope="module")
def leaky(tmp_path_factory):
  """Train 200 rows at 1:9 with a label echo and 5 duplicated rows; eval shares 10 train rows."""
  train = _rows(1, 200, leak=True, minority=0.1)
  train += train[:5]
  evaluation = _rows(2, 90, leak=True, minority=0.1) + train[10:20]
  return _run(tmp_path_factory.mktemp("leaky"), train, evaluation)


def _by_kind(findings):
  out = {}
  for f in findings:
    out.setdefault(f.kind, []).append(f)
  return out


def test_cross_split_duplicates_block_with_their_count(leaky):
  result, findings = leaky
  (finding,) = _by_kind(findings)["CROSS_SPLIT_DUPLICATES"]
  assert result["rows"]["shared_with_train/eval"] == 10
  assert (finding.split, finding.severity, finding.measured) == ("eval", "block", 0.1)


def test_duplicate_rows_within_a_split_warn(leaky):
  (finding,) = _by_kind(leaky[1])["DUPLICATE_ROWS"]
  assert (finding.split, finding.severity) == ("train", "warn")
  assert finding.found.startswith("5 of 205 rows")


def test_label_echo_is_label_leakage_and_honest_features_are_not(leaky):
  leaks = _by_kind(leaky[1])["LABEL_LEAKAGE"]
  assert [(f.feature, f.severity, f.measured) for f in leaks] == [("echo", "block", 1.0)]


def test_class_imbalance_names_ratio_minority_and_strategy(leaky):
  (finding,) = _by_kind(leaky[1])["CLASS_IMBALANCE"]
  assert finding.severity == "warn" and finding.measured > 5
  assert "minority class 'rare'" in finding.found
  assert "smotenc" in finding.fix  # categorical features present → SMOTENC


def test_scale_disparity_id_like_and_constant_columns(leaky):
  kinds = _by_kind(leaky[1])
  (scale,) = kinds["SCALE_DISPARITY"]
  assert (scale.feature, scale.severity) == ("big", "info") and scale.measured > 1000
  assert [f.feature for f in kinds["ID_LIKE_COLUMN"]] == ["uid"]
  assert [f.feature for f in kinds["CONSTANT_COLUMN"]] == ["const"]
  assert "features.uid.exclude: true" in kinds["ID_LIKE_COLUMN"][0].fix


def test_balanced_clean_data_has_none_of_these_findings(tmp_path):
  train = [{k: v for k, v in r.items() if k not in ("uid", "const", "big")} for r in _rows(3, 150)]
  evaluation = [{k: v for k, v in r.items() if k not in ("uid", "const", "big")}
                for r in _rows(4, 60)]
  _, findings = _run(tmp_path, train, evaluation)
  assert findings == []


def test_strong_but_honest_feature_stays_below_the_leakage_threshold():
  data = datasets.load_breast_cancer()
  best = 0.0
  for j in range(data.data.shape[1]):
    column = data.data[:, j]
    edges = np.unique(np.quantile(column, np.linspace(0.1, 0.9, 9)))
    bins = np.searchsorted(edges, column, side="right")
    cells = {}
    for b, y in zip(bins, data.target):
      cells[(f"bin{b}", str(y))] = cells.get((f"bin{b}", str(y)), 0) + 1
    scores = dataset_findings.label_leakage_scores(
        [["f", v, l, n] for (v, l), n in cells.items()])
    best = max(best, scores["f"][0])
  assert 0.88 < best < 0.98  # about 0.92: strong, honest, not flagged


def test_leakage_scores_match_a_hand_computed_table():
  # value a: 9 p / 1 q; value b: 0 p / 10 q → predictor a→p, b→q; recall p = 1, q = 10/11.
  scores = dataset_findings.label_leakage_scores(
      [["f", "a", "p", 9], ["f", "a", "q", 1], ["f", "b", "q", 10]])
  assert scores["f"][0] == pytest.approx((1 + 10 / 11) / 2)





@pytest.mark.parametrize("shared, severity", [(1, "info"), (2, "block")])
def test_cross_split_threshold_boundary(shared, severity):
  stats = {}
  for split, n in (("train", 300), ("eval", 100)):
    s = tfdv.generate_statistics_from_dataframe(
        pd.DataFrame({"x": np.arange(n, dtype=float)}))
    stats[split] = s
  schema = tfdv.infer_schema(stats["train"])
  findings = dataset_findings.dataset_findings(
      {"rows": {"shared_with_train/eval": shared}, "labels": {}, "cells": []}, stats, schema,
      Policy.from_dict({}, schema=schema), "y")
  (finding,) = [f for f in findings if f.kind == "CROSS_SPLIT_DUPLICATES"]
  assert finding.severity == severity  # 1% of eval is allowed, above it blocks


@pytest.mark.parametrize("counts, flagged", [({"p": 3, "q": 2}, True), ({"p": 29, "q": 20}, False)])
def test_imbalance_threshold_boundary(counts, flagged):
  stats = {"train": tfdv.generate_statistics_from_dataframe(
      pd.DataFrame({"x": np.arange(10, dtype=float)}))}
  schema = tfdv.infer_schema(stats["train"])
  findings = dataset_findings.dataset_findings({"rows": {}, "labels": counts, "cells": []}, stats,
                                         schema, Policy.from_dict({}, schema=schema), "y")
  assert any(f.kind == "CLASS_IMBALANCE" for f in findings) is flagged  # ratio ≥ 1.5 counts


# ---------------------------------------------------------------------------------------------
# The vectorised pass against a per-row reference: the canonical text the pass had before it was
# vectorised, one proto at a time.


def _reference_canonical(value) -> str:
  if isinstance(value, bytes):
    text = value.decode("utf-8", "replace").strip()
    try:
      value = float(text)
    except ValueError:
      return "s:" + text
  if isinstance(value, float):
    if value.is_integer() and abs(value) < 1e15:
      return f"n:{int(value)}"
    return f"n:{value:.7g}"
  return f"n:{value}"


def _reference_values(record: bytes) -> dict:
  example = tf.train.Example.FromString(record)
  out = {}
  for name, feature in example.features.feature.items():
    kind = feature.WhichOneof("kind")
    values = list(getattr(feature, kind).value) if kind else []
    if values:  # no value at all (absent, empty, untyped) is one "missing"
      out[name] = values
  return out


def _reference_key(record: bytes) -> str:
  values = _reference_values(record)
  return "".join(name + "|".join(_reference_canonical(v) for v in values[name]) + "\x00"
                 for name in sorted(values))


def _reference_result(records_by_split, label_key, binning):
  keys = {s: [_reference_key(r) for r in records] for s, records in records_by_split.items()}
  rows = {}
  for split, split_keys in keys.items():
    duplicates = len(split_keys) - len(set(split_keys))
    if duplicates:
      rows[f"duplicates/{split}"] = duplicates
    if split != "train" and "train" in keys:
      train = set(keys["train"])
      shared = sum(k in train for k in split_keys)
      if shared:
        rows[f"shared_with_train/{split}"] = shared
  labels, cells = {}, {}
  label_binning = dataset_checks.Binning(label_key)
  for record in records_by_split.get("train", []):
    values = _reference_values(record)
    label = label_binning.bin_of(values.get(label_key))
    if label is None:
      continue
    labels[label] = labels.get(label, 0) + 1
    for b in binning:
      value = b.bin_of(values.get(b.feature))
      if value is not None:
        cells[(b.feature, value, label)] = cells.get((b.feature, value, label), 0) + 1
  return {"rows": rows, "labels": labels,
          "cells": [[f, v, l, n] for (f, v, l), n in sorted(cells.items())]}


def _empty(kind: str) -> tf.train.Feature:
  """A feature with a typed, empty value list ("bytes", "int64" or "float")."""
  feature = tf.train.Feature()
  getattr(feature, f"{kind}_list").SetInParent()
  return feature


def _proto(values: dict, order=None) -> bytes:
  """A tf.Example: a list value is a feature's value list (typed by its first item, float if
  empty), None a feature without any kind, a scalar a one-value list, a tf.train.Feature itself;
  `order` the features' order."""
  example = tf.train.Example()
  for name in order or values:
    value = values[name]
    feature = example.features.feature[name]
    if value is None:
      continue
    if isinstance(value, tf.train.Feature):
      feature.CopyFrom(value)
      continue
    items = value if isinstance(value, list) else [value]
    sample = items[0] if items else 0.0
    if isinstance(sample, (str, bytes)):
      feature.bytes_list.value.extend(v.encode() if isinstance(v, str) else v for v in items)
      feature.bytes_list.SetInParent()
    elif isinstance(sample, int):
      feature.int64_list.value.extend(items)
      feature.int64_list.SetInParent()
    else:
      feature.float_list.value.extend(items)
      feature.float_list.SetInParent()
  return example.SerializeToString()


def _pass(tmp_path, records_by_split, binning, label_key="y", files=1, batch_size=None,
          argv=None):
  root = str(tmp_path / "examples")
  for split, records in records_by_split.items():
    folder = os.path.join(root, f"Split-{split}")
    os.makedirs(folder)
    for i, part in enumerate(np.array_split(np.arange(len(records)), files)):
      with tf.io.TFRecordWriter(os.path.join(folder, f"part-{i}.gz"),
                                tf.io.TFRecordOptions(compression_type="GZIP")) as writer:
        for j in part:
          writer.write(records[j])
  out = str(tmp_path / "result.json")
  spill_dir = tmp_path / "spill"
  spill_dir.mkdir()
  with beam.Pipeline(argv=argv) as pipeline:
    dataset_checks.run_beam_pass(pipeline, dataset_checks.split_patterns(root, records_by_split),
                                 label_key, binning, out, str(spill_dir), batch_size=batch_size)
  return dataset_checks.read_result(out)


def _hashes(values) -> list:
  """The 128-bit hash per value, as (first, second) pairs."""
  if all(isinstance(v, (bytes, str)) for v in values):
    array = pa.array([v.encode() if isinstance(v, str) else v for v in values], pa.large_binary())
  elif all(isinstance(v, int) for v in values):
    array = pa.array(values, pa.int64())
  else:
    array = pa.array(values, pa.float32())
  first, second = dataset_checks._value_hashes(array)  # pylint: disable=protected-access
  return list(zip(first.tolist(), second.tolist()))


def test_value_hashes_are_equal_exactly_when_the_canonical_texts_are():
  rng = np.random.default_rng(0)
  floats = np.concatenate([
      (rng.normal(size=20000) * 10.0 ** rng.integers(-40, 38, 20000)).astype(np.float32),
      rng.integers(-10 ** 6, 10 ** 6, 5000).astype(np.float32) / np.float32(8),  # .5 and .125s
      np.array([0.0, -0.0, 1.0, 1.0078125, 1.0000001, 0.99999994, 9999999.5, 123456.75, 1e15,
                16777216.0, 3.4e38, 1e-45, np.nan, -np.nan, np.inf, -np.inf], dtype=np.float32)])
  doubles = rng.normal(size=5000) * 10.0 ** rng.integers(-300, 300, 5000)
  texts = ([repr(float(d)) for d in doubles] + [f"{f:.8g}" for f in floats[:3000].astype(float)]
           + [" 1 ", "1.0", "1_000", "+7", "-0", ".5", "5.", "1e3", "1E+03", "0.12345675", "nan",
              "-NaN", "Infinity", "-inf", "1e400", "1e15", "1000000000000000", "", "  ", "a",
              " a", "a ", "\x1ca\x1f", "\xa0b\xa0", "é", " é", "日本", "١٢", "x y", "1 2",
              "0x10"])
  ints = [0, 1, -1, 7, 1000, 10 ** 15 - 1, 10 ** 15, 2 ** 63 - 1, -2 ** 63, 12345678]
  references = ([_reference_canonical(float(f)) for f in floats]
                + [_reference_canonical(t.encode()) for t in texts]
                + [_reference_canonical(i) for i in ints]
                + [_reference_canonical(b"\xff1"), _reference_canonical(b"\xfe1")])
  hashes = (_hashes(list(floats)) + _hashes(texts) + _hashes(ints)
            + _hashes([b"\xff1", b"\xfe1"]))
  by_text, by_hash = {}, {}
  for text, h in zip(references, hashes):
    assert by_text.setdefault(text, h) == h, text
    assert by_hash.setdefault(h, text) == text, (text, by_hash[h])
  # The documented equalities, spelled out.
  assert _hashes([1.0]) == _hashes([1]) == _hashes([" 1 "]) == _hashes(["1.0"])
  assert _hashes(["nan"]) == _hashes([float("nan")]) == _hashes(["-NaN"])
  assert _hashes(["a "]) == _hashes(["a"]) != _hashes(["b"])
  assert _hashes([0.1]) == _hashes(["0.1"]) != _hashes(["0.1000001"])


def _decode(records):
  return example_coder.ExamplesToRecordBatchDecoder().DecodeBatch(records)


def _batch_row_hashes(records):
  """The row hashes of `records` decoded as one batch."""
  first, second = dataset_checks._row_hashes(_decode(records))  # pylint: disable=protected-access
  return list(zip(first.tolist(), second.tolist()))


def _row_hash_list(records):
  """The row hash of each record, decoded on its own (the types of a feature may differ)."""
  return [_batch_row_hashes([record])[0] for record in records]


def test_missing_is_equal_to_missing_and_different_from_every_value():
  rows = _row_hash_list([
      _proto({"a": 1, "b": "x"}),
      _proto({"a": 1}),  # b absent
      _proto({"a": 1, "b": _empty("bytes")}),  # b present, no value
      _proto({"a": 1, "b": None}),  # b present, no kind
      _proto({"a": 1, "b": ""}),
      _proto({"a": 1, "b": 0}),
      _proto({"a": 1, "b": float("nan")}),
      _proto({"b": "x", "a": None}),
      _proto({"b": "x"}),
  ])
  assert rows[1] == rows[2] == rows[3]
  assert len({rows[0], rows[1], rows[4], rows[5], rows[6], rows[7]}) == 6
  assert rows[7] == rows[8]


def test_row_hashes_ignore_feature_order_and_which_columns_a_batch_has():
  row = {"x": 1.5, "c": "ü", "k": 3, "m": [1.0, 2.0]}
  alone = _row_hash_list([_proto(row)])
  reordered = _batch_row_hashes([_proto(row, order=["m", "k", "c", "x"]), _proto({"other": "z"}),
                                 _proto({"more": 1, "x": None, "c": _empty("bytes")})])
  assert alone[0] == reordered[0]
  assert _row_hash_list([_proto({"more": 1})]) == reordered[2:]
  # Value lists are ordered, and a feature's name matters.
  assert _row_hash_list([_proto(dict(row, m=[2.0, 1.0]))])[0] != alone[0]
  assert _row_hash_list([_proto({"x": 1.5, "c": "ü", "k": 3, "n": [1.0, 2.0]})])[0] != alone[0]
  assert _row_hash_list([_proto({"a": "1", "b": "2"})]) != _row_hash_list(
      [_proto({"a": "2", "b": "1"})])


def test_cell_counts_match_bin_of_row_by_row():
  rng = np.random.default_rng(1)
  records = []
  for i in range(300):
    row = {"y": str(rng.choice(["p", "q", "ü"])), "x": float(rng.normal()),
           "k": int(rng.integers(0, 4)), "c": str(rng.choice(["a", "b", "é", " a"])),
           "f": float(rng.choice([0.0, -0.0, 0.5, np.nan])), "t": str(rng.choice(["1.5", " 2 "]))}
    for name, kind in (("x", "float"), ("k", "int64"), ("c", "bytes"), ("f", "float"),
                       ("y", "bytes")):
      if rng.random() < 0.1:
        row[name] = _empty(kind) if i % 2 else None
    if i % 7 == 0:
      del row["c"]
    row["g"] = row["f"]
    records.append(_proto(row))
  binning = [dataset_checks.Binning("x", (-1.0, 0.0, 0.5)), dataset_checks.Binning("k", (1.0, 2.0)),
             dataset_checks.Binning("c"), dataset_checks.Binning("f"),
             dataset_checks.Binning("g", (0.0,)), dataset_checks.Binning("t", (1.5,)),
             dataset_checks.Binning("absent", (1.0,))]
  labels, cells = dataset_checks._cell_counts(  # pylint: disable=protected-access
      _decode(records), "y", binning)
  expected = _reference_result({"train": records}, "y", binning)
  assert labels == expected["labels"]
  assert [[f, v, l, n] for (f, v, l), n in sorted(cells.items())] == expected["cells"]


def _varied_splits(seed, n):
  """Rows with missing values, absent features, unicode, a multi-valued feature, a column typed
  differently in eval, duplicates within and across splits."""
  rng = np.random.default_rng(seed)
  rows = []
  for i in range(n):
    row = {"i": i, "y": str(rng.choice(["p", "q"])), "x": float(np.round(rng.normal(), 3)),
           "c": str(rng.choice(["a", "é", "日本", " a"])), "k": int(rng.integers(0, 3)),
           "m": [float(v) for v in rng.integers(0, 2, rng.integers(0, 3))]}
    if rng.random() < 0.2:
      row["x"] = []
    if rng.random() < 0.3:
      del row["c"]
    rows.append(row)
  train = [_proto(r) for r in rows]
  train += train[:: 9]
  evaluation = [_proto(r) for r in rows[5:40]]  # as typed in train...
  evaluation += [_proto(dict(r, x=f" {r['x']!r} " if r["x"] != [] else [],  # ...and as text
                              k=float(r["k"]))) for r in rows[40:60]]
  evaluation += [_proto({"y": "p", "x": 123.0, "c": "zz"})] * 3
  return {"train": train, "eval": evaluation}


BINNING = [dataset_checks.Binning("x", (-0.5, 0.0, 0.5)), dataset_checks.Binning("c"),
           dataset_checks.Binning("k", (0.5, 1.5))]


@pytest.mark.parametrize("batch_size, files", [(2, 3), (7, 1), (None, 2)])
def test_pass_matches_the_row_by_row_reference_across_batches_and_bundles(
    tmp_path, batch_size, files):
  splits = _varied_splits(3, 200)
  result = _pass(tmp_path, splits, BINNING, files=files, batch_size=batch_size)
  assert result == _reference_result(splits, "y", BINNING)
  assert result["rows"]["duplicates/train"] == 23 and result["rows"]["duplicates/eval"] == 2
  assert result["rows"]["shared_with_train/eval"] == 55  # the text-typed rows included


def test_pass_with_many_spill_blocks_per_bundle_matches_the_reference(tmp_path, monkeypatch):
  # Blocks of 5 rows: every bundle writes many bucket-sorted blocks into its spill file, and every
  # bucket is read back from several ranges of several files.
  monkeypatch.setattr(hash_buckets, "BLOCK_ROWS", 5)
  splits = _varied_splits(5, 200)
  result = _pass(tmp_path, splits, BINNING, files=3, batch_size=3)
  assert result == _reference_result(splits, "y", BINNING)
  assert os.listdir(tmp_path / "spill")  # the caller, not the pass, removes the spill files


def test_a_feature_typed_differently_inside_one_batch_still_decodes(tmp_path):
  splits = {"train": [_proto({"y": "p", "k": 1}), _proto({"y": "p", "k": 1.0}),
                      _proto({"y": "q", "k": "1"}), _proto({"y": "q", "k": 2})]}
  result = _pass(tmp_path, splits, [dataset_checks.Binning("k", (1.5,))], batch_size=4)
  assert result == _reference_result(splits, "y", [dataset_checks.Binning("k", (1.5,))])
  assert result["rows"] == {"duplicates/train": 1}  # int 1 and float 1.0: the same value


def test_pass_on_the_multi_process_direct_runner(tmp_path):
  splits = _varied_splits(4, 120)
  result = _pass(tmp_path, splits, BINNING, files=2, batch_size=16,
                 argv=["--direct_running_mode=multi_processing", "--direct_num_workers=2"])
  assert result == _reference_result(splits, "y", BINNING)


def test_row_counts_of_many_hashes_with_equal_first_halves():
  # Colliding first halves must still be told apart by the second.
  first = np.array([5, 5, 5, 7, 5, 9], dtype=np.uint64)
  second = np.array([1, 2, 1, 3, 3, 4], dtype=np.uint64)
  other_first = np.array([5, 5, 5, 9, 8], dtype=np.uint64)
  other_second = np.array([2, 4, 3, 4, 1], dtype=np.uint64)
  rows = dataset_checks._row_counts({  # pylint: disable=protected-access
      "train": [(first[:2], second[:2]), (first[2:], second[2:])],
      "eval": [(other_first, other_second)]})
  assert rows == {"duplicates/train": 1, "shared_with_train/eval": 3}
