"""The run report: one self-contained HTML file per run, verdict first.

    from trainguard.pipeline import results
    from trainguard.report import write_report
    path = write_report(results.latest_run(results.RunPaths(workdir, pipeline_name)))

`write_report` = `gather` (gathering.py: files and ML Metadata → `ReportData`) + `render_report`
(Jinja2 template `templates/report.html.j2`, matplotlib charts as inline SVG) + a write. The page
loads nothing: no external scripts, styles, fonts or images, no http(s) URL in any src or href; its
one inline script is the Features filter.
"""
import os
import re
from typing import Dict, List, Optional

import markupsafe

from trainguard import artifacts, files
from trainguard import task as task_lib
from trainguard.models import model_flags, training_causes, training_diagnosis
from trainguard.report import changes, charts, environment, features
from trainguard.report.data import ReportData
from trainguard.report.gathering import gather
from trainguard.report.verdict import Outcome, Verdict, absence, verdict  # noqa: F401

TEMPLATE = "report.html.j2"
REPORTS_DIR = "reports"
REGRESSION_NOT_REBALANCED = ("not run: class rebalancing does not apply to a numeric label "
                             "(regression); the Trainer reads Transform's rows")


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
  env = environment.environment()
  svg = {
      "class_counts": charts.class_counts_svg(data.rebalance.splits) if data.rebalance else "",
      "training_curves": charts.training_curves_svg(data.history) if data.history else "",
      "gradient_norms": (charts.gradient_norms_svg(data.training_record)
                         if data.training_record else ""),
      "class_recall": (charts.class_recall_svg(data.training_record)
                       if data.training_record and data.task != task_lib.REGRESSION else ""),
      "confusion_matrix": (charts.confusion_matrix_svg(data.evaluation.confusion)
                           if data.evaluation and data.evaluation.confusion else ""),
      "regression": (charts.regression_svg(data.regression_predictions["actual"],
                                           data.regression_predictions["predicted"])
                     if data.regression_predictions else ""),
  }
  absent = {
      "findings": absence(data, "DataGuard", artifacts.FINDINGS_FILE),
      "transform": absence(data, "Transform", artifacts.TRANSFORM_SUMMARY_FILE),
      "rebalance": (REGRESSION_NOT_REBALANCED if data.task == task_lib.REGRESSION else
                    absence(data, "Rebalance", artifacts.REBALANCE_FILE)),
      "training": absence(data, "Trainer", artifacts.HISTORY_FILE),
      "evaluation": absence(data, "Evaluator", "evaluation"),
      "blessing": absence(data, "Evaluator", "blessing"),
      "push": absence(data, "Pusher", "pushed model"),
  }
  numeric = [card for card in data.features or [] if card.kind == "numeric"]
  feature_svg = {name: markupsafe.Markup(svg) for name, svg in charts.feature_histograms_svg(
      numeric, [features.anchor(card.name) for card in numeric]).items()}
  absent["features"] = absence(data, "StatisticsGen", "statistics")
  total = sum(s.seconds for s in data.steps)
  longest = max((s.seconds for s in data.steps), default=0.0)
  return env.get_template(TEMPLATE).render(
      data=data,
      verdict=verdict(data),
      counts=data.findings.counts() if data.findings is not None else None,
      svg={k: markupsafe.Markup(v) for k, v in svg.items()},  # our own matplotlib output
      feature_svg=feature_svg,
      causes=_training_causes(data),
      carded={card.name for card in data.features or []},
      absent=absent,
      training=_training_summary(data.history),
      # What a clean training diagnosis vouches for, by the family the record says trained.
      no_training_finding=training_diagnosis.no_finding(
          model_flags.of_settings((data.training_record or {}).get("settings")),
          data.task == task_lib.REGRESSION),
      total_seconds=total,
      longest_seconds=longest or 1.0)


def _training_causes(data: ReportData) -> List[tuple]:
  """[(training finding, the data findings that can cause it)], for those that have any."""
  if data.training_findings is None or data.findings is None:
    return []
  pairs = [(f, training_causes.related(f, data.findings.findings))
           for f in data.training_findings.findings]
  return [(f, related) for f, related in pairs if related]


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


def save_report(data: ReportData, out_path: Optional[str] = None) -> str:
  """Renders `data` and writes it to `out_path` (default: `default_report_path(data)`).
  Returns the absolute path of the file written."""
  path = os.path.abspath(out_path or default_report_path(data))
  os.makedirs(os.path.dirname(path), exist_ok=True)
  html = render_report(data)
  # files.atomic_write: a temporary file renamed over the target when whole and removed when a
  # write fails (a full disk), so neither a reader nor the next run finds half a report.
  with files.atomic_write(path, encoding="utf-8") as f:
    f.write(html)
  return path


def write_report(summary, out_path: Optional[str] = None, previous=changes.EARLIER) -> str:
  """Writes the report of one run (`results.RunSummary`: finished, failed or blocked) and returns
  its absolute path: `out_path`, or `<workdir>/reports/<pipeline>-<run id>.html`. "Since the
  previous run" compares it with `previous` (a RunSummary), by default the latest earlier run of
  the same pipeline in the store; None leaves the comparison out."""
  data = gather(summary)
  changes.add_changes(data, summary, previous)
  return save_report(data, out_path)


def write_latest_report(workdir: str, pipeline_name: str, out_path: Optional[str] = None) -> str:
  """The report of the newest run of `pipeline_name` recorded under `workdir`."""
  from trainguard.pipeline import results  # pylint: disable=g-import-not-at-top
  return write_report(results.latest_run(results.RunPaths(workdir, pipeline_name)), out_path)
