"""The run report in a notebook: `show(...)` returns an object Jupyter renders inline.

    from trainguard.report import show
    show("~/trainguard-work")                 # the newest run of the default pipeline
    show(workdir, run_id="2026-12-03T09:31:07.360124", previous=None)

The page renders inside an `<iframe srcdoc>`: its CSS and the features filter's script stay in the
frame instead of restyling the notebook, and the report needs nothing from outside the frame (it
loads nothing). `Report.findings` is DataGuard's `FindingsReport`, which renders as a table on its
own (`FindingsReport._repr_html_`).
"""
import html
import os
from typing import Optional

from trainguard.report import changes
from trainguard.report.data import ReportData
from trainguard.report.gathering import gather
from trainguard.report.report import render_report, save_report
from trainguard.report.verdict import verdict

FRAME_HEIGHT = 900  # px; the report scrolls inside the frame


class Report:
  """One run's report, ready to display (`_repr_html_`) or to save as the HTML file."""

  def __init__(self, data: ReportData):
    self.data = data
    self.html = render_report(data)

  @property
  def findings(self):
    """DataGuard's findings (`FindingsReport`), or None when DataGuard did not run."""
    return self.data.findings

  @property
  def headline(self) -> str:
    return verdict(self.data).headline

  def save(self, path: Optional[str] = None) -> str:
    """Writes the report file (default `<workdir>/reports/<pipeline>-<run id>.html`)."""
    return save_report(self.data, path)

  def _repr_html_(self) -> str:
    return (f'<iframe title="trainguard run report {html.escape(self.data.run_id)}" '
            f'srcdoc="{html.escape(self.html, quote=True)}" sandbox="allow-scripts" '
            f'style="width: 100%; height: {FRAME_HEIGHT}px; border: 1px solid #e4e7eb; '
            'border-radius: 6px;"></iframe>')

  def __repr__(self) -> str:
    return f"<trainguard report of {self.data.pipeline_name} run {self.data.run_id}: " \
           f"{self.headline}>"


def show(workdir: Optional[str] = None, pipeline_name: Optional[str] = None,
         run_id: Optional[str] = None, previous=changes.EARLIER) -> Report:
  """The report of run `run_id` (default: the newest) of `pipeline_name` (default: the pipeline
  of the newest run in the store) under `workdir` (default: the CLI's work directory), compared
  with `previous`: a run id, a `RunSummary`, `changes.EARLIER` (the latest earlier run) or None.
  Raises LookupError when no such run is recorded."""
  from trainguard.pipeline import configs, results  # pylint: disable=g-import-not-at-top
  workdir = os.path.abspath(os.path.expanduser(workdir or configs.DEFAULT_WORKDIR))
  if not pipeline_name:
    recorded = results.pipeline_names(os.path.join(workdir, "metadata.sqlite"))
    if not recorded:
      raise LookupError(f"no recorded run under {workdir}")
    pipeline_name = recorded[-1]
  paths = results.RunPaths(workdir, pipeline_name)
  summary = results.run_by_id(paths, run_id) if run_id else results.latest_run(paths)
  if isinstance(previous, str) and previous != changes.EARLIER:
    previous = results.run_by_id(paths, previous)
  data = gather(summary)
  changes.add_changes(data, summary, previous)
  return Report(data)
