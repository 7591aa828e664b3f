"""Rebalance's plans on the counting pass's histograms: targets, strategy, selection, chunks.

Pure numpy, no Beam: `row_hash` and `bucket_of` below are the reference (one row at a time) for
what the Beam functions compute in batches (`util.spill_shuffle.row_hashes` and the top 16 bits).
"""
import dataclasses
import hashlib

import numpy as np
import pytest
from imblearn.utils import check_sampling_strategy

from trainguard.components.rebalance import plan, spec
from trainguard.components.rebalance.feature_kinds import FeatureKinds
from trainguard.components.rebalance.params import OVER_SAMPLING, UNDER_SAMPLING, parse_params


def row_hash(seed: int, record: bytes, salt: str = "rank") -> int:
  """A seeded 64-bit content hash: the same row and seed give the same value on every worker."""
  key = f"{seed}:{salt}".encode()
  return int.from_bytes(hashlib.blake2b(record, digest_size=8, key=key).digest(), "big")


def bucket_of(hash_value: int) -> int:
  return hash_value >> (64 - plan.BUCKET_BITS)


@pytest.mark.parametrize("counts,sampling_strategy,sampling_type", [
    ({0: 60, 1: 15}, "auto", OVER_SAMPLING),
    ({0: 60, 1: 15}, 0.5, OVER_SAMPLING),
    ({0: 60, 1: 15}, 0.5, UNDER_SAMPLING),
    ({0: 60, 1: 15}, "auto", UNDER_SAMPLING),
    ({0: 40, 1: 30, 2: 12}, "auto", OVER_SAMPLING),
    ({0: 40, 1: 30, 2: 12}, "minority", OVER_SAMPLING),
    ({0: 40, 1: 30, 2: 12}, "not minority", OVER_SAMPLING),
    ({0: 40, 1: 30, 2: 12}, "all", OVER_SAMPLING),
    ({0: 40, 1: 30, 2: 12}, "majority", UNDER_SAMPLING),
    ({0: 40, 1: 30, 2: 12}, "not majority", UNDER_SAMPLING),
    ({0: 40, 1: 30, 2: 12}, "auto", UNDER_SAMPLING),
    ({0: 40, 1: 30, 2: 12}, {1: 35, 2: 20}, OVER_SAMPLING),
    ({0: 40, 1: 30, 2: 12}, {0: 20, 1: 12}, UNDER_SAMPLING),
])
def test_targets_follow_imbalanced_learn(counts, sampling_strategy, sampling_type):
  y = np.repeat(list(counts), list(counts.values()))
  theirs = check_sampling_strategy(sampling_strategy, y, sampling_type)
  ours = plan.target_counts(counts, sampling_strategy, sampling_type)
  if sampling_type == OVER_SAMPLING:  # imbalanced-learn: rows to add; ours: rows after
    theirs = {c: counts[c] + n for c, n in theirs.items()}
  assert ours == {**counts, **theirs}


def test_selection_is_exactly_the_k_smallest_hashes():
  hashes = sorted(row_hash(42, b"row %d" % i) for i in range(5000))
  histogram = np.bincount([bucket_of(h) for h in hashes],
                          minlength=plan.NUM_BUCKETS)
  for k in (0, 1, 17, 2500, 4999, 5000):
    cut, take = plan.selection(histogram, k)
    chosen = [h for h in hashes if bucket_of(h) < cut]
    chosen += sorted(h for h in hashes if bucket_of(h) == cut)[:take]
    assert sorted(chosen) == hashes[:k]


def test_chunks_are_bounded_and_large_enough():
  buckets = [bucket_of(row_hash(42, b"row %d" % i)) for i in range(1000)]
  histogram = np.bincount(buckets, minlength=plan.NUM_BUCKETS)
  starts = plan.plan_chunks(histogram, chunk_size=150, min_rows=6)
  sizes = plan.chunk_rows(histogram, starts)
  assert sum(sizes) == 1000 and len(sizes) >= 7
  assert all(6 <= size <= 150 for size in sizes)
  assert plan.plan_chunks(histogram, chunk_size=1000, min_rows=6) == []


def test_allocate_splits_exactly_in_proportion():
  assert plan.allocate(10, [1, 1, 1]) == [4, 3, 3]
  assert plan.allocate(7, [100, 50, 0]) == [5, 2, 0]
  assert sum(plan.allocate(12345, [7, 11, 13, 17])) == 12345


def test_auto_chooses_by_imbalance_and_falls_back_to_copies_for_a_class_too_small_for_smote():
  numeric = {"has_numeric": True, "has_categorical": False}  # numeric features only
  assert plan.resolve_strategy("auto", {0: 100, 1: 90}, **numeric) == "none"
  assert plan.resolve_strategy("auto", {0: 100, 1: 10}, **numeric) == "smote"
  assert plan.resolve_strategy("auto", {0: 100, 1: 3}, **numeric, k_neighbors=5) == (
      "random_over")
  # asked for: checked
  assert plan.resolve_strategy("smote", {0: 100, 1: 3}, **numeric) == "smote"


def test_parameters_that_do_not_fit_the_data_raise_a_rebalance_error():
  with pytest.raises(spec.RebalanceError, match="has 3 row"):
    plan.check_k_neighbors({0: 100, 1: 3}, {0: 100, 1: 100}, 5, "smote", "train")


def test_auto_asks_for_min_imbalance_before_resampling():
  two_to_one = {0: 20, 1: 10}
  assert plan.resolve_strategy("auto", two_to_one, True, False) == "smote"  # 2 >= 1.5
  assert plan.resolve_strategy("auto", two_to_one, True, False, min_imbalance=3) == "none"
  assert plan.resolve_strategy("auto", {0: 30, 1: 10}, True, False, min_imbalance=3) == "smote"
  assert plan.resolve_strategy("smote", two_to_one, True, False, min_imbalance=3) == "smote"


def test_auto_with_min_imbalance_3_leaves_a_two_to_one_split_as_it_is():
  params = parse_params({spec.LABEL_KEY: "y_xf", spec.MIN_IMBALANCE_KEY: 3.0})
  kinds = FeatureKinds(label="y_xf", numeric=("x_xf",), categorical={}, unsupported=())
  histograms = {c: np.bincount([bucket_of(row_hash(42, b"%d %d" % (c, i))) for i in range(n)],
                               minlength=plan.NUM_BUCKETS) for c, n in {0: 20, 1: 10}.items()}
  stats = plan.SplitStats(histograms, bad_labels={}, malformed={}, id_ranges={})
  planned = plan.plan_split("train", stats, params, kinds)
  assert planned.strategy == "none" and not planned.resampled
  assert planned.targets == planned.counts == {0: 20, 1: 10}
  default = plan.plan_split("train", stats, dataclasses.replace(params, min_imbalance=1.5), kinds)
  assert default.strategy == "smote" and default.targets == {0: 20, 1: 20}


def test_auto_picks_smotenc_with_categorical_features_and_random_over_without_numeric_ones():
  counts = {0: 100, 1: 10}
  assert plan.resolve_strategy("auto", counts, True, True) == "smotenc"
  assert plan.resolve_strategy("auto", counts, False, True) == "random_over"


def test_plan_imports_no_tensorflow_beam_tfx_or_scikit_learn(without_heavy_imports):
  """DataGuard's findings (TensorFlow-free) ask `resolve_strategy` what `auto` will do."""
  without_heavy_imports(
      "from trainguard.components.rebalance import plan\n"
      "assert plan.resolve_strategy('auto', {'a': 30, 'b': 10}, True, False) == 'smote'\n",
      heavy=("tensorflow", "apache_beam", "tfx", "sklearn", "imblearn", "tensorflow_transform"))
