"""End to end: the run report of the suite's shared runs (no run of its own): the Features section
from the real statistics, 'Since the previous run' between the penguins run and its rerun and
between the blocked run and the clean one, `trainguard report` for any recorded run, and the
notebook display."""
import os
import re

import pytest

from trainguard import cli
from trainguard.pipeline import results
from trainguard.report import features, show, write_report

PENGUIN_FEATURES = {"species", "island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm",
                    "body_mass_g", "sex", "year"}


@pytest.fixture(scope="module")
def runs(penguins_rerun):
  """The first penguins run and its rerun, by id (the rerun is the newest)."""
  ids = results.run_ids(penguins_rerun.paths)
  assert len(ids) == 2, ids
  return [results.run_by_id(penguins_rerun.paths, run_id) for run_id in ids]


def _report_of(completed_run) -> str:
  line = next(l for l in completed_run.output.splitlines() if l.startswith("report:"))
  with open(line.split(":", 1)[1].strip(), encoding="utf-8") as f:
    return f.read()


def _section(page: str, section_id: str) -> str:
  section = page[page.index(f'<section id="{section_id}">'):]
  return section[:section.index("</section>")]


def test_the_rerun_report_says_nothing_changed_since_the_first_run(penguins_rerun, runs):
  first, rerun = runs
  page = _report_of(penguins_rerun)
  assert rerun.run_id in page
  changes = _section(page, "changes")
  assert f'<code id="previous-run">{first.run_id}</code>' in changes
  assert "trained, blessed and pushed" in changes and "(model blessed)" in changes
  assert "No finding is new, resolved or graded differently." in changes
  # The same model on the same eval split: every metric is unchanged.
  metrics = re.findall(r'<tr data-metric="([^"]+)"[^>]*>(.*?)</tr>', changes, re.S)
  assert any(name == "sparse_categorical_accuracy" for name, _ in metrics), metrics
  assert all(row.rstrip().endswith('<td class="num">0</td>') for _, row in metrics), metrics
  assert "both runs validated against the same schema artifact" in changes
  assert "Adelie" in changes  # rows per class of the train split, both runs


def test_features_of_a_real_run(penguins_rerun, runs):
  page = _report_of(penguins_rerun)
  cards = re.findall(r'<article class="feature-card[^"]*" id="([^"]+)" data-feature="([^"]+)"',
                     page)
  assert {name for _, name in cards} == PENGUIN_FEATURES
  assert all(anchor == features.anchor(name) for anchor, name in cards)
  section = _section(page, "features")
  bill = section[section.index(f'id="{features.anchor("bill_length_mm")}"'):]
  bill = bill[:bill.index("</article>")]
  assert "<svg" in bill and ">train</td>" in bill and ">eval</td>" in bill
  # Each DataGuard finding about a feature links to that feature's card.
  findings = [f for f in runs[1].findings.findings if f.feature in PENGUIN_FEATURES]
  assert findings, "the penguins run has findings about its features (missing sex, imbalance)"
  for finding in findings:
    assert f'href="#{features.anchor(finding.feature)}"' in _section(page, "findings")
    card = section[section.index(f'id="{features.anchor(finding.feature)}"'):]
    assert f"{finding.kind} · {finding.split}" in card[:card.index("</article>")]


def test_report_command_writes_the_report_of_any_recorded_run(penguins_rerun, runs, tmp_path,
                                                                capsys):
  first, _ = runs
  out = str(tmp_path / "first.html")
  assert cli.main(["report", "--workdir", penguins_rerun.workdir, "--run", first.run_id,
                   "--out", out]) == 0
  assert capsys.readouterr().out.strip() == out
  with open(out, encoding="utf-8") as f:
    page = f.read()
  assert first.run_id in page and "this is the first run of trainguard-penguins" in page
  # The newest run of the newest pipeline by default, with the comparison left out on request.
  assert cli.main(["report", "--workdir", penguins_rerun.workdir, "--previous", "none",
                   "--out", out]) == 0
  with open(out, encoding="utf-8") as f:
    assert "no earlier run was compared" in f.read()
  capsys.readouterr()
  assert cli.main(["report", "--workdir", penguins_rerun.workdir, "--run", "no-such-run"]) == 2
  error = capsys.readouterr().err
  assert "no run 'no-such-run'" in error and first.run_id in error and "Traceback" not in error
  assert cli.main(["report", "--workdir", penguins_rerun.workdir, "--pipeline-name", "nope"]) == 2
  assert "pipelines: trainguard-penguins" in capsys.readouterr().err


def test_notebook_display(penguins_rerun):
  shown = show(penguins_rerun.workdir)
  assert shown.headline == "trained, blessed and pushed"
  frame = shown._repr_html_()
  assert frame.startswith("<iframe") and 'srcdoc="' in frame and "<section" not in frame
  table = shown.findings._repr_html_()
  assert "<table" in table and "<script" not in table
  assert all(f.kind in table for f in shown.findings.findings)


def test_the_blocked_run_against_the_clean_one_names_the_planted_findings(blocked_run, runs,
                                                                           tmp_path):
  page = _report_of(blocked_run)
  assert "this is the first run of trainguard-penguins" in _section(page, "changes")
  blocked = results.latest_run(blocked_run.paths)
  path = write_report(blocked, str(tmp_path / "blocked.html"), previous=runs[0])
  with open(path, encoding="utf-8") as f:
    changes = _section(f.read(), "changes")
  for kind, feature in (("UNEXPECTED_DATA_TYPE", "bill_length_mm"),
                        ("INFINITE_VALUES", "bill_depth_mm")):
    assert f'data-change="new" data-kind="{kind}" data-feature="{feature}"' in changes
  row = changes[changes.index('data-metric="sparse_categorical_accuracy"'):]
  row = row[:row.index("</tr>")]
  assert "not evaluated" in row  # the blocked run trained nothing
  assert os.path.getsize(path) > 10_000
