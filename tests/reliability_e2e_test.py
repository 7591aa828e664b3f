"""Crash and resume, reproducibility, and two pipelines on one metadata store, end to end.

Three real runs of `trainguard run` on 172 penguins rows, one epoch (docs/reliability.md):
- `a` and `b`: the same rows under two file names, so two pipelines (trainguard-a, trainguard-b),
  started at the same moment against the same SQLite metadata store;
- `a` again in a second work directory, killed with SIGKILL while Transform runs, then rerun.
Run `a` is the uninterrupted reference for the resumed one and, with `b`, one of the two clean runs
whose outputs must be identical.
"""
import hashlib
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from typing import Dict, List

import pytest
from conftest import CompletedRun as Run  # pylint: disable=g-bad-import-order

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Metrics of two runs with the same seed agree to this (see test_same_seed_same_eval_metrics).
METRIC_TOLERANCE = 1e-6


def _penguins_rows(path: str) -> str:
  from trainguard.pipeline import datasets  # pylint: disable=g-import-not-at-top
  with open(datasets.penguins_source_csv()) as f:
    lines = f.readlines()
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w") as out:
    out.writelines([lines[0]] + lines[1::2])  # 172 rows, all three species
  return path


def _command(csv_path: str, workdir: str) -> List[str]:
  from trainguard import schemas  # pylint: disable=g-import-not-at-top
  return [os.path.join(os.path.dirname(sys.executable), "trainguard"), "run", csv_path,
          "--label", "species", "--schema", schemas.schema_dir("penguins"), "--epochs", "1",
          "--seed", "7", "--workdir", workdir]


def _start(csv_path: str, workdir: str) -> subprocess.Popen:
  return subprocess.Popen(_command(csv_path, workdir), cwd=REPO, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _finish(proc: subprocess.Popen, workdir: str, name: str) -> Run:
  output, _ = proc.communicate(timeout=1800)
  with open(os.path.join(workdir, f"{name}-{time.time():.0f}.out"), "w") as f:
    f.write(output)
  return Run(workdir, name, proc.returncode, output)


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
  proc = _start(csv_path, workdir)
  seen = []
  for line in proc.stdout:
    seen.append(line)
    if line.strip().startswith("Transform …"):
      time.sleep(5)  # the executor is now analysing (TensorFlow graph, Beam)
      break
  killed_at_transform = proc.poll() is None and seen and seen[-1].strip() == "Transform …"
  os.killpg(proc.pid, signal.SIGKILL)
  proc.wait(timeout=60)
  assert killed_at_transform, "".join(seen)[-3000:]
  killed = Run(workdir, "trainguard-a", proc.returncode, "".join(seen))
  resumed = _finish(_start(csv_path, workdir), workdir, "trainguard-a")
  return killed, resumed


def _store(workdir: str):
  from trainguard.pipeline import results  # pylint: disable=g-import-not-at-top
  return results.metadata_store(os.path.join(workdir, "metadata.sqlite"))


def _files(uri: str) -> Dict[str, str]:
  """Relative path → sha256 of every file under an artifact's uri (or of the one file `uri`)."""
  if os.path.isfile(uri):
    with open(uri, "rb") as f:
      return {os.path.basename(uri): hashlib.sha256(f.read()).hexdigest()}
  out = {}
  for folder, _, names in os.walk(uri):
    for name in names:
      path = os.path.join(folder, name)
      with open(path, "rb") as f:
        out[os.path.relpath(path, uri)] = hashlib.sha256(f.read()).hexdigest()
  return out


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


def _metric_differences(a: Dict[str, float], b: Dict[str, float]) -> Dict[str, tuple]:
  """Metrics that differ by more than METRIC_TOLERANCE (two undefined values, NaN, agree)."""
  return {k: (v, b.get(k)) for k, v in a.items()
          if not (math.isnan(v) and math.isnan(b.get(k, 0.0)))
          and not abs(v - b.get(k, math.inf)) <= METRIC_TOLERANCE}


def assert_same_outputs(run, other):
  """What two runs of the same rows and seed must share, byte for byte where bytes are ours.

  CsvExampleGen's splits, Rebalance's resampled train split and its report: byte-identical (our
  CsvExampleGen writes features in key order and orders each shard by a keyed hash of its records;
  Rebalance hashes and writes canonical bytes). Transform's examples and the validation and eval splits
  Rebalance copies from them: the same examples in the same order, not the same bytes: Transform serializes
  each example's feature map in a per-process hash order. Transform's learned values (vocabularies, metadata): identical
  files; its saved_model.pb is not byte-stable (TensorFlow's generated function names)."""
  for split in ("Split-train", "Split-validation", "Split-eval"):
    mine = _files(os.path.join(run.artifact_uri("CsvExampleGen", "examples"), split))
    assert mine and mine == _files(
        os.path.join(other.artifact_uri("CsvExampleGen", "examples"), split)), split
  for path in ("Split-train", "rebalance.json"):
    ours = _files(os.path.join(run.artifact_uri("Rebalance", "rebalanced_examples"), path))
    assert ours and ours == _files(
        os.path.join(other.artifact_uri("Rebalance", "rebalanced_examples"), path)), path
  for node, key in (("Transform", "transformed_examples"), ("Rebalance", "rebalanced_examples")):
    for split in ("train", "validation", "eval"):
      mine = _examples(run.artifact_uri(node, key), split)
      assert mine and mine == _examples(other.artifact_uri(node, key), split), (node, split)
  for part in ("transform_fn/assets", "transformed_metadata"):
    mine = _files(os.path.join(run.artifact_uri("Transform", "transform_graph"), part))
    assert mine == _files(os.path.join(other.artifact_uri("Transform", "transform_graph"), part))
  assert run.eval_metrics.keys() == other.eval_metrics.keys()


def _examples(uri: str, split: str) -> List[bytes]:
  """The split's examples in file order, each serialized canonically (feature keys sorted)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  folder = os.path.join(uri, f"Split-{split}")
  paths = sorted(os.path.join(folder, name) for name in os.listdir(folder))
  return [tf.train.Example.FromString(r).SerializeToString(deterministic=True)
          for r in tf.data.TFRecordDataset(paths, compression_type="GZIP").as_numpy_iterator()]
