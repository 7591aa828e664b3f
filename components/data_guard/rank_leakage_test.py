"""Rank-based LABEL_LEAKAGE: a numeric near-copy and a monotone proxy of the label, found by the pass
(which the 10-bin cells miss), the threshold boundary, and the pass's fine-bin counts against a
row-by-row reference. Clean real data: dataset_findings_test.py (BEST_RANK_SCORE)."""
import bisect

import numpy as np
import pytest
from tensorflow_metadata.proto.v0 import schema_pb2

from trainguard.components.data_guard import dataset_checks, dataset_findings, rank_leakage
from trainguard.components.data_guard.binning import Binning
from trainguard.components.data_guard.dataset_findings_test import _run
from trainguard.components.data_guard.row_hash_test import _decode, _proto
from trainguard.policy import Policy


def _near_copy_rows(seed, n, noise=0.05):
  """A binary label, `score` = "label is positive" + normal noise, and an honest feature."""
  rng = np.random.default_rng(seed)
  rows = []
  for _ in range(n):
    positive = rng.random() < 0.4
    rows.append({"y": "pos" if positive else "neg", "score": float(positive + rng.normal(0, noise)),
                 "x": float(rng.normal() + 0.8 * positive)})
  return rows


def _proxy_rows(seed, n):
  """Three classes; `proxy` = exp(class index + noise), `log_proxy` its log: both monotone."""
  rng = np.random.default_rng(seed)
  rows = []
  for _ in range(n):
    k = int(rng.integers(0, 3))
    z = k + rng.normal(0, 0.05)
    rows.append({"y": ["a", "b", "c"][k], "proxy": float(np.exp(z)), "log_proxy": float(z),
                 "x": float(rng.normal() + 0.5 * k)})
  return rows


def _leaks(findings):
  return {f.feature: f for f in findings if f.kind == "LABEL_LEAKAGE"}


def test_a_numeric_near_copy_of_a_binary_label_is_label_leakage(tmp_path):
  result, findings = _run(tmp_path, _near_copy_rows(1, 400), _near_copy_rows(2, 100))
  # The 10 quantile bins alone miss it (the reason for the rank score): below 0.98 on both.
  balanced, nmi = dataset_findings.label_leakage_scores(result["cells"])["score"]
  assert balanced < 0.98 and nmi < 0.98
  (finding,) = _leaks(findings).values()
  assert (finding.feature, finding.severity, finding.measured, finding.threshold) == (
      "score", "block", 1.0, 0.995)
  assert "AUC 1.0000 for its least separated pair ('neg' vs 'pos')" in finding.found
  assert "features.score.exclude: true" in finding.fix


def test_a_monotone_proxy_of_a_three_class_index_is_found_whatever_the_transform(tmp_path):
  result, findings = _run(tmp_path, _proxy_rows(3, 450), _proxy_rows(4, 60))
  assert sorted(_leaks(findings)) == ["log_proxy", "proxy"]
  scores = rank_leakage.scores(result["ranks"])
  assert scores["proxy"][0] == scores["log_proxy"][0] == 1.0
  assert scores["x"][0] < 0.9  # an honest feature: its weakest pair (a, b or b, c) overlaps


def _finding(ranks):
  schema = schema_pb2.Schema()
  schema.feature.add(name="y", type=schema_pb2.BYTES)
  return [f for f in dataset_findings.dataset_findings(
      {"rows": {}, "labels": {}, "cells": [], "ranks": ranks}, {}, schema, Policy.from_dict({}),
      "y") if f.kind == "LABEL_LEAKAGE"]


@pytest.mark.parametrize("b_in_a_bin, flagged", [(1, True), (2, False)])
def test_rank_threshold_boundary(b_in_a_bin, flagged):
  # a: 100 rows in bin 1; b: the rest in bin 0 → AUC = 1 − b_in_a_bin / 200: 0.995 (at the
  # threshold: leaks) or 0.990 (below).
  ranks = [["f", 1, "a", 100], ["f", 0, "b", 100 - b_in_a_bin], ["f", 1, "b", b_in_a_bin]]
  found = _finding(ranks)
  assert bool(found) is flagged
  if found:
    assert found[0].measured == pytest.approx(0.995)


def test_the_weakest_pair_decides_and_either_direction_counts():
  # b wholly below a (AUC 0, folded to 1), c in a's bin (AUC 0.5): the pair (a, c) decides.
  ranks = [["f", 2, "a", 10], ["f", 0, "b", 10], ["f", 2, "c", 10]]
  auc, pair = rank_leakage.scores(ranks)["f"]
  assert (auc, pair) == (0.5, ("a", "c"))


def test_fine_bin_counts_match_a_row_by_row_reference():
  rng = np.random.default_rng(5)
  rows = []
  for i in range(300):
    row = {"y": str(rng.choice(["p", "q", "r"])), "x": float(rng.normal()),
           "k": int(rng.integers(0, 5)), "t": str(rng.choice(["1.5", " 2 ", "n/a"]))}
    if i % 11 == 0:
      del row["x"]  # missing: not counted
    if i % 13 == 0:
      del row["y"]  # no label: not counted
    rows.append(row)
  bins = [Binning("x", (-1.0, -0.1, 0.0, 0.7)), Binning("k", (1.0, 2.5)), Binning("t", (1.7,)),
          Binning("absent", (0.0,))]
  batch = _decode([_proto(r) for r in rows])
  cells = rank_leakage.count(batch, *dataset_checks._label_codes(batch, "y"), bins,
                             dataset_checks._labelled_first_values, dataset_checks._numbers)
  expected = {}
  for row in rows:
    for b in bins:
      value = row.get(b.feature)
      try:
        value = float(value)
      except (TypeError, ValueError):
        continue  # missing, or text float() cannot read ("n/a")
      if "y" in row:
        key = (b.feature, bisect.bisect_right(b.boundaries, value), row["y"])
        expected[key] = expected.get(key, 0) + 1
  assert cells == expected


def test_fine_bins_cut_each_quantile_bin_between_the_min_and_the_max():
  import pandas as pd  # pylint: disable=g-import-not-at-top
  import tensorflow_data_validation as tfdv  # pylint: disable=g-import-not-at-top
  frame = pd.DataFrame({"x": np.random.default_rng(7).lognormal(0, 2, 500), "y": ["a"] * 500})
  stats = tfdv.generate_statistics_from_dataframe(frame)
  (b,) = rank_leakage.rank_binnings(stats, tfdv.infer_schema(stats), "y")
  assert b.feature == "x" and len(b.boundaries) == 10 * rank_leakage.SUB_BINS + 1
  assert b.boundaries[0] == pytest.approx(frame.x.min()) and b.boundaries[-1] == pytest.approx(
      frame.x.max())
