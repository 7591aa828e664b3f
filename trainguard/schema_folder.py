"""A schema folder, `schemas/<name>/`: `schema.pbtxt` and `policy.yaml`, read and written in one place.

Before, six functions read `schema.pbtxt` (the CLI, schema review, the run results, Transform's plan,
the Kubeflow runner) with two different messages and three exception types, and two writers
behaved differently on a full disk. Here: one reader that raises `InputError` naming the file and
the fix, one writer that goes through `files.write_if_changed` (atomic), the environment names, and
the schema inferred from a pre-flight profile. TensorFlow-free: only the `tensorflow_metadata`
protos and protobuf's text format, imported when a schema is actually read or written.
"""
import os
from typing import List, Optional

from trainguard import files
from trainguard import task as task_lib
from trainguard.errors import InputError, UsageError
from trainguard.policy import POLICY_FILE

SCHEMA_FILE = "schema.pbtxt"
TRAINING, SERVING = "TRAINING", "SERVING"
# A text column with at most this many values gets a string domain in an inferred schema.
MAX_DOMAIN_SIZE = 50

_SCHEMA_HEADER = "# Inferred by trainguard from the data; review it: types, domains, presence.\n"
_POLICY_HEADER = ("# What trainguard does about this data (docs/policy.md). Reviewed with "
                  "schema.pbtxt.\n")


def schema_path(folder: str) -> str:
  return os.path.join(folder, SCHEMA_FILE)


def read_schema(path: str):
  """Parses a `schema.pbtxt` (an empty file is an empty schema); InputError if it cannot."""
  from google.protobuf import text_format  # pylint: disable=g-import-not-at-top
  from tensorflow_metadata.proto.v0 import schema_pb2  # pylint: disable=g-import-not-at-top
  try:
    with open(path, encoding="utf-8") as f:
      text = f.read()
  except OSError as e:
    raise InputError(f"{path}: cannot read it ({e.strerror}).") from e
  try:
    return text_format.Parse(text, schema_pb2.Schema())
  except text_format.ParseError as e:
    raise InputError(f"{path}: does not parse as a TFDV schema ({e}); fix the line it "
                     "names.") from e


def read_folder_schema(folder: str, flag: str = "--schema"):
  """The schema of a schema folder given by `flag`; InputError naming the flag if it has none."""
  path = schema_path(folder)
  if not os.path.isfile(path):
    raise InputError(f"{flag} {folder}: no {SCHEMA_FILE} in it; write one with `trainguard "
                     "schema init` or point at the folder that holds it.")
  return read_schema(path)


def write_schema_folder(schema, folder: str, overwrite: bool, keep_policy: bool = False,
                        policy_data: Optional[dict] = None, profile=None) -> List[str]:
  """Writes `schema` and a policy (the defaults unless `policy_data`) into `folder`, each only if
  it changed; `keep_policy` leaves an existing policy.yaml as it is. Returns the paths written.
  With the pre-flight `profile` of the data, the policy also holds, commented out, the entries the
  data's findings call for (`policy_proposals.py`: `normalize`, `datetime`,
  `missing_values`, `label.map`) for a reviewer to accept.
  UsageError (pass --force) when a file exists and `overwrite` is off."""
  import yaml  # pylint: disable=g-import-not-at-top
  from google.protobuf import text_format  # pylint: disable=g-import-not-at-top
  from trainguard import policy as policy_lib  # pylint: disable=g-import-not-at-top
  paths = schema_path(folder), os.path.join(folder, POLICY_FILE)
  for path in paths:
    if os.path.exists(path) and not overwrite:
      raise UsageError(f"{path} exists; pass --force to overwrite it.")
  written = []
  if files.write_if_changed(paths[0], _SCHEMA_HEADER + text_format.MessageToString(schema)):
    written.append(paths[0])
  if keep_policy and os.path.exists(paths[1]):
    return written
  if profile is not None:
    from trainguard import policy_proposals as proposed_fixes  # pylint: disable=g-import-not-at-top
    text = proposed_fixes.policy_text(policy_data or policy_lib.defaults(),
                                      proposed_fixes.proposals(profile), _POLICY_HEADER)
  else:
    text = _POLICY_HEADER + yaml.safe_dump(policy_data or policy_lib.defaults(), sort_keys=False)
  if files.write_if_changed(paths[1], text):
    written.append(paths[1])
  return written


def label_features(schema) -> List[str]:
  """Features absent at serving time (`not_in_environment: "SERVING"`): the label, by convention."""
  return sorted(f.name for f in schema.feature if SERVING in f.not_in_environment)


def infer_schema(profile):
  """A schema for review, from a pre-flight profile alone (no TensorFlow): types as CsvExampleGen
  will read the staged file, domains for low-cardinality text, the label categorical and absent at
  serving."""
  from tensorflow_metadata.proto.v0 import schema_pb2  # pylint: disable=g-import-not-at-top
  schema = schema_pb2.Schema()
  schema.default_environment.extend([TRAINING, SERVING])
  for column in profile.kept_columns:
    feature = schema.feature.add(name=column.name)
    feature.type = getattr(schema_pb2, column.type_name)
    feature.value_count.max = 1
    if not column.missing:
      feature.value_count.min = 1
    feature.presence.min_fraction = 1.0
    feature.presence.min_count = 1
    is_label = column.name == profile.label
    if is_label:
      feature.not_in_environment.append(SERVING)
      if profile.task == task_lib.REGRESSION:
        pass  # a number without a domain: what `trainguard.task.of_schema` reads as regression
      elif column.type_name == "INT":
        values = [int(v) for v in column.values]  # exact: int(float()) made 2**63 - 1 2**63
        feature.int_domain.min, feature.int_domain.max = min(values), max(values)
        feature.int_domain.is_categorical = True
      else:
        feature.string_domain.value.extend(profile.label_classes)
    elif column.type_name == "BYTES" and column.distinct and column.distinct <= MAX_DOMAIN_SIZE:
      feature.string_domain.value.extend(sorted(column.values))
  return schema
