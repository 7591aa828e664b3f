"""Rebalance's execution parameters: their names, defaults and checks, and the error they raise.

Why apart from `spec.py`: everything here is checked without data and without TensorFlow, so
`plan.py` (and through it DataGuard's findings, which word the CLASS_IMBALANCE fix with Rebalance's
own `auto` rule) can import it cheaply. `spec.py` declares these names to TFX and re-exports them.

Non-primitive parameters (`sampling_strategy`, `splits_to_resample`) travel as JSON strings, so the
spec compiles unchanged for LocalDagRunner and Kubeflow; `component.Rebalance` encodes them.
"""
import dataclasses
import json
from typing import Any, Dict, Mapping, Optional, Tuple, Union

from trainguard.errors import UserError
from trainguard.policy import SAMPLING_STRATEGY_NAMES, STRATEGIES

LABEL_KEY = "label_key"
STRATEGY_KEY = "strategy"
SAMPLING_STRATEGY_KEY = "sampling_strategy"
K_NEIGHBORS_KEY = "k_neighbors"
SEED_KEY = "seed"
CHUNK_SIZE_KEY = "chunk_size"
SPLITS_TO_RESAMPLE_KEY = "splits_to_resample"
MIN_IMBALANCE_KEY = "min_imbalance"

DEFAULT_STRATEGY = "auto"
DEFAULT_SAMPLING_STRATEGY = "auto"
DEFAULT_K_NEIGHBORS = 5
DEFAULT_SEED = 42
DEFAULT_CHUNK_SIZE = 100_000
DEFAULT_SPLITS_TO_RESAMPLE = ("train",)
# `auto` resamples when the largest class has at least this many times the rows of the smallest
# (the pipeline passes the policy's thresholds.dataset.imbalance_ratio, whose default this is).
DEFAULT_MIN_IMBALANCE = 1.5

OVER_SAMPLING = "over-sampling"
UNDER_SAMPLING = "under-sampling"

SamplingStrategy = Union[str, float, Dict[int, int]]


class RebalanceError(UserError):
  """Parameters that do not fit the data (a class too small for k_neighbors, a sampling_strategy
  that names no class, ...): the user's to fix, so the CLI reports it as a usage error."""

  context = "Rebalance cannot use the policy's settings on this data"


@dataclasses.dataclass(frozen=True)
class Params:
  label_key: str
  strategy: str
  sampling_strategy: SamplingStrategy
  k_neighbors: int
  seed: int
  chunk_size: int
  splits_to_resample: Tuple[str, ...]
  min_imbalance: float = DEFAULT_MIN_IMBALANCE

  def as_dict(self) -> Dict[str, Any]:
    sampling = self.sampling_strategy
    if isinstance(sampling, dict):
      sampling = {str(k): v for k, v in sorted(sampling.items())}
    return {
        LABEL_KEY: self.label_key,
        STRATEGY_KEY: self.strategy,
        SAMPLING_STRATEGY_KEY: sampling,
        K_NEIGHBORS_KEY: self.k_neighbors,
        SEED_KEY: self.seed,
        CHUNK_SIZE_KEY: self.chunk_size,
        SPLITS_TO_RESAMPLE_KEY: list(self.splits_to_resample),
        MIN_IMBALANCE_KEY: self.min_imbalance,
    }


def sampling_type_of(strategy: str) -> str:
  return UNDER_SAMPLING if strategy == "random_under" else OVER_SAMPLING


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
    return DEFAULT_SAMPLING_STRATEGY
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
      raise RebalanceError(f"sampling_strategy={value!r} is not understood; use {allowed}.")
    return decoded
  if isinstance(decoded, bool):
    raise RebalanceError(f"sampling_strategy={value!r} is not understood; use {allowed}.")
  if isinstance(decoded, (int, float)):
    if not 0 < decoded <= 1:
      raise RebalanceError(
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
        raise RebalanceError(
            f"sampling_strategy={value!r} has key {key!r}, which is not a class id; keys are the "
            "label's integer class ids after Transform (0 is the schema's first class).")
      if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
        raise RebalanceError(
            f"sampling_strategy={value!r} asks for {rows!r} rows of class {class_id}; give a whole "
            "number of rows (>= 0) per class.")
      parsed[class_id] = rows
    if not parsed:
      raise RebalanceError(f"sampling_strategy={value!r} names no class; use {allowed}.")
    return parsed
  raise RebalanceError(f"sampling_strategy={value!r} is not understood; use {allowed}.")


def _int_param(props: Mapping[str, Any], key: str, default: int, minimum: int, hint: str) -> int:
  value = props.get(key)
  if value is None:
    return default
  if isinstance(value, bool) or not isinstance(value, int):
    raise RebalanceError(f"{key}={value!r} must be a whole number; {hint}.")
  if value < minimum:
    raise RebalanceError(f"{key}={value!r} is below {minimum}; {hint}.")
  return value


def _min_imbalance(props: Mapping[str, Any]) -> float:
  value = props.get(MIN_IMBALANCE_KEY)
  if value is None:
    return DEFAULT_MIN_IMBALANCE
  hint = (f"strategy 'auto' resamples when the largest class has at least {MIN_IMBALANCE_KEY} "
          f"times the rows of the smallest (default {DEFAULT_MIN_IMBALANCE}; the pipeline passes "
          "the policy's thresholds.dataset.imbalance_ratio)")
  if isinstance(value, bool) or not isinstance(value, (int, float)):
    raise RebalanceError(f"{MIN_IMBALANCE_KEY}={value!r} must be a number; {hint}.")
  if not value > 0:  # also NaN
    raise RebalanceError(f"{MIN_IMBALANCE_KEY}={value!r} must be above 0; {hint}.")
  return float(value)


def parse_params(props: Mapping[str, Any]) -> Params:
  """Checks every parameter that can be checked without data; raises a ValueError that names it."""
  label_key = props.get(LABEL_KEY)
  if not isinstance(label_key, str) or not label_key:
    raise RebalanceError(f"{LABEL_KEY}={label_key!r}: name the transformed label feature, "
                         "e.g. 'species_xf'.")
  strategy = props.get(STRATEGY_KEY) or DEFAULT_STRATEGY
  if strategy not in STRATEGIES:
    raise RebalanceError(f"{STRATEGY_KEY}={strategy!r} is not a rebalancing strategy; use one of "
                         f"{', '.join(STRATEGIES)}.")
  sampling_strategy = decode_sampling_strategy(props.get(SAMPLING_STRATEGY_KEY))
  sampling_type = sampling_type_of(strategy)
  if strategy != "none":
    if sampling_type == OVER_SAMPLING and sampling_strategy == "majority":
      raise RebalanceError(
          f"{SAMPLING_STRATEGY_KEY}='majority' cannot be used with {STRATEGY_KEY}="
          f"{strategy!r}, which adds rows: over-sample 'minority', 'not majority' or 'all', or "
          "use strategy 'random_under' to shrink the majority.")
    if sampling_type == UNDER_SAMPLING and sampling_strategy == "minority":
      raise RebalanceError(
          f"{SAMPLING_STRATEGY_KEY}='minority' cannot be used with {STRATEGY_KEY}="
          "'random_under', which removes rows: under-sample 'majority', 'not minority' or 'all', "
          "or use an over-sampling strategy to grow the minority.")
  k_neighbors = _int_param(props, K_NEIGHBORS_KEY, DEFAULT_K_NEIGHBORS, 1,
                           "SMOTE-family strategies need at least 1 neighbour (default 5)")
  seed = _int_param(props, SEED_KEY, DEFAULT_SEED, 0, "use a seed >= 0")
  chunk_size = _int_param(
      props, CHUNK_SIZE_KEY, DEFAULT_CHUNK_SIZE, 2 * (k_neighbors + 1),
      f"a chunk must hold at least 2 x (k_neighbors + 1) = {2 * (k_neighbors + 1)} rows so that "
      f"every chunk has a row and its k_neighbors={k_neighbors} neighbours (default "
      f"{DEFAULT_CHUNK_SIZE})")
  splits = props.get(SPLITS_TO_RESAMPLE_KEY)
  if splits is None or splits == "":
    splits = list(DEFAULT_SPLITS_TO_RESAMPLE)
  elif isinstance(splits, str):
    try:
      splits = json.loads(splits)
    except json.JSONDecodeError:
      splits = None
  if (not isinstance(splits, (list, tuple)) or not splits or
      not all(isinstance(s, str) and s for s in splits)):
    raise RebalanceError(f"{SPLITS_TO_RESAMPLE_KEY}={props.get(SPLITS_TO_RESAMPLE_KEY)!r}: "
                         "give a non-empty JSON list of split names, e.g. '[\"train\"]'.")
  return Params(label_key, strategy, sampling_strategy, k_neighbors, seed, chunk_size,
                tuple(dict.fromkeys(splits)), _min_imbalance(props))
