"""The run report: one self-contained HTML file per run, verdict first.

    from trainguard.pipeline import results
    from trainguard.report import write_report
    path = write_report(results.latest_run(results.RunPaths(workdir, pipeline_name)))

`write_report` = `gather` (gathering.py: files and ML Metadata → `ReportData`) + `render_report`
(Jinja2 template `templates/report.html.j2`, matplotlib charts as inline SVG) + a write. The page
loads nothing: no scripts, no external styles, fonts or images, no http(s) URL in any src or href.
"""
import dataclasses
import os
import re
from typing import Dict, List, Optional

import jinja2
import markupsafe

from trainguard import artifacts
from trainguard.report import charts
from trainguard.report.data import ReportData, StepState, StrEnum
from trainguard.report.format import format_number
from trainguard.report.gathering import gather

TEMPLATE = "report.html.j2"
TEMPLATE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
REPORTS_DIR = "reports"


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
                   [_absence(data, "Pusher", "a pushed model")])
  if data.history is not None or _ran(data, "Trainer"):
    return Verdict(Outcome.TRAINED, "trained, not evaluated", "warn",
                   [_absence(data, "Evaluator", "an evaluation")])
  if findings is not None:
    counts = findings.counts()
    return Verdict(Outcome.READY, "ready to train", "good", [
        f"DataGuard passed: {counts['warn']} warning(s), {counts['info']} note(s), nothing "
        "blocking"])
  return Verdict(Outcome.UNKNOWN, "no verdict: DataGuard's findings are not available", "warn",
                 [_absence(data, "DataGuard", artifacts.FINDINGS_FILE)])


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


def _absence(data: ReportData, node_id: str, what: str) -> str:
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


def default_report_path(data: ReportData) -> str:
  """`<workdir>/reports/<pipeline>-<run id>.html`, the run id made safe for a file name."""
  if not data.workdir:
    raise ValueError("ReportData.workdir is empty: pass out_path to say where the report goes")
  name = _safe(f"{data.pipeline_name}-{data.run_id}")
  return os.path.join(os.path.abspath(data.workdir), REPORTS_DIR, f"{name}.html")


def _safe(text: str) -> str:
  return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "run"


def render_report(data: ReportData) -> str:
  """The report as one HTML document (a str)."""
  env = jinja2.Environment(
      loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
      autoescape=True,
      undefined=jinja2.StrictUndefined,
      trim_blocks=True,
      lstrip_blocks=True,
      keep_trailing_newline=True)
  env.filters["num"] = format_number
  env.filters["pct"] = _percent
  env.filters["seconds"] = _seconds
  env.filters["signed"] = _signed
  svg = {
      "class_counts": charts.class_counts_svg(data.rebalance.splits) if data.rebalance else "",
      "training_curves": charts.training_curves_svg(data.history) if data.history else "",
      "gradient_norms": (charts.gradient_norms_svg(data.training_record)
                         if data.training_record else ""),
      "confusion_matrix": (charts.confusion_matrix_svg(data.evaluation.confusion)
                           if data.evaluation and data.evaluation.confusion else ""),
  }
  absent = {
      "findings": _absence(data, "DataGuard", artifacts.FINDINGS_FILE),
      "transform": _absence(data, "Transform", artifacts.TRANSFORM_SUMMARY_FILE),
      "rebalance": _absence(data, "Rebalance", artifacts.REBALANCE_FILE),
      "training": _absence(data, "Trainer", artifacts.HISTORY_FILE),
      "evaluation": _absence(data, "Evaluator", "evaluation"),
      "blessing": _absence(data, "Evaluator", "blessing"),
      "push": _absence(data, "Pusher", "pushed model"),
  }
  total = sum(s.seconds for s in data.steps)
  longest = max((s.seconds for s in data.steps), default=0.0)
  return env.get_template(TEMPLATE).render(
      data=data,
      verdict=verdict(data),
      counts=data.findings.counts() if data.findings is not None else None,
      svg={k: markupsafe.Markup(v) for k, v in svg.items()},  # our own matplotlib output
      absent=absent,
      training=_training_summary(data.history),
      total_seconds=total,
      longest_seconds=longest or 1.0)


def _training_summary(history: Optional[Dict[str, List[float]]]) -> Optional[Dict[str, object]]:
  if not history:
    return None
  epochs = max((len(v) for v in history.values()), default=0)
  val_loss = history.get("val_loss") or []
  finite = [(v, i) for i, v in enumerate(val_loss) if v == v]
  best = min(finite)[1] if finite else None
  rows = []
  for metric in sorted({m[4:] if m.startswith("val_") else m for m in history},
                       key=lambda m: ({"loss": 0, "accuracy": 1}.get(m, 2), m)):
    train, val = history.get(metric) or [], history.get(f"val_{metric}") or []
    rows.append({
        "metric": metric,
        "train_last": train[-1] if train else None,
        "val_last": val[-1] if val else None,
        "train_best": train[best] if best is not None and best < len(train) else None,
        "val_best": val[best] if best is not None and best < len(val) else None,
    })
  return {"epochs": epochs, "best_epoch": best + 1 if best is not None else None, "rows": rows}


def _percent(value: Optional[float]) -> str:
  return "" if value is None else f"{value:.1%}"


def _seconds(value: Optional[float]) -> str:
  if value is None:
    return ""
  return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


def _signed(value: Optional[float]) -> str:
  if value is None:
    return ""
  return ("+" if value > 0 else "") + format_number(value)


def save_report(data: ReportData, out_path: Optional[str] = None) -> str:
  """Renders `data` and writes it to `out_path` (default: `default_report_path(data)`).
  Returns the absolute path of the file written."""
  path = os.path.abspath(out_path or default_report_path(data))
  os.makedirs(os.path.dirname(path), exist_ok=True)
  html = render_report(data)
  temporary = path + ".tmp"
  with open(temporary, "w", encoding="utf-8") as f:
    f.write(html)
  os.replace(temporary, path)  # a reader never sees half a report
  return path


def write_report(summary, out_path: Optional[str] = None) -> str:
  """Writes the report of one run (`results.RunSummary`: finished, failed or blocked) and returns
  its absolute path: `out_path`, or `<workdir>/reports/<pipeline>-<run id>.html`."""
  return save_report(gather(summary), out_path)


def write_latest_report(workdir: str, pipeline_name: str, out_path: Optional[str] = None) -> str:
  """The report of the newest run of `pipeline_name` recorded under `workdir`."""
  from trainguard.pipeline import results  # pylint: disable=g-import-not-at-top
  return write_report(results.latest_run(results.RunPaths(workdir, pipeline_name)), out_path)
