"""schema_review: the diff on small hand-written schemas (exact markdown lines), check on each kind
of broken folder, propose on generated data (one TFDV computation shared by the module)."""
import csv
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import yaml

from trainguard import cli, schema_review
from trainguard.schemas import SCHEMAS_DIR

BASE = """
# A small curated schema.
default_environment: "TRAINING"
default_environment: "SERVING"
feature {
  name: "label" type: BYTES domain: "label"
  value_count { min: 1 max: 1 } presence { min_fraction: 1.0 min_count: 1 }
  not_in_environment: "SERVING"
}
feature {
  name: "color" type: BYTES domain: "color"
  value_count { min: 1 max: 1 } presence { min_fraction: 1.0 min_count: 1 }
}
feature {
  name: "size" type: FLOAT
  value_count { max: 1 } presence { min_fraction: 0.9 min_count: 1 }
}
feature {
  name: "count" type: INT int_domain { min: 0 max: 50 }
  value_count { min: 1 max: 1 } presence { min_fraction: 1.0 min_count: 5 }
}
string_domain { name: "label" value: "a" value: "b" }
string_domain { name: "color" value: "blue" value: "green" value: "red" }
"""


def _folder(root, name, schema=BASE, policy=None):
  folder = os.path.join(str(root), name)
  os.makedirs(folder, exist_ok=True)
  with open(os.path.join(folder, "schema.pbtxt"), "w", encoding="utf-8") as f:
    f.write(schema)
  if policy is not None:
    with open(os.path.join(folder, "policy.yaml"), "w", encoding="utf-8") as f:
      f.write(policy)
  return folder


def _diff(tmp_path, new_schema, old_schema=BASE, old_policy=None, new_policy=None):
  old = _folder(tmp_path, "old", old_schema, old_policy)
  new = _folder(tmp_path, "new", new_schema, new_policy)
  if old_policy is None and new_policy is None:
    old, new = os.path.join(old, "schema.pbtxt"), os.path.join(new, "schema.pbtxt")
  return schema_review.diff(old, new, "old", "new")


def _section(markdown, feature):
  """The lines of one feature's section, heading included."""
  lines = markdown.splitlines()
  start = next(i for i, l in enumerate(lines) if l.startswith(f"### `{feature}`"))
  end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("#")), len(lines))
  return [l for l in lines[start:end] if l]


# --- diff ------------------------------------------------------------------------------------


def test_identical_schemas_print_no_changes(tmp_path):
  assert _diff(tmp_path, BASE) == "no changes"


def test_reordering_comments_and_written_out_defaults_are_no_changes(tmp_path):
  reordered = BASE.replace('value: "blue" value: "green" value: "red"',
                           'value: "red" value: "blue" value: "green"')
  reordered = reordered.replace("# A small curated schema.", "# Reworded comment.")
  features = reordered.split("feature {")
  reordered = features[0] + "feature {" + "feature {".join(reversed(features[1:]))
  written_defaults = yaml.safe_dump({"version": 1, "preprocessing": {
      "numeric": {"impute": "mean", "scale": "z_score"}}, "features": {}})
  assert _diff(tmp_path, reordered, old_policy="version: 1\n",
               new_policy=written_defaults) == "no changes"


def test_penguins_against_itself_is_no_changes():
  penguins = os.path.join(SCHEMAS_DIR, "penguins")
  assert schema_review.diff(penguins, penguins) == "no changes"


def test_type_change(tmp_path):
  out = _diff(tmp_path, BASE.replace('name: "size" type: FLOAT', 'name: "size" type: INT'))
  assert _section(out, "size") == [
      "### `size` (FLOAT → INT)",
      "- type: FLOAT → INT",
      "  - allows UNEXPECTED_DATA_TYPE for INT data (policy: block, findings.block)",
      "  - blocks UNEXPECTED_DATA_TYPE for FLOAT data (policy: block, findings.block)",
  ]


def test_categorical_to_numeric_changes_treatment_and_comparator(tmp_path):
  new = BASE.replace('name: "color" type: BYTES domain: "color"', 'name: "color" type: INT')
  assert _section(_diff(tmp_path, new), "color") == [
      "### `color` (BYTES → INT)",
      "- type: BYTES → INT",
      "  - allows UNEXPECTED_DATA_TYPE for INT data (policy: block, findings.block)",
      "  - blocks UNEXPECTED_DATA_TYPE for BYTES data (policy: block, findings.block)",
      "- policy: now impute mean (preprocessing.numeric.impute), scale z_score "
      "(preprocessing.numeric.scale); was impute most_frequent "
      "(preprocessing.categorical.impute), encode vocabulary (preprocessing.categorical.encode)",
      '- domain: removed (was 3 values: "blue", "green", "red")',
      "  - allows ENUM_TYPE_UNEXPECTED_STRING_VALUES for any value (policy: warn, findings.warn)",
      "- skew (Jensen-Shannon divergence): not checked → 0.3 (policy thresholds.skew.numeric)",
      "  - blocks COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH for distances above 0.3 "
      "(policy: block, findings.block)",
      "- skew (L-infinity distance): 0.3 (policy thresholds.skew.categorical) → not checked",
      "  - allows COMPARATOR_L_INFTY_HIGH for any distance (policy: block, findings.block)",
      "- drift (Jensen-Shannon divergence): not checked → 0.3 (policy thresholds.drift.numeric)",
      "  - blocks COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH for distances above 0.3 "
      "(policy: block, findings.block)",
      "- drift (L-infinity distance): 0.3 (policy thresholds.drift.categorical) → not checked",
      "  - allows COMPARATOR_L_INFTY_HIGH for any distance (policy: block, findings.block)",
  ]


def test_presence(tmp_path):
  new = BASE.replace("value_count { max: 1 } presence { min_fraction: 0.9 min_count: 1 }",
                     "value_count { max: 1 } presence { min_fraction: 0.5 min_count: 1 }")
  new = new.replace("presence { min_fraction: 1.0 min_count: 5 }",
                    "presence { min_fraction: 1.0 min_count: 10 }")
  out = _diff(tmp_path, new)
  assert _section(out, "size") == [
      "### `size` (FLOAT)",
      "- presence.min_fraction: 0.9 → 0.5",
      "  - allows FEATURE_TYPE_LOW_FRACTION_PRESENT when 50% to under 90% of examples have it "
      "(policy: warn, findings.warn)",
      "- policy: more rows without a value, imputed with mean (preprocessing.numeric.impute)",
  ]
  assert _section(out, "count") == [
      "### `count` (INT)",
      "- presence.min_count: 5 → 10",
      "  - blocks FEATURE_TYPE_LOW_NUMBER_PRESENT when 5 to 9 examples have it "
      "(policy: warn, findings.warn)",
  ]


def test_raising_min_fraction_blocks(tmp_path):
  new = BASE.replace("min_fraction: 0.9 min_count: 1", "min_fraction: 0.95 min_count: 1")
  assert _section(_diff(tmp_path, new), "size")[1:] == [
      "- presence.min_fraction: 0.9 → 0.95",
      "  - blocks FEATURE_TYPE_LOW_FRACTION_PRESENT when 90% to under 95% of examples have it "
      "(policy: warn, findings.warn)",
  ]


def test_value_count(tmp_path):
  new = BASE.replace('name: "color" type: BYTES domain: "color"\n  value_count { min: 1 max: 1 }',
                     'name: "color" type: BYTES domain: "color"\n  value_count { max: 3 }')
  assert _section(_diff(tmp_path, new), "color")[1:] == [
      "- value_count.min: 1 → (none)",
      "  - allows FEATURE_TYPE_LOW_NUMBER_VALUES for examples with 0 value(s) "
      "(policy: warn, findings.warn)",
      "- policy: more rows without a value, imputed with most_frequent "
      "(preprocessing.categorical.impute)",
      "- value_count.max: 1 → 3",
      "  - allows FEATURE_TYPE_HIGH_NUMBER_VALUES for examples with more than 1 up to 3 values "
      "(policy: warn, findings.default)",
  ]


def test_domain_values_added_and_removed(tmp_path):
  new = BASE.replace('value: "blue" value: "green" value: "red"',
                     'value: "blue" value: "red" value: "purple" value: "cyan"')
  assert _section(_diff(tmp_path, new), "color") == [
      "### `color` (BYTES)",
      '- domain: added "cyan", "purple"',
      '  - allows ENUM_TYPE_UNEXPECTED_STRING_VALUES for "cyan", "purple" '
      "(policy: warn, findings.warn)",
      '- domain: removed "green"',
      '  - blocks ENUM_TYPE_UNEXPECTED_STRING_VALUES for "green" (policy: warn, findings.warn)',
  ]


def test_label_class_added_and_reordered(tmp_path):
  new = BASE.replace('string_domain { name: "label" value: "a" value: "b" }',
                     'string_domain { name: "label" value: "b" value: "a" value: "c" }')
  assert _section(_diff(tmp_path, new), "label") == [
      "### `label` (BYTES, label)",
      '- domain: added "c"',
      '  - allows ENUM_TYPE_UNEXPECTED_STRING_VALUES for "c" (policy: block, findings.label)',
      "  - new label class(es): the model's outputs change; retrain",
      "- label class order: a, b → b, a",
      "  - class ids follow this order: retrain, and do not compare with models trained on the "
      "old order",
      "- policy rebalance (strategy auto): balances the classes b, a, c",
  ]


def test_numeric_bounds(tmp_path):
  new = BASE.replace("int_domain { min: 0 max: 50 }", "int_domain { max: 60 }")
  new = new.replace('name: "size" type: FLOAT',
                    'name: "size" type: FLOAT\n'
                    '  float_domain { min: 0.5 max: 2.5 disallow_nan: true }')
  out = _diff(tmp_path, new)
  assert _section(out, "count")[1:] == [
      "- int_domain.max: 50 → 60",
      "  - allows INT_TYPE_BIG_INT for values above 50 up to 60 (policy: warn, findings.default)",
      "- int_domain.min: 0 → (none)",
      "  - allows INT_TYPE_SMALL_INT for values below 0 (policy: warn, findings.default)",
  ]
  assert _section(out, "size")[1:] == [
      "- float_domain.max: (none) → 2.5",
      "  - blocks FLOAT_TYPE_BIG_FLOAT for values above 2.5 (policy: warn, findings.default)",
      "- float_domain.min: (none) → 0.5",
      "  - blocks FLOAT_TYPE_SMALL_FLOAT for values below 0.5 (policy: warn, findings.default)",
      "- float_domain.disallow_nan: false → true",
      "  - blocks FLOAT_TYPE_HAS_NAN (policy: warn, findings.warn)",
  ]


def test_skew_and_drift_comparators(tmp_path):
  old = BASE.replace('name: "size" type: FLOAT',
                     'name: "size" type: FLOAT drift_comparator { '
                     'jensen_shannon_divergence { threshold: 0.2 } }')
  new = BASE.replace('name: "size" type: FLOAT',
                     'name: "size" type: FLOAT drift_comparator { '
                     'jensen_shannon_divergence { threshold: 0.05 } }')
  new = new.replace('name: "color" type: BYTES domain: "color"',
                    'name: "color" type: BYTES domain: "color" '
                    'skew_comparator { infinity_norm { threshold: 0.5 } }')
  out = _diff(tmp_path, new, old_schema=old)
  assert _section(out, "size")[1:] == [
      "- drift (Jensen-Shannon divergence): 0.2 (schema) → 0.05 (schema)",
      "  - blocks COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH for distances above 0.05 up to 0.2 "
      "(policy: block, findings.block)",
  ]
  assert _section(out, "color")[1:] == [
      "- skew (L-infinity distance): 0.3 (policy thresholds.skew.categorical) → 0.5 (schema)",
      "  - allows COMPARATOR_L_INFTY_HIGH for distances above 0.3 up to 0.5 "
      "(policy: block, findings.block)",
  ]


def test_environments_and_label(tmp_path):
  new = BASE.replace('value_count { min: 1 max: 1 } presence { min_fraction: 1.0 min_count: 1 }\n'
                     '  not_in_environment: "SERVING"',
                     'value_count { min: 1 max: 1 } presence { min_fraction: 1.0 min_count: 1 }')
  new = new.replace('name: "color" type: BYTES domain: "color"',
                    'name: "color" type: BYTES domain: "color" in_environment: "TRAINING"')
  new = new.replace('default_environment: "SERVING"',
                    'default_environment: "SERVING"\ndefault_environment: "EVAL"')
  out = _diff(tmp_path, new)
  schema_section = out.split("## Schema\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
  assert schema_section == [
      '- default_environment: added "EVAL"',
      '- label (not_in_environment: "SERVING"): `label` → (none)',
      "  - the model learns another target: class ids, rebalancing and the evaluation follow the "
      "new label; retrain",
  ]
  assert _section(out, "color")[1:] == [
      '- in_environment: added "TRAINING"',
      "  - allows SCHEMA_MISSING_COLUMN in SERVING data (the column may be absent there) "
      "(policy: block, findings.block)",
  ]
  assert _section(out, "label")[1:3] == [
      '- not_in_environment: removed "SERVING"',
      "  - blocks SCHEMA_MISSING_COLUMN in SERVING data without the column "
      "(policy: block, findings.block)",
  ]


def test_added_and_removed_features(tmp_path):
  count = BASE[BASE.index('feature {\n  name: "count"'):BASE.index("string_domain")]
  new = BASE.replace(count,
                     'feature { name: "weight" type: FLOAT value_count { max: 1 } '
                     'presence { min_fraction: 0.8 } }\n')
  out = _diff(tmp_path, new, old_policy="features: {count: {impute: median}}\n",
              new_policy="features: {count: {impute: median}}\n")
  assert _section(out, "count") == [
      "### `count` (INT, removed)",
      "- removed (was: type: INT; value_count.min: 1; value_count.max: 1; int_domain.min: 0; "
      "int_domain.max: 50; presence.min_fraction: 1; presence.min_count: 5)",
      "  - blocks SCHEMA_NEW_COLUMN while the data still has the column "
      "(policy: warn, findings.default)",
      "  - allows SCHEMA_MISSING_COLUMN and every other anomaly on it (no longer checked)",
      "- policy features.count: names a feature the schema no longer has; remove the entry "
      "(`trainguard schema check` fails until then)",
  ]
  assert _section(out, "weight") == [
      "### `weight` (FLOAT, added)",
      "- added: type: FLOAT; value_count.max: 1; presence.min_fraction: 0.8",
      "  - allows SCHEMA_NEW_COLUMN for this column (policy: warn, findings.default)",
      "  - blocks SCHEMA_MISSING_COLUMN when the data lacks it (policy: block, findings.block)",
      "- policy: impute mean (preprocessing.numeric.impute), scale z_score "
      "(preprocessing.numeric.scale)",
      "- policy thresholds: skew Jensen-Shannon divergence ≤ 0.3 (thresholds.skew.numeric), "
      "drift Jensen-Shannon divergence ≤ 0.3 (thresholds.drift.numeric)",
  ]
  assert "1 feature(s) changed" not in out and "0 feature(s) changed, 1 added, 1 removed" in out


def test_policy_changes(tmp_path):
  old_policy = "version: 1\nfeatures:\n  size: {impute: mean}\n"
  new_policy = yaml.safe_dump({
      "findings": {"block": [k for k in schema_review.Policy.from_dict({}).data["findings"]
                             ["block"] if k != "LABEL_LEAKAGE"]},
      "thresholds": {"skew": {"numeric": 0.2}},
      "features": {"size": {"impute": "median", "warn": ["FLOAT_TYPE_HAS_NAN"]}},
      "rebalance": {"strategy": "smote"}})
  out = _diff(tmp_path, BASE, old_policy=old_policy, new_policy=new_policy)
  assert _section(out, "size") == [  # the policy-wide skew threshold is listed once, below
      "### `size` (FLOAT)",
      "- policy features.size.impute: mean → median",
      '- policy features.size.warn: added "FLOAT_TYPE_HAS_NAN"',
  ]
  policy_section = out.split("## Policy (policy.yaml)\n\n", 1)[1].splitlines()
  assert policy_section == [
      '- findings.block: removed "LABEL_LEAKAGE"',
      "  - LABEL_LEAKAGE: block → warn",
      "- thresholds.skew.numeric: 0.3 → 0.2 (used by: count, size)",
      "  - blocks COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH for distances above 0.2 up to 0.3 "
      "(policy: block, findings.block)",
      "- rebalance.strategy: auto → smote",
  ]
  assert out.splitlines()[2] == "Checks that stop a run (policy: block): 0 relaxed, 1 tightened."


def test_features_print_in_sorted_order(tmp_path):
  new = BASE.replace('min_fraction: 0.9 min_count: 1', 'min_fraction: 0.8 min_count: 1')
  new = new.replace('value: "a" value: "b"', 'value: "a" value: "b" value: "z"')
  new = new.replace("int_domain { min: 0 max: 50 }", "int_domain { min: 0 max: 51 }")
  headings = [l for l in _diff(tmp_path, new).splitlines() if l.startswith("### ")]
  assert headings == ["### `count` (INT)", "### `label` (BYTES, label)", "### `size` (FLOAT)"]


def test_diff_imports_no_tensorflow(tmp_path):
  old = _folder(tmp_path, "old")
  new = _folder(tmp_path, "new", BASE.replace("min_fraction: 0.9", "min_fraction: 0.5"))
  code = ("import sys; from trainguard import schema_review as r; "
          f"assert 'presence.min_fraction' in r.diff({old!r}, {new!r}); "
          f"assert r.check({str(tmp_path)!r}) == []; "
          "heavy = [m for m in sys.modules if m.split('.')[0] in "
          "('tensorflow', 'tensorflow_data_validation', 'apache_beam', 'tfx')]; "
          "assert not heavy, heavy")
  subprocess.run([sys.executable, "-c", code], check=True)


def test_diff_of_a_missing_path_names_it(tmp_path):
  with pytest.raises(schema_review.ReviewError, match="no such file or folder"):
    schema_review.diff(str(tmp_path / "nope"), str(tmp_path / "nope"))
  _folder(tmp_path, "bad", "feature { name: ")
  with pytest.raises(schema_review.ReviewError, match="does not parse as a TFDV schema"):
    schema_review.diff(str(tmp_path / "bad"), str(tmp_path / "bad"))


# --- check -----------------------------------------------------------------------------------


def test_check_passes_on_the_curated_schemas():
  assert schema_review.check(SCHEMAS_DIR) == []


def _check_one(tmp_path, schema=BASE, policy=None):
  folder = _folder(tmp_path, "broken", schema, policy)
  problems = schema_review.check(str(tmp_path))
  assert len(problems) == 1, problems
  return problems[0], os.path.join(folder, "schema.pbtxt")


def test_check_schema_that_does_not_parse(tmp_path):
  problem, path = _check_one(tmp_path, BASE.replace("type: FLOAT", "type: DOUBLE"))
  assert problem.startswith(f"{path}: does not parse as a TFDV schema (")
  assert problem.endswith("); fix the line it names.")


def test_check_policy_naming_an_unknown_feature(tmp_path):
  problem, path = _check_one(tmp_path, policy="features:\n  colour: {impute: most_frequent}\n")
  assert problem == (
      f"{os.path.dirname(path)}/policy.yaml: features.colour names a feature the schema does not "
      "have (schema features: color, count, label, size); fix the name or remove the entry.")


def test_check_policy_that_is_not_yaml(tmp_path):
  problem, path = _check_one(tmp_path, policy="features: [\n")
  assert problem.startswith(f"{os.path.dirname(path)}/policy.yaml, line 2, column 1: not valid YAML (")


def test_check_policy_with_a_bad_value(tmp_path):
  problem, path = _check_one(tmp_path, policy="features:\n  color: {scale: z_score}\n")
  assert problem.startswith(f"{os.path.dirname(path)}/policy.yaml: features.color.scale is "
                            "'z_score', but the feature is categorical")


def test_check_no_label(tmp_path):
  problem, path = _check_one(tmp_path, BASE.replace('not_in_environment: "SERVING"', ""))
  assert problem == (f'{path}: no label: no feature has not_in_environment: "SERVING"; add it to '
                     "the label feature (serving requests never carry the label).")


def test_check_two_labels(tmp_path):
  problem, path = _check_one(tmp_path, BASE.replace(
      'name: "color" type: BYTES domain: "color"',
      'name: "color" type: BYTES domain: "color" not_in_environment: "SERVING"'))
  assert problem == (f'{path}: features color, label all have not_in_environment: "SERVING", so '
                     "the label is ambiguous; keep it on the label only.")


def test_check_label_without_domain(tmp_path):
  problem, path = _check_one(tmp_path, BASE.replace('name: "label" type: BYTES domain: "label"',
                                                    'name: "label" type: BYTES'))
  assert problem == (f"{path}: label 'label' has no domain in the schema, so its classes are "
                     "unknown; declare them (string_domain { value: ... }, or int_domain "
                     "{ min: 0 max: K }) in schema.pbtxt.")


def test_check_domain_that_is_not_defined(tmp_path):
  problem, path = _check_one(tmp_path, BASE.replace('domain: "color"', 'domain: "colour"'))
  assert problem == (f"{path}: feature 'color' names domain 'colour', which the schema does not "
                     'define; add string_domain { name: "colour" value: ... } or fix the name.')


def test_check_environment_not_declared(tmp_path):
  problem, path = _check_one(tmp_path, BASE.replace('default_environment: "SERVING"\n', ""))
  assert problem == (f"{path}: feature 'label' has not_in_environment: \"SERVING\", but "
                     'default_environment lists "TRAINING"; add default_environment: "SERVING" '
                     "or fix the name.")


def test_check_duplicate_feature(tmp_path):
  problem, path = _check_one(tmp_path, BASE + 'feature { name: "size" type: FLOAT }\n')
  assert problem == f"{path}: feature 'size' is declared 2 times; keep one."


def test_check_policy_without_schema_and_empty_roots(tmp_path):
  folder = tmp_path / "orphan"
  folder.mkdir()
  (folder / "policy.yaml").write_text("version: 1\n")
  assert schema_review.check(str(tmp_path)) == [
      f"{folder}/policy.yaml: there is no schema.pbtxt next to it; add the schema or remove the "
      "policy."]
  assert schema_review.check(str(tmp_path / "missing")) == [
      f"{tmp_path}/missing: no such folder; pass the folder that holds your schema folders "
      "(default: schemas)."]
  (tmp_path / "empty").mkdir()
  assert schema_review.check(str(tmp_path / "empty"))[0].startswith(
      f"{tmp_path}/empty: no schema folder under it")


# --- CLI -------------------------------------------------------------------------------------


@pytest.fixture
def main():
  """cli.main, which wires the schema commands."""
  return cli.main


def test_cli_check_and_diff(tmp_path, main, capsys):
  good = _folder(tmp_path / "ok", "shop")
  assert main(["schema", "check", str(tmp_path / "ok")]) == 0
  assert "1 schema folder(s)" in capsys.readouterr().out
  _folder(tmp_path / "bad", "shop", BASE.replace('not_in_environment: "SERVING"', ""))
  assert main(["schema", "check", str(tmp_path / "bad")]) == 1
  err = capsys.readouterr().err
  assert "problem: " in err and "no label" in err and "1 problem(s)" in err
  assert main(["schema", "diff", good, good]) == 0
  assert capsys.readouterr().out == "no changes\n"
  assert main(["schema", "diff", good, str(tmp_path / "nope")]) == 2
  assert "trainguard: error: " in capsys.readouterr().err


def test_cli_propose_refuses_to_overwrite_without_write(tmp_path, main, capsys):
  folder = _folder(tmp_path, "shop")
  (tmp_path / "new.csv").write_text("label,color\na,red\n")
  assert main(["schema", "propose", "--schema", folder, "--data", str(tmp_path / "new.csv"),
               "--out", folder]) == 2
  assert "is the curated schema folder; pass --write" in capsys.readouterr().err


# --- propose (one TFDV computation for the module) -------------------------------------------

CURATED = BASE + """
feature {
  name: "served" type: INT value_count { max: 1 } presence { min_fraction: 1.0 min_count: 1 }
  not_in_environment: "TRAINING"
}
feature {
  name: "code" type: INT value_count { max: 1 } presence { min_fraction: 1.0 min_count: 1 }
}
"""
CURATED_POLICY = """# Shop policy: reviewed with schema.pbtxt.
version: 1
features:
  # counts are skewed
  count: {impute: median}
rebalance:
  strategy: auto
"""
ROWS = 120


def _write_new_data(path):
  """New data (seed 7): color gains "purple", a new column "weight", "size" is missing in ~30% of
  rows, and "code" holds text where the schema says INT."""
  rng = np.random.default_rng(7)
  missing = 0
  with open(path, "w", newline="", encoding="utf-8") as f:
    writer = csv.writer(f)
    writer.writerow(["label", "color", "size", "count", "code", "weight"])
    for _ in range(ROWS):
      gone = rng.random() < 0.3
      missing += gone
      writer.writerow([rng.choice(["a", "b"]), rng.choice(["blue", "green", "red", "purple"]),
                       "" if gone else f"{rng.normal(1.5, 0.3):.3f}",
                       int(rng.integers(0, 50)), f"x{rng.integers(0, 3)}",
                       f"{rng.normal(70, 10):.2f}"])
  return (ROWS - missing) / ROWS


@pytest.fixture(scope="module")
def proposed(tmp_path_factory):
  root = tmp_path_factory.mktemp("propose")
  folder = _folder(root, "shop", "# Curated shop schema.\n" + CURATED, CURATED_POLICY)
  data = os.path.join(str(root), "new.csv")
  present = _write_new_data(data)
  with open(os.path.join(folder, "schema.pbtxt"), encoding="utf-8") as f:
    curated_text = f.read()
  proposal = schema_review.propose(folder, data)
  return {"root": str(root), "folder": folder, "data": data, "present": present,
          "proposal": proposal, "curated_text": curated_text,
          "out": os.path.join(folder, "proposed")}


def _features(schema):
  return {f.name: f for f in schema.feature}


def test_propose_writes_the_proposal_and_keeps_the_curated_schema(proposed):
  out = proposed["out"]
  assert sorted(os.listdir(out)) == ["REVIEW.md", "anomalies.json", "policy.yaml", "schema.pbtxt"]
  with open(os.path.join(proposed["folder"], "schema.pbtxt"), encoding="utf-8") as f:
    assert f.read() == proposed["curated_text"]
  with open(os.path.join(proposed["folder"], "policy.yaml"), encoding="utf-8") as f:
    assert f.read() == CURATED_POLICY
  written = schema_review.read_schema(os.path.join(out, "schema.pbtxt"))
  assert written == proposed["proposal"].schema
  with open(os.path.join(out, "schema.pbtxt"), encoding="utf-8") as f:
    assert f.readline() == "# Curated shop schema.\n"


def test_propose_new_category_new_column_and_lower_presence(proposed):
  features = _features(proposed["proposal"].schema)
  domains = {d.name: list(d.value) for d in proposed["proposal"].schema.string_domain}
  assert domains["color"] == ["blue", "green", "red", "purple"]
  assert features["weight"].type == schema_review.schema_pb2.FLOAT
  assert features["size"].presence.min_fraction == pytest.approx(proposed["present"])
  assert proposed["present"] < 0.9


def test_propose_guards_update_schema(proposed):
  features = _features(proposed["proposal"].schema)
  curated = _features(schema_review.read_schema(os.path.join(proposed["folder"], "schema.pbtxt")))
  # A serving-only feature is not in training data: left as curated (update_schema deprecates it).
  assert features["served"] == curated["served"]
  # A type mismatch is not silenced by deprecation: left as curated, named as a decision.
  assert features["code"] == curated["code"]
  assert any(line.startswith("`code`: UNEXPECTED_DATA_TYPE stays open.")
             for line in proposed["proposal"].needs_decision)


def test_propose_note_names_the_anomalies_behind_each_change(proposed):
  with open(os.path.join(proposed["out"], "anomalies.json"), encoding="utf-8") as f:
    payload = json.load(f)
  by_feature = {(a["feature"], a["kind"]): a for a in payload["anomalies"]}
  assert set(by_feature) == {
      ("color", "ENUM_TYPE_UNEXPECTED_STRING_VALUES"), ("weight", "SCHEMA_NEW_COLUMN"),
      ("size", "FEATURE_TYPE_LOW_FRACTION_PRESENT"), ("code", "UNEXPECTED_DATA_TYPE")}
  assert by_feature[("color", "ENUM_TYPE_UNEXPECTED_STRING_VALUES")]["changes"] == [
      'domain: added "purple"']
  assert by_feature[("code", "UNEXPECTED_DATA_TYPE")]["resolved"] is False
  assert by_feature[("code", "UNEXPECTED_DATA_TYPE")]["severity"] == "block"
  assert all(a["resolved"] for k, a in by_feature.items() if k[0] != "code")
  assert payload["policy_entries"] == {"weight": {"impute": "mean", "scale": "z_score"}}

  with open(os.path.join(proposed["out"], "REVIEW.md"), encoding="utf-8") as f:
    review = f.read()
  color = review.split("#### `color` (BYTES)\n\n", 1)[1].split("\n####", 1)[0].splitlines()
  assert color[:2] == ["Anomalies in the new data:", ""]
  assert color[2].startswith("- ENUM_TYPE_UNEXPECTED_STRING_VALUES (policy: warn, findings.warn): "
                             "Examples contain values missing from the schema: purple")
  assert color[2].endswith(" — resolved by the proposal")
  assert color[3:] == ["", "Proposed changes:", "", '- domain: added "purple"',
                       '  - allows ENUM_TYPE_UNEXPECTED_STRING_VALUES for "purple" '
                       "(policy: warn, findings.warn)"]
  assert "- SCHEMA_NEW_COLUMN (policy: warn, findings.default): New column" in review
  assert "FEATURE_TYPE_LOW_FRACTION_PRESENT (policy: warn, findings.warn)" in review


def test_propose_adds_policy_entries_for_new_features_keeping_comments(proposed):
  with open(os.path.join(proposed["out"], "policy.yaml"), encoding="utf-8") as f:
    text = f.read()
  assert text == CURATED_POLICY.replace(
      "  count: {impute: median}\n",
      "  count: {impute: median}\n  weight: {impute: mean, scale: z_score}  # new in new.csv: "
      "review (trainguard schema propose)\n")
  # The proposal is a valid schema folder, and its review is the same diff the CLI prints.
  assert schema_review.check(os.path.dirname(proposed["folder"])) == []
  assert "### `weight` (FLOAT, added)" in schema_review.diff(proposed["folder"], proposed["out"])


def test_propose_from_statistics_gen_output(proposed, tmp_path):
  artifact = tmp_path / "StatisticsGen" / "statistics" / "7"
  (artifact / "Split-train").mkdir(parents=True)
  (artifact / "Split-train" / "FeatureStats.pb").write_bytes(
      proposed["proposal"].statistics.SerializeToString())
  result = schema_review.propose(proposed["folder"], str(artifact), out=str(tmp_path / "out"))
  assert result.schema == proposed["proposal"].schema
  with pytest.raises(schema_review.ReviewError, match=r"no Split-eval/FeatureStats.pb in it "
                     r"\(splits: train\)"):
    schema_review.propose(proposed["folder"], str(artifact), split="eval",
                          out=str(tmp_path / "out"))


def test_propose_write_updates_the_curated_folder_in_place(proposed, tmp_path):
  folder = str(tmp_path / "shop")
  shutil.copytree(proposed["folder"], folder, ignore=shutil.ignore_patterns("proposed"))
  artifact = tmp_path / "stats.pb"
  artifact.write_bytes(proposed["proposal"].statistics.SerializeToString())
  result = schema_review.propose(folder, str(artifact), write=True)
  assert sorted(os.listdir(folder)) == ["policy.yaml", "schema.pbtxt"]
  assert schema_review.read_schema(os.path.join(folder, "schema.pbtxt")) == result.schema
  assert "weight: {impute: mean, scale: z_score}" in (tmp_path / "shop" / "policy.yaml").read_text()
  assert "updated in place (--write)" in result.review
