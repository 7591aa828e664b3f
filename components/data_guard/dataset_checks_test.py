"""The dataset pass against a row-by-row reference: the canonical text the pass had before it was
vectorised, one proto at a time (the row hash itself: row_hash_test.py)."""
import collections
import os

import apache_beam as beam
import numpy as np
import pytest
import tensorflow as tf

from trainguard.components.data_guard import (dataset_checks, hash_buckets, label_conflicts,
                                              row_hash)
from trainguard.components.data_guard.row_hash_test import (_decode, _empty, _proto,
                                                              _reference_canonical)
from trainguard.policy import Policy


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
  rows.update(_reference_conflicts(records_by_split.get("train", []), label_key))
  conflicts = _reference_conflict_examples(records_by_split.get("train", []), label_key)
  return {"rows": rows, "labels": labels,
          "cells": [[f, v, l, n] for (f, v, l), n in sorted(cells.items())],
          "conflicts": conflicts, "extremes": {}, "ranks": [],
          "multiplicities": {s: {str(k): f for k, f in sorted(collections.Counter(
              collections.Counter(split_keys).values()).items())}
              for s, split_keys in keys.items() if split_keys}}


def _reference_groups(records, label_key):
  """{canonical features without the label: {label text: rows}} of the labelled rows."""
  groups = {}
  label_binning = dataset_checks.Binning(label_key)
  for record in records:
    values = _reference_values(record)
    label = label_binning.bin_of(values.pop(label_key, None))
    if label is None:
      continue
    key = "".join(name + "|".join(_reference_canonical(v) for v in values[name]) + "\x00"
                  for name in sorted(values))
    by_label = groups.setdefault(key, {})
    by_label[label] = by_label.get(label, 0) + 1
  return {k: g for k, g in groups.items() if len(g) > 1}


def _reference_conflicts(records, label_key):
  groups = _reference_groups(records, label_key).values()
  if not groups:
    return {}
  return {"conflicting_rows/train": sum(sum(g.values()) for g in groups),
          "conflicting_groups/train": len(groups),
          "conflict_errors/train": sum(sum(g.values()) - max(g.values()) for g in groups)}


def _reference_text(value):
  if isinstance(value, bytes):
    return value.decode()
  return format(value, ".7g") if isinstance(value, float) else str(value)


def _reference_conflict_examples(records, label_key):
  """The largest groups, each with the features of its first row (all groups are in the sketch)."""
  first = {}
  for record in records:
    values = _reference_values(record)
    if values.pop(label_key, None) is None:
      continue
    key = "".join(name + "|".join(_reference_canonical(v) for v in values[name]) + "\x00"
                  for name in sorted(values))
    first.setdefault(key, {k: _reference_text(v[0]) if len(v) == 1 else
                           "[" + ", ".join(map(_reference_text, v)) + "]"
                           for k, v in sorted(values.items())})
  groups = [{"rows": sum(g.values()), "labels": dict(sorted(g.items())), "values": first[key]}
            for key, g in _reference_groups(records, label_key).items()]
  return sorted(groups, key=lambda g: -g["rows"])[:label_conflicts.EXAMPLES]


def _pass(tmp_path, records_by_split, binning, label_key="y", files=1, batch_size=None,
          argv=None, label_class=None):
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
                                 label_key, binning, out, str(spill_dir), batch_size=batch_size,
                                 label_class=label_class)
  result = dataset_checks.read_result(out)
  result.pop("label_sample")  # the bottom-k sample of train rows: label_errors_test.py
  return result


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
  # int 1 and float 1.0: the same value; and text "1" labelled q: a conflict with them
  assert result["rows"] == {"duplicates/train": 1, "conflicting_rows/train": 3,
                            "conflicting_groups/train": 1, "conflict_errors/train": 1}
  assert result["conflicts"] == [{"rows": 3, "labels": {"p": 2, "q": 1}, "values": {"k": "1"}}]


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


def _conflicting_splits(seed, n):
  """Features from a small grid (many rows share them) with random labels; some typed as text."""
  rng = np.random.default_rng(seed)
  train = []
  for _ in range(n):
    row = {"y": str(rng.choice(["p", "q", "ü"])), "x": float(rng.integers(0, 4)),
           "c": str(rng.choice(["a", "b"]))}
    if rng.random() < 0.2:
      row["x"] = f" {int(row['x'])} "  # text "1" is the number 1: the same features
    if rng.random() < 0.05:
      del row["y"]  # no label: not counted
    train.append(_proto(row))
  return {"train": train, "eval": train[:10]}


@pytest.mark.parametrize("batch_size, files", [(3, 2), (None, 1)])
def test_conflicting_labels_match_the_reference(tmp_path, batch_size, files):
  splits = _conflicting_splits(7, 150)
  result = _pass(tmp_path, splits, [], files=files, batch_size=batch_size)
  expected = _reference_result(splits, "y", [])
  assert result["rows"] == expected["rows"]
  assert result["rows"]["conflicting_groups/train"] == 8  # 4 x values × 2 c values, all mixed
  groups = _reference_groups(splits["train"], "y")
  sizes = sorted((sum(g.values()) for g in groups.values()), reverse=True)
  assert [e["rows"] for e in result["conflicts"]] == sizes[:label_conflicts.EXAMPLES]
  for example in result["conflicts"]:
    assert example["labels"] in [dict(sorted(g.items())) for g in groups.values()]
    # one row's spelling of the group's features (text " 1 " and the number 1 are one group)
    assert set(example["values"]) == {"x", "c"}
    assert example["values"]["x"].strip() in "0123" and example["values"]["c"] in "ab"


def test_conflicting_groups_values_come_from_a_bounded_sketch(tmp_path, monkeypatch):
  # More feature groups than the sketch holds: values only for the groups it kept, and the
  # finding still shows three groups that have them, after the largest by label counts.
  monkeypatch.setattr(label_conflicts, "VALUE_GROUPS", 4)
  rows = [_proto({"y": "pq"[i % 2], "x": float(i // 2), "c": "z" * 60}) for i in range(60)]
  rows += [_proto({"y": "pq"[i % 2], "x": float(100 + i // 4), "c": "z"}) for i in range(40)]
  result = _pass(tmp_path, {"train": rows}, [], batch_size=7, files=2)
  assert result["rows"]["conflicting_groups/train"] == 40
  conflicts = result["conflicts"]
  assert [e["rows"] for e in conflicts[:label_conflicts.EXAMPLES]] == [4] * label_conflicts.EXAMPLES
  with_values = [e for e in conflicts if "values" in e]
  assert 3 <= len(with_values) <= 4 and len(conflicts) <= label_conflicts.EXAMPLES + 3
  shown = label_conflicts.to_show(conflicts)
  assert len(shown) == 3 and all("values" in e for e in shown)
  for example in with_values:
    assert example["values"]["c"] in ("z", "z" * 39 + "…")  # cut to VALUE_CHARS
    assert float(example["values"]["x"]) in set(range(30)) | set(range(100, 110))
  text = label_conflicts.shown(shown[0])
  assert " rows: 'p' ×" in text and " where c=z" in text and ", x=" in text


def test_rows_that_agree_on_their_label_do_not_conflict(tmp_path):
  row = {"y": "p", "x": 1.0}
  splits = {"train": [_proto(row), _proto(row), _proto(dict(row, x=2.0, y="q"))]}
  result = _pass(tmp_path, splits, [])
  assert result["rows"] == {"duplicates/train": 1}
  assert result["conflicts"] == []


PENGUIN_MAP = Policy.from_dict({"label": {"map": {"adelie": "Adelie", "Adelie ": "Adelie"}}})


@pytest.mark.parametrize("batch_size", [1, None])
def test_spellings_label_map_sends_to_one_class_do_not_conflict(tmp_path, batch_size):
  # Issue 21: identical rows labelled 'adelie' and 'Adelie' are one class once Transform maps them.
  rows = [_proto({"y": "adelie", "x": 1.0}), _proto({"y": "Adelie", "x": 1.0}),
          _proto({"y": "Adelie ", "x": 1.0}), _proto({"y": "Gentoo", "x": 2.0})]
  result = _pass(tmp_path, {"train": rows}, [], batch_size=batch_size, files=2,
                 label_class=PENGUIN_MAP.label_class)
  assert result["conflicts"] == []
  # The row hash is the raw content's: 'Adelie ' is 'Adelie' (stripped), 'adelie' is not.
  assert result["rows"] == {"duplicates/train": 1}
  # The class counts stay raw spellings: dataset_findings.mapped_classes maps them after the pass.
  assert result["labels"] == {"Adelie": 1, "Adelie ": 1, "Gentoo": 1, "adelie": 1}


def test_without_label_map_the_spellings_conflict(tmp_path):
  rows = [_proto({"y": "adelie", "x": 1.0}), _proto({"y": "Adelie", "x": 1.0}),
          _proto({"y": "Gentoo", "x": 2.0})]
  result = _pass(tmp_path, {"train": rows}, [])
  assert result["rows"] == {"conflicting_rows/train": 2, "conflicting_groups/train": 1,
                            "conflict_errors/train": 1}
  assert result["conflicts"] == [{"rows": 2, "labels": {"Adelie": 1, "adelie": 1},
                                  "values": {"x": "1"}}]


@pytest.mark.parametrize("batch_size", [1, None])
def test_a_real_conflict_is_found_with_label_map_and_named_by_class(tmp_path, batch_size):
  rows = [_proto({"y": "adelie", "x": 1.0}), _proto({"y": "Adelie", "x": 1.0}),
          _proto({"y": "Gentoo", "x": 1.0}), _proto({"y": "adelie", "x": 2.0}),
          _proto({"y": "Gentoo", "x": 2.0}), _proto({"y": "Gentoo", "x": 3.0})]
  result = _pass(tmp_path, {"train": rows}, [], batch_size=batch_size,
                 label_class=PENGUIN_MAP.label_class)
  assert result["rows"] == {"conflicting_rows/train": 5, "conflicting_groups/train": 2,
                            "conflict_errors/train": 2}
  assert result["conflicts"] == [
      {"rows": 3, "labels": {"Adelie": 2, "Gentoo": 1}, "values": {"x": "1"}},
      {"rows": 2, "labels": {"Adelie": 1, "Gentoo": 1}, "values": {"x": "2"}}]


def test_label_map_hashes_a_class_as_its_text_whatever_the_label_type():
  # An int label mapped to another spelling of a class (label.map is text to text): the rows of
  # one class share a hash; a row with two label values is not mapped (Transform reads one).
  batch = _decode([_proto({"y": 1, "x": 0.0}), _proto({"y": 2, "x": 0.0}),
                   _proto({"y": 3, "x": 0.0}), _proto({"y": [1, 1], "x": 0.0})])
  label_class = Policy.from_dict({"label": {"map": {"1": "2"}}}).label_class
  hashes = row_hash.row_hashes(batch)
  raw = label_conflicts.feature_and_label_hashes(batch, hashes, "y")
  first, second, label = label_conflicts.feature_and_label_hashes(batch, hashes, "y",
                                                                  label_class=label_class)
  np.testing.assert_array_equal(first, raw[0])  # the features' hash leaves the raw label out
  np.testing.assert_array_equal(second, raw[1])
  assert label[0] == label[1] == raw[2][1] and len(set(label.tolist())) == 3
  assert label[3] == raw[2][3]
  names = label_conflicts.label_hash_names(batch, "y", label_class)
  assert sorted(names.items()) == sorted({(str(label[0]), "2"): 2, (str(label[2]), "3"): 1,
                                          (str(label[3]), "1"): 1}.items())
  assert label_conflicts.label_hash_names(batch, "y") == {
      (str(raw[2][0]), "1"): 1, (str(raw[2][1]), "2"): 1, (str(raw[2][2]), "3"): 1,
      (str(raw[2][3]), "1"): 1}


def test_a_regression_label_is_counted_by_its_quantile_bins():
  """A numeric label has as many values as rows: the leakage tables count its bins instead."""
  records = [_proto({"y": float(i) * 1.5, "x": float(i % 7)}) for i in range(100)]
  label_bins = dataset_checks.Binning("y", (30.0, 90.0))
  labels, cells = dataset_checks._cell_counts(  # pylint: disable=protected-access
      _decode(records), "y", [dataset_checks.Binning("x")], label_bins)
  assert labels == {"bin0": 20, "bin1": 40, "bin2": 40}
  assert sum(n for (f, _, l), n in cells.items() if l == "bin0") == 20
  assert {l for _, _, l in cells} == {"bin0", "bin1", "bin2"}
