"""`check`: every schema folder under a root is usable, before a pull request merges it.

Why its own checks next to the policy's validation: TFDV parses a schema that trainguard cannot use
(two features with one name, a domain it does not define, no label, an environment nobody
declares), and each of those fails only later, in a run. Each problem names the file, what is
wrong and what to do. Needs no TensorFlow, so the pre-commit hook and CI run it in under a second.
"""
import os
from typing import List

from tensorflow_metadata.proto.v0 import schema_pb2

from trainguard import task as task_lib
from trainguard.errors import ReviewError
from trainguard.policy import POLICY_FILE, Policy, PolicyError
from trainguard.schema_folder import SCHEMA_FILE, label_features
from trainguard.schema_review.side import read_schema


def schema_folders(root: str) -> List[str]:
  """Every folder under `root` (itself included) holding a schema.pbtxt or a policy.yaml."""
  found = []
  for folder, dirs, files in os.walk(root):
    dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__")))
    if SCHEMA_FILE in files or POLICY_FILE in files:
      found.append(folder)
  return sorted(found)


def check(root: str = "schemas") -> List[str]:
  """Problems of every schema folder under `root`, each naming the file, what is wrong and what to
  do; an empty list when all is well. Needs no TensorFlow."""
  if not os.path.isdir(root):
    return [f"{root}: no such folder; pass the folder that holds your schema folders "
            "(default: schemas)."]
  folders = schema_folders(root)
  if not folders:
    return [f"{root}: no schema folder under it (a folder with {SCHEMA_FILE}); write one with "
            "`trainguard schema init`."]
  problems = []
  for folder in folders:
    problems += check_folder(folder)
  return problems


def check_folder(folder: str) -> List[str]:
  """The problems of one schema folder, as `check` lists them."""
  schema_path = os.path.join(folder, SCHEMA_FILE)
  if not os.path.isfile(schema_path):
    return [f"{os.path.join(folder, POLICY_FILE)}: there is no {SCHEMA_FILE} next to it; add the "
            "schema or remove the policy."]
  try:
    schema = read_schema(schema_path)
  except ReviewError as e:
    return [str(e)]
  problems = []
  names = [f.name for f in schema.feature]
  for name in sorted({n for n in names if names.count(n) > 1}):
    problems.append(f"{schema_path}: feature {name!r} is declared {names.count(name)} times; keep "
                    "one.")
  domains = ({d.name for d in schema.string_domain} | {d.name for d in schema.int_domain}
             | {d.name for d in schema.float_domain})
  for feature in schema.feature:
    if feature.domain and feature.domain not in domains:
      problems.append(f"{schema_path}: feature {feature.name!r} names domain "
                      f"{feature.domain!r}, which the schema does not define; add "
                      f"string_domain {{ name: \"{feature.domain}\" value: ... }} or fix the name.")
  environments = list(schema.default_environment)
  for feature in schema.feature:
    for key in ("in_environment", "not_in_environment"):
      for env in getattr(feature, key):
        if env not in environments:
          listed = ", ".join(f'"{e}"' for e in environments) or "none"
          problems.append(f"{schema_path}: feature {feature.name!r} has {key}: \"{env}\", but "
                          f"default_environment lists {listed}; add default_environment: "
                          f"\"{env}\" or fix the name.")
  problems += _check_label(schema, schema_path)
  try:
    Policy.load(folder, schema)
  except PolicyError as e:
    problems.append(str(e))
  return problems


def _check_label(schema: schema_pb2.Schema, schema_path: str) -> List[str]:
  from trainguard.models import features  # pylint: disable=g-import-not-at-top
  labels = label_features(schema)
  if not labels:
    return [f"{schema_path}: no label: no feature has not_in_environment: \"SERVING\"; add it to "
            "the label feature (serving requests never carry the label)."]
  if len(labels) > 1:
    return [f"{schema_path}: features {', '.join(labels)} all have not_in_environment: "
            "\"SERVING\", so the label is ambiguous; keep it on the label only."]
  if task_lib.of_schema(schema, labels[0]) == task_lib.REGRESSION:
    return []  # a number without a domain: a regression label has no classes to check
  try:
    features.label_classes_from_schema(schema, labels[0])
  except ValueError as e:
    return [f"{schema_path}: {e}"]
  return []
