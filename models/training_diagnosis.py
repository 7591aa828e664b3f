"""The training diagnosis: what `TrainingMonitor` recorded, judged by the policy's thresholds.

Why apart from the callback: the monitor measures during training (TensorFlow); this module judges
afterwards, TensorFlow-free, so the report and the CLI can re-read a record, and every rule is a
few lines tested on hand-written records. Findings have DataGuard's format (`findings.py`), with
`source: "training"`, so the report, `trainguard run` and the blessing read both alike.

The rules (thresholds: `thresholds.training.*` in policy.yaml; `policy_defaults.TRAINING_THRESHOLDS`):
- LOSS_NOT_FINITE: the training loss became NaN or infinite (where: epoch, batch, layer, and the
  input feature largest there).
- EXPLODING_GRADIENTS: the global gradient norm on the probe batches (before the first step or
  after any epoch) exceeded `exploding_gradient_norm`, or was not finite while the loss still was.
- VANISHING_GRADIENTS: after the first epoch, the input-side layer's gradient norm was below
  `vanishing_gradient_ratio` × the output layer's: the first layers barely learn.
- DEAD_UNITS: at the end, a ReLU layer with at least `dead_unit_fraction` of its units firing on
  none of the probe rows.
- NOT_LEARNING: the best validation loss never beat the class-prior loss (the validation class
  shares predicted for every row) by `not_learning_margin`, and macro recall stayed within three
  standard errors of chance (at least 0.05): the model knows no more than the class counts. For a
  regression: the best validation loss never beat predicting the train mean by that margin.
- MAJORITY_COLLAPSE: the exported model predicts one class for at least `collapse_fraction` of the
  validation rows although that class is at least 5 points rarer than that.
- PLATEAU: over three or more epochs the training loss fell by less than `plateau_improvement` of
  its first value.
- OSCILLATING_LOSS: over six or more epochs the training loss rose (by more than 1%) in at least
  `oscillation_fraction` of them.
- OVERFITTING: after its best epoch, validation loss rose to `overfitting_ratio` × its best (and by
  at least a tenth of the class-prior loss) while the training loss kept falling.
- BASELINE_GAP: scikit-learn's gradient-boosted trees, fitted on a bounded sample of the same
  transformed train rows, beat the network's validation macro F1 (R² for a regression) by
  `baseline_gap_f1`: the model, not the data, holds the result back.
Each fix names the data cause where the record and Transform's summary show one (a feature left
unscaled, and how large it is), else the training setting to change, by its `trainguard run` flag.
That setting is the finding's `repair` (flag → new value, `training_repairs.REPAIRS`): the fix's
words and `trainguard run --repair` come from the same table.
"""
import math
from typing import Any, Dict, List, Mapping, Optional

from trainguard.components.data_guard.findings import Finding
from trainguard.models import model_flags, training_repairs
from trainguard.pipeline import configs
from trainguard.policy import Policy

SOURCE = "training"
TRAIN, VALIDATION = "train", "validation"
UNSCALED_MAGNITUDE = 100.0  # an input this large in absolute value was not standardised
_SUFFIX = "_xf"


def diagnose(record: Mapping[str, Any], policy: Policy,
             transform_summary: Optional[Mapping[str, Any]] = None,
             baseline: Optional[Mapping[str, Any]] = None) -> List[Finding]:
  """Findings from a `TrainingMonitor` record; `transform_summary` (preprocessing_summary) names
  the treatments behind an extreme input; `baseline` is `baseline_model.compare`'s result."""
  judge = _Judge(record, policy, transform_summary or {})
  judge.loss_not_finite()
  judge.gradients()
  judge.dead_units()
  judge.learning()
  judge.collapse()
  judge.curve()
  if baseline:
    judge.baseline_gap(baseline)
  return judge.findings


class _Judge:

  def __init__(self, record, policy: Policy, summary):
    self.record, self.policy, self.summary = record, policy, summary
    self.epochs: List[Dict[str, Any]] = list(record.get("epochs", []))
    self.settings: Dict[str, Any] = dict(record.get("settings", {}))
    self.findings: List[Finding] = []

  def add(self, kind, split, expected, found, fix, measured=None, threshold=None, feature=""):
    self.findings.append(Finding(
        kind=kind, feature=feature, split=split, severity=self.policy.severity(kind, feature or None),
        expected=expected, found=found, fix=fix, source=SOURCE,
        measured=None if measured is None else float(measured),
        threshold=None if threshold is None else float(threshold),
        repair=training_repairs.repair(kind, self.settings) or None))

  def threshold(self, name: str) -> float:
    return self.policy.training_threshold(name)

  def repair(self, kind: str) -> str:
    """The repair of `kind` in words (training_repairs), for its fix; when no setting moves (the
    learning rate already at the ceiling), which one to tune; for the trees, whose settings
    repair none of their findings, the network to compare with."""
    if model_flags.of_settings(self.settings) == configs.GRADIENT_BOOSTED_TREES:
      return (training_repairs.text(kind, self.settings)
              or f"compare with the network: --model {configs.KERAS}")
    return (training_repairs.text(kind, self.settings)
            or f"tune {self.setting('--learning-rate', 'learning_rate')}")

  def setting(self, flag: str, key: str) -> str:
    value = self.settings.get(key)
    return f"{flag}" + (f" (now {value})" if value is not None else "")

  # --- the rules -------------------------------------------------------------------------------

  def loss_not_finite(self) -> None:
    where = self.record.get("non_finite")
    if not where:
      return
    feature = _raw(where.get("feature"))
    found = f"the training loss became {where.get('loss')} at epoch {where['epoch']}, batch " \
            f"{where['batch']}"
    if where.get("layer"):
      found += f"; the first layer with non-finite outputs was {where['layer']}"
    if feature:
      found += f"; the largest input was {feature} (|x| up to {_fmt(where.get('feature_max_abs'))})"
    self.add("LOSS_NOT_FINITE", TRAIN, "a finite training loss", found,
             self.large_input_fix(feature, where.get("feature_max_abs"), "LOSS_NOT_FINITE")
             or f"{self.repair('LOSS_NOT_FINITE')}; check that no feature holds huge values.",
             feature=feature or "")

  def gradients(self) -> None:
    limit = self.threshold("exploding_gradient_norm")
    start = self.record.get("start") or {}
    norms = [e.get("grad_norm") for e in self.epochs]
    finite_loss = [math.isfinite(e.get("loss", float("nan"))) for e in self.epochs]
    worst = max((n for n in norms + [start.get("grad_norm")] if n is not None), default=None)
    broken = [e["epoch"] for e, n, ok in zip(self.epochs, norms, finite_loss) if n is None and ok]
    if (worst is not None and worst > limit) or broken:
      inputs = start.get("max_abs_input") or (
          self.epochs[-1].get("max_abs_input", {}) if self.epochs else {})
      feature = _raw(inputs.get("feature"))
      found = (f"gradient norm up to {_fmt(worst)} on the probe batches" if worst is not None
               else "no finite gradient norm")
      if broken:
        found += f" (not finite at epoch(s) {', '.join(map(str, broken))})"
      self.add("EXPLODING_GRADIENTS", TRAIN, f"global gradient norm ≤ {_fmt(limit)}", found,
               self.large_input_fix(feature, inputs.get("value"), "EXPLODING_GRADIENTS")
               or f"{self.repair('EXPLODING_GRADIENTS')}.",
               measured=worst, threshold=limit)
    layers = [name for name in self.record.get("layers", [])]
    if len(layers) >= 2 and self.epochs:
      norms = self.epochs[0].get("layer_grad_norms", {})
      first, last = norms.get(layers[0]), norms.get(layers[-1])
      ratio_limit = self.threshold("vanishing_gradient_ratio")
      if first is not None and last and first / last < ratio_limit:
        self.add("VANISHING_GRADIENTS", TRAIN,
                 f"{layers[0]}'s gradient norm ≥ {ratio_limit:g} × {layers[-1]}'s",
                 f"after epoch 1 it was {first / last:.2g} × ({_fmt(first)} vs {_fmt(last)}): "
                 "the input-side layers barely learn",
                 f"{self.repair('VANISHING_GRADIENTS')}, or use fewer, wider layers "
                 f"({self.setting('--hidden-units', 'hidden_units')}).",
                 measured=first / last, threshold=ratio_limit)

  def dead_units(self) -> None:
    if not self.epochs:
      return
    dead = self.epochs[-1].get("dead_fraction", {})
    if not dead:
      return
    layer = max(dead, key=dead.get)
    limit = self.threshold("dead_unit_fraction")
    if dead[layer] >= limit:
      self.add("DEAD_UNITS", TRAIN, f"< {limit:.0%} of a ReLU layer's units inactive on every row",
               f"{dead[layer]:.0%} of {layer}'s units output 0 for every probe row "
               f"({self.record.get('probe_rows')} train rows) after the last epoch",
               self.large_input_fix(*self.largest_input(), "DEAD_UNITS")
               or f"{self.repair('DEAD_UNITS')} (large steps push ReLU units into never firing), "
                  "or check that the inputs are scaled (transform_summary.json).",
               measured=dead[layer], threshold=limit)

  def _best(self) -> Optional[Dict[str, Any]]:
    scored = [e for e in self.epochs if _finite(e.get("val_loss"))]
    return min(scored, key=lambda e: e["val_loss"]) if scored else None

  def learning(self) -> None:
    prior = self.record.get("baseline_loss")
    best = self._best()
    if prior is None or best is None:
      return
    margin = self.threshold("not_learning_margin")
    if self.record.get("task") == "regression":
      if best["val_loss"] > prior * (1 - margin):
        self.add("NOT_LEARNING", VALIDATION,
                 f"validation loss below {prior:.3f}, predicting the train mean, by {margin:.0%}",
                 f"best validation loss {best['val_loss']:.3f} (epoch {best['epoch']}): the model "
                 "predicts no better than the train mean",
                 "check that --label names the value to predict and that the features carry "
                 "signal (DataGuard's findings name missing or constant ones); else "
                 f"{self.repair('NOT_LEARNING')}.",
                 measured=best["val_loss"], threshold=prior * (1 - margin))
      return
    classes = self.record.get("classes", [])
    chance = 1.0 / max(len(classes), 1)
    recall = _macro(best.get("val_recall", {}))
    # Macro recall "clearly above chance": beyond three standard errors of a guess on this many
    # validation rows per class (200 rows of 3 shuffled classes guessed 0.40 at one epoch).
    per_class = max(self.record.get("validation_rows", 0) / max(len(classes), 1), 1.0)
    allowance = max(0.05, 3 * math.sqrt(chance * (1 - chance) / per_class))
    if (best["val_loss"] > prior * (1 - margin) and recall is not None
        and recall < chance + allowance):
      self.add("NOT_LEARNING", VALIDATION,
               f"validation loss below the class-prior loss {prior:.3f} by {margin:.0%}",
               f"best validation loss {best['val_loss']:.3f} (epoch {best['epoch']}), macro recall "
               f"{recall:.2f} against chance {chance:.2f} (± {allowance:.2f}): the model knows no more than the class "
               "counts",
               "check that --label names the column to predict and that the features carry signal "
               "(DataGuard's findings name missing or constant ones); else "
               f"{self.repair('NOT_LEARNING')}.",
               measured=best["val_loss"], threshold=prior * (1 - margin))

  def collapse(self) -> None:
    final = self.record.get("final") or (self.epochs[-1] if self.epochs else {})
    predicted = final.get("val_predicted_share") or {}
    actual = self.record.get("validation_class_share") or {}
    if not predicted:
      return
    top = max(predicted, key=predicted.get)
    limit = self.threshold("collapse_fraction")
    if predicted[top] >= limit and actual.get(top, 0.0) <= predicted[top] - 0.05:
      # Class weights already on: nothing to pass (the learning rate is no fix for a class mix).
      weights = training_repairs.text("MAJORITY_COLLAPSE", self.settings) or "keep --class-weights"
      self.add("MAJORITY_COLLAPSE", VALIDATION,
               f"< {limit:.0%} of validation rows predicted as one class",
               f"{predicted[top]:.0%} of validation rows are predicted {top!r}, which is "
               f"{actual.get(top, 0.0):.0%} of them",
               "the model learned the class mix, not the classes: keep --rebalance auto (the "
               f"default) or {weights}, and check the CLASS_IMBALANCE finding.",
               measured=predicted[top], threshold=limit, feature="")

  def curve(self) -> None:
    losses = [e.get("loss") for e in self.epochs]
    if not all(_finite(v) for v in losses):
      return
    if len(losses) >= 3 and losses[0] > 0:
      improvement = (losses[0] - min(losses[1:])) / losses[0]
      limit = self.threshold("plateau_improvement")
      if improvement < limit:
        self.add("PLATEAU", TRAIN, f"training loss falls by ≥ {limit:.0%} over the run",
                 f"it fell by {improvement:.2%} in {len(losses)} epochs ({losses[0]:.4f} → "
                 f"{min(losses):.4f})",
                 f"{self.repair('PLATEAU')}; the model is learning "
                 "too slowly to converge in the epochs it has.",
                 measured=improvement, threshold=limit)
    if len(losses) >= 6:
      rises = sum(b > a * 1.01 for a, b in zip(losses, losses[1:]))
      share = rises / (len(losses) - 1)
      limit = self.threshold("oscillation_fraction")
      if share >= limit:
        self.add("OSCILLATING_LOSS", TRAIN,
                 f"training loss rising in < {limit:.0%} of epochs",
                 f"it rose in {rises} of {len(losses) - 1} epochs",
                 f"{self.repair('OSCILLATING_LOSS')}.",
                 measured=share, threshold=limit)
    best = self._best()
    prior = self.record.get("baseline_loss") or 0.0
    if best is None or len(self.epochs) < 4 or best is self.epochs[-1]:
      return
    last = self.epochs[-1]
    ratio_limit = self.threshold("overfitting_ratio")
    if not _finite(last.get("val_loss")) or best["val_loss"] <= 0:
      return
    ratio = last["val_loss"] / best["val_loss"]
    if (ratio >= ratio_limit and last["val_loss"] - best["val_loss"] >= 0.1 * prior
        and last["loss"] < best["loss"]):
      self.add("OVERFITTING", VALIDATION,
               f"validation loss within {ratio_limit:g} × its best while training improves",
               f"validation loss rose from {best['val_loss']:.3f} (epoch {best['epoch']}) to "
               f"{last['val_loss']:.3f} (epoch {last['epoch']}) while training loss fell from "
               f"{best['loss']:.3f} to {last['loss']:.3f}",
               f"the exported model is epoch {best['epoch']}'s (early stopping restores it); to "
               "generalise better: more train rows, or "
               f"{self.repair('OVERFITTING') or 'fewer --hidden-units'}.",
               measured=ratio, threshold=ratio_limit)

  def baseline_gap(self, baseline: Mapping[str, Any]) -> None:
    trees, network = baseline.get("trees_score"), baseline.get("network_score")
    if trees is None or network is None:
      return
    limit = self.threshold("baseline_gap_f1")
    metric = baseline.get("metric", "macro F1")
    if trees - network >= limit:
      self.add("BASELINE_GAP", VALIDATION,
               f"the network within {limit:.2f} {metric} of gradient-boosted trees",
               f"on {baseline.get('validation_rows')} validation rows, gradient-boosted trees "
               f"fitted on {baseline.get('train_rows')} transformed train rows reach {metric} "
               f"{trees:.3f}, the network {network:.3f}",
               "the model, not the data, holds the result back: give the network more capacity "
               f"({self.repair('BASELINE_GAP')}), or tune "
               f"{self.setting('--learning-rate', 'learning_rate')}; or train such trees "
               "instead: --model gradient_boosted_trees (the same serving signature and "
               "Evaluator).",
               measured=trees - network, threshold=limit)

  # --- causes ----------------------------------------------------------------------------------

  def largest_input(self):
    inputs = (self.record.get("start") or {}).get("max_abs_input") or {}
    return _raw(inputs.get("feature")), inputs.get("value")

  def large_input_fix(self, feature: Optional[str], magnitude: Optional[float],
                      kind: str) -> Optional[str]:
    """When the largest input is unscaled and large: the policy key that scales it (and, as the
    alternative, `kind`'s repair)."""
    if not feature or magnitude is None or magnitude < UNSCALED_MAGNITUDE:
      return None
    entry = (self.summary.get("features") or {}).get(feature, {})
    if entry and entry.get("kind") != "numeric":
      return None  # a category or bucket id: one-hot encoded, never a raw magnitude
    method = (entry.get("scaling") or {}).get("method")
    if method not in (None, "none"):
      return None
    told = "is left unscaled (scale: none)" if method == "none" else "reaches the model unscaled"
    return (f"{feature} {told} and reaches |x| = {_fmt(magnitude)}: set "
            f"features.{feature}.scale: z_score in policy.yaml (or "
            f"{self.repair(kind)}).")


def no_finding(family: Optional[str] = None, regression: bool = False) -> str:
  """What a training diagnosis without findings vouches for, by model family (`--model`): the
  network's gradients, units, loss curve and baseline; the trees have none of those (no gradients
  or epochs, and they are the baseline), only the validation loss against the prior and, for
  classes, the predicted shares (models/decision_forests/model.py's record)."""
  if family == configs.GRADIENT_BOOSTED_TREES:
    if regression:
      return "the trees' validation loss beats predicting the train mean"
    return ("the trees' validation loss beats the class prior's and their predictions do not "
            "collapse onto one class")
  return "gradients, units, the loss curve and the gradient-boosted baseline look sound"


def _raw(transformed: Optional[str]) -> Optional[str]:
  if not transformed:
    return None
  return transformed[:-len(_SUFFIX)] if transformed.endswith(_SUFFIX) else transformed


def _finite(value) -> bool:
  return value is not None and math.isfinite(value)


def _macro(recall: Mapping[str, Optional[float]]) -> Optional[float]:
  values = [v for v in recall.values() if v is not None]
  return sum(values) / len(values) if values else None


def _fmt(value) -> str:
  if value is None:
    return "n/a"
  return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.2e}"
