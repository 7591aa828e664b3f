"""`propose`: statistics of new data, validated against the curated schema, and the schema update
they call for, with a policy.yaml entry for each new feature and a note (REVIEW.md) naming the
anomalies behind each change.

`tfdv.update_schema` writes the proposed schema, with two guards, because it knows no
environments: features not expected in TRAINING data are left as curated, and so is a feature it
would deprecate because of a type mismatch, with the anomaly open (deprecating silences every check
on the feature; the fix is a decision). TensorFlow Data Validation and Beam are imported only inside
the functions that compute or read statistics, so importing schema review stays TensorFlow-free.
"""
import dataclasses
import json
import os
import re
import tempfile
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import yaml
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from trainguard import files
from trainguard.errors import ReviewError
from trainguard.policy import CATEGORICAL, NUMERIC, POLICY_FILE, Policy
from trainguard.schema_folder import SCHEMA_FILE, TRAINING
from trainguard.schema_review import policy_yaml
from trainguard.schema_review.diff import review_sides
from trainguard.schema_review.review import NO_CHANGES, Review, render
from trainguard.schema_review.side import (NUMERIC_TYPES, ReviewSide, expected_environments,
                                           label_of, read_schema)

PROPOSED_DIR = "proposed"
REVIEW_FILE = "REVIEW.md"
ANOMALIES_FILE = "anomalies.json"

_TYPE_KINDS = re.compile(r"^(UNEXPECTED_DATA_TYPE|(INT|FLOAT|BOOL|ENUM)_TYPE_.*NOT_.*|"
                         r"STRING_TYPE_NOW_.*|FLOAT_TYPE_NON_STRING|.*_UNKNOWN_TYPE_NUMBER)$")


@dataclasses.dataclass
class Proposal:
  """What `propose` found and wrote."""
  schema: schema_pb2.Schema
  policy_entries: Dict[str, Dict[str, Any]]
  anomalies: List[Dict[str, Any]]
  needs_decision: List[str]
  review: str                   # the markdown note (REVIEW.md)
  written: List[str]
  num_examples: int
  statistics: Any               # the new data's DatasetFeatureStatisticsList

  @property
  def changed(self) -> bool:
    return any(a["resolved"] for a in self.anomalies) or bool(self.policy_entries)


def propose(schema_folder: str, data: str, label: Optional[str] = None, write: bool = False,
            out: Optional[str] = None, split: str = "train", delimiter: str = ",",
            na_values: Optional[Sequence[str]] = None) -> Proposal:
  """Validates new data against the curated schema and proposes the updated schema.

  Args:
    schema_folder: the curated folder (schema.pbtxt, optional policy.yaml).
    data: a CSV file (checked by the pre-flight, staged, statistics by TFDV), or statistics: a
      StatisticsGen artifact folder (its `Split-<split>/FeatureStats.pb`), a FeatureStats.pb, or a
      statistics file `tfdv.load_statistics` reads.
    label: the label column of a CSV; default: the schema's label (not in SERVING).
    write: update the curated schema.pbtxt and policy.yaml in place. Otherwise they go to `out`.
    out: the folder for the proposal and its note (default `<schema_folder>/proposed/`). With
      `write`, only the note goes there, and only when `out` is given.
    split: the split of a StatisticsGen artifact.
  Returns:
    the Proposal; REVIEW.md (markdown) and anomalies.json (the same as data) in `out`.
  """
  schema_path = os.path.join(schema_folder, SCHEMA_FILE)
  if not os.path.isfile(schema_path):
    raise ReviewError(f"--schema {schema_folder}: no {SCHEMA_FILE} in it; point at a curated "
                      "schema folder.")
  curated = read_schema(schema_path)
  policy = Policy.load(schema_folder, curated)
  label = label or label_of(curated)
  if label is None:
    raise ReviewError(f"{schema_path}: the label is not identifiable (one feature with "
                      "not_in_environment: \"SERVING\"); fix the schema or pass --label.")
  if out is None and not write:
    out = os.path.join(schema_folder, PROPOSED_DIR)
  if out is not None and not write and os.path.abspath(out) == os.path.abspath(schema_folder):
    raise ReviewError(f"--out {out} is the curated schema folder; pass --write to update it in "
                      "place, or choose another folder.")

  statistics, preflight = _statistics(data, label, split, delimiter, na_values)
  proposed, entries, anomalies, needs_decision = _propose(curated, policy, label, statistics)
  num_examples = statistics.datasets[0].num_examples if statistics.datasets else 0

  schema_text = _schema_header(schema_path) + text_format.MessageToString(proposed)
  policy_path = os.path.join(schema_folder, POLICY_FILE)
  policy_text = policy_yaml.with_new_entries(policy_path, entries, proposed,
                                            os.path.basename(data.rstrip(os.sep)))
  target = schema_folder if write else out
  # The review compares the curated folder with the proposal before anything is written.
  old_side = ReviewSide(schema_folder, curated, Policy.load(schema_folder), True)
  new_policy = Policy.from_dict(yaml.safe_load(policy_text or "") or {}, source=POLICY_FILE)
  new_side = ReviewSide(target or schema_folder, proposed, new_policy, True)
  review = review_sides(old_side, new_side)
  for record in anomalies:
    record["changes"] = [line[2:] for line in review.features.get(record["feature"], [])
                         if line.startswith("- ")]
  review_markdown = _review_note(schema_folder, target, data, num_examples, anomalies,
                                 needs_decision, preflight, review,
                                 {f.name: f for f in proposed.feature})

  written = []
  if target is not None:
    os.makedirs(target, exist_ok=True)
    for name, text in ((SCHEMA_FILE, schema_text), (POLICY_FILE, policy_text)):
      path = os.path.join(target, name)
      if text is not None and files.write_if_changed(path, text):
        written.append(path)
  if out is not None:
    os.makedirs(out, exist_ok=True)
    payload = {"version": 1, "schema_folder": schema_folder, "data": data, "label": label,
               "environment": TRAINING, "num_examples": num_examples, "proposed": target,
               "anomalies": anomalies, "policy_entries": entries,
               "needs_decision": needs_decision, "preflight": preflight}
    for name, text in ((REVIEW_FILE, review_markdown),
                       (ANOMALIES_FILE, json.dumps(payload, indent=1, sort_keys=True) + "\n")):
      path = os.path.join(out, name)
      files.write_if_changed(path, text)
      written.append(path)
  return Proposal(proposed, entries, anomalies, needs_decision, review_markdown, written,
                  num_examples, statistics)


def _statistics(data: str, label: str, split: str, delimiter: str,
                na_values: Optional[Sequence[str]]):
  """The new data's statistics (DatasetFeatureStatisticsList) and the CSV pre-flight's findings."""
  if os.path.isdir(data):
    candidates = [os.path.join(data, f"Split-{split}", "FeatureStats.pb"),
                  os.path.join(data, "FeatureStats.pb")]
    found = next((p for p in candidates if os.path.isfile(p)), None)
    if found is None:
      splits = sorted(d[len("Split-"):] for d in os.listdir(data) if d.startswith("Split-"))
      raise ReviewError(f"--data {data}: no Split-{split}/FeatureStats.pb in it (splits: "
                        f"{', '.join(splits) or 'none'}); pass a StatisticsGen output folder, "
                        "--split, or a CSV.")
    return _load_statistics(found), []
  if not os.path.isfile(data):
    raise ReviewError(f"--data {data}: no such file or folder.")
  if not _looks_like_csv(data):
    return _load_statistics(data), []
  with tempfile.TemporaryDirectory(prefix="trainguard-propose-") as tmp:
    staged = os.path.join(tmp, "data.csv")
    # The pre-flight runs before TFDV is imported, so unusable input fails in under a second.
    preflight = _profile_and_stage(data, label, delimiter, na_values, staged)
    import tensorflow_data_validation as tfdv  # pylint: disable=g-import-not-at-top
    from apache_beam.options import pipeline_options  # pylint: disable=g-import-not-at-top
    from trainguard.pipeline import configs  # pylint: disable=g-import-not-at-top
    statistics = tfdv.generate_statistics_from_csv(
        staged, output_path=os.path.join(tmp, "stats.tfrecord"),
        pipeline_options=pipeline_options.PipelineOptions(list(configs.BEAM_PIPELINE_ARGS)))
  return statistics, preflight


def _profile_and_stage(data: str, label: str, delimiter: str,
                       na_values: Optional[Sequence[str]], staged: str) -> List[str]:
  """The CSV pre-flight on `data` (InputError on unusable input), its clean copy written to
  `staged` for TFDV, and its findings and warnings as lines for REVIEW.md. The one place propose
  calls the pre-flight."""
  from trainguard import preflight  # pylint: disable=g-import-not-at-top
  na = tuple(na_values) if na_values is not None else preflight.DEFAULT_NA_TOKENS
  profile = preflight.inspect(data, label, delimiter, na)
  preflight.stage(profile, staged, na)
  return [f.line() for f in profile.findings] + [f"warning: {w}" for w in profile.warnings]


def _looks_like_csv(path: str) -> bool:
  name = os.path.basename(path).lower()
  if name.endswith((".csv", ".tsv", ".csv.gz", ".tsv.gz", ".txt")):
    return True
  if name.endswith((".pb", ".pbtxt", ".textproto", ".tfrecord", ".tfrecords")) or \
      name.startswith("featurestats") or name == "stats_tfrecord":
    return False
  with open(path, "rb") as f:
    head = f.read(4096)
  try:
    head.decode("utf-8")
  except UnicodeDecodeError:
    return False
  return b"datasets" not in head  # a text-format statistics proto starts with `datasets {`


def _load_statistics(path: str):
  import tensorflow_data_validation as tfdv  # pylint: disable=g-import-not-at-top
  from tensorflow_metadata.proto.v0 import statistics_pb2  # pylint: disable=g-import-not-at-top
  try:
    if path.endswith(".pb"):
      statistics = tfdv.load_stats_binary(path)
    else:
      statistics = tfdv.load_statistics(path)
  except Exception as e:  # pylint: disable=broad-except
    raise ReviewError(f"--data {path}: cannot read statistics from it ({e}); pass a CSV, a "
                      "FeatureStats.pb or a StatisticsGen output folder.") from e
  if not isinstance(statistics, statistics_pb2.DatasetFeatureStatisticsList) or \
      not statistics.datasets:
    raise ReviewError(f"--data {path}: holds no dataset statistics.")
  return statistics


def _propose(curated: schema_pb2.Schema, policy: Policy, label: str, statistics):
  """(proposed schema, new policy entries, anomaly records, decisions left to the reviewer)."""
  import tensorflow_data_validation as tfdv  # pylint: disable=g-import-not-at-top
  from tensorflow_metadata.proto.v0 import anomalies_pb2  # pylint: disable=g-import-not-at-top
  environment = TRAINING if TRAINING in curated.default_environment else None
  found = tfdv.validate_statistics(statistics, curated, environment=environment)
  kinds: Dict[str, List[Tuple[str, str]]] = {}
  for feature, info in sorted(found.anomaly_info.items()):
    for reason in info.reason:
      kinds.setdefault(feature, []).append((anomalies_pb2.AnomalyInfo.Type.Name(reason.type),
                                            reason.description.strip()))
  try:
    proposed = tfdv.update_schema(curated, statistics)
  except ValueError as e:
    raise ReviewError(f"tfdv.update_schema cannot use these statistics ({e}).") from e

  # Guards: update_schema knows no environments, and deprecates a feature on a type mismatch.
  needs_decision = []
  curated_features = {f.name: f for f in curated.feature}
  envs = list(curated.default_environment)
  for feature in proposed.feature:
    before = curated_features.get(feature.name)
    if before is None or feature == before:
      continue
    if environment and environment not in expected_environments(before, envs):
      feature.CopyFrom(before)  # not expected in training data: nothing here to learn from
      continue
    deprecated = (feature.lifecycle_stage == schema_pb2.DEPRECATED
                  and before.lifecycle_stage != schema_pb2.DEPRECATED)
    feature_kinds = {k for k, _ in kinds.get(feature.name, [])}
    if deprecated and (feature.name == label or feature_kinds - {"SCHEMA_MISSING_COLUMN"}):
      feature.CopyFrom(before)
      type_kinds = sorted(k for k in feature_kinds if _TYPE_KINDS.match(k)) or sorted(
          feature_kinds)
      needs_decision.append(
          f"`{feature.name}`: {', '.join(type_kinds)} stays open. The proposal keeps the curated "
          f"{schema_pb2.FeatureType.Name(before.type)} type (update_schema would deprecate the "
          "feature, which silences every check on it). Clean the values at the source, or change "
          "`type` in schema.pbtxt by hand if the new type is right.")
    elif deprecated:
      needs_decision.append(
          f"`{feature.name}` is missing from the data; the proposal deprecates it (TFDV stops "
          "checking it). Remove it from schema.pbtxt (and policy.yaml) if it was dropped on "
          "purpose, or restore the column.")

  remaining = tfdv.validate_statistics(statistics, proposed, environment=environment)
  still = {(name, anomalies_pb2.AnomalyInfo.Type.Name(r.type))
           for name, info in remaining.anomaly_info.items() for r in info.reason}
  label_feature = next((f for f in proposed.feature if f.name == label), None)
  if label_feature is not None and label_feature != curated_features.get(label):
    needs_decision.insert(0, f"`{label}` is the label and the proposal changes it (see its "
                             "changes): new or reordered classes need a retrained model.")

  entries = _new_feature_entries(curated, proposed, policy, statistics, needs_decision)
  records = []
  def record(feature, kind, description, resolved):
    severity, where = policy.severity_with_source(kind, feature, feature == label)
    records.append({"feature": feature, "kind": kind, "severity": severity,
                    "severity_source": where, "description": description,
                    "resolved": resolved})
  for feature, reasons in sorted(kinds.items()):
    for kind, description in reasons:
      record(feature, kind, description, (feature, kind) not in still)
  for feature, kind in sorted(still):
    if not any(r["feature"] == feature and r["kind"] == kind for r in records):
      record(feature, kind, "raised by the proposed schema", False)
  open_now = [r for r in records if not r["resolved"]]
  for record in open_now:
    if not any(f"`{record['feature']}`" in line for line in needs_decision):
      needs_decision.append(f"`{record['feature']}`: {record['kind']} stays open: "
                            f"{record['description']}")
  return proposed, entries, records, needs_decision


def _new_feature_entries(curated, proposed, policy: Policy, statistics,
                         needs_decision: List[str]) -> Dict[str, Dict[str, Any]]:
  """policy.yaml entries for features the proposal adds: their treatment spelled out for review,
  and `exclude: true` for a constant or ID-like column (dataset-check thresholds)."""
  # Imported here: dataset_findings brings numpy and Rebalance's plan; diff and check need neither.
  from trainguard.components.data_guard import (  # pylint: disable=g-import-not-at-top
      dataset_findings)
  known = {f.name for f in curated.feature}
  distinct = dataset_findings.distinct_counts(statistics)
  entries = {}
  for feature in proposed.feature:
    if feature.name in known:
      continue
    if feature.name in policy.data["features"]:
      continue  # the curated policy already says what to do with it
    unique, present, _ = distinct.get(feature.name, (None, 0, 0.0))
    if unique == 1:
      entries[feature.name] = {"exclude": True}
      needs_decision.append(f"`{feature.name}` (new) holds a single value; the proposed policy "
                            "excludes it (a constant carries no signal).")
    elif unique and policy.is_id_like(unique, present):
      entries[feature.name] = {"exclude": True}
      needs_decision.append(f"`{feature.name}` (new) looks like an identifier ({unique} distinct "
                            f"values in {present} rows); the proposed policy excludes it.")
    else:
      kind = NUMERIC if feature.type in NUMERIC_TYPES else CATEGORICAL
      entries[feature.name] = {key: value for key, value, _ in
                               policy.treatment_with_source(feature.name, kind)}
  return entries


def _schema_header(path: str) -> str:
  """The curated file's leading comment block, kept on the proposed file."""
  header = []
  with open(path, encoding="utf-8") as f:
    for line in f:
      if not line.startswith("#"):
        break
      header.append(line)
  return "".join(header) + ("\n" if header else "")


def _review_note(schema_folder: str, target: Optional[str], data: str, num_examples: int,
                 anomalies: List[Dict[str, Any]], needs_decision: List[str],
                 preflight: List[str], review: Review,
                 types: Mapping[str, schema_pb2.Feature]) -> str:
  """REVIEW.md: per feature, the anomalies in the new data and the changes they motivate."""
  notes: Dict[str, List[str]] = {}
  for record in anomalies:
    state = "resolved by the proposal" if record["resolved"] else "still open"
    notes.setdefault(record["feature"], []).append(
        f"- {record['kind']} (policy: {record['severity']}, {record['severity_source']}): "
        f"{record['description']} — {state}")
  resolved = sum(r["resolved"] for r in anomalies)
  head = [f"# Schema proposal for `{schema_folder}` from `{data}`", "",
          f"{num_examples} example(s) validated against the curated schema (environment "
          f"{TRAINING}): {len(anomalies)} anomaly(ies) on {len(notes)} feature(s); the proposal "
          f"(tfdv.update_schema) resolves {resolved}, {len(anomalies) - resolved} stay open.", ""]
  if target and os.path.abspath(target) == os.path.abspath(schema_folder):
    head += ["The curated schema.pbtxt and policy.yaml are updated in place (--write).", ""]
  elif target:
    head += [f"The proposal is in `{target}`; the curated files are unchanged. Review it, then "
             "copy schema.pbtxt and policy.yaml over (or run propose again with --write).", ""]
  if needs_decision:
    head += ["## Needs a decision", ""] + [f"- {line}" for line in needs_decision] + [""]
  if preflight:
    head += ["## Pre-flight findings (the CSV)", ""] + [f"- {line}" for line in preflight] + [""]
  headings = {name: f"({schema_pb2.FeatureType.Name(f.type)})" for name, f in types.items()}
  body = render(review, schema_folder, target or schema_folder, level=2, notes=notes,
                note_headings=headings)
  if body == NO_CHANGES:
    body = "## Review\n\nNo anomalies: the curated schema already fits this data; no changes.\n"
  return "\n".join(head) + "\n" + body
