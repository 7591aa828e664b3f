"""End to end: DataGuard stops a run on bad data before Transform, and its findings stay readable."""
import os

import pytest

from trainguard.pipeline import results


@pytest.fixture(scope="module")
def summary(blocked_run):
  return results.latest_run(blocked_run.paths)


def test_blocked_run_exits_non_zero_with_a_message_naming_the_feature(blocked_run):
  assert blocked_run.returncode == 1, blocked_run.output[-3000:]
  assert "DataGuard blocked the run" in blocked_run.output
  assert "bill_length_mm: UNEXPECTED_DATA_TYPE: expected FLOAT values" in blocked_run.output
  assert "line 6: 'broken'" in blocked_run.output  # the pre-flight keeps row numbers
  assert "bill_depth_mm: INFINITE_VALUES" in blocked_run.output
  assert "line 10: 'inf'" in blocked_run.output
  assert "Fix:" in blocked_run.output


def test_nothing_after_data_guard_executed(summary):
  assert set(summary.executions) == {"CsvExampleGen", "StatisticsGen", "ImportSchemaGen",
                                     "DataGuard"}
  assert {e.state for e in summary.executions.values()} == {"COMPLETE"}
  assert not any(key.startswith(("Transform.", "Trainer.", "Pusher."))
                 for key in summary.artifacts)
  assert summary.pushed_model is None


def test_findings_are_readable_from_ml_metadata_after_the_block(summary):
  anomalies = summary.artifacts["DataGuard.anomalies"][-1]
  assert anomalies.custom_properties["blocking_findings"].int_value >= 1
  assert summary.blocked
  blocking = summary.findings.blocking
  assert {(f.feature, f.kind) for f in blocking} == {
      ("bill_length_mm", "UNEXPECTED_DATA_TYPE"), ("bill_length_mm", "NUMERIC_COLUMN_WITH_TEXT"),
      ("bill_depth_mm", "INFINITE_VALUES")}


def test_blocked_run_still_writes_a_report_that_says_why(blocked_run):
  line = next(l for l in blocked_run.output.splitlines() if l.startswith("report:"))
  path = line.split(":", 1)[1].strip()
  assert os.path.isabs(path) and os.path.isfile(path)
  html = open(path, encoding="utf-8").read()
  assert "blocked" in html.lower()
  assert "bill_length_mm" in html and "UNEXPECTED_DATA_TYPE" in html
