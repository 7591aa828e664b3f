"""Crash-and-resume helpers shared by tests/reliability_e2e_test.py (the one case CI runs:
Transform) and scripts/crash_every_component.py (every component, run by hand:
docs/reliability.md).

Kept out of the test module so the script can import them without pytest collecting anything: a
run of `trainguard run` on penguins rows, a SIGKILL of its whole process group once a component's
progress line has been up for a while, what ML Metadata must then hold, and what a resumed run must
share with an uninterrupted one.
"""
import hashlib
import math
import os
import signal
import subprocess
import sys
import time
from typing import Dict, List, Optional

from conftest import CompletedRun as Run  # pylint: disable=g-bad-import-order

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Metrics of two runs with the same seed agree to this (see test_same_seed_same_eval_metrics).
METRIC_TOLERANCE = 1e-6
# The components a run executes, in the order LocalDagRunner runs them (ImportSchemaGen has no
# input, so it may come anywhere before DataGuard).
ORDER = ("CsvExampleGen", "ImportSchemaGen", "StatisticsGen", "DataGuard", "Transform",
         "Rebalance", "Trainer", "Evaluator", "Pusher")


def penguins_rows(path: str) -> str:
  """Every other penguins row (172, all three species) written to `path`."""
  from trainguard.pipeline import datasets  # pylint: disable=g-import-not-at-top
  with open(datasets.penguins_source_csv()) as f:
    lines = f.readlines()
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w") as out:
    out.writelines([lines[0]] + lines[1::2])  # 172 rows, all three species
  return path


def command(csv_path: str, workdir: str) -> List[str]:
  from trainguard import schemas  # pylint: disable=g-import-not-at-top
  return [os.path.join(os.path.dirname(sys.executable), "trainguard"), "run", csv_path,
          "--label", "species", "--schema", schemas.schema_dir("penguins"), "--epochs", "1",
          "--seed", "7", "--workdir", workdir]


def start(csv_path: str, workdir: str) -> subprocess.Popen:
  return subprocess.Popen(command(csv_path, workdir), cwd=REPO, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, start_new_session=True)


def finish(proc: subprocess.Popen, workdir: str, name: str) -> Run:
  output, _ = proc.communicate(timeout=1800)
  with open(os.path.join(workdir, f"{name}-{time.time():.0f}.out"), "w") as f:
    f.write(output)
  return Run(workdir, name, proc.returncode, output)


def kill_during(csv_path: str, workdir: str, node: str, seconds: float) -> Optional[Run]:
  """Starts the run and SIGKILLs its process group `seconds` after the progress line `node …`.

  Returns the killed run, or None when the kill missed: the run ended, or `node` finished, first
  (the last line seen is then not `node …`). The output seen is in the returned run (or lost)."""
  proc = start(csv_path, workdir)
  seen = []
  for line in proc.stdout:
    seen.append(line)
    if line.strip() == f"{node} …":
      time.sleep(seconds)
      break
  hit = proc.poll() is None and seen and seen[-1].strip() == f"{node} …"
  os.killpg(proc.pid, signal.SIGKILL)
  proc.wait(timeout=60)
  with open(os.path.join(workdir, f"killed-{node}-{time.time():.0f}.out"), "w") as f:
    f.write("".join(seen))
  name = f"trainguard-{os.path.splitext(os.path.basename(csv_path))[0]}"
  return Run(workdir, name, proc.returncode, "".join(seen)) if hit else None


def store(workdir: str):
  from trainguard.pipeline import results  # pylint: disable=g-import-not-at-top
  return results.metadata_store(os.path.join(workdir, "metadata.sqlite"))


def killed_run_problems(killed: Run, node: str) -> List[str]:
  """What is wrong with ML Metadata after `killed`, the first run of its workdir, was SIGKILLed
  during `node` (empty: nothing). A resume can only be trusted if the store says exactly what
  happened: `node` registered but not COMPLETE, no LIVE artifact as its output, every node before
  it COMPLETE, and no execution of any node after it."""
  from ml_metadata.proto import metadata_store_pb2  # pylint: disable=g-import-not-at-top
  problems = []
  if killed.returncode != -signal.SIGKILL:
    problems.append(f"exit {killed.returncode}, not SIGKILL")
  db = store(killed.workdir)
  runs = sorted(db.get_contexts_by_type("pipeline_run"), key=lambda c: c.id)
  if not runs:
    return problems + ["no pipeline run recorded"]
  by_node = {}
  for execution in db.get_executions_by_context(runs[0].id):
    type_name = db.get_execution_types_by_id([execution.type_id])[0].name
    by_node.setdefault(_node_of(db, execution, type_name), []).append(execution)
  killed_executions = by_node.get(node, [])
  if not killed_executions:
    problems.append(f"no {node} execution: killed before it was registered")
  for execution in killed_executions:
    if execution.last_known_state == metadata_store_pb2.Execution.COMPLETE:
      problems.append(f"{node} execution {execution.id} is COMPLETE")
    events = db.get_events_by_execution_ids([execution.id])
    outputs = db.get_artifacts_by_id([e.artifact_id for e in events
                                      if e.type == metadata_store_pb2.Event.OUTPUT])
    problems += [f"{node} output {a.uri} is LIVE" for a in outputs
                 if a.state == metadata_store_pb2.Artifact.LIVE]
  before, after = ORDER[:ORDER.index(node)], ORDER[ORDER.index(node) + 1:]
  for other in before:
    done = [e for e in by_node.get(other, [])
            if e.last_known_state == metadata_store_pb2.Execution.COMPLETE]
    if not done:
      problems.append(f"{other} did not complete before {node} was killed")
  problems += [f"{other} ran after {node} was killed" for other in after if other in by_node]
  return problems


def _node_of(db, execution, type_name: str) -> str:
  for context in db.get_contexts_by_execution(execution.id):
    if context.type == "node":
      return context.name.split(".", 1)[1]
  return type_name


def resumed_run_problems(resumed: Run, node: str) -> List[str]:
  """What is wrong with the rerun after a kill during `node`: it must exit 0, take every node
  before `node` from the cache, execute `node` and complete, blessed and pushed."""
  from trainguard.pipeline import results  # pylint: disable=g-import-not-at-top
  if resumed.returncode != 0:
    return [f"rerun exit {resumed.returncode}: {resumed.output[-2000:]}"]
  summary = results.latest_run(resumed.paths)
  states = {n: e.state for n, e in summary.executions.items()}
  problems = [f"{n} is {states.get(n)}, not CACHED" for n in ORDER[:ORDER.index(node)]
              if states.get(n) != "CACHED"]
  if states.get(node) != "COMPLETE":
    problems.append(f"{node} is {states.get(node)}, not COMPLETE")
  if not (summary.complete and summary.pushed_model):
    problems.append(f"rerun not complete and pushed: {states}")
  return problems


def files(uri: str) -> Dict[str, str]:
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


def metric_differences(a: Dict[str, float], b: Dict[str, float]) -> Dict[str, tuple]:
  """Metrics that differ by more than METRIC_TOLERANCE (two undefined values, NaN, agree)."""
  return {k: (v, b.get(k)) for k, v in a.items()
          if not (math.isnan(v) and math.isnan(b.get(k, 0.0)))
          and not abs(v - b.get(k, math.inf)) <= METRIC_TOLERANCE}


def assert_same_outputs(run, other):
  """What two runs of the same rows and seed must share, byte for byte where bytes are ours.

  CsvExampleGen's splits, Rebalance's resampled train split and its report: byte-identical (our
  CsvExampleGen writes features in key order and orders each shard by a keyed hash of its records;
  Rebalance hashes and writes canonical bytes). Transform's examples and the validation and eval
  splits Rebalance copies from them: the same examples in the same order, not the same bytes:
  Transform serializes each example's feature map in a per-process hash order. Transform's learned
  values (vocabularies, metadata): identical files; its saved_model.pb is not byte-stable
  (TensorFlow's generated function names)."""
  for split in ("Split-train", "Split-validation", "Split-eval"):
    mine = files(os.path.join(run.artifact_uri("CsvExampleGen", "examples"), split))
    assert mine and mine == files(
        os.path.join(other.artifact_uri("CsvExampleGen", "examples"), split)), split
  for path in ("Split-train", "rebalance.json"):
    ours = files(os.path.join(run.artifact_uri("Rebalance", "rebalanced_examples"), path))
    assert ours and ours == files(
        os.path.join(other.artifact_uri("Rebalance", "rebalanced_examples"), path)), path
  for node, key in (("Transform", "transformed_examples"), ("Rebalance", "rebalanced_examples")):
    for split in ("train", "validation", "eval"):
      mine = examples(run.artifact_uri(node, key), split)
      assert mine and mine == examples(other.artifact_uri(node, key), split), (node, split)
  for part in ("transform_fn/assets", "transformed_metadata"):
    mine = files(os.path.join(run.artifact_uri("Transform", "transform_graph"), part))
    assert mine == files(os.path.join(other.artifact_uri("Transform", "transform_graph"), part))
  assert run.eval_metrics.keys() == other.eval_metrics.keys()


def examples(uri: str, split: str) -> List[bytes]:
  """The split's examples in file order, each serialized canonically (feature keys sorted)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  folder = os.path.join(uri, f"Split-{split}")
  paths = sorted(os.path.join(folder, name) for name in os.listdir(folder))
  return [tf.train.Example.FromString(r).SerializeToString(deterministic=True)
          for r in tf.data.TFRecordDataset(paths, compression_type="GZIP").as_numpy_iterator()]
