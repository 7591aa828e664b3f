"""The `trainguard` command: usage errors and bad input in-process, before TensorFlow is imported."""
import os
import subprocess
import sys

import pytest

from trainguard import cli, errors


def _csv(tmp_path, text, name="data.csv"):
  path = tmp_path / name
  path.write_text(text)
  return str(path)


def _good(tmp_path, name="data.csv"):
  rows = ["x,c,y"] + [f"{i},{'r' if i % 2 else 's'},{'a' if i % 3 else 'b'}" for i in range(30)]
  return _csv(tmp_path, "\n".join(rows) + "\n", name)


@pytest.mark.parametrize("argv, message", [
    (["diagnose", "{tmp}/nope.csv", "--label", "y"], "no such file"),
    (["run", "{good}", "--label", "nope"], "no column named 'nope' for --label"),
    (["run", "{good}", "--label", "y", "--epochs", "-1"], "--epochs must be at least 1, got -1"),
    (["run", "{good}", "--label", "y", "--delimiter", "ab"], "--delimiter must be one character"),
    (["run", "{good}", "--label", "y", "--workdir", "{good}/sub"], "is a file, not a folder"),
    (["run", "{good}", "--label", "y", "--schema", "{tmp}"], "no schema.pbtxt in it"),
    (["run", "{good}", "--label", "y", "--eval-data", "{other}"], "both files need the same header"),
])
def test_usage_errors_exit_2_with_a_message(tmp_path, capsys, argv, message):
  good = _good(tmp_path)
  other = _csv(tmp_path, "x,y\n" + "1,a\n2,b\n" * 6, "other.csv")
  argv = [a.format(tmp=tmp_path, good=good, other=other) for a in argv]
  assert cli.main(argv + ["--workdir", str(tmp_path / "w")] if "--workdir" not in argv
                  else argv) == cli.EXIT_USAGE
  err = capsys.readouterr().err
  assert err.startswith("trainguard: error: ")
  assert message in err
  assert "Traceback" not in err


def test_unknown_rebalancing_strategy_is_an_argparse_error(tmp_path, capsys):
  assert cli.main(["run", _good(tmp_path), "--label", "y", "--rebalance", "smoote"]) == 2
  assert "invalid choice: 'smoote'" in capsys.readouterr().err


def test_policy_naming_an_unknown_feature_is_rejected(tmp_path, capsys):
  folder = tmp_path / "schema"
  assert cli.main(["schema", "init", _good(tmp_path), "--label", "y", "--out", str(folder)]) == 0
  (folder / "policy.yaml").write_text("features:\n  colour: {impute: most_frequent}\n")
  code = cli.main(["diagnose", _good(tmp_path), "--label", "y", "--schema", str(folder),
                   "--workdir", str(tmp_path / "w")])
  assert code == cli.EXIT_USAGE
  assert "features.colour names a feature the schema does not have" in capsys.readouterr().err


@pytest.mark.parametrize("schema_text, message", [
    ('feature { name: "x" type: FLOT }\n', "does not parse as a TFDV schema"),
    ('feature { name: "x" type: INT }\n', "label 'y' is not a feature of the schema"),
])
def test_unusable_curated_schema_is_rejected(tmp_path, capsys, schema_text, message):
  folder = tmp_path / "schema"
  folder.mkdir()
  (folder / "schema.pbtxt").write_text(schema_text)
  code = cli.main(["run", _good(tmp_path), "--label", "y", "--schema", str(folder),
                   "--workdir", str(tmp_path / "w")])
  assert code == cli.EXIT_USAGE
  assert message in capsys.readouterr().err


def test_schema_init_writes_a_reviewable_pair_and_refuses_to_overwrite(tmp_path, capsys):
  out = tmp_path / "schemas" / "mine"
  assert cli.main(["schema", "init", _good(tmp_path), "--label", "y", "--out", str(out)]) == 0
  assert (out / "schema.pbtxt").read_text().count("feature {") == 3
  assert "rebalance:" in (out / "policy.yaml").read_text()
  assert cli.main(["schema", "init", _good(tmp_path), "--label", "y", "--out", str(out)]) == 2
  assert "pass --force" in capsys.readouterr().err


def test_rejections_happen_before_tensorflow_is_imported(tmp_path, without_heavy_imports):
  without_heavy_imports(
      "from trainguard import cli\n"
      f"assert cli.main(['run', {str(tmp_path / 'nope.csv')!r}, '--label', 'y']) == 2\n"
      f"assert cli.main(['diagnose', {_good(tmp_path)!r}, '--label', 'q']) == 2\n")


def test_console_script_help_and_exit_code(tmp_path):
  script = os.path.join(os.path.dirname(sys.executable), "trainguard")
  proc = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)
  assert proc.returncode == 0 and "diagnose" in proc.stdout and "schema" in proc.stdout
  proc = subprocess.run([script, "run", str(tmp_path), "--label", "y"], capture_output=True,
                        text=True, timeout=60)
  assert proc.returncode == 2 and "is a directory" in proc.stderr


def test_diverged_training_is_a_data_problem_and_anything_else_internal():
  class TrainingDivergedError(errors.DataError):  # as models/keras_model/model.py, without TF
    context = "training diverged"
  try:
    try:
      raise TrainingDivergedError("training loss became nan at epoch 3; likely causes: ...")
    except TrainingDivergedError as inner:
      raise RuntimeError("component Trainer failed") from inner
  except RuntimeError as outer:
    failed = cli.PipelineFailed(outer, "/logs/run.log")
  code, message = cli.failure_message(failed)
  assert code == cli.EXIT_BLOCKED
  assert message.startswith("trainguard: training diverged: training loss became nan")
  assert "full log: /logs/run.log" in message
  code, message = cli.failure_message(cli.PipelineFailed(KeyError("x"), "/l.log"))
  assert code == cli.EXIT_INTERNAL and "internal error" in message


def test_rebalance_settings_that_do_not_fit_and_a_full_disk_are_the_users_to_fix():
  from trainguard.components.rebalance.params import RebalanceError  # pylint: disable=g-import-not-at-top
  try:
    raise RuntimeError("component Rebalance failed") from RebalanceError(
        "class 1 of split 'train' has 3 row(s), but strategy='smote' with k_neighbors=5 ...")
  except RuntimeError as outer:
    code, message = cli.failure_message(cli.PipelineFailed(outer, "/l.log"))
  assert code == cli.EXIT_USAGE
  assert "Rebalance cannot use the policy's settings on this data: class 1" in message
  full = OSError(28, "No space left on device", "/w/pipelines/p/Transform/7/x.gz")
  code, message = cli.failure_message(cli.PipelineFailed(full, "/l.log"))
  assert code == cli.EXIT_USAGE
  assert "could not write /w/pipelines/p/Transform/7/x.gz (No space left on device)" in message
  assert "free space" in message


def test_run_and_schema_init_read_the_csv_once_to_profile_it_and_once_to_stage_it(
    tmp_path, monkeypatch):
  import builtins  # pylint: disable=g-import-not-at-top
  from trainguard import preflight  # pylint: disable=g-import-not-at-top
  from trainguard.preflight import staging as stage_module  # pylint: disable=g-import-not-at-top
  good = _good(tmp_path)
  calls, opened = [], []

  def counted(name, function):
    def wrapper(*args, **kwargs):
      calls.append(name)
      return function(*args, **kwargs)
    return wrapper

  def counted_open(file, *args, **kwargs):
    if os.fspath(file) == good:
      opened.append(file)
    return real_open(file, *args, **kwargs)

  real_open = builtins.open
  for name in ("inspect", "stage"):
    monkeypatch.setattr(preflight, name, counted(name, getattr(preflight, name)))
  monkeypatch.setattr(builtins, "open", counted_open)
  monkeypatch.setattr(stage_module, "_stage_rows", None)  # staging copies blocks, parses no row
  args = cli.build_parser().parse_args(["run", good, "--label", "y", "--workdir",
                                        str(tmp_path / "w")])
  preflight.prepare(cli.run_options_of(args))
  assert calls == ["inspect", "stage"]
  assert len(opened) == 3  # the header, the profiling pass, the staging copy
  calls.clear()
  opened.clear()
  assert cli.main(["schema", "init", good, "--label", "y", "--out", str(tmp_path / "s")]) == 0
  assert calls == ["inspect"] and len(opened) == 2


def test_diagnose_json_prints_one_json_document_and_the_rest_to_stderr(tmp_path, capsys,
                                                                       monkeypatch):
  import json  # pylint: disable=g-import-not-at-top
  import types  # pylint: disable=g-import-not-at-top
  from trainguard.components.data_guard import findings  # pylint: disable=g-import-not-at-top

  def fake_run_pipeline(plan, options, include_training):
    assert not include_training
    print("a line TFX printed (--verbose)")
    finding = findings.Finding(kind="CLASS_IMBALANCE", feature="y", split="train", severity="warn",
                      source="dataset", expected="balanced", found="2:1", fix="rebalance")
    return types.SimpleNamespace(findings=findings.FindingsReport([finding], "<default policy>"),
                                 report_path=str(tmp_path / "report.html"),
                                 log_path=str(tmp_path / "run.log"))

  monkeypatch.setattr(cli, "run_pipeline", fake_run_pipeline)
  argv = ["diagnose", _good(tmp_path), "--label", "y", "--workdir", str(tmp_path / "w")]
  assert cli.main(argv + ["--json"]) == cli.EXIT_OK
  out, err = capsys.readouterr()
  report = json.loads(out)  # the whole of stdout: no "Extra data"
  assert [f["kind"] for f in report["findings"]] == ["CLASS_IMBALANCE"]
  assert f"report:          {tmp_path / 'report.html'}" in err
  assert f"log:             {tmp_path / 'run.log'}" in err
  assert "a line TFX printed" in err
  assert cli.main(argv) == cli.EXIT_OK  # without --json the paths stay on stdout for people
  out, _ = capsys.readouterr()
  assert "CLASS_IMBALANCE" in out and "report:          " in out
