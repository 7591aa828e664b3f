"""The run report: one self-contained HTML file per pipeline run (finished, failed or blocked).

`write_report(summary)` writes it from a `trainguard.pipeline.results.RunSummary`;
`gather(summary)` → `ReportData` → `save_report(data)` are the steps, so tests and other callers
can build `ReportData` themselves. `trainguard report --workdir DIR [--run ID]` (or
`python -m trainguard.report`) writes the report of a recorded run. In a notebook, `show(workdir)`
returns the report as an object Jupyter renders inline.

`show` is imported on first use: it pulls in the pipeline's configuration, which the report's
data model does not need.
"""
from trainguard.report.data import (ClassCounts, ConfusionMatrix, Evaluation, MetricRow,
                                    RebalanceInfo, ReportData, StepState, StepTiming,
                                    TransformFeature, TransformInfo)
from trainguard.report.gathering import gather
from trainguard.report.report import (Outcome, Verdict, default_report_path, render_report,
                                      save_report, verdict, write_latest_report, write_report)

__all__ = [
    "ClassCounts", "ConfusionMatrix", "Evaluation", "MetricRow", "Outcome", "RebalanceInfo",
    "ReportData", "StepState", "StepTiming", "TransformFeature", "TransformInfo", "Verdict",
    "default_report_path", "gather", "render_report", "save_report", "verdict",
    "write_latest_report", "write_report", "show",
]


def __getattr__(name):
  if name == "show":
    from trainguard.report.notebook import show  # pylint: disable=g-import-not-at-top
    return show
  raise AttributeError(f"module 'trainguard.report' has no attribute {name!r}")
