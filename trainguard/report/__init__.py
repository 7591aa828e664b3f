"""The run report: one self-contained HTML file per pipeline run (finished, failed or blocked).

`write_report(summary)` writes it from a `trainguard.pipeline.results.RunSummary`;
`gather(summary)` → `ReportData` → `save_report(data)` are the steps, so tests and other callers
can build `ReportData` themselves. `trainguard report --workdir DIR [--run ID]` (or
`python -m trainguard.report`) writes the report of a recorded run. In a notebook, `show(workdir)`
returns the report as an object Jupyter renders inline.

Every name is imported on first use (PEP 562): the CLI registers `trainguard report` from
`command.py` without paying for Jinja2 and matplotlib on every start, and `show` pulls in the
pipeline's configuration only when called.
"""
import importlib

_EXPORTS = {
    "data": ("ClassCounts", "ConfusionMatrix", "Evaluation", "MetricRow", "RebalanceInfo",
             "ReportData", "StepState", "StepTiming", "TransformFeature", "TransformInfo"),
    "gathering": ("gather",),
    "verdict": ("Outcome", "Verdict", "verdict"),
    "report": ("default_report_path", "render_report", "save_report", "write_latest_report",
               "write_report"),
    "notebook": ("show",),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name):
  module = _MODULE_OF.get(name)
  if module is None:
    raise AttributeError(f"module 'trainguard.report' has no attribute {name!r}")
  value = getattr(importlib.import_module(f"trainguard.report.{module}"), name)
  globals()[name] = value
  return value
