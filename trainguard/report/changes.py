"""Since the previous run: what changed between two runs of a pipeline.

A pipeline that runs every day is read as a series: the question is what is new since the last
run — a finding that appeared, one that went away or changed severity, a metric that dropped, a
schema that moved, a class that grew or shrank. Both sides are `ReportData` gathered the same way
(`gathering.gather`), so everything compared is what each run's own report shows:

- findings (DataGuard's and the training diagnosis'), matched by kind, feature and split;
- the Evaluator's overall metrics, by name (the previous run's blessing is named beside them);
- the schema each run validated against, through the schema review's diff (`schema_review.diff`,
  the same text `trainguard schema diff` prints), when the two runs used different artifacts;
- rows per class of the train split: Rebalance's counts before resampling, else the label's values
  in the train statistics.
"""
from typing import Dict, List, Optional, Tuple

from trainguard.report.data import (ClassCountChange, FindingChange, MetricChange, ReportData,
                                    RunChanges)
from trainguard.report.verdict import verdict


def compare(current: ReportData, previous: ReportData) -> RunChanges:
  """`current` against `previous` (any two gathered runs; the report uses the latest earlier run
  of the same pipeline)."""
  changes = RunChanges(previous_run_id=previous.run_id,
                       previous_headline=verdict(previous).headline,
                       previous_blessed=previous.blessed)
  changes.findings = _finding_changes(_findings(current), _findings(previous))
  changes.metrics = _metric_changes(current, previous)
  now, source = class_counts(current)
  before, previous_source = class_counts(previous)
  changes.class_counts = [ClassCountChange(label, before.get(label), now.get(label))
                          for label in dict.fromkeys(list(before) + list(now))]
  changes.class_counts_source = source or previous_source
  changes.schema_diff, changes.schema_note = _schema_diff(current, previous)
  return changes


def _findings(data: ReportData) -> Dict[Tuple[str, str, str], object]:
  found = {}
  for report in (data.findings, data.training_findings):
    for finding in (report.findings if report is not None else []):
      found[(finding.kind, finding.feature, finding.split)] = finding
  return found


_ORDER = {"block": 0, "warn": 1, "info": 2}


def _finding_changes(now: Dict, before: Dict) -> List[FindingChange]:
  """New, resolved and re-graded findings, worst first: what a reader must look at first."""
  changes = []
  for key in dict.fromkeys(list(now) + list(before)):
    after_f, before_f = now.get(key), before.get(key)
    after, was = (after_f.severity if after_f else ""), (before_f.severity if before_f else "")
    if after != was:
      changes.append(FindingChange(*key, before=was, after=after,
                                   found=(after_f or before_f).found))
  return sorted(changes, key=lambda c: (_ORDER.get(c.after or c.before, 3), bool(not c.after),
                                        c.split, c.feature, c.kind))


def _metric_changes(current: ReportData, previous: ReportData) -> List[MetricChange]:
  now = {m.name: m.value for m in (current.evaluation.overall if current.evaluation else [])}
  before = {m.name: m.value for m in (previous.evaluation.overall if previous.evaluation else [])}
  return [MetricChange(name, before.get(name), now.get(name))
          for name in dict.fromkeys(list(now) + list(before))]


def class_counts(data: ReportData) -> Tuple[Dict[str, int], str]:
  """Train rows per class, and where they come from ("" when the run has neither source)."""
  if data.rebalance is not None:
    for split in data.rebalance.splits:
      if split.split == "train" and split.before:
        return dict(split.before), "Rebalance's counts before resampling (train split)"
  label = next((c for c in data.features or [] if c.is_label), None)
  train = next((p for p in label.profiles if p.split == "train"), None) if label else None
  if train is not None and train.top_values and train.unique == len(train.top_values):
    return ({value: int(rows) for value, rows in train.top_values},
            "the label's values in the train statistics")
  return {}, ""


def _schema_diff(current: ReportData, previous: ReportData) -> Tuple[Optional[str], str]:
  if not current.schema_path or not previous.schema_path:
    return None, "not compared: " + ("this run" if not current.schema_path else
                                     "the previous run") + " recorded no schema artifact"
  if current.schema_path == previous.schema_path:
    return "no changes", "both runs validated against the same schema artifact"
  from trainguard import schema_review  # pylint: disable=g-import-not-at-top
  try:
    text = schema_review.diff(previous.schema_path, current.schema_path, "previous run", "this run",
                     level=3)
  except Exception as e:  # pylint: disable=broad-except
    return None, f"not compared: {type(e).__name__}: {e}"
  return text.strip(), ""


EARLIER = "earlier"  # compare with the latest earlier run of the same pipeline


def add_changes(data: ReportData, summary, previous=EARLIER) -> None:
  """Fills `data.changes` for the run `summary` (a `results.RunSummary`): against `previous` (a
  RunSummary), or with `EARLIER` the latest earlier run in the same metadata store, or not at all
  with None. A first run sets `data.first_run`. Never raises: a store or an earlier run that
  cannot be read adds a line to `data.notes`."""
  if previous is None:
    return
  from trainguard.report.gathering import gather  # pylint: disable=g-import-not-at-top
  try:
    if previous == EARLIER:
      from trainguard.pipeline import results  # pylint: disable=g-import-not-at-top
      previous = results.previous_run(summary)
      if previous is None:
        data.first_run = True
        return
    data.changes = compare(data, gather(previous))
  except Exception as e:  # pylint: disable=broad-except
    data.notes.append(f"could not compare with the previous run: {type(e).__name__}: {e}")
