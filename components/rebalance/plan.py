"""How many rows of each class, and which: the plans Rebalance's Beam passes carry out.

Pure: numpy and the standard library on the counting pass's histograms, no TensorFlow, Beam or
scikit-learn, so the plans are unit-tested on their own and DataGuard's findings can ask
`resolve_strategy` what `auto` will do (its CLASS_IMBALANCE fix used to re-code the rule, and had
drifted: it named smotenc where Rebalance runs random_over).
"""
import dataclasses
import json
import logging
import math
from typing import Any, Dict, List, Mapping, Sequence, Tuple

import numpy as np

from trainguard.components.rebalance.feature_kinds import FeatureKinds, check_strategy_features
from trainguard.components.rebalance.params import (
    DEFAULT_K_NEIGHBORS, DEFAULT_MIN_IMBALANCE, K_NEIGHBORS_KEY, OVER_SAMPLING,
    SAMPLING_STRATEGY_KEY, STRATEGY_KEY, Params, RebalanceError, SamplingStrategy,
    encode_sampling_strategy, sampling_type_of)
from trainguard.policy import SYNTHESIZING_STRATEGIES

BUCKET_BITS = 16
UNLABELLED = "class id -1"  # the counting pass's bad_labels key for Transform's "no label"
NUM_BUCKETS = 1 << BUCKET_BITS


# ---------------------------------------------------------------------------------------------
# Targets: how many rows of each class after resampling
# ---------------------------------------------------------------------------------------------


def target_counts(counts: Mapping[int, int], sampling_strategy: SamplingStrategy,
                  sampling_type: str, split: str = "train") -> Dict[int, int]:
  """Rows of every class after resampling, as imbalanced-learn's `check_sampling_strategy` decides.

  `counts` must be ordered by class id: ties for majority or minority go to the smallest id.
  """
  targets = dict(counts)
  if not counts:
    return targets
  majority = max(counts, key=counts.get)
  minority = min(counts, key=counts.get)
  over = sampling_type == OVER_SAMPLING
  name = f"{SAMPLING_STRATEGY_KEY}={encode_sampling_strategy(sampling_strategy)!r}"
  if isinstance(sampling_strategy, str):
    chosen = {
        "auto": [c for c in counts if c != (majority if over else minority)],
        "all": list(counts),
        "minority": [minority],
        "majority": [majority],
        "not minority": [c for c in counts if c != minority],
        "not majority": [c for c in counts if c != majority],
    }[sampling_strategy]
    for c in chosen:
      targets[c] = counts[majority] if over else counts[minority]
    return targets
  if isinstance(sampling_strategy, float):
    if len(counts) != 2:
      raise RebalanceError(
          f"{name} is a ratio, which imbalanced-learn defines for two classes only, and split "
          f"{split!r} has {len(counts)} ({', '.join(map(str, counts))}); give a JSON object of "
          "class id to rows instead, e.g. "
          f"'{json.dumps({str(c): counts[majority] for c in counts if c != majority})}'.")
    if over:
      target = int(counts[majority] * sampling_strategy)
      if target < counts[minority]:
        raise RebalanceError(
            f"{name} would undersample the minority class {minority} of split {split!r} "
            f"({counts[minority]} rows -> {target}): an over-sampling ratio is the minority's "
            f"rows over the majority's ({counts[majority]}); use at least "
            f"{math.ceil(100 * counts[minority] / counts[majority]) / 100}, or strategy "
            "'random_under' to remove rows.")
      targets[minority] = target
    else:
      target = int(counts[minority] / sampling_strategy)
      if target > counts[majority]:
        raise RebalanceError(
            f"{name} would grow the majority class {majority} of split {split!r} "
            f"({counts[majority]} rows -> {target}) while under-sampling: the ratio is the "
            f"minority's rows ({counts[minority]}) over the majority's after; use at least "
            f"{math.ceil(100 * counts[minority] / counts[majority]) / 100}.")
      targets[majority] = target
    return targets
  unknown = sorted(set(sampling_strategy) - set(counts))
  if unknown:
    raise RebalanceError(
        f"{name} names class(es) {', '.join(map(str, unknown))}, which have no rows in split "
        f"{split!r} (classes found: {', '.join(map(str, counts))}); use those class ids.")
  for c, rows in sorted(sampling_strategy.items()):
    if over and rows < counts[c]:
      raise RebalanceError(
          f"{name} would undersample class {c} of split {split!r} ({counts[c]} rows -> {rows}) "
          f"with over-sampling strategy; ask for at least {counts[c]} rows, or use strategy "
          "'random_under' to remove rows.")
    if not over and rows > counts[c]:
      raise RebalanceError(
          f"{name} would grow class {c} of split {split!r} ({counts[c]} rows -> {rows}) with "
          f"strategy 'random_under'; ask for at most {counts[c]} rows, or use an over-sampling "
          "strategy.")
    targets[c] = rows
  return targets


def resolve_strategy(requested: str, counts: Mapping[Any, int], has_numeric: bool,
                     has_categorical: bool, k_neighbors: int = DEFAULT_K_NEIGHBORS,
                     min_imbalance: float = DEFAULT_MIN_IMBALANCE) -> str:
  """`auto`: SMOTE (SMOTENC with categorical features) when the imbalance (largest class over
  smallest) is >= `min_imbalance`, else none; random over-sampling when a class has too few rows
  for k_neighbors (SMOTE would fail), or when every feature is categorical."""
  if requested != "auto":
    return requested
  if len(counts) < 2 or max(counts.values()) < min_imbalance * min(counts.values()):
    return "none"
  if min(counts.values()) < k_neighbors + 1:
    return "random_over"
  if not has_categorical:
    return "smote"
  return "smotenc" if has_numeric else "random_over"


def check_k_neighbors(counts: Mapping[int, int], targets: Mapping[int, int], k_neighbors: int,
                      strategy: str, split: str) -> None:
  for c, rows in counts.items():
    if targets[c] > rows and rows < k_neighbors + 1:
      lower = (f"lower {K_NEIGHBORS_KEY} to {rows - 1} or less, or " if rows > 1 else "")
      raise RebalanceError(
          f"class {c} of split {split!r} has {rows} row(s), but {STRATEGY_KEY}={strategy!r} "
          f"with {K_NEIGHBORS_KEY}={k_neighbors} needs at least {k_neighbors + 1} rows of "
          f"every class it synthesises (a row and its {k_neighbors} nearest neighbours of the "
          f"same class); {lower}use strategy 'random_over' for this class, or collect more rows.")


# ---------------------------------------------------------------------------------------------
# Hash-ranked selection and chunk planning (pure, on the counting pass's histograms)
# ---------------------------------------------------------------------------------------------


def selection(histogram: np.ndarray, k: int) -> Tuple[int, int]:
  """`(cut, take)`: the k rows of smallest hash are all rows in buckets below `cut` and the `take`
  rows of smallest hash in bucket `cut`."""
  cumulative = np.cumsum(histogram)
  total = int(cumulative[-1])
  if not 0 <= k <= total:
    raise RebalanceError(f"cannot select {k} of {total} rows")
  if k == total:
    return NUM_BUCKETS, 0
  cut = int(np.searchsorted(cumulative, k, side="left"))
  before = int(cumulative[cut - 1]) if cut else 0
  return cut, k - before


def chunk_rows(histogram: np.ndarray, starts: Sequence[int]) -> List[int]:
  cumulative = np.concatenate([[0], np.cumsum(histogram)])
  bounds = [0, *starts, len(histogram)]
  return [int(cumulative[end] - cumulative[begin]) for begin, end in zip(bounds, bounds[1:])]


def plan_chunks(histogram: np.ndarray, chunk_size: int, min_rows: int) -> List[int]:
  """First hash bucket of every chunk after the first: contiguous bucket ranges of about equal rows,
  each at most `chunk_size` and at least `min_rows` rows when bucket granularity allows (a bucket
  holding more rows than a chunk, i.e. many duplicate rows, is the only exception)."""
  total = int(np.sum(histogram))
  if total <= chunk_size:
    return []
  cumulative = np.cumsum(histogram)
  first = math.ceil(total / chunk_size)
  starts: List[int] = []
  for num_chunks in range(first, first + 16):
    starts = sorted({
        int(np.searchsorted(cumulative, j * total / num_chunks, side="left")) + 1
        for j in range(1, num_chunks)
    } - {len(histogram)})
    starts = _merge_small_chunks(histogram, starts, min_rows)
    if max(chunk_rows(histogram, starts)) <= chunk_size:
      break
  return starts


def _merge_small_chunks(histogram: np.ndarray, starts: List[int], min_rows: int) -> List[int]:
  starts = list(starts)
  while starts:
    sizes = chunk_rows(histogram, starts)
    small = [i for i, rows in enumerate(sizes) if rows < min_rows]
    if not small:
      break
    i = small[0]
    # Merge chunk i into its left neighbour (drop its start), the first chunk into its right one.
    del starts[i - 1 if i else 0]
  return starts


def allocate(total: int, weights: Sequence[int]) -> List[int]:
  """`total` split in proportion to `weights`, exactly (largest remainder, ties to lower index)."""
  weight_sum = sum(weights)
  if total == 0 or weight_sum == 0:
    return [0] * len(weights)
  shares = [total * w // weight_sum for w in weights]
  remainders = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % weight_sum), i))
  for i in remainders[:total - sum(shares)]:
    shares[i] += 1
  return shares


def context_cut(histogram: np.ndarray, budget: float) -> int:
  """The bucket below which a class's rows of smallest hash number at most `budget`."""
  return int(np.searchsorted(np.cumsum(histogram), budget, side="right"))


# ---------------------------------------------------------------------------------------------
# Plans
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ClassPlan:
  """What happens to the rows of one class; picklable plain data for the Beam workers."""
  class_id: int
  rows: int
  target: int
  action: str  # "under" | "over" | "synth"
  copies: int = 0  # "over": extra copies of every row
  cut: int = 0  # "under"/"over": hash-rank selection, see `selection`
  take: int = 0
  chunk_starts: Tuple[int, ...] = ()  # "synth": see `plan_chunks`
  chunk_rows: Tuple[int, ...] = ()
  chunk_new: Tuple[int, ...] = ()  # synthetic rows asked of each chunk
  context_cuts: Tuple[Tuple[int, int], ...] = ()  # (other class, bucket cut) for the context sample
  context_rows: int = 0


@dataclasses.dataclass(frozen=True)
class SplitStats:
  """The counting pass's findings for one split."""
  histograms: Dict[int, np.ndarray]
  bad_labels: Dict[str, int]
  malformed: Dict[str, int]
  id_ranges: Dict[str, Tuple[int, int]]

  @property
  def class_counts(self) -> Dict[int, int]:
    return {c: int(self.histograms[c].sum()) for c in sorted(self.histograms)}


@dataclasses.dataclass(frozen=True)
class SplitPlan:
  split: str
  requested_strategy: str
  strategy: str
  counts: Dict[int, int]
  targets: Dict[int, int]
  classes: Dict[int, ClassPlan]
  num_shards: int

  @property
  def resampled(self) -> bool:
    return bool(self.classes)


def check_split_stats(split: str, stats: SplitStats, kinds: FeatureKinds, strategy: str,
                      path: str) -> None:
  """Data problems found by the counting pass that stop resampling, with what to do."""
  if not stats.class_counts and not stats.bad_labels:
    raise RebalanceError(f"split {split!r} has no rows ({path}); Rebalance needs a non-empty "
                         "split to resample: check the ExampleGen split config and the input data.")
  for why, rows in sorted(stats.bad_labels.items()):
    if why == UNLABELLED and stats.class_counts:
      # Transform's class id for a row without a label: DataGuard lets up to the CLI's 20% of them
      # through (LABEL_MISSING_ROWS_DROPPED) and the Trainer drops them; they are copied as they
      # are, neither counted nor resampled (an unknown class is -1 too, and DataGuard blocks it).
      logging.warning("Rebalance: %d row(s) of split %r have no class (class id -1: no label); "
                      "copied unchanged, left out of the class counts (the Trainer drops them).",
                      rows, split)
      continue
    raise RebalanceError(
        f"{rows} row(s) of split {split!r} ({path}) have {why} for label {kinds.label!r}; every "
        "row needs one class id >= 0 (Transform writes -1 for a value outside the schema's "
        "classes). Fix the data or the schema; DataGuard reports such rows.")
  if strategy not in SYNTHESIZING_STRATEGIES:
    return
  for name, rows in sorted(stats.malformed.items()):
    raise RebalanceError(
        f"{rows} row(s) of split {split!r} ({path}) do not hold exactly one finite value of "
        f"feature {name!r}, so {STRATEGY_KEY}={strategy!r} cannot interpolate them; impute "
        "the feature in Transform or use strategy 'random_over'.")
  for name, (low, high) in sorted(stats.id_ranges.items()):
    largest = kinds.categorical.get(name)
    if low < 0 or (largest is not None and high > largest):
      raise RebalanceError(
          f"categorical feature {name!r} of split {split!r} ({path}) has ids {low}..{high}, but "
          f"its vocabulary allows 0..{largest} (vocabulary + out-of-vocabulary bucket); the "
          "examples do not match the transform graph: pass the same Transform's two outputs.")


def plan_split(split: str, stats: SplitStats, params: Params, kinds: FeatureKinds,
               path: str = "") -> SplitPlan:
  """Validates the counts against the parameters and plans every class's rows, exactly."""
  counts = stats.class_counts
  strategy = resolve_strategy(params.strategy, counts, bool(kinds.numeric), bool(kinds.categorical),
                              params.k_neighbors, params.min_imbalance)
  check_split_stats(split, stats, kinds, strategy, path)
  check_strategy_features(strategy, kinds)
  if strategy == "none":
    targets = dict(counts)
  else:
    targets = target_counts(counts, params.sampling_strategy, sampling_type_of(strategy), split)
  if strategy in SYNTHESIZING_STRATEGIES:
    check_k_neighbors(counts, targets, params.k_neighbors, strategy, split)
  classes: Dict[int, ClassPlan] = {}
  total = sum(counts.values())
  for c, rows in counts.items():
    target = targets[c]
    histogram = stats.histograms[c]
    if target == rows:
      continue
    if target < rows:
      cut, take = selection(histogram, target)
      classes[c] = ClassPlan(c, rows, target, "under", cut=cut, take=take)
    elif strategy == "random_over":
      copies, remainder = divmod(target - rows, rows)
      cut, take = selection(histogram, remainder)
      classes[c] = ClassPlan(c, rows, target, "over", copies=copies, cut=cut, take=take)
    else:
      starts = plan_chunks(histogram, params.chunk_size, params.k_neighbors + 1)
      sizes = chunk_rows(histogram, starts)
      plan = ClassPlan(c, rows, target, "synth", chunk_starts=tuple(starts),
                       chunk_rows=tuple(sizes), chunk_new=tuple(allocate(target - rows, sizes)))
      if strategy in ("adasyn", "borderline_smote"):
        # A seeded sample of the other classes, at the same fraction as one chunk of this class
        # (so a chunk sees the class mix of the whole split), capped at chunk_size rows.
        others = total - rows
        fraction = min(1 / len(sizes), params.chunk_size / others) if others else 0
        cuts = tuple((d, context_cut(stats.histograms[d], fraction * counts[d]))
                     for d in counts if d != c)
        context = sum(int(np.cumsum(stats.histograms[d])[cut - 1]) if cut else 0
                      for d, cut in cuts)
        plan = dataclasses.replace(plan, context_cuts=cuts, context_rows=context)
      classes[c] = plan
  num_shards = max(1, math.ceil(sum(targets.values()) / params.chunk_size))
  return SplitPlan(split, params.strategy, strategy, counts, targets, classes, num_shards)

