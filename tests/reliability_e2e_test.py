"""Crash and resume, reproducibility, and two pipelines on one metadata store, end to end.

Three real runs of `trainguard run` on 172 penguins rows, one epoch (docs/reliability.md):
- `a` and `b`: the same rows under two file names, so two pipelines (trainguard-a, trainguard-b),
  started at the same moment against the same SQLite metadata store;
- `a` again in a second work directory, killed with SIGKILL while Transform runs, then rerun.
Run `a` is the uninterrupted reference for the resumed one and, with `b`, one of the two clean runs
whose outputs must be identical.
"""
import os
import signal
import sqlite3
from typing import Dict

import pytest
from conftest import CompletedRun as Run  # pylint: disable=g-bad-import-order
from crash_helpers import (  # pylint: disable=g-bad-import-order
    assert_same_outputs, finish as _finish, kill_during, metric_differences as _metric_differences,
    penguins_rows as _penguins_rows, start as _start, store as _store)


@pytest.fixture(scope="module")
def concurrent_runs(tmp_path_factory) -> Dict[str, Run]:
  """Pipelines trainguard-a and trainguard-b, started together on one metadata store."""
  workdir = str(tmp_path_factory.mktemp("shared-store"))
  procs = {name: _start(_penguins_rows(os.path.join(workdir, "input", f"{name}.csv")), workdir)
           for name in ("a", "b")}
  return {name: _finish(proc, workdir, f"trainguard-{name}") for name, proc in procs.items()}


@pytest.fixture(scope="module")
def crashed_and_resumed(tmp_path_factory):
  """Run `a` in its own work directory, SIGKILLed once Transform has been running for a few
  seconds, then the same command again."""
  workdir = str(tmp_path_factory.mktemp("crash"))
  csv_path = _penguins_rows(os.path.join(workdir, "input", "a.csv"))
  killed = kill_during(csv_path, workdir, "Transform", 5)  # the executor is now analysing
  assert killed is not None, "Transform finished before the kill"
  resumed = _finish(_start(csv_path, workdir), workdir, "trainguard-a")
  return killed, resumed


# ---------------------------------------------------------------------------------------------
# Two pipelines at the same time on one SQLite store


def test_two_pipelines_on_one_store_both_complete(concurrent_runs):
  from trainguard.pipeline import results  # pylint: disable=g-import-not-at-top
  for run in concurrent_runs.values():
    assert run.returncode == 0, run.output[-4000:]
    summary = results.latest_run(run.paths)
    assert summary.complete, summary.describe()
    assert summary.pushed_model and summary.pushed_model.startswith(run.paths.serving_model_dir)


def test_the_shared_store_is_intact_and_keeps_the_pipelines_apart(concurrent_runs):
  workdir = concurrent_runs["a"].workdir
  with sqlite3.connect(os.path.join(workdir, "metadata.sqlite")) as db:
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
  store = _store(workdir)
  assert sorted(c.name for c in store.get_contexts_by_type("pipeline")) == [
      "trainguard-a", "trainguard-b"]
  for name in ("a", "b"):
    pipeline = store.get_context_by_type_and_name("pipeline", f"trainguard-{name}")
    executions = store.get_executions_by_context(pipeline.id)
    artifacts = store.get_artifacts_by_context(pipeline.id)
    assert len(executions) >= 9 and artifacts
    root = concurrent_runs[name].paths.pipeline_root
    assert all(a.uri.startswith(root) for a in artifacts), "an artifact of the other pipeline"


# ---------------------------------------------------------------------------------------------
# Reproducible: two clean runs with the same seed


def test_same_seed_gives_byte_identical_rebalanced_examples(concurrent_runs):
  from trainguard.pipeline import results  # pylint: disable=g-import-not-at-top
  a = results.latest_run(concurrent_runs["a"].paths)
  b = results.latest_run(concurrent_runs["b"].paths)
  assert_same_outputs(a, b)


def test_same_seed_same_eval_metrics(concurrent_runs):
  """With op determinism on in the Trainer, two runs here gave bit-identical models: every metric
  equal except PR-AUC, 2e-16 apart (TFMA sums in Beam's bundle order). The tolerance leaves room
  for that and for other CPUs' reduction orders."""
  from trainguard.pipeline import results  # pylint: disable=g-import-not-at-top
  a = results.latest_run(concurrent_runs["a"].paths).eval_metrics
  b = results.latest_run(concurrent_runs["b"].paths).eval_metrics
  assert a and set(a) == set(b)
  assert _metric_differences(a, b) == {}


# ---------------------------------------------------------------------------------------------
# Crash during Transform, then resume


def test_killed_run_left_no_live_artifact_from_transform(crashed_and_resumed):
  from ml_metadata.proto import metadata_store_pb2  # pylint: disable=g-import-not-at-top
  killed, _ = crashed_and_resumed
  assert killed.returncode == -signal.SIGKILL
  store = _store(killed.workdir)
  runs = sorted(store.get_contexts_by_type("pipeline_run"), key=lambda c: c.id)
  assert len(runs) == 2
  first = {e.id: e for e in store.get_executions_by_context(runs[0].id)}
  transform = [e for e in first.values()
               if "Transform" in store.get_execution_types_by_id([e.type_id])[0].name]
  assert transform and all(e.last_known_state != metadata_store_pb2.Execution.COMPLETE
                           for e in transform)
  events = store.get_events_by_execution_ids([e.id for e in transform])
  outputs = store.get_artifacts_by_id([e.artifact_id for e in events
                                       if e.type == metadata_store_pb2.Event.OUTPUT])
  assert all(a.state != metadata_store_pb2.Artifact.LIVE for a in outputs)
  assert not any("Trainer" in store.get_execution_types_by_id([e.type_id])[0].name
                 for e in first.values())


def test_rerun_completes_and_reuses_the_upstream_executions(crashed_and_resumed):
  from trainguard.pipeline import results  # pylint: disable=g-import-not-at-top
  _, resumed = crashed_and_resumed
  assert resumed.returncode == 0, resumed.output[-4000:]
  summary = results.latest_run(resumed.paths)
  states = {node: e.state for node, e in summary.executions.items()}
  assert {n for n, s in states.items() if s == "CACHED"} >= {
      "CsvExampleGen", "StatisticsGen", "ImportSchemaGen", "DataGuard"}, states
  assert states["Transform"] == "COMPLETE" and summary.complete and summary.pushed_model


def test_resumed_run_equals_an_uninterrupted_one(crashed_and_resumed, concurrent_runs):
  from trainguard.pipeline import results  # pylint: disable=g-import-not-at-top
  _, resumed = crashed_and_resumed
  after_crash = results.latest_run(resumed.paths)
  uninterrupted = results.latest_run(concurrent_runs["a"].paths)
  assert_same_outputs(after_crash, uninterrupted)
  assert _metric_differences(after_crash.eval_metrics, uninterrupted.eval_metrics) == {}
