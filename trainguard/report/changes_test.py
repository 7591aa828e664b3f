"""'Since the previous run' on two `ReportData` built here (no TFX run): a planted new finding, a
resolved and a re-graded one, a dropped metric, rows per class, the schema diff, and the page."""
import os

from trainguard import schemas
from trainguard.components.data_guard.findings import Finding, FindingsReport
from trainguard.report import changes, report, report_test
from trainguard.report.data import ClassCounts, MetricRow, RebalanceInfo


def _finding(kind, feature, severity, split="train"):
  return Finding(kind=kind, feature=feature, split=split, severity=severity, expected="e",
                 found=f"{kind} on {feature}", fix="f")


def _pair(tmp_path):
  previous = report_test.full_data(tmp_path)
  previous.run_id = "run-1"
  previous.findings = FindingsReport([_finding("MISSING_VALUES", "sex", "info"),
                                      _finding("OUTLIERS", "body_mass_g", "warn"),
                                      _finding("CLASS_IMBALANCE", "species", "warn")])
  current = report_test.full_data(tmp_path)
  current.run_id = "run-2"
  current.findings = FindingsReport([_finding("MISSING_VALUES", "sex", "warn"),  # re-graded
                                     _finding("OUTLIERS", "body_mass_g", "warn"),  # the same
                                     _finding("DISGUISED_MISSING_VALUES", "flipper", "block")])
  current.evaluation.overall = [MetricRow("sparse_categorical_accuracy", 0.91),
                                MetricRow("recall (macro average)", 0.9655)]
  current.rebalance = RebalanceInfo("smotenc", [ClassCounts(
      "train", before={"Adelie": 96, "Chinstrap": 30, "Gentoo": 63}, after={})])
  return current, previous


def test_findings_metrics_and_class_counts(tmp_path):
  current, previous = _pair(tmp_path)
  found = changes.compare(current, previous)
  assert found.previous_run_id == "run-1"
  assert found.previous_headline == "trained, blessed and pushed" and found.previous_blessed
  assert [(c.kind, c.before, c.after) for c in found.new_findings] == [
      ("DISGUISED_MISSING_VALUES", "", "block")]
  assert [(c.kind, c.before, c.after) for c in found.resolved_findings] == [
      ("CLASS_IMBALANCE", "warn", "")]
  assert [(c.kind, c.before, c.after) for c in found.changed_findings] == [
      ("MISSING_VALUES", "info", "warn")]
  assert found.findings[0].kind == "DISGUISED_MISSING_VALUES"  # worst first
  accuracy = next(m for m in found.metrics if m.name == "sparse_categorical_accuracy")
  assert accuracy.before == 0.9714 and accuracy.after == 0.91
  assert round(accuracy.change, 4) == -0.0614
  recall = next(m for m in found.metrics if m.name == "recall (macro average)")
  assert recall.change == 0
  assert [(c.label, c.before, c.after) for c in found.class_counts] == [
      ("Adelie", 96, 96), ("Chinstrap", 45, 30), ("Gentoo", 63, 63)]
  # Both runs carry no schema artifact here.
  assert found.schema_diff is None and "recorded no schema" in found.schema_note


def test_the_page_names_the_new_finding_and_the_dropped_metric(tmp_path):
  current, previous = _pair(tmp_path)
  current.changes = changes.compare(current, previous)
  page = report.render_report(current)
  section = page[page.index('<section id="changes">'):]
  section = section[:section.index("</section>")]
  assert 'data-change="new" data-kind="DISGUISED_MISSING_VALUES"' in section
  assert 'data-change="resolved" data-kind="CLASS_IMBALANCE"' in section
  assert 'data-change="changed" data-kind="MISSING_VALUES"' in section
  row = section[section.index('data-metric="sparse_categorical_accuracy"'):]
  row = row[:row.index("</tr>")]
  assert 'class="dropped-metric"' in row and "-0.0614" in row
  assert "run-1" in section and "trained, blessed and pushed" in section


def test_first_run_and_not_compared(tmp_path):
  data = report_test.full_data(tmp_path)
  data.first_run = True
  assert "this is the first run of trainguard-penguins" in report.render_report(data)
  data.first_run = False
  assert "no earlier run was compared" in report.render_report(data)


def test_schema_diff_between_two_schema_artifacts(tmp_path):
  current, previous = _pair(tmp_path)
  original = os.path.join(schemas.schema_dir("penguins"), "schema.pbtxt")
  with open(original, encoding="utf-8") as f:
    text = f.read()
  moved = tmp_path / "schema.pbtxt"
  # The new schema drops one island from the domain: the review names the feature and the value.
  assert '"Torgersen"' in text
  moved.write_text(text.replace('value: "Torgersen"', "", 1), encoding="utf-8")
  previous.schema_path, current.schema_path = original, str(moved)
  found = changes.compare(current, previous)
  assert "Torgersen" in found.schema_diff and "`island`" in found.schema_diff, found.schema_diff
  current.schema_path = original
  same = changes.compare(current, previous)
  assert same.schema_diff == "no changes" and "same schema artifact" in same.schema_note


def test_class_counts_from_the_label_statistics_when_nothing_was_rebalanced(tmp_path):
  from trainguard.report import features, features_test  # pylint: disable=g-import-not-at-top
  current, previous = _pair(tmp_path)
  current.rebalance = previous.rebalance = None
  previous.features = features.feature_cards(features_test.penguin_like(), [], "species")
  counts, source = changes.class_counts(previous)
  assert counts == {"Adelie": 90, "Gentoo": 70, "Chinstrap": 40} and "statistics" in source


def test_a_previous_run_that_cannot_be_read_is_a_note(tmp_path):
  data = report_test.full_data(tmp_path)

  class Broken:
    paths = None

  changes.add_changes(data, Broken(), previous=Broken())
  assert data.changes is None and data.notes and "previous run" in data.notes[0]
