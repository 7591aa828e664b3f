"""Damaged state in real pipeline runs: a disk that fills up in the middle of Transform, then
artifact folders deleted behind ML Metadata's back before a rerun, with trainguard's check and, for
comparison, without it (docs/reliability.md, "Damaged state").

    .venv/bin/python scripts/damaged_state_runs.py [--workdir DIR]

tests/damaged_state_test.py checks each piece in-process; this runs them through TFX, which the
suite cannot afford (five pipeline runs, 172 penguins rows, one epoch, seed 7, as
scripts/crash_every_component.py and with its helpers).

The full disk is simulated, not real (a small tmpfs needs root; RLIMIT_FSIZE would also stop the
log and metadata.sqlite, which are as large as Transform's files): in the child process that runs
`trainguard run`, Python's `open` (Beam's local file system writes through it) raises
OSError(ENOSPC) once 1 KiB has been written to a file under the pipeline root's Transform/ folder,
as a full disk does. Transform has then analysed the data for about 20 s and is writing its
transformed examples.
"""
import argparse
import builtins
import errno
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))

# pylint: disable-next=g-import-not-at-top,wrong-import-position
import crash_helpers as helpers  # noqa: E402

FULL_AFTER_BYTES = 1024


def _full_disk_under(prefix: str) -> None:
  """From now on, a file opened for writing under `prefix` fails like a full disk once
  FULL_AFTER_BYTES have been written to it."""
  real_open = builtins.open

  class _Filling:
    def __init__(self, f, path):
      self._f, self._path, self._written = f, path, 0

    def write(self, data):
      self._written += len(data)
      if self._written > FULL_AFTER_BYTES:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self._path)
      return self._f.write(data)

    def __getattr__(self, name):
      return getattr(self._f, name)

    def __enter__(self):
      return self

    def __exit__(self, *exc):
      return self._f.__exit__(*exc)

    def __iter__(self):
      return iter(self._f)

  def filling_open(file, mode="r", *args, **kwargs):
    f = real_open(file, mode, *args, **kwargs)
    path = os.path.abspath(os.fspath(file)) if isinstance(file, (str, bytes, os.PathLike)) else ""
    if isinstance(path, str) and path.startswith(prefix) and set(mode) & set("wax+"):
      return _Filling(f, path)
    return f

  builtins.open = io.open = filling_open


def child(prefix: str, argv) -> int:
  """`trainguard run argv` in its own process, with the disk under `prefix` filling up, or, with
  the prefix `tfx-alone`, without trainguard's check of deleted artifact folders (what TFX 1.16
  does by itself)."""
  from trainguard import cli, workdir_state  # pylint: disable=g-import-not-at-top
  if prefix == "tfx-alone":
    workdir_state.forget_missing_artifacts = lambda *args: []
  else:
    _full_disk_under(prefix)
  return cli.main(argv)


def _run(argv, workdir, name, env_prefix=None) -> helpers.Run:
  command = helpers.command(argv[0], workdir)
  if env_prefix:
    command = [sys.executable, os.path.abspath(__file__), "--child", env_prefix, "--"] + command[1:]
  proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=1800)
  output = proc.stdout + proc.stderr
  with open(os.path.join(workdir, f"{name}-{time.time():.0f}.out"), "w") as f:
    f.write(output)
  return helpers.Run(workdir, "trainguard-a", proc.returncode, output)


def full_disk_in_transform(base: str, reference):
  from ml_metadata.proto import metadata_store_pb2  # pylint: disable=g-import-not-at-top
  from trainguard.pipeline import results  # pylint: disable=g-import-not-at-top
  workdir = os.path.join(base, "full-disk")
  csv_path = helpers.penguins_rows(os.path.join(workdir, "input", "a.csv"))
  row = {"case": "disk full in Transform", "problems": []}
  started = time.time()
  prefix = os.path.join(workdir, "pipelines", "trainguard-a", "Transform") + os.sep
  failed = _run([csv_path], workdir, "full", env_prefix=prefix)
  row["full_s"] = round(time.time() - started, 1)
  message = [line for line in failed.output.splitlines() if line.startswith("trainguard: ")]
  row["exit"], row["message"] = failed.returncode, message
  if failed.returncode != 2 or "Traceback" in failed.output.split("full log:")[0]:
    row["problems"].append(f"exit {failed.returncode}: {failed.output[-3000:]}")
  if not any("could not write " + prefix in m and "No space left on device" in m
             for m in message):
    row["problems"].append("the message does not name a Transform file and the full disk")
  summary = results.latest_run(failed.paths)
  row["states"] = {n: e.state for n, e in summary.executions.items()}
  if row["states"].get("Transform") != "FAILED":
    row["problems"].append(f"Transform is {row['states'].get('Transform')}, not FAILED")
  live = [a.uri for key, found in summary.artifacts.items() if key.startswith("Transform.")
          for a in found if a.state == metadata_store_pb2.Artifact.LIVE]
  if live:
    row["problems"].append(f"LIVE Transform outputs after the full disk: {live}")
  row["partial_files"] = sum(len(n) for _, _, n in os.walk(prefix))
  rerun_started = time.time()
  resumed = _run([csv_path], workdir, "rerun")
  row["rerun_s"] = round(time.time() - rerun_started, 1)
  row["problems"] += helpers.resumed_run_problems(resumed, "Transform")
  if not row["problems"]:
    after = results.latest_run(resumed.paths)
    helpers.assert_same_outputs(after, reference)
    differences = helpers.metric_differences(after.eval_metrics, reference.eval_metrics)
    if differences:
      row["problems"].append(f"eval metrics differ: {differences}")
  row["passed"] = not row["problems"]
  return row, workdir, csv_path


def deleted_folders_tfx_alone(workdir: str, csv_path: str) -> dict:
  """The same deletions in a workdir with a complete, blessed run, rerun without trainguard's
  check: what TFX 1.16 does by itself (recorded, not judged; the case passes when the run ends)."""
  from ml_metadata.proto import metadata_store_pb2  # pylint: disable=g-import-not-at-top
  from trainguard.pipeline import results  # pylint: disable=g-import-not-at-top
  row = {"case": "deleted artifact folders, TFX alone", "problems": []}
  before = results.latest_run(helpers.Run(workdir, "trainguard-a", 0, "").paths)
  model = before.artifact_uri("Trainer", "model")
  examples = before.artifact_uri("Transform", "transformed_examples")
  shutil.rmtree(model)
  shutil.rmtree(os.path.join(examples, "Split-eval"))
  started = time.time()
  rerun = _run([csv_path], workdir, "tfx-alone", env_prefix="tfx-alone")
  row["rerun_s"] = round(time.time() - started, 1)
  row["exit"] = rerun.returncode
  row["message"] = [line for line in rerun.output.splitlines()
                    if line.startswith(("trainguard: ", "model blessed", "pushed model"))]
  after = results.latest_run(rerun.paths)
  row["states"] = {n: e.state for n, e in after.executions.items()}
  db = helpers.store(workdir)
  row["still_live"] = [a.uri for a in db.get_artifacts() if a.uri in (model, examples)
                       and a.state == metadata_store_pb2.Artifact.LIVE]
  row["passed"] = True
  return row


def deleted_folders(workdir: str, csv_path: str, reference) -> dict:
  """In a workdir with a complete, blessed run: delete the Trainer's model folder and the eval
  split of Transform's examples, then run again."""
  from ml_metadata.proto import metadata_store_pb2  # pylint: disable=g-import-not-at-top
  from trainguard.pipeline import results  # pylint: disable=g-import-not-at-top
  row = {"case": "deleted artifact folders", "problems": []}
  before = results.latest_run(helpers.Run(workdir, "trainguard-a", 0, "").paths)
  model = before.artifact_uri("Trainer", "model")
  examples = before.artifact_uri("Transform", "transformed_examples")
  shutil.rmtree(model)
  shutil.rmtree(os.path.join(examples, "Split-eval"))
  row["deleted"] = [model, os.path.join(examples, "Split-eval")]
  started = time.time()
  rerun = _run([csv_path], workdir, "after-delete")
  row["rerun_s"] = round(time.time() - started, 1)
  row["warnings"] = [line for line in rerun.output.splitlines() if line.startswith("warning: ")
                     and "marked DELETED" in line]
  if rerun.returncode != 0:
    row["problems"].append(f"exit {rerun.returncode}: {rerun.output[-3000:]}")
    return row
  if len(row["warnings"]) != 2:
    row["problems"].append(f"{len(row['warnings'])} DELETED warnings, not 2")
  after = results.latest_run(rerun.paths)
  row["states"] = {n: e.state for n, e in after.executions.items()}
  for node in ("Transform", "Rebalance", "Trainer", "Evaluator"):
    if row["states"].get(node) != "COMPLETE":
      row["problems"].append(f"{node} is {row['states'].get(node)}, not re-executed")
  db = helpers.store(workdir)
  stale = [a for a in db.get_artifacts() if a.uri in (model, examples)]
  if any(a.state == metadata_store_pb2.Artifact.LIVE for a in stale) or not stale:
    row["problems"].append("a deleted artifact is still LIVE")
  if not (after.complete and after.pushed_model):
    row["problems"].append("the rerun did not complete and push")
  if not row["problems"]:
    helpers.assert_same_outputs(after, reference)
    differences = helpers.metric_differences(after.eval_metrics, reference.eval_metrics)
    if differences:
      row["problems"].append(f"eval metrics differ: {differences}")
  row["passed"] = not row["problems"]
  return row


def main(argv=None) -> int:
  argv = sys.argv[1:] if argv is None else argv
  if argv[:1] == ["--child"]:
    return child(argv[1], argv[3:])
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--workdir", help="where the runs go (default: a temporary folder)")
  parser.add_argument("--json", help="write the results here as JSON")
  parser.add_argument("--cases", default="full-disk,deleted,tfx-alone",
                      help="which cases (default: %(default)s; deleted needs full-disk)")
  args = parser.parse_args(argv)
  cases = args.cases.split(",")
  from trainguard.pipeline import results  # pylint: disable=g-import-not-at-top
  base = os.path.abspath(args.workdir or tempfile.mkdtemp(prefix="damaged-state-"))
  began = time.time()
  ref_dir = os.path.join(base, "reference")
  ref = _run([helpers.penguins_rows(os.path.join(ref_dir, "input", "a.csv"))], ref_dir, "ref")
  if ref.returncode != 0:
    print(ref.output[-4000:], file=sys.stderr)
    return 1
  reference = results.latest_run(ref.paths)
  rows = []
  if "full-disk" in cases:
    row, workdir, csv_path = full_disk_in_transform(base, reference)
    rows.append(row)
    print(json.dumps(row), flush=True)
    if row["passed"] and "deleted" in cases:
      rows.append(deleted_folders(workdir, csv_path, reference))
      print(json.dumps(rows[-1]), flush=True)
  if "tfx-alone" in cases:  # last: it damages the reference run's folders
    rows.append(deleted_folders_tfx_alone(ref_dir, os.path.join(ref_dir, "input", "a.csv")))
    print(json.dumps(rows[-1]), flush=True)
  total = time.time() - began
  passed = sum(1 for r in rows if r.get("passed"))
  print(f"\n{passed} of {len(rows)} cases passed in {total:.0f} s (work directories: {base})")
  if args.json:
    with open(args.json, "w") as f:
      json.dump({"rows": rows, "seconds": round(total)}, f, indent=1)
  return 0 if passed == len(rows) else 1


if __name__ == "__main__":
  sys.exit(main())
