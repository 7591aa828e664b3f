"""What a run was asked to do, typed and checked once: the CLI builds `RunOptions` from its flags.

Before, the pre-flight and the local run read an untyped argparse namespace, with
`getattr(args, "epochs", 1)` for the flags only `run` has; here every field is explicit, and the
run-only ones are None for `diagnose`. `--delimiter` and `--na-values` are parsed here once for
every command that reads a CSV.
"""
import argparse
import dataclasses
import os
import re
from typing import Optional, Tuple

from trainguard.errors import UsageError
from trainguard.preflight.profile import DEFAULT_NA_TOKENS


@dataclasses.dataclass(frozen=True)
class RunOptions:
  csv: str
  label: str
  workdir: str
  schema: Optional[str] = None          # a curated schema folder; None: inferred from the data
  eval_data: Optional[str] = None
  serving_data: Optional[str] = None
  previous_span: Optional[str] = None
  delimiter: str = ","
  na_tokens: Tuple[str, ...] = DEFAULT_NA_TOKENS
  beam_args: Tuple[str, ...] = ()
  beam_endpoint: Optional[str] = None
  beam_worker_pool: Optional[str] = None
  verbose: bool = False
  task: Optional[str] = None              # --task: classification, regression; None: auto
  # `run` only (None / False for `diagnose`, which stops after DataGuard).
  epochs: Optional[int] = None
  seed: Optional[int] = None
  learning_rate: Optional[float] = None
  batch_size: Optional[int] = None
  hidden_units: Optional[Tuple[int, ...]] = None
  clip_norm: Optional[float] = None
  num_trees: Optional[int] = None         # --num-trees (the trees'); None: configs.NUM_TREES
  run_fn: Optional[str] = None
  preprocessing_fn: Optional[str] = None
  rebalance: Optional[str] = None
  class_weights: bool = False
  require_blessing: bool = False

  @property
  def inputs(self) -> Tuple[Optional[str], ...]:
    """Every CSV the run reads (the Beam choice by data size counts them)."""
    return (self.csv, self.eval_data, self.serving_data, self.previous_span)


def delimiter(value: str) -> str:
  """`--delimiter`: one character; `\\t` and `tab` mean a tab."""
  value = {"\\t": "\t", "tab": "\t"}.get(value, value)
  if len(value) != 1:
    raise UsageError(f"--delimiter must be one character, got {value!r}.")
  return value


def na_tokens(value: Optional[str]) -> Tuple[str, ...]:
  """`--na-values`: comma-separated cell values that mean missing, besides the empty cell."""
  if value is None:
    return DEFAULT_NA_TOKENS
  return tuple([""] + [t.strip() for t in value.split(",")])


def na_values_default() -> str:
  """The `--na-values` default as the flag spells it."""
  return ",".join(t for t in DEFAULT_NA_TOKENS if t)


def dataset_name(path: str) -> str:
  """The name a CSV gives its pipeline, data and schema folders: `trainguard-<name>`."""
  stem = os.path.splitext(os.path.basename(path))[0].lower()
  return re.sub(r"[^a-z0-9]+", "-", stem).strip("-") or "data"


def hidden_units(value: str) -> Tuple[int, ...]:
  """`--hidden-units`: layer sizes separated by commas, each a whole number ≥ 1 (e.g. 32,16)."""
  try:
    sizes = tuple(int(part) for part in value.split(",") if part.strip())
  except ValueError:
    sizes = ()
  if not sizes or min(sizes) < 1:
    raise argparse.ArgumentTypeError(
        f"{value!r} is not a list of layer sizes; give whole numbers ≥ 1 separated by commas, "
        "e.g. --hidden-units 32,16")
  return sizes
