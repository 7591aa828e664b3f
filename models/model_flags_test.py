"""Which model flag reaches which family (issue 26), in-process and TensorFlow-free: every flag of
the rule parses, each family's flags are its own, and --repair, the fix texts and the pre-flight
read the same rule."""
import pytest

from trainguard import cli
from trainguard.models import model_flags, training_repairs
from trainguard.pipeline import configs
from trainguard.preflight import RunOptions

TREES = configs.MODEL_RUN_FNS[configs.GRADIENT_BOOSTED_TREES]


def _run_flags():
  flags = set()
  for action in cli.build_parser()._subparsers._group_actions[0].choices["run"]._actions:  # pylint: disable=protected-access
    flags.update(action.option_strings)
  return flags


def test_every_model_flag_is_a_run_flag_and_every_family_a_model_choice():
  assert set(model_flags.MODEL_FLAGS) <= _run_flags()
  assert set(model_flags.FAMILY_FLAGS) == set(configs.MODEL_RUN_FNS) == set(
      model_flags.DESCRIPTIONS)
  for read in model_flags.FAMILY_FLAGS.values():
    assert read <= set(model_flags.MODEL_FLAGS)
  # Every flag a repair may set is in the rule, so --repair can filter it.
  assert set(training_repairs.FLAGS) <= set(model_flags.MODEL_FLAGS)


def test_each_flags_default_is_the_parsers():
  """A flag is "given" when it differs from its default: the rule's defaults are the CLI's."""
  options = cli.run_options_of(cli.build_parser().parse_args(["run", "x.csv", "--label", "y"]))
  for flag, (field, default) in model_flags.MODEL_FLAGS.items():
    value = getattr(options, field)
    assert (tuple(value) if isinstance(value, list) else value) == default, flag
  assert model_flags.ignored(options) == []


def test_family_of_a_run_fn_and_of_a_record():
  assert model_flags.family(None) == configs.KERAS
  assert model_flags.family(configs.RUN_FN) == configs.KERAS
  assert model_flags.family(TREES) == configs.GRADIENT_BOOSTED_TREES
  assert model_flags.family("mine.model.run_fn") is None
  assert model_flags.of_settings({"model": "gradient_boosted_trees", "num_trees": 12}) == (
      configs.GRADIENT_BOOSTED_TREES)
  assert model_flags.of_settings({"learning_rate": 0.01}) == configs.KERAS
  assert model_flags.of_settings(None) == configs.KERAS


@pytest.mark.parametrize("flag,keras,trees", [
    ("--learning-rate", True, False), ("--epochs", True, False), ("--hidden-units", True, False),
    ("--batch-size", True, False), ("--clip-norm", True, False),
    ("--num-trees", False, True), ("--class-weights", True, True), ("--seed", True, True),
])
def test_which_family_a_flag_reaches(flag, keras, trees):
  assert model_flags.reaches(flag, configs.KERAS) is keras
  assert model_flags.reaches(flag, configs.GRADIENT_BOOSTED_TREES) is trees
  assert model_flags.reaches(flag, None)  # a user's run_fn gets every setting


def test_ignored_flags_and_the_warning():
  trees = RunOptions(csv="x", label="y", workdir="/w", run_fn=TREES, learning_rate=0.1,
                     epochs=configs.EPOCHS, hidden_units=(8,), num_trees=50, class_weights=True)
  assert model_flags.ignored(trees) == ["--learning-rate", "--hidden-units"]
  assert model_flags.ignored_warning(trees) == (
      "--learning-rate, --hidden-units do not apply to --model gradient_boosted_trees (TF "
      "Decision Forests' gradient-boosted trees) and are ignored; they tune --model keras. "
      "--model gradient_boosted_trees reads --class-weights, --num-trees.")
  keras = RunOptions(csv="x", label="y", workdir="/w", run_fn=configs.RUN_FN, num_trees=50)
  assert model_flags.ignored_warning(keras).startswith(
      "--num-trees does not apply to --model keras (the network) and is ignored; it tunes "
      "--model gradient_boosted_trees. --model keras reads --epochs, --learning-rate")
  mine = RunOptions(csv="x", label="y", workdir="/w", run_fn="mine.model.run_fn", num_trees=50,
                    learning_rate=0.1)
  assert model_flags.ignored_warning(mine) is None
  # diagnose: every run-only field None, nothing given.
  assert model_flags.ignored_warning(RunOptions(csv="x", label="y", workdir="/w")) is None
