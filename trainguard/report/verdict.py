"""The verdict at the top of the report: what happened to the run, in the order a reader must act
on it (blocked, failed, not blessed, pushed, ...), and why each empty section is empty.

Its own module because two readers need it: the page (`report.render_report`) and the comparison
with the previous run (`changes`), which names the earlier run by its verdict.
"""
import dataclasses
from typing import Dict, List, Optional

from trainguard import artifacts
from trainguard.report.data import ReportData, StepState, StrEnum


class Outcome(StrEnum):
  """What happened to the run, one word; the page carries it as `data-outcome`. In the order
  `verdict` checks them: the first that applies is what a reader must act on first."""
  BLOCKED = "blocked"  # DataGuard found a blocking problem: nothing was trained
  FAILED = "failed"  # a step failed or did not finish
  NOT_BLESSED = "not_blessed"  # trained, but the Evaluator's thresholds were not met
  PUSHED = "pushed"
  BLESSED_NOT_PUSHED = "blessed_not_pushed"
  TRAINED = "trained"  # trained, not evaluated
  READY = "ready"  # DataGuard passed, nothing trained yet
  UNKNOWN = "unknown"  # DataGuard's findings are not available


@dataclasses.dataclass(frozen=True)
class Verdict:
  """The answer at the top of the report."""
  outcome: Outcome
  headline: str  # e.g. "blocked: 2 problems"
  tone: str  # bad, warn, good
  reasons: List[str] = dataclasses.field(default_factory=list)


def verdict(data: ReportData) -> Verdict:
  """What happened to this run, in order of what a reader must act on first."""
  findings = data.findings
  if findings is not None and findings.blocked:
    blocking = findings.blocking
    plural = "s" if len(blocking) != 1 else ""
    return Verdict(Outcome.BLOCKED, f"blocked: {len(blocking)} problem{plural}", "bad",
                   [_finding_line(f) for f in blocking])
  unfinished = [s for s in data.steps if not s.state.done]
  if unfinished:
    first = unfinished[0]
    reasons = [f"{s.node_id}: {s.state.lower()}" for s in unfinished]
    diverged = _diverged_epoch(data.history)
    if diverged:
      reasons.append(f"the training loss stopped being finite at epoch {diverged}")
    word = "failed" if first.state == StepState.FAILED else "did not finish"
    return Verdict(Outcome.FAILED, f"failed: {first.node_id} {word}", "bad", reasons)
  if data.blessed is False and data.training_findings is not None and data.training_findings.blocked:
    blocking = data.training_findings.blocking
    return Verdict(Outcome.NOT_BLESSED, f"trained but not blessed: the training diagnosis found "
                   f"{blocking[0].kind}", "warn",
                   [_finding_line(f) for f in blocking] + ["the model was not pushed"])
  if data.blessed is False:
    failures = data.evaluation.failures if data.evaluation else []
    why = failures[0] if failures else "the Evaluator's thresholds were not met"
    return Verdict(Outcome.NOT_BLESSED, f"trained but not blessed: {why}", "warn",
                   failures[1:] + ["the model was not pushed"])
  if data.blessed:
    if data.pushed_model:
      return Verdict(Outcome.PUSHED, "trained, blessed and pushed", "good",
                     [f"pushed to {data.pushed_model}"])
    return Verdict(Outcome.BLESSED_NOT_PUSHED, "trained and blessed, not pushed", "warn",
                   [absence(data, "Pusher", "a pushed model")])
  if data.history is not None or _ran(data, "Trainer"):
    return Verdict(Outcome.TRAINED, "trained, not evaluated", "warn",
                   [absence(data, "Evaluator", "an evaluation")])
  if findings is not None:
    counts = findings.counts()
    return Verdict(Outcome.READY, "ready to train", "good", [
        f"DataGuard passed: {counts['warn']} warning(s), {counts['info']} note(s), nothing "
        "blocking"])
  return Verdict(Outcome.UNKNOWN, "no verdict: DataGuard's findings are not available", "warn",
                 [absence(data, "DataGuard", artifacts.FINDINGS_FILE)])


def _finding_line(finding) -> str:
  where = f"{finding.feature} ({finding.split})" if finding.feature else finding.split
  return f"{where}: expected {finding.expected}; found {finding.found}"


def _diverged_epoch(history: Optional[Dict[str, List[float]]]) -> Optional[int]:
  for i, value in enumerate((history or {}).get("loss", [])):
    if value != value or value in (float("inf"), float("-inf")):
      return i + 1
  return None


def _ran(data: ReportData, node_id: str) -> bool:
  step = data.step(node_id)
  return step is not None and step.state.done


def absence(data: ReportData, node_id: str, what: str) -> str:
  """Why a section is empty: "not run: …" when its component did not run, else
  "not available: …"."""
  step = data.step(node_id)
  if step is None:
    if data.findings is not None and data.findings.blocked and node_id != "DataGuard":
      return f"not run: DataGuard blocked the run before {node_id}"
    failed = [s.node_id for s in data.steps if not s.state.done]
    if failed:
      return f"not run: {failed[0]} did not complete"
    if not data.steps:
      return f"not available: no executions of this run were found, so no {what}"
    return f"not run: this pipeline has no {node_id} step"
  if not step.state.done:
    return f"not available: {node_id} {step.state.lower()} before writing {what}"
  return f"not available: {node_id} ran but this run has no {what}"
