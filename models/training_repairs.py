"""The repairs of the training diagnosis: for each training finding kind, the change to
trainguard's own model settings that addresses it, as data (`trainguard run` flag → new value).

Why one table: the fix text (`training_diagnosis`) and `trainguard run --repair`
(`trainguard/repair.py`) both derive from `REPAIRS`, so a fix never names a flag that does not
exist, and the repair run changes exactly what the fix says. Before, each fix spelled its flags in
prose ("lower --learning-rate"), and nothing checked that a run could act on them.

A repair is computed from the settings the run trained with (the record's `settings`, or the
defaults in `configs.py` for a setting a user's `run_fn` did not record): "raise --learning-rate
(now 1e-07) to 0.01" is `{"--learning-rate": 0.01}`. A move that would not change anything (class
weights already on, a learning rate already at the ceiling) is left out. Values are the CLI's
parsed types (float, int, bool, a list of ints for --hidden-units); `argv` spells them as flags.
Only moves whose flag reaches the family that trained (`models/model_flags.py`, read from the
record's settings) are made: the trees' NOT_LEARNING names no learning rate they do not have.
TensorFlow-free.
"""
import dataclasses
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from trainguard.models import model_flags
from trainguard.pipeline import configs

# The flags a repair may set → the RunOptions field (and the Trainer setting) each one sets.
FLAGS: Dict[str, str] = {
    "--learning-rate": "learning_rate", "--clip-norm": "clip_norm",
    "--class-weights": "class_weights", "--epochs": "epochs", "--batch-size": "batch_size",
    "--hidden-units": "hidden_units",
}
_DEFAULTS = {"learning_rate": configs.LEARNING_RATE, "clip_norm": None, "class_weights": False,
             "epochs": configs.EPOCHS, "batch_size": configs.BATCH_SIZE,
             "hidden_units": list(configs.HIDDEN_UNITS)}
MAX_LEARNING_RATE = 0.1  # raising never goes past this: Adam beyond it rarely trains a network
CLIP_NORM = 1.0


@dataclasses.dataclass(frozen=True)
class Move:
  """One setting changed: `new(current)` is the repaired value, or None when nothing changes."""
  flag: str
  new: Callable[[Any], Any]
  words: str  # how the fix says it: {flag}, {now} (" (now x)" or ""), {value}

  def text(self, current: Any, value: Any) -> str:
    now = f" (now {_spell(current)})" if current is not None else ""
    return self.words.format(flag=self.flag, now=now, value=_spell(value))


def _raise_rate(rate: float) -> Optional[float]:
  # Ten times, but at least the default (a planted 1e-7 goes straight to 0.01), at most 0.1.
  new = min(max(rate * 10, configs.LEARNING_RATE), MAX_LEARNING_RATE)
  return _round(new) if new > rate else None


def _halve_units(units: Sequence[int]) -> Optional[List[int]]:
  new = [max(1, u // 2) for u in units]
  return new if new != list(units) else None


LOWER_LEARNING_RATE = Move("--learning-rate", lambda rate: _round(rate / 10),
                           "lower {flag}{now} to {value}")
RAISE_LEARNING_RATE = Move("--learning-rate", _raise_rate, "raise {flag}{now} to {value}")
CLIP_GRADIENTS = Move("--clip-norm",
                      lambda norm: CLIP_NORM if norm is None else (_round(norm / 2)),
                      "clip gradients with {flag} {value}")
CLASS_WEIGHTS = Move("--class-weights", lambda on: None if on else True, "pass {flag}")
MORE_EPOCHS = Move("--epochs", lambda epochs: epochs * 2, "raise {flag}{now} to {value}")
LARGER_BATCHES = Move("--batch-size", lambda size: size * 2, "raise {flag}{now} to {value}")
WIDER_LAYERS = Move("--hidden-units", lambda units: [u * 2 for u in units],
                    "widen {flag}{now} to {value}")
NARROWER_LAYERS = Move("--hidden-units", _halve_units, "narrow {flag}{now} to {value}")

# Each training finding kind → the moves that repair it, in the order the fix names them.
REPAIRS: Dict[str, Tuple[Move, ...]] = {
    "LOSS_NOT_FINITE": (LOWER_LEARNING_RATE, CLIP_GRADIENTS),
    "EXPLODING_GRADIENTS": (LOWER_LEARNING_RATE, CLIP_GRADIENTS),
    "VANISHING_GRADIENTS": (RAISE_LEARNING_RATE,),
    "DEAD_UNITS": (LOWER_LEARNING_RATE,),
    "NOT_LEARNING": (RAISE_LEARNING_RATE, MORE_EPOCHS),
    "PLATEAU": (RAISE_LEARNING_RATE,),
    "OSCILLATING_LOSS": (LOWER_LEARNING_RATE, LARGER_BATCHES),
    "MAJORITY_COLLAPSE": (CLASS_WEIGHTS,),
    "OVERFITTING": (NARROWER_LAYERS,),
    "BASELINE_GAP": (WIDER_LAYERS, MORE_EPOCHS),
}


def current(settings: Mapping[str, Any], flag: str) -> Any:
  """The value `flag` had in the run: the recorded setting, else trainguard's default."""
  field = FLAGS[flag]
  value = settings.get(field, _DEFAULTS[field])
  if field == "hidden_units" and isinstance(value, str):
    value = [int(u) for u in value.split(",") if u.strip()]
  return value if value is not None or field == "clip_norm" else _DEFAULTS[field]


def reaching_moves(kind: str, settings: Mapping[str, Any]) -> Tuple[Move, ...]:
  """`kind`'s moves that reach the model family `settings` were trained with."""
  family = model_flags.of_settings(settings)
  return tuple(m for m in REPAIRS.get(kind, ()) if model_flags.reaches(m.flag, family))


def repair(kind: str, settings: Mapping[str, Any]) -> Dict[str, Any]:
  """The repair of a finding of `kind` from a run trained with `settings`: flag → new value
  ({} when no setting of trainguard's model repairs it)."""
  out = {}
  for move in reaching_moves(kind, settings):
    value = move.new(current(settings, move.flag))
    if value is not None:
      out[move.flag] = value
  return out


def text(kind: str, settings: Mapping[str, Any]) -> str:
  """The repair in words, for the fix ("lower --learning-rate (now 0.01) to 0.001 and clip
  gradients with --clip-norm 1.0"); "" when there is none."""
  parts = []
  for move in reaching_moves(kind, settings):
    now = current(settings, move.flag)
    value = move.new(now)
    if value is not None:
      parts.append(move.text(now, value))
  return " and ".join(parts)


def choose(findings: Iterable[Any]) -> Tuple[Dict[str, Any], List[Any]]:
  """One repair for a run from its training findings (each with a `repair`): the most severe
  finding's move wins where two set the same flag (EXPLODING_GRADIENTS' lower learning rate over
  a PLATEAU's higher one). Returns the merged repair and the findings it acts on."""
  order = {"block": 0, "warn": 1, "info": 2}
  chosen: Dict[str, Any] = {}
  acted = []
  for finding in sorted(findings, key=lambda f: order.get(f.severity, 3)):
    moves = {flag: value for flag, value in (getattr(finding, "repair", None) or {}).items()
             if flag not in chosen}
    if moves:
      chosen.update(moves)
      acted.append(finding)
  return chosen, acted


def argv(repair_: Mapping[str, Any]) -> List[str]:
  """The repair as `trainguard run` arguments (what a user would type to repeat it)."""
  out: List[str] = []
  for flag, value in repair_.items():
    if value is True:
      out.append(flag)
    else:
      out += [flag, _spell(value)]
  return out


def _spell(value: Any) -> str:
  if isinstance(value, (list, tuple)):
    return ",".join(str(v) for v in value)
  if isinstance(value, float):
    return f"{value:g}"
  return str(value)


def _round(value: float) -> float:
  return float(f"{value:.3g}")
