"""Damaged work-directory state, each case in-process and without a pipeline run
(docs/reliability.md, "Damaged state"): a truncated, overwritten or locked `metadata.sqlite` is an
exit 2 naming the path and the repair before TensorFlow starts; artifact folders deleted behind ML
Metadata's back are marked DELETED so nothing LIVE is not whole; a full disk inside a component
(as Beam and TensorFlow report it) is an exit 2; a report whose write fails leaves neither half a
report nor a `.tmp`.

The real-pipeline versions (a full disk in the middle of Transform, deleted folders before a rerun)
run in scripts/damaged_state_runs.py, not here: each is a pipeline run.
"""
import io
import json
import os
import subprocess
import sys
import types
from contextlib import redirect_stderr, redirect_stdout

import pytest

from trainguard import cli, errors, run, workdir_state


def _good(folder) -> str:
  path = os.path.join(folder, "data.csv")
  rows = ["x,c,y"] + [f"{i * 1.5},{'r' if i % 2 else 's'},{'a' if i % 3 else 'b'}"
                      for i in range(30)]
  with open(path, "w") as f:
    f.write("\n".join(rows) + "\n")
  return path


def _main(argv):
  err = io.StringIO()
  with redirect_stdout(io.StringIO()), redirect_stderr(err):
    code = cli.main(argv)
  return code, err.getvalue()


def _real_store(path: str, artifacts: int = 300) -> None:
  """An ML Metadata store as TFX leaves it (its own schema, several pages of rows)."""
  import ml_metadata as mlmd  # pylint: disable=g-import-not-at-top
  from ml_metadata.proto import metadata_store_pb2 as pb  # pylint: disable=g-import-not-at-top
  from trainguard.pipeline import metadata  # pylint: disable=g-import-not-at-top
  store = mlmd.MetadataStore(metadata.connection_config(path))
  type_id = store.put_artifact_type(pb.ArtifactType(name="Examples"))
  store.put_artifacts([pb.Artifact(type_id=type_id, uri=f"/nowhere/{i}", state=pb.Artifact.LIVE)
                       for i in range(artifacts)])


def _run_on_store(tmp_path, damage):
  """`trainguard run` on good data in a workdir whose store `damage(path)` has damaged."""
  workdir = tmp_path / "w"
  workdir.mkdir()
  store = str(workdir / "metadata.sqlite")
  _real_store(store)
  damage(store)
  code, err = _main(["run", _good(str(tmp_path)), "--label", "y", "--workdir", str(workdir)])
  assert code == errors.EXIT_USAGE, err
  assert err.startswith(f"trainguard: error: {store}: the ML Metadata store is ")
  assert "Traceback" not in err and err.count("\n") == 1, err
  assert not (workdir / "data").exists(), "the data was staged before the store was checked"
  return err


def test_a_truncated_store_names_the_file_and_how_to_start_afresh(tmp_path):
  err = _run_on_store(tmp_path, lambda p: os.truncate(p, os.path.getsize(p) // 2))
  assert "damaged (truncated: its header says" in err
  assert f"mv {tmp_path}/w/metadata.sqlite {tmp_path}/w/metadata.sqlite.damaged" in err


def test_a_store_cut_inside_its_header_or_overwritten_is_damaged(tmp_path):
  err = _run_on_store(tmp_path, lambda p: os.truncate(p, 50))
  assert "damaged (truncated inside its 100-byte header: the file has 50 bytes)" in err
  with open(tmp_path / "w" / "metadata.sqlite", "wb") as f:
    f.write(b"<html>not a database</html>" * 100)
  code, err = _main(["run", _good(str(tmp_path)), "--label", "y", "--workdir",
                     str(tmp_path / "w")])
  assert code == 2 and "Traceback" not in err
  assert "damaged (not an SQLite file: it does not start with 'SQLite format 3')" in err


def test_a_locked_store_names_the_file_and_how_to_find_the_holder(tmp_path, monkeypatch):
  workdir = tmp_path / "w"
  workdir.mkdir()
  store = str(workdir / "metadata.sqlite")
  _real_store(store, artifacts=3)
  holder = subprocess.Popen(
      [sys.executable, "-c", "import sqlite3, sys, time\n"
       f"c = sqlite3.connect({store!r}, isolation_level=None)\n"
       "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); sys.stdin.read()"],
      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline().strip() == "locked"
    monkeypatch.setattr(workdir_state, "LOCK_WAIT_SECONDS", 0.3)
    code, err = _main(["run", _good(str(tmp_path)), "--label", "y", "--workdir", str(workdir)])
  finally:
    holder.stdin.close()
    holder.wait(timeout=30)
  assert code == errors.EXIT_USAGE and "Traceback" not in err, err
  assert err.strip() == (
      f"trainguard: error: {store}: the ML Metadata store is locked by another process (waited "
      f"0.3 s): a sqlite3 shell or database browser with an open transaction, or a stuck run. "
      f"Find it with `fuser {store}`, end its transaction or stop it, then run again.")
  workdir_state.check_store(store)  # the lock released, the same store is fine


def test_the_store_is_checked_before_tensorflow_is_imported(tmp_path, without_heavy_imports):
  workdir = tmp_path / "w"
  workdir.mkdir()
  store = str(workdir / "metadata.sqlite")
  _real_store(store)
  os.truncate(store, os.path.getsize(store) // 3)
  without_heavy_imports(
      "from trainguard import cli\n"
      f"assert cli.main(['diagnose', {_good(str(tmp_path))!r}, '--label', 'y', '--workdir', "
      f"{str(workdir)!r}]) == 2\n")


def test_a_missing_or_empty_store_is_a_new_one(tmp_path):
  workdir_state.check_store(str(tmp_path / "metadata.sqlite"))
  (tmp_path / "metadata.sqlite").write_bytes(b"")
  workdir_state.check_store(str(tmp_path / "metadata.sqlite"))
  _real_store(str(tmp_path / "whole.sqlite"))
  workdir_state.check_store(str(tmp_path / "whole.sqlite"))


def _pipeline_store(workdir: str):
  """A store with pipeline trainguard-data's outputs as TFX records them (LIVE, in the pipeline
  context), one folder per artifact under the pipeline root, and trainguard-other's."""
  import ml_metadata as mlmd  # pylint: disable=g-import-not-at-top
  from ml_metadata.proto import metadata_store_pb2 as pb  # pylint: disable=g-import-not-at-top
  from trainguard.pipeline import metadata  # pylint: disable=g-import-not-at-top
  store = mlmd.MetadataStore(metadata.connection_config(os.path.join(workdir, "metadata.sqlite")))
  examples = store.put_artifact_type(pb.ArtifactType(
      name="Examples", properties={"split_names": pb.STRING}))
  model = store.put_artifact_type(pb.ArtifactType(name="Model"))
  context_type = store.put_context_type(pb.ContextType(name="pipeline"))
  made = {}
  for pipeline in ("trainguard-data", "trainguard-other"):
    [context] = store.put_contexts([pb.Context(type_id=context_type, name=pipeline)])
    root = os.path.join(workdir, "pipelines", pipeline)
    for node, key, type_id, splits in (("CsvExampleGen", "examples", examples, ["train", "eval"]),
                                       ("Transform", "transformed_examples", examples,
                                        ["train", "eval"]),
                                       ("Trainer", "model", model, None)):
      uri = os.path.join(root, node, key, "1")
      for split in splits or ["Format-Serving"]:
        os.makedirs(os.path.join(uri, f"Split-{split}" if splits else split))
      artifact = pb.Artifact(type_id=type_id, uri=uri, state=pb.Artifact.LIVE)
      if splits:
        artifact.properties["split_names"].string_value = json.dumps(splits)
      [artifact_id] = store.put_artifacts([artifact])
      store.put_attributions_and_associations(
          [pb.Attribution(artifact_id=artifact_id, context_id=context)], [])
      made[(pipeline, node)] = (artifact_id, uri)
  return store, made


def test_deleted_artifact_folders_are_marked_deleted_and_named(tmp_path, capsys):
  """TFX 1.16 would re-execute Trainer (its folder is gone) but keep the old model LIVE for the
  blessed-model resolver, and would take Transform's examples from the cache without their eval
  split; both are marked DELETED, the other pipeline's deleted folder is not this run's to judge."""
  import shutil  # pylint: disable=g-import-not-at-top
  from ml_metadata.proto import metadata_store_pb2 as pb  # pylint: disable=g-import-not-at-top
  workdir = str(tmp_path)
  store, made = _pipeline_store(workdir)
  shutil.rmtree(made[("trainguard-data", "Trainer")][1])
  shutil.rmtree(os.path.join(made[("trainguard-data", "Transform")][1], "Split-eval"))
  shutil.rmtree(made[("trainguard-other", "Trainer")][1])
  plan = types.SimpleNamespace(workdir=workdir, pipeline_name="trainguard-data")
  run._forget_missing_artifacts(plan)  # pylint: disable=protected-access
  err = capsys.readouterr().err
  states = {key: store.get_artifacts_by_id([made[key][0]])[0].state for key in made}
  assert states == {
      ("trainguard-data", "CsvExampleGen"): pb.Artifact.LIVE,
      ("trainguard-data", "Transform"): pb.Artifact.DELETED,
      ("trainguard-data", "Trainer"): pb.Artifact.DELETED,
      ("trainguard-other", "CsvExampleGen"): pb.Artifact.LIVE,
      ("trainguard-other", "Transform"): pb.Artifact.LIVE,
      ("trainguard-other", "Trainer"): pb.Artifact.LIVE}
  trainer_uri = made[("trainguard-data", "Trainer")][1]
  assert (f"warning: {trainer_uri}: ML Metadata records it as an output of Trainer, but its "
          "folder (or a split of it) is gone; marked DELETED, so Trainer and what depends on it "
          "run again instead of being taken from the cache.") in err
  assert "an output of Transform" in err and err.count("warning: ") == 2
  assert workdir_state.forget_missing_artifacts(
      os.path.join(workdir, "metadata.sqlite"), "trainguard-data") == []


@pytest.mark.parametrize("error, path", [
    # Beam re-raises a DoFn's OSError as a RuntimeError (errno lost, the OSError as __context__).
    (RuntimeError("OSError: [Errno 28] No space left on device: '/w/pipelines/p/Transform/"
                  "transformed_examples/5/beam-temp-x/y' [while running 'WriteExamples']"),
     "/w/pipelines/p/Transform/transformed_examples/5/beam-temp-x/y"),
    # TensorFlow's file system (SavedModel, TFRecordWriter, gfile): a ResourceExhaustedError.
    (Exception("/w/pipelines/p/Trainer/model/7/Format-Serving/variables/v.data; No space left "
               "on device"), "/w/pipelines/p/Trainer/model/7/Format-Serving/variables/v.data"),
    (OSError(122, "Disk quota exceeded", "/w/pipelines/p/Rebalance/x.gz"),
     "/w/pipelines/p/Rebalance/x.gz"),
])
def test_a_full_disk_inside_a_component_is_the_users_to_fix(error, path):
  try:
    try:
      raise error
    except Exception as inner:  # pylint: disable=broad-except
      raise RuntimeError("component failed") from inner  # TFX's launcher, in effect
  except RuntimeError as outer:
    code, message = cli.failure_message(cli.PipelineFailed(outer, "/l.log"))
  assert code == errors.EXIT_USAGE
  assert message.startswith(f"trainguard: error: a component could not write {path} (")
  assert "free space on that disk or pass another --workdir, then run again" in message


def test_a_report_whose_write_fails_leaves_the_old_report_and_no_temporary(tmp_path, monkeypatch):
  from trainguard.report import report  # pylint: disable=g-import-not-at-top
  target = tmp_path / "reports" / "p-run.html"
  monkeypatch.setattr(report, "render_report", lambda data: "<html>new</html>" + "x" * (1 << 20))
  assert report.save_report(None, str(target)) == str(target)
  assert target.read_text().startswith("<html>new")
  target.write_text("<html>the previous, whole report</html>")
  os.symlink("/dev/full", f"{target}.tmp")  # the disk fills up while the report is written
  with pytest.raises(errors.WriteError, match="No space left on device"):
    report.save_report(None, str(target))
  assert target.read_text() == "<html>the previous, whole report</html>"
  assert sorted(os.listdir(target.parent)) == ["p-run.html"]
