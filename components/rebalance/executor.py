"""The Rebalance executor: exact, deterministic, bounded-memory resampling of transformed examples.

Two Beam passes over each split to resample, as tf.Transform does (analyze, then transform):

1. Count. Per class: the rows, and a histogram of a seeded content hash of each row over 2^16
   buckets; per categorical feature: the smallest and largest id; rows whose label or features do
   not hold exactly one value. The counts fix every target before any row is resampled.
2. Resample. Every row streams through once and is routed by its class and its hash bucket:
   - classes that keep their size stream straight to the output;
   - `random_under` keeps the `target` rows of smallest hash: rows in buckets below a cut bucket
     stream through, and only the cut bucket's rows (about rows/65536) are grouped to pick exactly
     the remaining few;
   - `random_over` emits every row `target // rows` times in total and one more copy of the
     `target % rows` rows of smallest hash (same cut-bucket rule): exact, and no row is copied more
     than once more than another;
   - SMOTE-family strategies group only the rows of the classes being synthesised, in chunks of at
     most `chunk_size` rows (contiguous hash-bucket ranges planned from the histogram), and run
     imbalanced-learn on each chunk; synthetic rows are added to the class's streamed rows.
   Output files are written by content: each row's seeded hash picks its shard and its place in
   the shard, so the same input and seed give byte-identical files whatever Beam's bundling. Rows
   reach their shard through spill files (only file names are grouped), so memory holds one shard
   at a time, not the split.

Splits not resampled (and splits whose strategy resolves to `none`) are copied byte-for-byte.
Everything that can be checked without reading rows is checked before Beam starts; everything that
needs counts is checked after the counting pass and before anything is written.
"""
import bisect
import dataclasses
import hashlib
import json
import math
import os
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import apache_beam as beam
from apache_beam.transforms import window
from apache_beam.utils import windowed_value
import numpy as np
import sklearn
import tensorflow as tf
import tensorflow_transform as tft
from absl import logging
from tfx import types
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils

from trainguard import policy
from trainguard.components.util import spill_shuffle
from trainguard.components.util import tfrecord_batches
from trainguard.components.util.spill_shuffle import row_hashes
from trainguard.components.rebalance import rows
from trainguard.components.rebalance import spec
from trainguard.models import features as feature_names

STRATEGIES = policy.STRATEGIES
SYNTHESIZING = policy.SYNTHESIZING_STRATEGIES
EXACT = ("smote", "smotenc", "random_over", "random_under", "none")
# `auto` resamples when the largest class has at least this many times the rows of the smallest.
AUTO_MIN_IMBALANCE = 1.5
SAMPLING_STRATEGY_NAMES = ("auto", "minority", "majority", "not minority", "not majority", "all")
OVER_SAMPLING = "over-sampling"
UNDER_SAMPLING = "under-sampling"

REPORT_FILE = "rebalance.json"
OUTPUT_FILE_PREFIX = "rebalanced_examples"
BUCKET_BITS = 16
NUM_BUCKETS = 1 << BUCKET_BITS
# Borderline-SMOTE's neighbourhood for deciding which rows are "in danger" (imbalanced-learn's
# default), reduced to the rows available in a small chunk.
BORDERLINE_M_NEIGHBORS = 10

SamplingStrategy = Union[str, float, Dict[int, int]]


# ---------------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Params:
  label_key: str
  strategy: str
  sampling_strategy: SamplingStrategy
  k_neighbors: int
  seed: int
  chunk_size: int
  splits_to_resample: Tuple[str, ...]

  def as_dict(self) -> Dict[str, Any]:
    sampling = self.sampling_strategy
    if isinstance(sampling, dict):
      sampling = {str(k): v for k, v in sorted(sampling.items())}
    return {
        spec.LABEL_KEY: self.label_key,
        spec.STRATEGY_KEY: self.strategy,
        spec.SAMPLING_STRATEGY_KEY: sampling,
        spec.K_NEIGHBORS_KEY: self.k_neighbors,
        spec.SEED_KEY: self.seed,
        spec.CHUNK_SIZE_KEY: self.chunk_size,
        spec.SPLITS_TO_RESAMPLE_KEY: list(self.splits_to_resample),
    }


def encode_sampling_strategy(value: SamplingStrategy) -> str:
  """The exec-property string for a `sampling_strategy`: names as-is, numbers and dicts as JSON."""
  if isinstance(value, str):
    return value
  if isinstance(value, dict):
    return json.dumps({str(k): v for k, v in value.items()}, sort_keys=True)
  return json.dumps(value)


def decode_sampling_strategy(value: Optional[str]) -> SamplingStrategy:
  """Parses and checks a `sampling_strategy`: a name, a ratio in (0, 1], or {class id: rows}."""
  if value is None or value == "":
    return spec.DEFAULT_SAMPLING_STRATEGY
  if not isinstance(value, str):
    value = encode_sampling_strategy(value)
  try:
    decoded = json.loads(value)
  except json.JSONDecodeError:
    decoded = value
  allowed = (f"one of {', '.join(repr(n) for n in SAMPLING_STRATEGY_NAMES)}, a ratio in (0, 1] "
             "(two classes), or a JSON object of class id to rows, e.g. '{\"2\": 152}'")
  if isinstance(decoded, str):
    if decoded not in SAMPLING_STRATEGY_NAMES:
      raise spec.RebalanceError(f"sampling_strategy={value!r} is not understood; use {allowed}.")
    return decoded
  if isinstance(decoded, bool):
    raise spec.RebalanceError(f"sampling_strategy={value!r} is not understood; use {allowed}.")
  if isinstance(decoded, (int, float)):
    if not 0 < decoded <= 1:
      raise spec.RebalanceError(
          f"sampling_strategy={value!r} is a ratio outside (0, 1]: it is the minority's rows "
          "after over-sampling over the majority's (or the minority's over the majority's after "
          "under-sampling); use a ratio in (0, 1], e.g. 1.0 for equal classes.")
    return float(decoded)
  if isinstance(decoded, dict):
    parsed = {}
    for key, rows in decoded.items():
      try:
        class_id = int(key)
      except (TypeError, ValueError):
        class_id = None
      if class_id is None or class_id < 0:
        raise spec.RebalanceError(
            f"sampling_strategy={value!r} has key {key!r}, which is not a class id; keys are the "
            "label's integer class ids after Transform (0 is the schema's first class).")
      if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
        raise spec.RebalanceError(
            f"sampling_strategy={value!r} asks for {rows!r} rows of class {class_id}; give a whole "
            "number of rows (>= 0) per class.")
      parsed[class_id] = rows
    if not parsed:
      raise spec.RebalanceError(f"sampling_strategy={value!r} names no class; use {allowed}.")
    return parsed
  raise spec.RebalanceError(f"sampling_strategy={value!r} is not understood; use {allowed}.")


def _int_param(props: Mapping[str, Any], key: str, default: int, minimum: int, hint: str) -> int:
  value = props.get(key)
  if value is None:
    return default
  if isinstance(value, bool) or not isinstance(value, int):
    raise spec.RebalanceError(f"{key}={value!r} must be a whole number; {hint}.")
  if value < minimum:
    raise spec.RebalanceError(f"{key}={value!r} is below {minimum}; {hint}.")
  return value


def parse_params(props: Mapping[str, Any]) -> Params:
  """Checks every parameter that can be checked without data; raises a ValueError that names it."""
  label_key = props.get(spec.LABEL_KEY)
  if not isinstance(label_key, str) or not label_key:
    raise spec.RebalanceError(f"{spec.LABEL_KEY}={label_key!r}: name the transformed label feature, "
                     "e.g. 'species_xf'.")
  strategy = props.get(spec.STRATEGY_KEY) or spec.DEFAULT_STRATEGY
  if strategy not in STRATEGIES:
    raise spec.RebalanceError(f"{spec.STRATEGY_KEY}={strategy!r} is not a rebalancing strategy; use one of "
                     f"{', '.join(STRATEGIES)}.")
  sampling_strategy = decode_sampling_strategy(props.get(spec.SAMPLING_STRATEGY_KEY))
  sampling_type = UNDER_SAMPLING if strategy == "random_under" else OVER_SAMPLING
  if strategy != "none":
    if sampling_type == OVER_SAMPLING and sampling_strategy == "majority":
      raise spec.RebalanceError(
          f"{spec.SAMPLING_STRATEGY_KEY}='majority' cannot be used with {spec.STRATEGY_KEY}="
          f"{strategy!r}, which adds rows: over-sample 'minority', 'not majority' or 'all', or "
          "use strategy 'random_under' to shrink the majority.")
    if sampling_type == UNDER_SAMPLING and sampling_strategy == "minority":
      raise spec.RebalanceError(
          f"{spec.SAMPLING_STRATEGY_KEY}='minority' cannot be used with {spec.STRATEGY_KEY}="
          "'random_under', which removes rows: under-sample 'majority', 'not minority' or 'all', "
          "or use an over-sampling strategy to grow the minority.")
  k_neighbors = _int_param(props, spec.K_NEIGHBORS_KEY, spec.DEFAULT_K_NEIGHBORS, 1,
                           "SMOTE-family strategies need at least 1 neighbour (default 5)")
  seed = _int_param(props, spec.SEED_KEY, spec.DEFAULT_SEED, 0, "use a seed >= 0")
  chunk_size = _int_param(
      props, spec.CHUNK_SIZE_KEY, spec.DEFAULT_CHUNK_SIZE, 2 * (k_neighbors + 1),
      f"a chunk must hold at least 2 x (k_neighbors + 1) = {2 * (k_neighbors + 1)} rows so that "
      f"every chunk has a row and its k_neighbors={k_neighbors} neighbours (default "
      f"{spec.DEFAULT_CHUNK_SIZE})")
  splits = props.get(spec.SPLITS_TO_RESAMPLE_KEY)
  if splits is None or splits == "":
    splits = list(spec.DEFAULT_SPLITS_TO_RESAMPLE)
  elif isinstance(splits, str):
    try:
      splits = json.loads(splits)
    except json.JSONDecodeError:
      splits = None
  if (not isinstance(splits, (list, tuple)) or not splits or
      not all(isinstance(s, str) and s for s in splits)):
    raise spec.RebalanceError(f"{spec.SPLITS_TO_RESAMPLE_KEY}={props.get(spec.SPLITS_TO_RESAMPLE_KEY)!r}: "
                     "give a non-empty JSON list of split names, e.g. '[\"train\"]'.")
  return Params(label_key, strategy, sampling_strategy, k_neighbors, seed, chunk_size,
                tuple(dict.fromkeys(splits)))


# ---------------------------------------------------------------------------------------------
# Features
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FeatureKinds:
  """The transformed features by kind, names sorted; `columns` is the order of synthesis vectors."""
  label: str
  numeric: Tuple[str, ...]
  # categorical feature -> largest valid id (vocabulary size + OOV buckets - 1); None if unknown.
  categorical: Dict[str, Optional[int]]
  unsupported: Tuple[str, ...]

  @property
  def columns(self) -> Tuple[str, ...]:
    return tuple(sorted(self.numeric + tuple(self.categorical)))

  @property
  def categorical_columns(self) -> Tuple[int, ...]:
    return tuple(i for i, name in enumerate(self.columns) if name in self.categorical)


def feature_kinds(feature_spec: Mapping[str, Any], label_key: str,
                  vocabulary_size: Callable[[str], Optional[int]]) -> FeatureKinds:
  """Numeric (float32) and categorical (int64 ids) features of the transformed examples."""
  if label_key not in feature_spec:
    hint = ""
    if feature_names.transformed_name(label_key) in feature_spec:
      hint = f" The transformed label is {feature_names.transformed_name(label_key)!r}."
    raise spec.RebalanceError(
        f"{spec.LABEL_KEY}={label_key!r} is not a feature of the transformed examples (features: "
        f"{', '.join(sorted(feature_spec))}); pass the transformed label's name.{hint}")
  label_spec = feature_spec[label_key]
  if not _is_one_value(label_spec) or label_spec.dtype != tf.int64:
    raise spec.RebalanceError(
        f"{spec.LABEL_KEY}={label_key!r} is {label_spec}, but Rebalance needs one int64 class id "
        "per row, as the Transform step writes it; pass Transform's output.")
  numeric, categorical, unsupported = [], {}, []
  for name, feature in sorted(feature_spec.items()):
    if name == label_key:
      continue
    if not _is_one_value(feature):
      unsupported.append(name)
    elif feature.dtype == tf.float32:
      numeric.append(name)
    elif feature.dtype == tf.int64:
      raw = name[:-len(feature_names.TRANSFORMED_SUFFIX)] if name.endswith(
          feature_names.TRANSFORMED_SUFFIX) else name
      size = vocabulary_size(raw)
      categorical[name] = None if size is None else size + feature_names.NUM_OOV_BUCKETS - 1
    else:
      unsupported.append(name)
  return FeatureKinds(label_key, tuple(numeric), categorical, tuple(unsupported))


def _is_one_value(feature) -> bool:
  return (isinstance(feature, tf.io.FixedLenFeature) and
          int(np.prod(feature.shape or [1])) == 1)


def check_strategy_features(strategy: str, kinds: FeatureKinds) -> None:
  """Whether `strategy` can synthesise rows of these features (no-op for non-synthesising ones)."""
  if strategy not in SYNTHESIZING:
    return
  if kinds.unsupported:
    raise spec.RebalanceError(
        f"{spec.STRATEGY_KEY}={strategy!r} synthesises rows, but features "
        f"{', '.join(kinds.unsupported)} do not hold one float32 or int64 value per row; exclude "
        "them in Transform or use strategy 'random_over'.")
  categorical = ", ".join(kinds.categorical)
  if strategy == "smote" and kinds.categorical:
    raise spec.RebalanceError(
        f"{spec.STRATEGY_KEY}='smote' interpolates every feature, which would invent ids for the "
        f"categorical features {categorical}; use 'smotenc' (or 'auto', which picks it).")
  if strategy == "smotenc" and not kinds.categorical:
    raise spec.RebalanceError(f"{spec.STRATEGY_KEY}='smotenc' needs categorical (int64) features and these "
                     "examples have none; use 'smote'.")
  if not kinds.numeric:
    raise spec.RebalanceError(
        f"{spec.STRATEGY_KEY}={strategy!r} interpolates numeric features and these examples have "
        f"only categorical ones ({categorical}); use 'random_over'.")


# ---------------------------------------------------------------------------------------------
# Targets: how many rows of each class after resampling
# ---------------------------------------------------------------------------------------------


def sampling_type_of(strategy: str) -> str:
  return UNDER_SAMPLING if strategy == "random_under" else OVER_SAMPLING


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
  name = f"{spec.SAMPLING_STRATEGY_KEY}={encode_sampling_strategy(sampling_strategy)!r}"
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
      raise spec.RebalanceError(
          f"{name} is a ratio, which imbalanced-learn defines for two classes only, and split "
          f"{split!r} has {len(counts)} ({', '.join(map(str, counts))}); give a JSON object of "
          "class id to rows instead, e.g. "
          f"'{json.dumps({str(c): counts[majority] for c in counts if c != majority})}'.")
    if over:
      target = int(counts[majority] * sampling_strategy)
      if target < counts[minority]:
        raise spec.RebalanceError(
            f"{name} would undersample the minority class {minority} of split {split!r} "
            f"({counts[minority]} rows -> {target}): an over-sampling ratio is the minority's "
            f"rows over the majority's ({counts[majority]}); use at least "
            f"{math.ceil(100 * counts[minority] / counts[majority]) / 100}, or strategy "
            "'random_under' to remove rows.")
      targets[minority] = target
    else:
      target = int(counts[minority] / sampling_strategy)
      if target > counts[majority]:
        raise spec.RebalanceError(
            f"{name} would grow the majority class {majority} of split {split!r} "
            f"({counts[majority]} rows -> {target}) while under-sampling: the ratio is the "
            f"minority's rows ({counts[minority]}) over the majority's after; use at least "
            f"{math.ceil(100 * counts[minority] / counts[majority]) / 100}.")
      targets[majority] = target
    return targets
  unknown = sorted(set(sampling_strategy) - set(counts))
  if unknown:
    raise spec.RebalanceError(
        f"{name} names class(es) {', '.join(map(str, unknown))}, which have no rows in split "
        f"{split!r} (classes found: {', '.join(map(str, counts))}); use those class ids.")
  for c, rows in sorted(sampling_strategy.items()):
    if over and rows < counts[c]:
      raise spec.RebalanceError(
          f"{name} would undersample class {c} of split {split!r} ({counts[c]} rows -> {rows}) "
          f"with over-sampling strategy; ask for at least {counts[c]} rows, or use strategy "
          "'random_under' to remove rows.")
    if not over and rows > counts[c]:
      raise spec.RebalanceError(
          f"{name} would grow class {c} of split {split!r} ({counts[c]} rows -> {rows}) with "
          f"strategy 'random_under'; ask for at most {counts[c]} rows, or use an over-sampling "
          "strategy.")
    targets[c] = rows
  return targets


def resolve_strategy(requested: str, counts: Mapping[int, int], kinds: FeatureKinds,
                     k_neighbors: int = spec.DEFAULT_K_NEIGHBORS) -> str:
  """`auto`: SMOTE (SMOTENC with categorical features) when the imbalance is >= 1.5, else none;
  random over-sampling when a class has too few rows for k_neighbors (SMOTE would fail)."""
  if requested != "auto":
    return requested
  if len(counts) < 2 or max(counts.values()) < AUTO_MIN_IMBALANCE * min(counts.values()):
    return "none"
  if min(counts.values()) < k_neighbors + 1:
    return "random_over"
  if not kinds.categorical:
    return "smote"
  return "smotenc" if kinds.numeric else "random_over"


def check_k_neighbors(counts: Mapping[int, int], targets: Mapping[int, int], k_neighbors: int,
                      strategy: str, split: str) -> None:
  for c, rows in counts.items():
    if targets[c] > rows and rows < k_neighbors + 1:
      lower = (f"lower {spec.K_NEIGHBORS_KEY} to {rows - 1} or less, or " if rows > 1 else "")
      raise spec.RebalanceError(
          f"class {c} of split {split!r} has {rows} row(s), but {spec.STRATEGY_KEY}={strategy!r} "
          f"with {spec.K_NEIGHBORS_KEY}={k_neighbors} needs at least {k_neighbors + 1} rows of "
          f"every class it synthesises (a row and its {k_neighbors} nearest neighbours of the "
          f"same class); {lower}use strategy 'random_over' for this class, or collect more rows.")


# ---------------------------------------------------------------------------------------------
# Hash-ranked selection and chunk planning (pure, on the counting pass's histograms)
# ---------------------------------------------------------------------------------------------


def row_hash(seed: int, record: bytes, salt: str = "rank") -> int:
  """A seeded 64-bit content hash: the same row and seed give the same value on every worker."""
  key = f"{seed}:{salt}".encode()
  return int.from_bytes(hashlib.blake2b(record, digest_size=8, key=key).digest(), "big")


def bucket_of(hash_value: int) -> int:
  return hash_value >> (64 - BUCKET_BITS)


def selection(histogram: np.ndarray, k: int) -> Tuple[int, int]:
  """`(cut, take)`: the k rows of smallest hash are all rows in buckets below `cut` and the `take`
  rows of smallest hash in bucket `cut`."""
  cumulative = np.cumsum(histogram)
  total = int(cumulative[-1])
  if not 0 <= k <= total:
    raise spec.RebalanceError(f"cannot select {k} of {total} rows")
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
    raise spec.RebalanceError(f"split {split!r} has no rows ({path}); Rebalance needs a non-empty split to "
                     "resample: check the ExampleGen split config and the input data.")
  for why, rows in sorted(stats.bad_labels.items()):
    raise spec.RebalanceError(
        f"{rows} row(s) of split {split!r} ({path}) have {why} for label {kinds.label!r}; every "
        "row needs one class id >= 0 (Transform writes -1 for a value outside the schema's "
        "classes). Fix the data or the schema; DataGuard reports such rows.")
  if strategy not in SYNTHESIZING:
    return
  for name, rows in sorted(stats.malformed.items()):
    raise spec.RebalanceError(
        f"{rows} row(s) of split {split!r} ({path}) do not hold exactly one finite value of "
        f"feature {name!r}, so {spec.STRATEGY_KEY}={strategy!r} cannot interpolate them; impute "
        "the feature in Transform or use strategy 'random_over'.")
  for name, (low, high) in sorted(stats.id_ranges.items()):
    largest = kinds.categorical.get(name)
    if low < 0 or (largest is not None and high > largest):
      raise spec.RebalanceError(
          f"categorical feature {name!r} of split {split!r} ({path}) has ids {low}..{high}, but "
          f"its vocabulary allows 0..{largest} (vocabulary + out-of-vocabulary bucket); the "
          "examples do not match the transform graph: pass the same Transform's two outputs.")


def plan_split(split: str, stats: SplitStats, params: Params, kinds: FeatureKinds,
               path: str = "") -> SplitPlan:
  """Validates the counts against the parameters and plans every class's rows, exactly."""
  counts = stats.class_counts
  strategy = resolve_strategy(params.strategy, counts, kinds, params.k_neighbors)
  check_split_stats(split, stats, kinds, strategy, path)
  check_strategy_features(strategy, kinds)
  if strategy == "none":
    targets = dict(counts)
  else:
    targets = target_counts(counts, params.sampling_strategy, sampling_type_of(strategy), split)
  if strategy in SYNTHESIZING:
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


# ---------------------------------------------------------------------------------------------
# Synthesis: imbalanced-learn on one chunk (pure numpy in, numpy out)
# ---------------------------------------------------------------------------------------------


def synthesize(strategy: str, own: np.ndarray, n_new: int, k_neighbors: int, random_state: int,
               categorical_columns: Sequence[int] = (),
               context: Optional[np.ndarray] = None) -> np.ndarray:
  """New rows for a class from `own` (its rows, one per line) with imbalanced-learn.

  Only the own-versus-other distinction matters to every sampler here (SMOTE and SMOTE-NC
  interpolate within the class; Borderline-SMOTE and ADASYN count other-class neighbours), so
  `context` rows, the other classes, are all labelled 0 and the class 1. Returns at most `n_new`
  rows for `adasyn` and `borderline_smote`, exactly `n_new` for the others.
  """
  from imblearn.over_sampling import ADASYN, SMOTE, SMOTENC, BorderlineSMOTE
  width = own.shape[1]
  if n_new <= 0:
    return np.zeros((0, width))
  wanted = {1: len(own) + n_new}
  if strategy in ("smote", "smotenc"):
    # imbalanced-learn refuses a single class; a copy of the first row labelled 0 is inert (SMOTE
    # and SMOTE-NC fit neighbours on the class's rows only, and the copy adds no new category).
    x = np.vstack([own, own[:1]])
    y = np.array([1] * len(own) + [0])
    neighbors = _reused_dense_neighbors(k_neighbors + 1)  # the row itself and its k neighbours
    if strategy == "smote":
      sampler = SMOTE(sampling_strategy=wanted, k_neighbors=neighbors, random_state=random_state)
    else:
      sampler = SMOTENC(categorical_features=list(categorical_columns), sampling_strategy=wanted,
                        k_neighbors=neighbors, random_state=random_state,
                        categorical_encoder=_blockwise_one_hot_encoder())
    with sklearn.config_context(working_memory=NEIGHBORS_WORKING_MEMORY_MB):
      resampled, _ = sampler.fit_resample(x, y)
    new = np.asarray(resampled[len(x):], dtype=np.float64)
    if categorical_columns:
      new[:, list(categorical_columns)] = np.rint(new[:, list(categorical_columns)])
    return new
  if context is None or len(context) == 0:
    logging.warning("%s: no rows of other classes in this chunk; nothing to synthesise.", strategy)
    return np.zeros((0, width))
  numeric = [i for i in range(width) if i not in set(categorical_columns)]
  x = np.vstack([own, context])[:, numeric]
  y = np.array([1] * len(own) + [0] * len(context))
  if strategy == "adasyn":
    sampler = ADASYN(sampling_strategy=wanted, n_neighbors=k_neighbors, random_state=random_state)
  else:
    sampler = BorderlineSMOTE(sampling_strategy=wanted, k_neighbors=k_neighbors,
                              m_neighbors=min(BORDERLINE_M_NEIGHBORS, len(x) - 1),
                              kind="borderline-1", random_state=random_state)
  try:
    resampled, _ = sampler.fit_resample(x, y)
  except RuntimeError as e:  # ADASYN: no row of the class has another class among its neighbours
    logging.warning("adasyn generated nothing for a chunk: %s", e)
    return np.zeros((0, width))
  except ValueError as e:
    if "No samples will be generated" not in str(e):
      raise
    logging.warning("adasyn generated nothing for a chunk: %s", e)
    return np.zeros((0, width))
  new_numeric = np.asarray(resampled[len(x):], dtype=np.float64)
  new = np.zeros((len(new_numeric), width))
  new[:, numeric] = new_numeric
  if categorical_columns and len(new):
    new[:, list(categorical_columns)] = _vote_categories(own, new_numeric, numeric,
                                                         categorical_columns, k_neighbors)
  return new


# What scikit-learn's chunked pairwise distances may hold at once (its default is 1 GB: a class of
# 33,000 rows at 5M generated rows made SMOTE-NC's neighbour search alone take 1 GB more).
NEIGHBORS_WORKING_MEMORY_MB = 64
# Encoded rows up to this size are searched dense (scikit-learn's fast dense brute force) rather
# than as SMOTE-NC's sparse one-hot matrix (sparse x sparse products: 60 of 63 s for 33,000 rows).
DENSE_NEIGHBORS_BYTES = 256 << 20
_NEIGHBORS_CACHE: Dict[tuple, Any] = {}  # the last search: (rows, queries, k, distances) -> result


def _digest(x) -> bytes:
  from scipy import sparse
  h = hashlib.blake2b(digest_size=16)
  h.update(repr((type(x).__name__, x.shape, str(x.dtype))).encode())
  parts = (x.data, x.indices, x.indptr) if sparse.issparse(x) else (np.ascontiguousarray(x),)
  for part in parts:
    h.update(np.ascontiguousarray(part).tobytes())
  return h.digest()


def _reused_dense_neighbors(n_neighbors: int):
  """scikit-learn's NearestNeighbors for the SMOTE family, with two changes that keep its results.

  - Searched dense: SMOTE-NC hands over its one-hot encoding as a sparse matrix, for which
    scikit-learn's brute force multiplies sparse matrices; a dense copy (when it fits in
    `DENSE_NEIGHBORS_BYTES`) takes its fast dense path.
  - Searched once per chunk: Rebalance calls imbalanced-learn several times on the same rows (at
    most `chunk_size` new rows a call), and the neighbours depend on the rows only, so the last
    search is kept (imbalanced-learn clones the estimator per call, hence a module-level cache).
  """
  from scipy import sparse
  from sklearn.neighbors import NearestNeighbors

  class ReusedDenseNeighbors(NearestNeighbors):

    def fit(self, X, y=None):
      self._fit_digest = _digest(X)
      if sparse.issparse(X) and X.shape[0] * X.shape[1] * 8 <= DENSE_NEIGHBORS_BYTES:
        X = X.toarray()
      return super().fit(X, y)

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
      key = (self._fit_digest, None if X is None else _digest(X), n_neighbors or self.n_neighbors,
             return_distance)
      if key not in _NEIGHBORS_CACHE:
        if X is not None and sparse.issparse(X) and not sparse.issparse(self._fit_X):
          X = X.toarray()
        result = super().kneighbors(X, n_neighbors, return_distance)
        _NEIGHBORS_CACHE.clear()
        _NEIGHBORS_CACHE[key] = result
      result = _NEIGHBORS_CACHE[key]  # copies: a caller may write into what it gets
      return tuple(a.copy() for a in result) if isinstance(result, tuple) else result.copy()

  return ReusedDenseNeighbors(n_neighbors=n_neighbors)


def _blockwise_one_hot_encoder():
  """SMOTE-NC's default one-hot encoder, but decoding dense blocks of rows.

  SMOTE-NC decodes the categories of every resampled row with `OneHotEncoder.inverse_transform`
  on a sparse matrix, whose per-row sparse argmax took 14 of 25 s for 131,000 new rows (scipy's
  `_arg_min_or_max_axis`). Decoding dense blocks (at most `INVERSE_BLOCK_ROWS` rows and
  `INVERSE_BLOCK_BYTES`, so a feature with many categories gets fewer rows) gives the same ids
  with memory bounded by one block.
  """
  from scipy import sparse
  from sklearn.preprocessing import OneHotEncoder

  class BlockwiseOneHotEncoder(OneHotEncoder):

    def inverse_transform(self, X):
      if not sparse.issparse(X):
        return super().inverse_transform(X)
      X = X.tocsr()
      rows_ = max(1, min(INVERSE_BLOCK_ROWS, INVERSE_BLOCK_BYTES // (8 * max(1, X.shape[1]))))
      return np.vstack([
          super(BlockwiseOneHotEncoder, self).inverse_transform(X[start:start + rows_].toarray())
          for start in range(0, X.shape[0], rows_)
      ]) if X.shape[0] else super().inverse_transform(X.toarray())

  return BlockwiseOneHotEncoder(handle_unknown="ignore", dtype=np.float64)


INVERSE_BLOCK_ROWS = 65536
INVERSE_BLOCK_BYTES = 64 << 20  # a dense block: rows x one-hot columns x 8 bytes


def _vote_categories(own: np.ndarray, new_numeric: np.ndarray, numeric: Sequence[int],
                     categorical_columns: Sequence[int], k_neighbors: int) -> np.ndarray:
  """SMOTE-NC's rule for samplers that only interpolate numbers: each categorical value of a new row
  is the most frequent among its k nearest rows of the class (numeric distance; ties: lower id)."""
  from sklearn.neighbors import NearestNeighbors
  neighbours = NearestNeighbors(n_neighbors=min(k_neighbors, len(own))).fit(own[:, numeric])
  nearest = neighbours.kneighbors(new_numeric, return_distance=False)
  ids = own[:, list(categorical_columns)].astype(np.int64)
  votes = np.zeros((len(new_numeric), len(categorical_columns)))
  for j in range(len(categorical_columns)):
    for i, rows in enumerate(nearest):
      votes[i, j] = np.argmax(np.bincount(ids[rows, j]))
  return votes


def _derived_seed(seed: int, *parts: Any) -> int:
  digest = hashlib.blake2b(":".join(map(str, (seed, *parts))).encode(), digest_size=4).digest()
  return int.from_bytes(digest, "big") & 0x7FFFFFFF


# ---------------------------------------------------------------------------------------------
# Beam
# ---------------------------------------------------------------------------------------------

_OWN, _CONTEXT = 0, 1
_TIES, _GROUPS = "ties", "groups"


class _SumMinMax(beam.CombineFn):
  """(rows, smallest value, largest value)."""

  def create_accumulator(self):
    return (0, None, None)

  def add_input(self, accumulator, element):
    return self.merge_accumulators([accumulator, element])

  def merge_accumulators(self, accumulators):
    rows, lows, highs = 0, [], []
    for n, low, high in accumulators:
      rows += n
      if low is not None:
        lows.append(low)
        highs.append(high)
    return (rows, min(lows) if lows else None, max(highs) if highs else None)

  def extract_output(self, accumulator):
    return accumulator


BATCH_ROWS = 1024  # rows decoded, hashed and encoded at a time
_COUNTS = "counts"


def _buckets(hashes: np.ndarray) -> np.ndarray:
  return (hashes >> np.uint64(64 - BUCKET_BITS)).astype(np.int64)


def _decoder(kinds: FeatureKinds) -> rows.Decoder:
  column_kinds = {name: rows.INT if name in kinds.categorical else rows.FLOAT
                  for name in kinds.columns}
  return rows.Decoder(kinds.label, kinds.columns, column_kinds)


def _output(element, tag: Optional[str] = None):
  value = windowed_value.WindowedValue(element, 0, [window.GlobalWindow()])
  return value if tag is None else beam.pvalue.TaggedOutput(tag, value)


class _Sums:
  """(rows, smallest, largest) per key, summed within a bundle."""

  def __init__(self):
    self.sums = {}

  def add(self, key, rows: int, low=None, high=None):
    old_rows, old_low, old_high = self.sums.get(key, (0, None, None))
    if low is not None and old_low is not None:
      low, high = min(low, old_low), max(high, old_high)
    elif low is None:
      low, high = old_low, old_high
    self.sums[key] = (old_rows + int(rows), low, high)

  def add_counts(self, prefix: tuple, values: np.ndarray):
    for value, rows in zip(*np.unique(values, return_counts=True)):
      self.add((*prefix, int(value)), rows)


class _CountFn(beam.DoFn):
  """Pass 1, a batch of rows at a time: per row, its class and hash bucket, and any shape or id
  finding. Counts are summed per bundle and emitted in `finish_bundle`, a few elements per bundle."""

  def __init__(self, split: str, kinds: FeatureKinds, seed: int):
    self._split = split
    self._kinds = kinds
    self._seed = seed
    self._decoder = None
    self._sums = _Sums()

  def setup(self):
    self._decoder = _decoder(self._kinds)

  def start_bundle(self):
    self._sums = _Sums()

  def process(self, records: List[bytes]):
    batch = self._decoder.decode(records)
    sums, split = self._sums, self._split
    many = batch.label_counts != 1
    for count, rows_ in zip(*np.unique(batch.label_counts[many], return_counts=True)):
      sums.add((split, "bad_label", f"{count} values"), rows_)
    negative = ~many & (batch.labels < 0)
    for class_id, rows_ in zip(*np.unique(batch.labels[negative], return_counts=True)):
      sums.add((split, "bad_label", f"class id {class_id}"), rows_)
    good = np.flatnonzero(~many & ~negative)
    if not len(good):
      return
    hashes = row_hashes(self._seed, [batch.records[i] for i in good.tolist()], "rank")
    keys, counts_ = np.unique(np.stack([batch.labels[good], _buckets(hashes)], axis=1), axis=0,
                              return_counts=True)
    for (class_id, bucket), rows_ in zip(keys.tolist(), counts_.tolist()):
      sums.add((split, "class", class_id, bucket), rows_)
    counts, matrix = batch.counts[good], batch.matrix[good]
    for j, name in enumerate(self._kinds.columns):
      fine = (counts[:, j] == 1) & np.isfinite(matrix[:, j])
      if not fine.all():
        sums.add((split, "malformed", name), int((~fine).sum()))
      if name in self._kinds.categorical and fine.any():
        ids = matrix[fine, j]
        sums.add((split, "ids", name), int(fine.sum()), int(ids.min()), int(ids.max()))

  def finish_bundle(self):
    for key, sums in self._sums.sums.items():
      yield _output((key, sums))
    self._sums = _Sums()


class _Spiller(spill_shuffle.Spiller):
  """Rows of a class to spill files (see `spill_shuffle`), counted per class. Copy `c` of a row
  is keyed by the row's hash salted with `out<c>`, so the copies of a row spread over shards."""

  def __init__(self, spill_dir: str, seed: int, num_shards: int, split: str):
    super().__init__(spill_dir, num_shards)
    self._seed = seed
    self._split = split
    self.counts = _Sums()

  def add_class(self, class_id: int, records: Sequence[bytes], copy: int) -> None:
    if not records:
      return
    self.counts.add((self._split, "class", int(class_id)), len(records))
    self.add(row_hashes(self._seed, records, f"out{copy}"), records)


class _SpillingFn(beam.DoFn):
  """A DoFn that writes rows to spill files and emits, per bundle, their (shard, file) names as
  its main output and the rows written per class as `_COUNTS`."""

  def __init__(self, split: str, seed: int, num_shards: int, spill_dir: str):
    self._split = split
    self._seed = seed
    self._num_shards = num_shards
    self._spill_dir = spill_dir
    self._spiller = None

  def start_bundle(self):
    self._spiller = _Spiller(self._spill_dir, self._seed, self._num_shards, self._split)

  def finish_bundle(self):
    for shard_file in self._spiller.close():
      yield _output(shard_file)
    for key, sums in self._spiller.counts.sums.items():
      yield _output((key, sums), _COUNTS)
    self._spiller = None


class _RouteFn(_SpillingFn):
  """Pass 2, a batch of rows at a time: streams each row to its output shard's spill file, to a
  class's tie group, or to a synthesis chunk."""

  def __init__(self, split: str, kinds: FeatureKinds, params: Params, plan: "SplitPlan",
               spill_dir: str):
    super().__init__(split, params.seed, plan.num_shards, spill_dir)
    self._kinds = kinds
    self._classes = plan.classes
    self._context = [p for p in plan.classes.values() if p.context_cuts]
    self._decoder = None

  def setup(self):
    self._decoder = _decoder(self._kinds)

  def process(self, records: List[bytes]):
    batch = self._decoder.decode(records)
    hashes = row_hashes(self._seed, batch.records, "rank")
    buckets = _buckets(hashes)
    spill = self._spiller.add_class
    for class_id in np.unique(batch.labels).tolist():
      members = np.flatnonzero(batch.labels == class_id)
      plan = self._classes.get(class_id)
      pick = lambda mask: [batch.records[i] for i in members[mask].tolist()]
      below = buckets[members] < (plan.cut if plan else 0)
      at_cut = buckets[members] == (plan.cut if plan else -1)
      if plan is None or plan.action == "synth":
        spill(class_id, [batch.records[i] for i in members.tolist()], 0)
      elif plan.action == "under":
        spill(class_id, pick(below), 0)
      else:
        everything = [batch.records[i] for i in members.tolist()]
        for copy in range(plan.copies + 1):
          spill(class_id, everything, copy)
        spill(class_id, pick(below), plan.copies + 1)
      if plan is not None and plan.action in ("under", "over") and plan.take:
        for i in members[at_cut].tolist():
          yield beam.pvalue.TaggedOutput(_TIES, (class_id, (int(hashes[i]), batch.records[i])))
      if plan is not None and plan.action == "synth":
        chunks = np.searchsorted(np.asarray(plan.chunk_starts, dtype=np.int64), buckets[members],
                                 side="right")
        for i, chunk in zip(members.tolist(), chunks.tolist()):
          yield beam.pvalue.TaggedOutput(
              _GROUPS, ((class_id, chunk), (_OWN, int(hashes[i]), tuple(batch.matrix[i].tolist()))))
      for other in self._context:
        if other.class_id == class_id:
          continue
        cut = dict(other.context_cuts).get(class_id, 0)
        for i in members[buckets[members] < cut].tolist():
          vector = tuple(batch.matrix[i].tolist())
          for chunk in range(len(other.chunk_rows)):
            yield beam.pvalue.TaggedOutput(
                _GROUPS, ((other.class_id, chunk), (_CONTEXT, int(hashes[i]), vector)))


class _TieFn(_SpillingFn):
  """The exact remainder of a hash-ranked selection: the `take` smallest rows of the cut bucket."""

  def __init__(self, split: str, params: Params, plan: "SplitPlan", spill_dir: str):
    super().__init__(split, params.seed, plan.num_shards, spill_dir)
    self._classes = plan.classes

  def process(self, element):
    class_id, rows_ = element
    plan = self._classes[class_id]
    copy = 0 if plan.action == "under" else plan.copies + 1
    self._spiller.add_class(class_id, [record for _, record in sorted(rows_)[:plan.take]], copy)
    return []


class _SynthesizeFn(_SpillingFn):
  """imbalanced-learn on one chunk of a class (plus, for ADASYN/Borderline, the context sample)."""

  def __init__(self, split: str, kinds: FeatureKinds, params: Params, plan: "SplitPlan",
               spill_dir: str):
    super().__init__(split, params.seed, plan.num_shards, spill_dir)
    self._strategy = plan.strategy
    self._kinds = kinds
    self._params = params
    self._classes = plan.classes

  def process(self, element):
    (class_id, chunk), entries = element
    own, context = [], []
    for tag, hash_value, vector in entries:
      (own if tag == _OWN else context).append((hash_value, vector))
    own.sort()
    context.sort()
    width = len(self._kinds.columns)
    own_x = np.array([v for _, v in own], dtype=np.float64).reshape(len(own), width)
    context_x = np.array([v for _, v in context], dtype=np.float64).reshape(len(context), width)
    n_new = self._classes[class_id].chunk_new[chunk]
    # A chunk is at most chunk_size rows unless many rows share one hash bucket (duplicates): then
    # imbalanced-learn still sees at most chunk_size rows at a time, in even parts.
    parts = np.array_split(np.arange(len(own_x)), math.ceil(len(own_x) / self._params.chunk_size))
    shares = allocate(n_new, [len(p) for p in parts])
    # New rows are made at most chunk_size at a time too: imbalanced-learn holds every new row of
    # a call in memory (SMOTE-NC as Python lists per row), and a 1% class asks for 99x its rows.
    for part, (indices, part_new) in enumerate(zip(parts, shares)):
      batches = allocate(part_new, [1] * max(1, math.ceil(part_new / self._params.chunk_size)))
      for batch, batch_new in enumerate(batches):
        seed = (_derived_seed(self._params.seed, class_id, chunk, part) if batch == 0 else
                _derived_seed(self._params.seed, class_id, chunk, part, batch))
        new = synthesize(self._strategy, own_x[indices], batch_new, self._params.k_neighbors,
                         seed, self._kinds.categorical_columns, context_x)
        self._spiller.add_class(class_id, vectors_to_examples(new, self._kinds, class_id), 0)
    return []


def vectors_to_examples(vectors: np.ndarray, kinds: FeatureKinds, class_id: int) -> List[bytes]:
  """Synthetic rows as canonical examples: numeric columns as float32, categorical ones rounded
  (half to even) to int64 ids, and the label."""
  if not len(vectors):
    return []
  features = [(kinds.label, rows.INT, np.full(len(vectors), class_id, dtype=np.int64))]
  for j, name in enumerate(kinds.columns):
    if name in kinds.categorical:
      features.append((name, rows.INT, np.rint(vectors[:, j]).astype(np.int64)))
    else:
      features.append((name, rows.FLOAT, vectors[:, j].astype(np.float32)))
  return rows.canonical_examples(features)


def _summary_line(element) -> str:
  key, (rows, low, high) = element
  return json.dumps({"key": list(key), "rows": rows, "min": low, "max": high})


# ---------------------------------------------------------------------------------------------
# Executor
# ---------------------------------------------------------------------------------------------


def _split_pattern(artifact: types.Artifact, split: str) -> str:
  return os.path.join(artifact_utils.get_split_uri([artifact], split), "*")


def _read_lines(path: str) -> List[dict]:
  with fileio.open(path, "r") as f:
    return [json.loads(line) for line in f if line.strip()]


def _imbalance(counts: Mapping[int, int]) -> Optional[float]:
  smallest = min(counts.values())
  return round(max(counts.values()) / smallest, 4) if smallest else None


def _copy_split(source: types.Artifact, target: types.Artifact, split: str) -> None:
  source_dir = artifact_utils.get_split_uri([source], split)
  target_dir = artifact_utils.get_split_uri([target], split)
  fileio.makedirs(target_dir)
  for name in sorted(fileio.listdir(source_dir)):
    source_path = os.path.join(source_dir, name)
    if fileio.isdir(source_path):
      continue
    fileio.copy(source_path, os.path.join(target_dir, name), overwrite=True)


class Executor(base_beam_executor.BaseBeamExecutor):
  """Rebalances the classes of transformed examples; see the module docstring for the method."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
    self._log_startup(input_dict, output_dict, exec_properties)
    params = parse_params(exec_properties)
    examples = artifact_utils.get_single_instance(input_dict[spec.EXAMPLES_KEY])
    transform_graph = artifact_utils.get_single_instance(input_dict[spec.TRANSFORM_GRAPH_KEY])
    output = artifact_utils.get_single_instance(output_dict[spec.REBALANCED_EXAMPLES_KEY])

    split_names = artifact_utils.decode_split_names(examples.split_names)
    missing = [s for s in params.splits_to_resample if s not in split_names]
    if missing:
      raise spec.RebalanceError(
          f"{spec.SPLITS_TO_RESAMPLE_KEY}={list(params.splits_to_resample)} names split(s) "
          f"{', '.join(missing)} that the examples at {examples.uri} do not have (splits: "
          f"{', '.join(split_names)}); resample existing splits only.")
    payload = examples_utils.get_payload_format_string(examples)
    if payload != "FORMAT_TF_EXAMPLE":
      raise spec.RebalanceError(f"the examples at {examples.uri} hold {payload}; Rebalance reads "
                       "serialized tf.Example (Transform's default output).")
    tft_output = tft.TFTransformOutput(transform_graph.uri)

    def vocabulary_size(raw_name: str) -> Optional[int]:
      try:
        return tft_output.vocabulary_size_by_name(raw_name)
      except ValueError:
        logging.warning("no vocabulary %r in %s: ids of %r are not range-checked", raw_name,
                        transform_graph.uri, feature_names.transformed_name(raw_name))
        return None

    kinds = feature_kinds(tft_output.transformed_feature_spec(), params.label_key, vocabulary_size)
    if params.strategy != "auto":
      check_strategy_features(params.strategy, kinds)
    patterns = {s: _split_pattern(examples, s) for s in params.splits_to_resample}
    for split, pattern in patterns.items():
      if not fileio.glob(pattern):
        raise spec.RebalanceError(f"split {split!r} has no files ({pattern}); Rebalance needs a non-empty "
                         "split to resample: check the upstream component's splits.")

    work_dir = self._work_dir(output)
    try:
      stats = self._count(patterns, kinds, params, os.path.join(work_dir, "counts.json"))
      plans = {
          s: plan_split(s, stats[s], params, kinds, patterns[s])
          for s in params.splits_to_resample
      }

      output.split_names = examples.split_names
      examples_utils.set_payload_format(output, examples_utils.get_payload_format(examples))
      examples_utils.set_file_format(output, examples_utils.get_file_format(examples))
      for split in split_names:
        if split not in plans or not plans[split].resampled:
          _copy_split(examples, output, split)
      after = {s: dict(p.counts) for s, p in plans.items()}
      to_resample = {s: p for s, p in plans.items() if p.resampled}
      if to_resample:
        written = self._resample(patterns, to_resample, kinds, params, output,
                                 os.path.join(work_dir, "written.json"))
        for split, plan in to_resample.items():
          after[split] = {c: written.get((split, c), 0) for c in plan.counts}
          if plan.strategy in EXACT and after[split] != plan.targets:
            raise RuntimeError(
                f"Rebalance wrote {after[split]} rows per class for split {split!r} instead of "
                f"the planned {plan.targets}; this is a bug, please report it.")
    finally:
      if fileio.exists(work_dir):
        fileio.rmtree(work_dir)
    self._record(output, params, kinds, plans, after, split_names)

  def _work_dir(self, output: types.Artifact) -> str:
    """Scratch space: the two small summaries the launcher reads back, and the spill files."""
    return spill_shuffle.spill_root(self, output.uri, "rebalance")

  def _count(self, patterns: Dict[str, str], kinds: FeatureKinds, params: Params,
             summary: str) -> Dict[str, SplitStats]:
    """Pass 1 over every split to resample; its small summary is read back by the launcher."""
    with self._make_beam_pipeline() as pipeline:
      summaries = []
      for split, pattern in patterns.items():
        summaries.append(
            pipeline
            | f"ReadForCount[{split}]" >> tfrecord_batches.ReadTFRecordBatches(pattern, BATCH_ROWS)
            | f"Count[{split}]" >> beam.ParDo(_CountFn(split, kinds, params.seed)))
      _ = (summaries
           | "FlattenCounts" >> beam.Flatten()
           | "SumCounts" >> beam.CombinePerKey(_SumMinMax())
           | "FormatCounts" >> beam.Map(_summary_line)
           | "WriteCounts" >> beam.io.WriteToText(summary, shard_name_template=""))
    histograms = {s: {} for s in patterns}
    bad_labels = {s: {} for s in patterns}
    malformed = {s: {} for s in patterns}
    id_ranges = {s: {} for s in patterns}
    for line in _read_lines(summary):
      split, kind, *key = line["key"]
      if kind == "class":
        class_id, bucket = key
        histograms[split].setdefault(class_id, np.zeros(NUM_BUCKETS, np.int64))[bucket] = (
            line["rows"])
      elif kind == "bad_label":
        bad_labels[split][key[0]] = line["rows"]
      elif kind == "malformed":
        malformed[split][key[0]] = line["rows"]
      else:
        id_ranges[split][key[0]] = (line["min"], line["max"])
    return {
        s: SplitStats(histograms[s], bad_labels[s], malformed[s], id_ranges[s]) for s in patterns
    }

  def _resample(self, patterns: Dict[str, str], plans: Dict[str, SplitPlan], kinds: FeatureKinds,
                params: Params, output: types.Artifact,
                summary: str) -> Dict[Tuple[str, int], int]:
    """Pass 2: route, resample and write every split to resample; returns rows written per class."""
    with self._make_beam_pipeline() as pipeline:
      written = []
      for split, plan in plans.items():
        directory = artifact_utils.get_split_uri([output], split)
        if fileio.exists(directory):  # a retried execution: no stale shard may survive
          fileio.rmtree(directory)
        fileio.makedirs(directory)
        spill_dir = os.path.join(os.path.dirname(summary), "spill", split)
        fileio.makedirs(spill_dir)
        routed = (
            pipeline
            | f"Read[{split}]" >> tfrecord_batches.ReadTFRecordBatches(patterns[split], BATCH_ROWS)
            | f"Route[{split}]" >> beam.ParDo(
                _RouteFn(split, kinds, params, plan, spill_dir)).with_outputs(
                    _TIES, _GROUPS, _COUNTS, main="spills"))
        ties = (routed[_TIES]
                | f"GroupTies[{split}]" >> beam.GroupByKey()
                | f"BreakTies[{split}]" >> beam.ParDo(
                    _TieFn(split, params, plan, spill_dir)).with_outputs(_COUNTS, main="spills"))
        synthetic = (routed[_GROUPS]
                     | f"GroupChunks[{split}]" >> beam.GroupByKey()
                     | f"Synthesize[{split}]" >> beam.ParDo(
                         _SynthesizeFn(split, kinds, params, plan, spill_dir)).with_outputs(
                             _COUNTS, main="spills"))
        # Every branch writes its rows to spill files inside its own stage: only file names and
        # per-bundle counts cross stages (a Flatten of the rows themselves would make Beam's
        # in-process runner buffer every row of the split).
        _ = ((routed.spills, ties.spills, synthetic.spills)
             | f"MergeSpills[{split}]" >> beam.Flatten()
             | f"GroupShards[{split}]" >> beam.GroupByKey()
             | f"Write[{split}]" >> beam.ParDo(
                 spill_shuffle.WriteShardFn(directory, OUTPUT_FILE_PREFIX, plan.num_shards)))
        written.extend([routed[_COUNTS], ties[_COUNTS], synthetic[_COUNTS]])
      _ = (written
           | "FlattenWritten" >> beam.Flatten()
           | "SumWritten" >> beam.CombinePerKey(_SumMinMax())
           | "FormatWritten" >> beam.Map(_summary_line)
           | "WriteWritten" >> beam.io.WriteToText(summary, shard_name_template=""))
    return {(line["key"][0], line["key"][2]): line["rows"] for line in _read_lines(summary)}

  def _record(self, output: types.Artifact, params: Params, kinds: FeatureKinds,
              plans: Dict[str, SplitPlan], after: Dict[str, Dict[int, int]],
              split_names: Sequence[str]) -> None:
    """`rebalance.json` at the artifact's root (read by the run report) and custom properties."""
    as_json = lambda counts: {str(c): n for c, n in sorted(counts.items())}
    splits = {}
    for split, plan in plans.items():
      counts = plan.counts
      splits[split] = {
          "requested_strategy": plan.requested_strategy,
          "strategy": plan.strategy,
          "resampled": plan.resampled,
          "exact": plan.strategy in EXACT,
          "imbalance_before": _imbalance(counts),
          "imbalance_after": _imbalance(after[split]),
          "class_counts_before": as_json(counts),
          "class_counts_target": as_json(plan.targets),
          "class_counts_after": as_json(after[split]),
          "synthetic_chunks": {str(c): len(p.chunk_rows) for c, p in plan.classes.items()
                               if p.action == "synth"},
          "context_rows": {str(c): p.context_rows for c, p in plan.classes.items()
                           if p.context_cuts},
          "output_shards": plan.num_shards if plan.resampled else None,
      }
    report = {
        "strategy": ",".join(dict.fromkeys(p.strategy for p in plans.values())),
        "splits": splits,
        "copied_splits": [s for s in split_names if s not in plans or not plans[s].resampled],
        "numeric_features": list(kinds.numeric),
        "categorical_features": sorted(kinds.categorical),
        "parameters": params.as_dict(),
    }
    with fileio.open(os.path.join(output.uri, REPORT_FILE), "w") as f:
      f.write(json.dumps(report, indent=2, sort_keys=True) + "\n")
    output.set_string_custom_property("strategy", report["strategy"])
    output.set_string_custom_property(
        "class_counts_before",
        json.dumps({s: v["class_counts_before"] for s, v in splits.items()}, sort_keys=True))
    output.set_string_custom_property(
        "class_counts_after",
        json.dumps({s: v["class_counts_after"] for s, v in splits.items()}, sort_keys=True))
    output.set_int_custom_property("exact_counts", int(all(v["exact"] for v in splits.values())))
    logging.info("Rebalance: %s", json.dumps(splits, sort_keys=True))
