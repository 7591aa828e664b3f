"""`trainguard run --model`: each family maps to its run_fn, the flag BASELINE_GAP's fix names
parses, and naming the model twice (`--run-fn` and `--model`) is a usage error. TensorFlow-free."""
import pytest

from trainguard import cli
from trainguard.errors import UsageError
from trainguard.pipeline import configs


def _options(*flags):
  return cli.run_options_of(cli.build_parser().parse_args(["run", "x.csv", "--label", "y",
                                                           *flags]))


def test_model_flag_chooses_the_run_fn():
  assert _options().run_fn == configs.RUN_FN
  assert _options("--model", "keras").run_fn == configs.RUN_FN
  assert _options("--model", "gradient_boosted_trees").run_fn == (
      "trainguard.models.decision_forests.model.run_fn")
  assert _options("--run-fn", "mine.model.run_fn").run_fn == "mine.model.run_fn"


def test_run_fn_and_a_second_model_family_together_are_refused():
  with pytest.raises(UsageError, match="--run-fn mine.model.run_fn and --model"):
    _options("--run-fn", "mine.model.run_fn", "--model", "gradient_boosted_trees")


def test_an_unknown_model_family_is_an_argparse_error(capsys):
  assert cli.main(["run", "x.csv", "--label", "y", "--model", "forest"]) == cli.EXIT_USAGE
  assert "gradient_boosted_trees" in capsys.readouterr().err


def test_the_model_flag_needs_no_tensorflow(without_heavy_imports):
  without_heavy_imports("from trainguard import cli\n"
                        "cli.build_parser().parse_args(['run', 'x.csv', '--label', 'y', "
                        "'--model', 'gradient_boosted_trees'])\n")


# --num-trees (issue 26): the trees' own flag, parsed and checked before TensorFlow is imported.


def _good_csv(tmp_path):
  path = tmp_path / "data.csv"
  path.write_text("\n".join(["x,c,y"] + [f"{i},{'r' if i % 2 else 's'},{'a' if i % 3 else 'b'}"
                                         for i in range(30)]) + "\n")
  return str(path)


def test_num_trees_parses_into_the_run_options():
  assert _options().num_trees is None  # the pipeline then passes configs.NUM_TREES
  assert _options("--model", "gradient_boosted_trees", "--num-trees", "40").num_trees == 40
  diagnose = cli.build_parser().parse_args(["diagnose", "x.csv", "--label", "y"])
  assert cli.run_options_of(diagnose).num_trees is None


def test_num_trees_that_is_not_a_whole_number_is_an_argparse_error(capsys):
  assert cli.main(["run", "x.csv", "--label", "y", "--num-trees", "many"]) == cli.EXIT_USAGE
  err = capsys.readouterr().err
  assert "--num-trees" in err and "invalid int value: 'many'" in err


@pytest.mark.parametrize("value", ["0", "-3"])
def test_num_trees_below_one_is_a_usage_error_naming_the_flag(tmp_path, capsys, value):
  code = cli.main(["run", _good_csv(tmp_path), "--label", "y", "--workdir", str(tmp_path / "w"),
                   "--model", "gradient_boosted_trees", "--num-trees", value])
  assert code == cli.EXIT_USAGE
  err = capsys.readouterr().err
  assert err.startswith("trainguard: error: --num-trees must be at least 1 (the most trees "
                        "--model gradient_boosted_trees grows; default 300), got " + value)
  assert "Traceback" not in err


@pytest.mark.parametrize("flags, ignored", [
    (("--model", "gradient_boosted_trees", "--learning-rate", "0.1", "--hidden-units", "8"),
     "--learning-rate, --hidden-units do not apply to --model gradient_boosted_trees"),
    (("--num-trees", "50",), "--num-trees does not apply to --model keras"),
])
def test_a_flag_the_chosen_model_does_not_read_is_ignored_with_a_warning(tmp_path, capsys,
                                                                         monkeypatch, flags,
                                                                         ignored):
  """The rule of models/model_flags.py, as --repair applies it: the run goes on, the warning says
  which flags are ignored and whose they are. The pipeline itself is not run here."""
  def stop(*args, **kwargs):
    raise KeyboardInterrupt  # main's exit 130: the pre-flight passed, the pipeline would start
  monkeypatch.setattr(cli, "run_pipeline", stop)
  code = cli.main(["run", _good_csv(tmp_path), "--label", "y", "--workdir", str(tmp_path / "w"),
                   *flags])
  assert code == 130
  warning = next(line for line in capsys.readouterr().err.splitlines() if "not apply" in line)
  assert warning.startswith("warning: " + ignored) and "ignored" in warning


def test_flags_of_the_chosen_model_and_of_both_give_no_warning(tmp_path, capsys, monkeypatch):
  monkeypatch.setattr(cli, "run_pipeline", lambda *a, **k: (_ for _ in ()).throw(
      KeyboardInterrupt()))
  assert cli.main(["run", _good_csv(tmp_path), "--label", "y", "--workdir", str(tmp_path / "w"),
                   "--model", "gradient_boosted_trees", "--num-trees", "50", "--class-weights",
                   "--seed", "3"]) == 130
  assert "not apply" not in capsys.readouterr().err


def test_num_trees_needs_no_tensorflow(without_heavy_imports):
  without_heavy_imports("from trainguard import cli\n"
                        "from trainguard.models import model_flags\n"
                        "args = cli.build_parser().parse_args(['run', 'x.csv', '--label', 'y', "
                        "'--model', 'gradient_boosted_trees', '--num-trees', '50', "
                        "'--epochs', '3'])\n"
                        "assert model_flags.ignored(cli.run_options_of(args)) == ['--epochs']\n")


@pytest.mark.parametrize("flags, wording", [
    ((), "no finding (gradients, units, the loss curve and the gradient-boosted baseline look "
         "sound)"),
    (("--model", "gradient_boosted_trees"),
     "no finding (the trees' validation loss beats the class prior's and their predictions do "
     "not collapse onto one class)"),
])
def test_a_clean_training_diagnosis_is_worded_for_the_model_that_trained(tmp_path, capsys,
                                                                         monkeypatch, flags,
                                                                         wording):
  """Issue 26: the trees have no gradients, units or baseline to vouch for."""
  import types  # pylint: disable=g-import-not-at-top
  from trainguard.components.data_guard.findings import FindingsReport  # pylint: disable=g-import-not-at-top
  summary = types.SimpleNamespace(findings=None, training_findings=FindingsReport([]),
                                  blessed=True, describe=lambda: "run: done")
  monkeypatch.setattr(cli, "run_pipeline", lambda *args, **kwargs: summary)
  assert cli.main(["run", _good_csv(tmp_path), "--label", "y", "--workdir", str(tmp_path / "w"),
                   *flags]) == cli.EXIT_OK
  assert f"Training diagnosis: {wording}." in capsys.readouterr().out


def test_a_clean_regression_diagnosis_of_the_trees_names_the_train_mean():
  from trainguard.components.data_guard.findings import FindingsReport  # pylint: disable=g-import-not-at-top
  assert cli.format_training_findings(FindingsReport([]), family="gradient_boosted_trees",
                                      regression=True) == (
      "Training diagnosis: no finding (the trees' validation loss beats predicting the train "
      "mean).")
