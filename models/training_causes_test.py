"""The join between training symptoms and data findings (in-process, no TensorFlow)."""
from trainguard.components.data_guard.findings import Finding
from trainguard.models import training_causes
from trainguard.policy import Policy


def _f(kind, feature="", split="train", severity="warn"):
  return Finding(kind=kind, feature=feature, split=split, severity=severity, expected="e",
                 found=f"{kind} {feature}", fix="f")


DATA = [_f("MISSING_VALUES", "sex", severity="info"), _f("SCALE_DISPARITY", "income"),
        _f("OUTLIERS", "age", "train"), _f("OUTLIERS", "age", "eval"),
        _f("OUTLIERS", "income"), _f("CLASS_IMBALANCE", "y"), _f("CONFLICTING_LABELS", "y")]


def test_the_named_feature_comes_first_and_each_kind_and_feature_once():
  exploding = _f("EXPLODING_GRADIENTS", "income", split="validation", severity="block")
  got = [(f.kind, f.feature) for f in training_causes.related(exploding, DATA)]
  assert got == [("SCALE_DISPARITY", "income"), ("OUTLIERS", "income"), ("OUTLIERS", "age")]


def test_collapse_points_at_the_imbalance_and_unrelated_kinds_at_nothing():
  collapse = _f("MAJORITY_COLLAPSE", split="validation")
  assert [f.kind for f in training_causes.related(collapse, DATA)] == [
      "CLASS_IMBALANCE", "CONFLICTING_LABELS"]
  assert training_causes.related(_f("NOT_LEARNING", split="validation"), [DATA[0]]) == []
  assert training_causes.related(_f("SOMETHING_ELSE"), DATA) == []


def test_every_kind_named_is_a_kind_the_policy_knows():
  from trainguard.policy_defaults import DEFAULT_BLOCK, DEFAULT_INFO, DEFAULT_WARN  # pylint: disable=g-import-not-at-top
  known = set(DEFAULT_BLOCK + DEFAULT_WARN + DEFAULT_INFO)
  for symptom, causes in training_causes.CAUSES.items():
    assert symptom in known, symptom
    assert set(causes) <= known, (symptom, set(causes) - known)
  assert Policy.from_dict({}).severity("EXPLODING_GRADIENTS", "") in ("block", "warn", "info")


def test_trainguard_run_prints_the_data_findings_under_the_symptom():
  from trainguard import cli  # pylint: disable=g-import-not-at-top
  from trainguard.components.data_guard.findings import FindingsReport  # pylint: disable=g-import-not-at-top
  exploding = _f("EXPLODING_GRADIENTS", "income", split="validation", severity="block")
  text = cli.format_training_findings(FindingsReport([exploding]), FindingsReport(DATA))
  lines = text.splitlines()
  at = lines.index("      fix: f")
  assert lines[at + 1:] == ["      in the data: SCALE_DISPARITY on income [train]: SCALE_DISPARITY "
                            "income", "      in the data: OUTLIERS on income [train]: OUTLIERS "
                            "income", "      in the data: OUTLIERS on age [train]: OUTLIERS age"]
  assert cli.format_training_findings(FindingsReport([exploding])).endswith("fix: f")
