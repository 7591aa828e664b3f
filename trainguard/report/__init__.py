"""The run report: one self-contained HTML file per pipeline run (finished, failed or blocked).

`write_report(summary)` writes it from a `trainguard.pipeline.results.RunSummary`;
`gather(summary)` → `ReportData` → `save_report(data)` are the steps, so tests and other callers
can build `ReportData` themselves. `python -m trainguard.report --workdir DIR` writes the report of
the newest run.
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
    "write_latest_report", "write_report",
]
