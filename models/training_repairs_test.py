"""The repair table, the fix texts it words, and `--repair`'s choice, in-process (TensorFlow-free):
a repair names only flags the CLI parses, and the repair run's options are what the fix says."""
import types

import pytest

from trainguard import cli, repair
from trainguard.components.data_guard.findings import Finding, FindingsReport
from trainguard.errors import DataError
from trainguard.models import training_diagnosis, training_repairs
from trainguard.models.training_diagnosis_test import _record
from trainguard.policy import Policy
from trainguard.preflight import RunOptions


def _finding(kind, severity, repair_=None):
  return Finding(kind=kind, feature="", split="train", severity=severity, expected="", found="x",
                 fix="", source="training", repair=repair_)


@pytest.mark.parametrize("kind,settings,expected", [
    ("PLATEAU", {"learning_rate": 1e-7}, {"--learning-rate": 0.01}),
    ("NOT_LEARNING", {"learning_rate": 1e-7, "epochs": 2},
     {"--learning-rate": 0.01, "--epochs": 4}),
    ("NOT_LEARNING", {"learning_rate": 0.01, "epochs": 60},
     {"--learning-rate": 0.1, "--epochs": 120}),
    ("PLATEAU", {"learning_rate": 0.1}, {}),  # at the ceiling: nothing to raise
    ("EXPLODING_GRADIENTS", {"learning_rate": 5.0}, {"--learning-rate": 0.5, "--clip-norm": 1.0}),
    ("LOSS_NOT_FINITE", {"learning_rate": 0.01, "clip_norm": 1.0},
     {"--learning-rate": 0.001, "--clip-norm": 0.5}),
    ("MAJORITY_COLLAPSE", {}, {"--class-weights": True}),
    ("MAJORITY_COLLAPSE", {"class_weights": True}, {}),
    ("OSCILLATING_LOSS", {"learning_rate": 0.01, "batch_size": 32},
     {"--learning-rate": 0.001, "--batch-size": 64}),
    ("OVERFITTING", {"hidden_units": "64,64"}, {"--hidden-units": [32, 32]}),
    ("BASELINE_GAP", {"hidden_units": "16,8", "epochs": 60},
     {"--hidden-units": [32, 16], "--epochs": 120}),
    ("VANISHING_GRADIENTS", {}, {"--learning-rate": 0.1}),  # the defaults when nothing recorded
])
def test_a_repair_is_computed_from_the_runs_settings(kind, settings, expected):
  assert training_repairs.repair(kind, settings) == expected


@pytest.mark.parametrize("kind", sorted(training_repairs.REPAIRS))
@pytest.mark.parametrize("settings", [{}, {"learning_rate": 1e-7, "epochs": 2, "clip_norm": 2.0,
                                           "hidden_units": "64,32", "batch_size": 8}])
def test_every_repair_parses_as_trainguard_run_flags(kind, settings):
  """What --repair would set, typed as a user would: the parser takes it, and the options carry
  the repaired values (the fix text names these same flags)."""
  repair_ = training_repairs.repair(kind, settings)
  args = cli.build_parser().parse_args(["run", "x.csv", "--label", "y",
                                        *training_repairs.argv(repair_)])
  options = cli.run_options_of(args)
  for flag, value in repair_.items():
    got = getattr(options, training_repairs.FLAGS[flag])
    assert (list(got) if flag == "--hidden-units" else got) == value, flag
  assert all(flag in training_repairs.text(kind, settings) for flag in repair_)


def test_every_fix_names_its_repair_and_no_flag_the_cli_lacks():
  """On hand-written records that fire each rule, the finding's repair is in its fix, word for
  word, and every `--flag` the fix names is one of `trainguard run`'s."""
  import re  # pylint: disable=g-import-not-at-top
  run_flags = set()
  for action in cli.build_parser()._subparsers._group_actions[0].choices["run"]._actions:  # pylint: disable=protected-access
    run_flags.update(action.option_strings)
  records = [_record(start={"grad_norm": 5000.0}), _record(baseline_loss=0.2)]
  plateau = _record()
  for i, epoch in enumerate(plateau["epochs"]):
    epoch["loss"] = 1.0 - i * 1e-4
  records.append(plateau)
  seen = 0
  for record in records:
    for finding in training_diagnosis.diagnose(record, Policy.from_dict({}),
                                               baseline={"trees_score": 0.99,
                                                         "network_score": 0.5}):
      assert set(re.findall(r"--[a-z][a-z-]+", finding.fix)) <= run_flags, finding.fix
      if finding.repair:
        seen += 1
        assert training_repairs.text(finding.kind, record["settings"]) in finding.fix
  assert seen >= 3


def _trees_record(class_weights):
  """What models/decision_forests/model.py records for trees that did not learn and predict one
  class for nearly every validation row."""
  recall = {"a": 1.0, "b": 0.0, "c": 0.0}
  return {"model": "gradient_boosted_trees",
          "settings": {"model": "gradient_boosted_trees", "num_trees": 12,
                       "class_weights": class_weights},
          "task": "classification", "classes": ["a", "b", "c"], "non_finite": None,
          "validation_rows": 300, "validation_class_share": {"a": 0.4, "b": 0.3, "c": 0.3},
          "baseline_loss": 1.09, "epochs": [{"epoch": 1, "val_loss": 1.2, "val_recall": recall}],
          "final": {"val_recall": recall,
                    "val_predicted_share": {"a": 0.99, "b": 0.01, "c": 0.0}}}


@pytest.mark.parametrize("class_weights", [False, True])
def test_the_trees_fixes_name_only_flags_that_reach_the_trees(class_weights):
  """Issue 26: the trees' findings (NOT_LEARNING, MAJORITY_COLLAPSE) name no network setting
  (they have no learning rate or epochs), every flag they name parses, and their repair is one
  --repair can run with --model gradient_boosted_trees."""
  import re  # pylint: disable=g-import-not-at-top
  from trainguard.models import model_flags  # pylint: disable=g-import-not-at-top
  from trainguard.pipeline import configs  # pylint: disable=g-import-not-at-top
  run_flags = set()
  for action in cli.build_parser()._subparsers._group_actions[0].choices["run"]._actions:  # pylint: disable=protected-access
    run_flags.update(action.option_strings)
  found = {f.kind: f for f in training_diagnosis.diagnose(_trees_record(class_weights),
                                                          Policy.from_dict({}))}
  assert set(found) == {"NOT_LEARNING", "MAJORITY_COLLAPSE"}
  for finding in found.values():
    named = set(re.findall(r"--[a-z][a-z-]+", finding.fix))
    assert named <= run_flags, finding.fix
    assert all(model_flags.reaches(flag, configs.GRADIENT_BOOSTED_TREES) for flag in named
               if flag in model_flags.MODEL_FLAGS), finding.fix
    assert set(finding.repair or {}) <= model_flags.FAMILY_FLAGS[configs.GRADIENT_BOOSTED_TREES]
  assert found["NOT_LEARNING"].repair is None
  assert "--model keras" in found["NOT_LEARNING"].fix
  assert found["MAJORITY_COLLAPSE"].repair == (None if class_weights
                                               else {"--class-weights": True})
  options = RunOptions(csv="x.csv", label="y", workdir="/w",
                       run_fn=configs.MODEL_RUN_FNS[configs.GRADIENT_BOOSTED_TREES],
                       class_weights=class_weights)
  new, chosen, _ = repair.repaired_options(options, list(found.values()))
  assert (chosen, new is None) == (({}, True) if class_weights else
                                   ({"--class-weights": True}, False))


def test_the_repair_travels_in_the_findings_file_and_data_findings_have_none():
  report = FindingsReport([_finding("PLATEAU", "info", {"--learning-rate": 0.01}),
                           _finding("OUTLIERS", "warn")])
  data = report.to_dict()
  assert [("repair" in f) for f in data["findings"]] == [False, True]  # warn first
  again = FindingsReport.from_dict(data)
  assert {f.kind: f.repair for f in again.findings} == {"PLATEAU": {"--learning-rate": 0.01},
                                                        "OUTLIERS": None}
  assert len({again.findings[0], again.findings[1]}) == 2  # still hashable


def test_the_most_severe_finding_wins_a_flag_two_repairs_set():
  chosen, acted = training_repairs.choose([
      _finding("PLATEAU", "info", {"--learning-rate": 0.1}),
      _finding("EXPLODING_GRADIENTS", "warn", {"--learning-rate": 0.001, "--clip-norm": 1.0}),
      _finding("OVERFITTING", "info", None),
      _finding("MAJORITY_COLLAPSE", "block", {"--class-weights": True})])
  assert chosen == {"--class-weights": True, "--learning-rate": 0.001, "--clip-norm": 1.0}
  assert [f.kind for f in acted] == ["MAJORITY_COLLAPSE", "EXPLODING_GRADIENTS"]


def test_repaired_options_change_only_what_the_repair_names():
  options = RunOptions(csv="x.csv", label="y", workdir="/w", learning_rate=1e-7, epochs=2,
                       batch_size=8, hidden_units=(16, 8))
  new, chosen, _ = repair.repaired_options(options, [
      _finding("NOT_LEARNING", "block", {"--learning-rate": 0.01, "--epochs": 4}),
      _finding("OVERFITTING", "info", {"--hidden-units": [8, 4]})])
  assert chosen == {"--learning-rate": 0.01, "--epochs": 4, "--hidden-units": [8, 4]}
  assert (new.learning_rate, new.epochs, new.hidden_units, new.batch_size) == (0.01, 4, (8, 4), 8)
  assert repair.repaired_options(options, [_finding("OVERFITTING", "info")])[0] is None


def test_the_trees_are_repaired_only_by_what_reaches_them():
  """--model gradient_boosted_trees: the network's settings (learning rate, layers) change nothing
  in the trees, so a repair run would train the same model again; class weights do reach them."""
  from trainguard.pipeline import configs  # pylint: disable=g-import-not-at-top
  options = RunOptions(csv="x.csv", label="y", workdir="/w",
                       run_fn=configs.MODEL_RUN_FNS[configs.GRADIENT_BOOSTED_TREES])
  assert repair.repaired_options(options, [
      _finding("NOT_LEARNING", "block", {"--learning-rate": 0.01, "--epochs": 4})])[0] is None
  new, chosen, acted = repair.repaired_options(options, [
      _finding("NOT_LEARNING", "block", {"--learning-rate": 0.01}),
      _finding("MAJORITY_COLLAPSE", "warn", {"--class-weights": True})])
  assert chosen == {"--class-weights": True} and new.class_weights
  assert [f.kind for f in acted] == ["MAJORITY_COLLAPSE"]


def _summary(run_id, findings, accuracy, blessed, states=None):
  return types.SimpleNamespace(
      run_id=run_id, blocked=False, blessed=blessed, report_path=f"/r/{run_id}.html",
      training_findings=FindingsReport(findings), eval_metrics={
          "sparse_categorical_accuracy": accuracy,
          "macro_average: true\n_macro_recall": accuracy / 2},  # TFMA's key of a macro average
      executions={n: types.SimpleNamespace(state=s) for n, s in (states or {}).items()})


def test_run_with_repair_retrains_once_with_the_findings_repair(monkeypatch, capsys):
  calls = []
  first = _summary("run-1", [_finding("NOT_LEARNING", "block",
                                      {"--learning-rate": 0.01, "--epochs": 4})], 0.40, False)
  second = _summary("run-2", [], 0.95, True, {"CsvExampleGen": "CACHED", "Transform": "CACHED",
                                              "Trainer": "COMPLETE", "Evaluator": "COMPLETE"})

  def run_pipeline(plan, options, include_training):
    calls.append(options)
    return [first, second][len(calls) - 1]
  monkeypatch.setattr(repair, "run_pipeline", run_pipeline)
  options = RunOptions(csv="x.csv", label="y", workdir="/w", learning_rate=1e-7, epochs=2)
  assert repair.run_with_repair(None, options) is second
  assert [(o.learning_rate, o.epochs) for o in calls] == [(1e-7, 2), (0.01, 4)]
  out = capsys.readouterr().out
  assert "retraining once with --learning-rate 0.01 --epochs 4 (for NOT_LEARNING)" in out
  lines = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip()}
  assert lines["NOT_LEARNING"] == ["block", "—"]
  assert lines["eval"] in (["accuracy", "0.400", "0.950"], ["macro", "recall", "0.200", "0.475"])
  assert "eval macro recall" in out and "0.475" in out
  assert "took from the cache: CsvExampleGen, Transform; ran: Trainer, Evaluator" in out
  assert "compares it with the first: /r/run-2.html" in out


def test_nothing_to_repair_is_one_run(monkeypatch, capsys):
  first = _summary("run-1", [_finding("OVERFITTING", "info")], 0.9, True)
  monkeypatch.setattr(repair, "run_pipeline", lambda *a, **k: first)
  assert repair.run_with_repair(None, RunOptions(csv="x", label="y", workdir="/w")) is first
  assert "no repair run" in capsys.readouterr().out


def test_a_diverged_first_run_is_repaired_from_the_error_it_raised(monkeypatch, capsys):
  diverged = DataError("training loss became nan")
  diverged.finding = _finding("LOSS_NOT_FINITE", "block",
                              {"--learning-rate": 0.001, "--clip-norm": 1.0})
  try:
    raise RuntimeError("component Trainer failed") from diverged
  except RuntimeError as outer:
    failed = repair.PipelineFailed(outer, "/l.log")
  second = _summary("run-2", [], 0.9, True)
  calls = []

  def run_pipeline(plan, options, include_training):
    calls.append(options)
    if len(calls) == 1:
      raise failed
    return second
  monkeypatch.setattr(repair, "run_pipeline", run_pipeline)
  options = RunOptions(csv="x", label="y", workdir="/w", learning_rate=0.01)
  assert repair.run_with_repair(None, options) is second
  assert (calls[1].learning_rate, calls[1].clip_norm) == (0.001, 1.0)
  out = capsys.readouterr().out
  assert "LOSS_NOT_FINITE" in out and "failed" in out
