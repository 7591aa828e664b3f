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
