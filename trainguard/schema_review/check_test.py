"""schema_review.check on each kind of broken schema folder: one problem, worded exactly."""
import os

from trainguard import schema_review
from trainguard.schema_review.diff_test import BASE, _folder
from trainguard.schemas import SCHEMAS_DIR


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
      "have; did you mean color? (schema features: color, count, label, size); fix the name or "
      "remove the entry.")


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


def test_a_numeric_label_without_a_domain_is_a_regression_and_passes(tmp_path):
  _folder(tmp_path, "regression",
          BASE.replace('name: "label" type: BYTES domain: "label"', 'name: "label" type: FLOAT'))
  assert schema_review.check(str(tmp_path)) == []


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
