"""A findings report as an HTML table on its own: what a notebook shows for a `FindingsReport`
(its `_repr_html_`), as `tfdv.display_anomalies` does for TFDV's anomalies.

It renders the run report's own findings-table macro (`templates/findings.html.j2`), so a finding
reads the same in the notebook and in the report. No scripts, nothing fetched.
"""
from trainguard.report import environment


def findings_html(report, by_kind: bool = False) -> str:
  """`report` (a `data_guard.findings.FindingsReport`) as a self-contained HTML fragment;
  `by_kind` puts the kind first, as the training diagnosis is shown."""
  template = environment.environment().get_template("findings_table.html.j2")
  return template.render(report=report, counts=report.counts(), by_kind=by_kind)
