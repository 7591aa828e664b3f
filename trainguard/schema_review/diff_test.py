"""schema_review.diff on small hand-written schemas: the exact markdown lines of each kind of change.

`BASE`, `_folder` and `_section` are shared with the check, propose and CLI tests."""
import os

import pytest
import yaml

from trainguard import schema_review
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
      "- skew (L-infinity distance): 0.15 (policy thresholds.skew.categorical) → not checked",
      "  - allows COMPARATOR_L_INFTY_HIGH for any distance (policy: block, findings.block)",
      "- skew (mean shift in std): not checked → 0.4 (policy thresholds.skew.numeric)",
      "  - blocks NUMERIC_SKEW for distances above 0.4 (policy: block, findings.block)",
      "- drift (L-infinity distance): 0.15 (policy thresholds.drift.categorical) → not checked",
      "  - allows COMPARATOR_L_INFTY_HIGH for any distance (policy: block, findings.block)",
      "- drift (mean shift in std): not checked → 0.4 (policy thresholds.drift.numeric)",
      "  - blocks NUMERIC_DRIFT for distances above 0.4 (policy: block, findings.block)",
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
      "- skew (L-infinity distance): 0.15 (policy thresholds.skew.categorical) → 0.5 (schema)",
      "  - allows COMPARATOR_L_INFTY_HIGH for distances above 0.15 up to 0.5 "
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
      "- policy thresholds: skew mean shift in std ≤ 0.4 (thresholds.skew.numeric), "
      "drift mean shift in std ≤ 0.4 (thresholds.drift.numeric)",
  ]
  assert "1 feature(s) changed" not in out and "0 feature(s) changed, 1 added, 1 removed" in out


def test_policy_changes(tmp_path):
  old_policy = "version: 1\nfeatures:\n  size: {impute: mean}\n"
  new_policy = yaml.safe_dump({
      "findings": {"warn": ["LABEL_LEAKAGE"]},  # the user's list wins over the default block
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
      '- findings.warn: added "LABEL_LEAKAGE"',
      "  - LABEL_LEAKAGE: block → warn",
      "- thresholds.skew.numeric: 0.4 → 0.2 (used by: count, size)",
      "  - blocks NUMERIC_SKEW for distances above 0.2 up to 0.4 "
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


def test_diff_imports_no_tensorflow(tmp_path, without_heavy_imports):
  old = _folder(tmp_path, "old")
  new = _folder(tmp_path, "new", BASE.replace("min_fraction: 0.9", "min_fraction: 0.5"))
  without_heavy_imports(
      "from trainguard import schema_review as r\n"
      f"assert 'presence.min_fraction' in r.diff({old!r}, {new!r})\n"
      f"assert r.check({str(tmp_path)!r}) == []\n")


def test_diff_of_a_missing_path_names_it(tmp_path):
  with pytest.raises(schema_review.ReviewError, match="no such file or folder"):
    schema_review.diff(str(tmp_path / "nope"), str(tmp_path / "nope"))
  _folder(tmp_path, "bad", "feature { name: ")
  with pytest.raises(schema_review.ReviewError, match="does not parse as a TFDV schema"):
    schema_review.diff(str(tmp_path / "bad"), str(tmp_path / "bad"))
