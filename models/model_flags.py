"""Which of `trainguard run`'s model flags reach which model family (`--model`), in one place.

Why one place: the network's settings (epochs, learning rate, batches, layers, clipping) change
nothing in TF Decision Forests' trees, and `--num-trees` changes nothing in the network. Three
readers need the same answer: the pre-flight warns that a flag the chosen family does not read is
ignored (`ignored_warning`), `trainguard run --repair` retrains only with moves that reach the
family it trained (trainguard/repair.py), and the training diagnosis's fix texts and repairs name
only those (`training_repairs`). A flag given with the other family is ignored with a warning, not
refused: --repair already dropped the network's moves for the trees that way, and a script's usual
`--epochs 30` still runs when it adds `--model gradient_boosted_trees`. A run_fn of the user's own
(`--run-fn`) gets every setting in its custom_config, so nothing is ignored for it.
TensorFlow-free.
"""
from typing import Any, List, Mapping, Optional

from trainguard.pipeline import configs

# Each model flag → (the RunOptions field it sets, its value when not given).
MODEL_FLAGS = {
    "--epochs": ("epochs", configs.EPOCHS),
    "--learning-rate": ("learning_rate", configs.LEARNING_RATE),
    "--batch-size": ("batch_size", configs.BATCH_SIZE),
    "--hidden-units": ("hidden_units", tuple(configs.HIDDEN_UNITS)),
    "--clip-norm": ("clip_norm", None),
    "--class-weights": ("class_weights", False),
    "--num-trees": ("num_trees", None),
}
# The model flags each family reads (--seed and --rebalance reach every family: not listed).
FAMILY_FLAGS = {
    configs.KERAS: frozenset({"--epochs", "--learning-rate", "--batch-size", "--hidden-units",
                              "--clip-norm", "--class-weights"}),
    configs.GRADIENT_BOOSTED_TREES: frozenset({"--num-trees", "--class-weights"}),
}
DESCRIPTIONS = {configs.KERAS: "the network",
                configs.GRADIENT_BOOSTED_TREES: "TF Decision Forests' gradient-boosted trees"}


def family(run_fn: Optional[str]) -> Optional[str]:
  """The family (`--model` value) a run_fn trains: None (not given) is the default, keras; a
  run_fn of the user's own is None."""
  if run_fn is None:
    return configs.MODEL
  return next((name for name, path in configs.MODEL_RUN_FNS.items() if path == run_fn), None)


def of_settings(settings: Optional[Mapping[str, Any]]) -> str:
  """The family a training record's `settings` were trained with: the trees record theirs
  (`"model"`); the network's record, and any run_fn that records none, are keras."""
  return (settings or {}).get("model") or configs.KERAS


def reaches(flag: str, family_: Optional[str]) -> bool:
  """Whether `flag` changes what `family_` trains (None, a user's run_fn: every flag does)."""
  return family_ not in FAMILY_FLAGS or flag not in MODEL_FLAGS or flag in FAMILY_FLAGS[family_]


def ignored(options: Any) -> List[str]:
  """The model flags `options` (RunOptions) set away from their defaults that its family does not
  read, in MODEL_FLAGS' order."""
  family_ = family(getattr(options, "run_fn", None))
  out = []
  for flag, (field, default) in MODEL_FLAGS.items():
    value = getattr(options, field, None)
    if isinstance(value, list):
      value = tuple(value)
    if value is not None and value != default and not reaches(flag, family_):
      out.append(flag)
  return out


def ignored_warning(options: Any) -> Optional[str]:
  """The pre-flight's warning for `ignored(options)`, or None: which flags, whose they are, and
  which ones the chosen family reads."""
  flags = ignored(options)
  if not flags:
    return None
  family_ = family(options.run_fn)
  one = len(flags) == 1
  theirs = [name for name, read in FAMILY_FLAGS.items() if name != family_ and set(flags) <= read]
  own = ", ".join(flag for flag in MODEL_FLAGS if flag in FAMILY_FLAGS[family_])
  return (f"{', '.join(flags)} {'does' if one else 'do'} not apply to --model {family_} "
          f"({DESCRIPTIONS[family_]}) and {'is' if one else 'are'} ignored"
          + (f"; {'it tunes' if one else 'they tune'} --model {theirs[0]}" if theirs else "")
          + f". --model {family_} reads {own}.")
