"""Schema review: propose schema updates from new data, show schema changes as a readable diff, and
check every curated schema folder.

Curated schemas (`schemas/<name>/schema.pbtxt` + `policy.yaml`) change by pull request. A raw
protobuf text diff hides what matters (a reordered domain looks like a change, a lowered
`min_fraction` looks like noise) and says nothing about which anomalies a change silences. Here:

- `propose`: statistics of new data (a CSV, or a pipeline run's StatisticsGen output), validated
  against the curated schema in the TRAINING environment; `tfdv.update_schema` writes the proposed
  schema, new features get a `policy.yaml` entry, and a note names the anomalies behind each change.
  Two guards on `update_schema`, which knows no environments: features not expected in TRAINING
  data are left as curated, and so is a feature it would deprecate because of a type mismatch, with
  the anomaly open (deprecating silences every check on the feature; the fix is a decision).
- `diff`: per feature, what changed, which anomaly kinds TFDV would now raise ("blocks") or no
  longer raise ("allows"), with the policy's severity for each, and the policy entries affected.
  Pure proto/dict comparison: no TensorFlow, any schema size.
- `check`: every schema folder under a root parses, its policy validates against it, the label is
  identifiable and has classes, and environments are consistent.

CLI: `trainguard schema propose|diff|check` (`add_schema_commands`). Docs: docs/schema-review.md.
"""
import copy
import dataclasses
import fnmatch
import json
import os
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

import yaml
from google.protobuf import descriptor as _descriptor
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from trainguard.policy import POLICY_FILE, SEVERITIES, Policy, PolicyError

SCHEMA_FILE = "schema.pbtxt"
PROPOSED_DIR = "proposed"
REVIEW_FILE = "REVIEW.md"
ANOMALIES_FILE = "anomalies.json"
NO_CHANGES = "no changes"
TRAINING, SERVING = "TRAINING", "SERVING"

_LIST_LIMIT = 20  # values listed per line before "… (+N more)"
_INACTIVE_STAGES = ("DEPRECATED", "DISABLED")
_NUMERIC = (schema_pb2.INT, schema_pb2.FLOAT)
_COMPARATORS = (  # schema field, anomaly kind, what it measures
    ("infinity_norm", "COMPARATOR_L_INFTY_HIGH", "L-infinity distance"),
    ("jensen_shannon_divergence", "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH",
     "Jensen-Shannon divergence"),
    ("normalized_abs_difference", "COMPARATOR_NORMALIZED_ABSOLUTE_DIFFERENCE_HIGH",
     "normalized absolute difference"),
)
_MEASURE = {kind: measure for _, kind, measure in _COMPARATORS}
# Flattened feature fields that get their own wording; every other field is compared generically.
_HANDLED = re.compile(
    r"^(name|type|domain|string_domain\.(name|value)|int_domain\.(min|max)|"
    r"float_domain\.(min|max|disallow_nan|disallow_inf)|presence\.(min_fraction|min_count)|"
    r"value_count\.(min|max)|skew_comparator(\..*)?|drift_comparator(\..*)?|in_environment|"
    r"not_in_environment|lifecycle_stage|deprecated)$")
_SCHEMA_HANDLED = re.compile(r"^(feature|string_domain|default_environment)(\[.*|\..*)?$")


class ReviewError(ValueError):
  """An input to propose/diff/check that cannot be used; the message names the file and the fix.

  The CLI turns it into a usage error (exit 2)."""


# ---------------------------------------------------------------------------------------------
# Reading schema folders (no TensorFlow)


def read_schema(path: str) -> schema_pb2.Schema:
  """Parses a schema.pbtxt; an empty file is an empty schema."""
  try:
    with open(path, encoding="utf-8") as f:
      text = f.read()
  except OSError as e:
    raise ReviewError(f"{path}: cannot read it ({e.strerror}).") from e
  try:
    return text_format.Parse(text, schema_pb2.Schema())
  except text_format.ParseError as e:
    raise ReviewError(f"{path}: does not parse as a TFDV schema ({e}); fix the line it "
                      "names.") from e


@dataclasses.dataclass
class _Side:
  """One side of a diff: a schema and (for a folder) its policy, defaults merged in."""
  path: str
  schema: schema_pb2.Schema
  policy: Policy
  has_policy: bool


def _load_side(path: str) -> _Side:
  if os.path.isdir(path):
    schema_path = os.path.join(path, SCHEMA_FILE)
    if not os.path.isfile(schema_path):
      raise ReviewError(f"{path}: no {SCHEMA_FILE} in it; point at a schema folder or a "
                        "schema file.")
    schema = read_schema(schema_path)
    # Validated without the schema: a policy entry naming a removed feature is shown, not fatal.
    return _Side(path, schema, Policy.load(path, schema=None), True)
  if not os.path.isfile(path):
    raise ReviewError(f"{path}: no such file or folder; give a schema folder or a "
                      f"{SCHEMA_FILE} file.")
  return _Side(path, read_schema(path), Policy.from_dict({}, source="<default policy>"), False)


def label_features(schema: schema_pb2.Schema) -> List[str]:
  """Features absent at serving time (`not_in_environment: "SERVING"`): the label, by convention."""
  return sorted(f.name for f in schema.feature if SERVING in f.not_in_environment)


def _label(schema: schema_pb2.Schema) -> Optional[str]:
  labels = label_features(schema)
  return labels[0] if len(labels) == 1 else None


# ---------------------------------------------------------------------------------------------
# Flattening protos and policies into comparable leaves


def _num(value) -> str:
  if isinstance(value, bool):
    return "true" if value else "false"
  if isinstance(value, float):
    return format(value, ".7g")
  return str(value)


def _quote(values: Iterable[str], limit: int = _LIST_LIMIT) -> str:
  values = list(values)
  shown = ", ".join(json.dumps(v, ensure_ascii=False) for v in values[:limit])
  return shown + (f", … (+{len(values) - limit} more)" if len(values) > limit else "")


def _scalar_text(field, value) -> str:
  if field.type == _descriptor.FieldDescriptor.TYPE_ENUM:
    known = field.enum_type.values_by_number
    return known[value].name if value in known else str(value)
  if field.type == _descriptor.FieldDescriptor.TYPE_STRING:
    return json.dumps(value, ensure_ascii=False)
  if field.type == _descriptor.FieldDescriptor.TYPE_BYTES:
    return repr(value)
  return _num(value)


def _flatten(message, prefix: str = "") -> Dict[str, Tuple[Any, str]]:
  """Every set leaf of a proto as `path -> (value, text)`. Repeated messages with a name are keyed
  by it (so reordering them is no change); an empty sub-message is a leaf of its own."""
  out: Dict[str, Tuple[Any, str]] = {}
  for field, value in message.ListFields():
    path = prefix + field.name
    if field.label == _descriptor.FieldDescriptor.LABEL_REPEATED:
      if field.type == _descriptor.FieldDescriptor.TYPE_MESSAGE:
        named = "name" in field.message_type.fields_by_name
        for i, item in enumerate(value):
          key = json.dumps(item.name) if named and item.name else str(i)
          out.update(_flatten(item, f"{path}[{key}]."))
      else:
        items = tuple(value)
        out[path] = (items, ", ".join(_scalar_text(field, v) for v in items))
    elif field.type == _descriptor.FieldDescriptor.TYPE_MESSAGE:
      inner = _flatten(value, path + ".")
      out.update(inner if inner else {path: ("{}", "{}")})
    else:
      out[path] = (value, _scalar_text(field, value))
  return {k.rstrip("."): v for k, v in out.items()}


def _flatten_dict(data: Any, prefix: str = "") -> Dict[str, Any]:
  if isinstance(data, Mapping) and data:
    out = {}
    for key in data:
      out.update(_flatten_dict(data[key], f"{prefix}{key}."))
    return out
  return {prefix.rstrip("."): data}


def _yaml_text(value: Any) -> str:
  if value is None:
    return "(none)"
  if isinstance(value, (bool, int, float)):
    return _num(value)
  if isinstance(value, str):
    return value
  return json.dumps(value, sort_keys=True, ensure_ascii=False)


# ---------------------------------------------------------------------------------------------
# What a feature means to TFDV and to the policy


@dataclasses.dataclass
class _Feature:
  proto: schema_pb2.Feature
  flat: Dict[str, Tuple[Any, str]]
  values: Optional[List[str]]             # resolved string domain, in order; None: no domain
  domain_ref: str
  int_domain: Optional[schema_pb2.IntDomain]
  float_domain: Optional[schema_pb2.FloatDomain]
  expected_in: Set[str]                   # default environments where the feature is expected

  @property
  def type_name(self) -> str:
    return schema_pb2.FeatureType.Name(self.proto.type)

  @property
  def numeric(self) -> bool:
    return self.proto.type in _NUMERIC

  @property
  def inactive(self) -> bool:
    return (self.proto.deprecated
            or schema_pb2.LifecycleStage.Name(self.proto.lifecycle_stage) in _INACTIVE_STAGES)


def _features(schema: schema_pb2.Schema) -> Dict[str, _Feature]:
  strings = {d.name: d for d in schema.string_domain}
  ints = {d.name: d for d in schema.int_domain}
  floats = {d.name: d for d in schema.float_domain}
  envs = list(schema.default_environment)
  out = {}
  for f in schema.feature:
    values = int_domain = float_domain = None
    if f.HasField("string_domain"):
      values = list(f.string_domain.value)
    elif f.HasField("int_domain"):
      int_domain = f.int_domain
    elif f.HasField("float_domain"):
      float_domain = f.float_domain
    elif f.domain:
      if f.domain in strings:
        values = list(strings[f.domain].value)
      elif f.domain in ints:
        int_domain = ints[f.domain]
      elif f.domain in floats:
        float_domain = floats[f.domain]
    out[f.name] = _Feature(f, _flatten(f), values, f.domain, int_domain, float_domain,
                           expected_environments(f, envs))
  return out


def expected_environments(feature: schema_pb2.Feature, environments: Sequence[str]) -> Set[str]:
  """The default environments in which TFDV expects the feature."""
  return {env for env in environments
          if (not feature.in_environment or env in feature.in_environment)
          and env not in feature.not_in_environment}


def _severity(policy: Policy, kind: str, feature: str, is_label: bool) -> str:
  """`(policy: warn, findings.warn)`: what DataGuard does with the kind, and which entry says so."""
  return "(policy: {}, {})".format(*severity_of(policy, kind, feature, is_label))


def severity_of(policy: Policy, kind: str, feature: str, is_label: bool) -> Tuple[str, str]:
  """(severity, the policy entry that decides it), by the same rules as `Policy.severity`."""
  per_feature = policy.data["features"].get(feature) or {}
  found = None
  for severity in SEVERITIES:
    if any(fnmatch.fnmatchcase(kind, p) for p in per_feature.get(severity, ()) or ()):
      found = (severity, f"features.{feature}.{severity}")
      break
  if found is None and is_label:
    found = (policy.data["findings"]["label"], "findings.label")
  if found is None:
    for severity in SEVERITIES:
      if any(fnmatch.fnmatchcase(kind, p) for p in policy.data["findings"][severity]):
        found = (severity, f"findings.{severity}")
        break
  if found is None:
    found = (policy.data["findings"]["default"], "findings.default")
  return found


def _effective_comparators(feature: _Feature, comparison: str, policy: Policy,
                           is_label: bool) -> Dict[str, Tuple[float, str]]:
  """Skew or drift checks DataGuard applies to the feature: kind -> (threshold, where it is set).
  As `validation.with_default_comparators`: the schema's comparator, else the policy's threshold
  (L-infinity for categorical, Jensen-Shannon for numeric); no default skew check on the label."""
  comparator = getattr(feature.proto, f"{comparison}_comparator")
  out = {}
  for field, kind, _ in _COMPARATORS:
    if comparator.HasField(field):
      out[kind] = (float(getattr(comparator, field).threshold), "schema")
  has_own = comparator.HasField("infinity_norm") or comparator.HasField("jensen_shannon_divergence")
  if not has_own and not (comparison == "skew" and is_label):
    name = feature.proto.name
    per_feature = policy.data["features"].get(name) or {}
    kind_key = "numeric" if feature.numeric else "categorical"
    if comparison in per_feature:
      threshold, where = per_feature[comparison], f"policy features.{name}.{comparison}"
    else:
      threshold = policy.data["thresholds"][comparison][kind_key]
      where = f"policy thresholds.{comparison}.{kind_key}"
    kind = ("COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH" if feature.numeric
            else "COMPARATOR_L_INFTY_HIGH")
    out[kind] = (float(threshold), where)
  return out


def _treatment(policy: Policy, feature: _Feature) -> List[Tuple[str, str, str]]:
  """How Transform treats the feature: (setting, value, policy entry that decides it)."""
  name = feature.proto.name
  entry = policy.data["features"].get(name) or {}
  if entry.get("exclude"):
    return [("exclude", "true", f"features.{name}.exclude")]
  kind = "numeric" if feature.numeric else "categorical"
  keys = ("impute", "scale") if feature.numeric else ("impute", "encode")
  out = []
  for key in keys:
    if key in entry:
      out.append((key, str(entry[key]), f"features.{name}.{key}"))
    else:
      out.append((key, str(policy.data["preprocessing"][kind].get(key)),
                  f"preprocessing.{kind}.{key}"))
  return out


def _treatment_text(policy: Policy, feature: _Feature) -> str:
  parts = _treatment(policy, feature)
  if parts[0][0] == "exclude":
    return f"excluded from the model ({parts[0][2]})"
  return ", ".join(f"{key} {value} ({where})" for key, value, where in parts)


# ---------------------------------------------------------------------------------------------
# The diff


@dataclasses.dataclass
class Review:
  """A structured schema review; `render` turns it into markdown."""
  schema_lines: List[str] = dataclasses.field(default_factory=list)
  features: Dict[str, List[str]] = dataclasses.field(default_factory=dict)  # name -> lines
  headings: Dict[str, str] = dataclasses.field(default_factory=dict)        # name -> "(BYTES)"
  policy_lines: List[str] = dataclasses.field(default_factory=list)
  added: List[str] = dataclasses.field(default_factory=list)
  removed: List[str] = dataclasses.field(default_factory=list)

  @property
  def empty(self) -> bool:
    return not (self.schema_lines or self.features or self.policy_lines)


class _Differ:
  """Compares two sides; every line is plain markdown ("- what: old → new" and indented
  "  - allows/blocks KIND ... (policy: severity, entry)")."""

  def __init__(self, old: _Side, new: _Side):
    self.old, self.new = old, new
    self.old_features, self.new_features = _features(old.schema), _features(new.schema)
    self.old_label, self.new_label = _label(old.schema), _label(new.schema)
    self.review = Review()

  # consequences ------------------------------------------------------------------------------

  def _why(self, verb: str, kind: str, name: str, case: str) -> str:
    """`  - allows KIND case (policy: …)`, with the severity the new policy gives the kind."""
    case = f" {case}" if case else ""
    policy = self.new.policy
    return f"  - {verb} {kind}{case} {_severity(policy, kind, name, name == self.new_label)}"

  def run(self) -> Review:
    self._schema_level()
    for name in sorted(set(self.old_features) | set(self.new_features)):
      old, new = self.old_features.get(name), self.new_features.get(name)
      if old is None:
        lines, heading = self._added(new), f"({new.type_name}, added)"
        self.review.added.append(name)
      elif new is None:
        lines, heading = self._removed(old), f"({old.type_name}, removed)"
        self.review.removed.append(name)
      else:
        lines = self._changed(old, new)
        heading = (f"({new.type_name})" if old.type_name == new.type_name
                   else f"({old.type_name} → {new.type_name})")
      if lines:
        if name == self.new_label or (new is None and name == self.old_label):
          heading = heading[:-1] + ", label)"
        self.review.features[name] = lines
        self.review.headings[name] = heading
    if self.old.has_policy or self.new.has_policy:
      self._policy_level()
    return self.review

  # schema level ------------------------------------------------------------------------------

  def _schema_level(self) -> None:
    lines = self.review.schema_lines
    old_envs, new_envs = list(self.old.schema.default_environment), list(
        self.new.schema.default_environment)
    added = [e for e in new_envs if e not in old_envs]
    removed = [e for e in old_envs if e not in new_envs]
    if added:
      lines.append(f"- default_environment: added {_quote(added)}")
    if removed:
      lines.append(f"- default_environment: removed {_quote(removed)}")
      users = sorted(f.name for f in self.new.schema.feature
                     if set(removed) & (set(f.in_environment) | set(f.not_in_environment)))
      if users:
        lines.append(f"  - features that still name it ({', '.join(users)}) fail "
                     "`trainguard schema check`")
    old_labels, new_labels = label_features(self.old.schema), label_features(self.new.schema)
    if old_labels != new_labels:
      lines.append(f"- label (not_in_environment: \"SERVING\"): {_names(old_labels)} → "
                   f"{_names(new_labels)}")
      lines.append("  - the model learns another target: class ids, rebalancing and the "
                   "evaluation follow the new label; retrain")
    old_domains = {d.name: list(d.value) for d in self.old.schema.string_domain}
    new_domains = {d.name: list(d.value) for d in self.new.schema.string_domain}
    referenced = {f.domain for f in list(self.old.schema.feature) + list(self.new.schema.feature)}
    for name in sorted(set(old_domains) | set(new_domains)):
      if name not in old_domains:
        lines.append(f"- string_domain {json.dumps(name)}: added ({len(new_domains[name])} "
                     "values)")
      elif name not in new_domains:
        lines.append(f"- string_domain {json.dumps(name)}: removed")
      elif name not in referenced and set(old_domains[name]) != set(new_domains[name]):
        plus = sorted(set(new_domains[name]) - set(old_domains[name]))
        minus = sorted(set(old_domains[name]) - set(new_domains[name]))
        what = "; ".join(p for p in (plus and f"added {_quote(plus)}",
                                     minus and f"removed {_quote(minus)}") if p)
        lines.append(f"- string_domain {json.dumps(name)} (used by no feature): {what}")
    old_flat = {k: v for k, v in _flatten(self.old.schema).items() if not _SCHEMA_HANDLED.match(k)}
    new_flat = {k: v for k, v in _flatten(self.new.schema).items() if not _SCHEMA_HANDLED.match(k)}
    lines.extend(_generic(old_flat, new_flat))

  # one feature -------------------------------------------------------------------------------

  def _added(self, new: _Feature) -> List[str]:
    name = new.proto.name
    summary = _summary(new)
    if new.values is not None:
      summary.append(f"domain: {len(new.values)} values ({_quote(new.values, 10)})")
    lines = [f"- added: {'; '.join(summary)}",
             self._why("allows", "SCHEMA_NEW_COLUMN", name, "for this column"),
             self._why("blocks", "SCHEMA_MISSING_COLUMN", name, "when the data lacks it")]
    if name != self.new_label:
      lines.append(f"- policy: {_treatment_text(self.new.policy, new)}")
    checks = []
    for comparison in ("skew", "drift"):
      for kind, (threshold, where) in sorted(_effective_comparators(
          new, comparison, self.new.policy, name == self.new_label).items()):
        checks.append(f"{comparison} {_MEASURE[kind]} ≤ {_num(threshold)} "
                      f"({where.replace('policy ', '')})")
    if checks:
      lines.append(f"- policy thresholds: {', '.join(checks)}")
    return lines

  def _removed(self, old: _Feature) -> List[str]:
    name = old.proto.name
    summary = _summary(old)
    lines = [f"- removed (was: {'; '.join(summary)})",
             self._why("blocks", "SCHEMA_NEW_COLUMN", name, "while the data still has the column"),
             f"  - allows SCHEMA_MISSING_COLUMN and every other anomaly on it (no longer checked)"]
    if name in self.new.policy.data["features"]:
      lines.append(f"- policy features.{name}: names a feature the schema no longer has; remove "
                   "the entry (`trainguard schema check` fails until then)")
    return lines

  def _changed(self, old: _Feature, new: _Feature) -> List[str]:
    name = new.proto.name
    lines: List[str] = []
    self._type(old, new, lines)
    self._lifecycle(old, new, lines)
    self._presence(old, new, lines)
    self._value_count(old, new, lines)
    self._domain(old, new, lines)
    self._bounds(old, new, lines)
    self._environments(old, new, lines)
    for comparison in ("skew", "drift"):
      self._comparators(old, new, comparison, lines)
    old_rest = {k: v for k, v in old.flat.items() if not _HANDLED.match(k)}
    new_rest = {k: v for k, v in new.flat.items() if not _HANDLED.match(k)}
    lines.extend(_generic(old_rest, new_rest))
    if self.old.has_policy or self.new.has_policy:
      old_entry = {k: v for k, v in (self.old.policy.data["features"].get(name) or {}).items()
                   if k not in ("skew", "drift")}
      new_entry = {k: v for k, v in (self.new.policy.data["features"].get(name) or {}).items()
                   if k not in ("skew", "drift")}
      lines.extend(_dict_lines(_flatten_dict(old_entry) if old_entry else {},
                               _flatten_dict(new_entry) if new_entry else {},
                               f"policy features.{name}."))
    return lines

  def _type(self, old: _Feature, new: _Feature, lines: List[str]) -> None:
    if old.type_name == new.type_name:
      return
    name = new.proto.name
    lines.append(f"- type: {old.type_name} → {new.type_name}")
    lines.append(self._why("allows", "UNEXPECTED_DATA_TYPE", name, f"for {new.type_name} data"))
    lines.append(self._why("blocks", "UNEXPECTED_DATA_TYPE", name, f"for {old.type_name} data"))
    if old.numeric != new.numeric and name != self.new_label:
      lines.append(f"- policy: now {_treatment_text(self.new.policy, new)}; was "
                   f"{_treatment_text(self.old.policy, old)}")

  def _lifecycle(self, old: _Feature, new: _Feature, lines: List[str]) -> None:
    for key in ("lifecycle_stage", "deprecated"):
      before, after = old.flat.get(key, (None, "(none)"))[1], new.flat.get(key, (None, "(none)"))[1]
      if before != after:
        lines.append(f"- {key}: {before} → {after}")
    if not old.inactive and new.inactive:
      lines.append("  - allows every anomaly kind on this feature (TFDV does not validate a "
                   "deprecated feature)")
    elif old.inactive and not new.inactive:
      lines.append("  - blocks every anomaly kind on this feature again (TFDV validates it)")

  def _presence(self, old: _Feature, new: _Feature, lines: List[str]) -> None:
    verb = self._presence_minimum(
        old, new, lines, "presence.min_fraction", "FEATURE_TYPE_LOW_FRACTION_PRESENT",
        lambda low, high: (f"when fewer than {_pct(high)} of examples have it" if low == 0 else
                           f"when {_pct(low)} to under {_pct(high)} of examples have it"))
    if verb == "allows":
      self._imputed(new, lines)
    self._presence_minimum(
        old, new, lines, "presence.min_count", "FEATURE_TYPE_LOW_NUMBER_PRESENT",
        lambda low, high: (f"when fewer than {high} examples have it" if low == 0 else
                           f"when {_int_range(low, high - 1)} examples have it"))

  def _presence_minimum(self, old: _Feature, new: _Feature, lines: List[str], key: str,
                        kind: str, case_of) -> Optional[str]:
    """One presence minimum that moved: the line, and which examples it now allows or blocks.
    Returns the verb ('allows'/'blocks'), or None when the minimum did not really move."""
    before, after = _get(old, key), _get(new, key)
    if before == after:
      return None
    lines.append(f"- {key}: {_text(old, key)} → {_text(new, key)}")
    low, high = sorted((before or 0, after or 0))
    if low == high:
      return None
    verb = "allows" if (after or 0) < (before or 0) else "blocks"
    lines.append(self._why(verb, kind, new.proto.name, case_of(low, high)))
    return verb

  def _imputed(self, new: _Feature, lines: List[str]) -> None:
    name = new.proto.name
    if name == self.new_label:
      lines.append("- policy: rows without a label cannot train; they are dropped before "
                   "training")
      return
    treatment = _treatment(self.new.policy, new)
    if treatment[0][0] == "exclude":
      return
    _, how, where = treatment[0]
    lines.append(f"- policy: more rows without a value, imputed with {how} ({where})")

  def _value_count(self, old: _Feature, new: _Feature, lines: List[str]) -> None:
    name = new.proto.name
    before, after = _get(old, "value_count.min"), _get(new, "value_count.min")
    if before != after:
      lines.append(f"- value_count.min: {_text(old, 'value_count.min')} → "
                   f"{_text(new, 'value_count.min')}")
      low, high = sorted((before or 0, after or 0))
      if low != high:
        verb = "allows" if (after or 0) < (before or 0) else "blocks"
        lines.append(self._why(verb, "FEATURE_TYPE_LOW_NUMBER_VALUES", name,
                               f"for examples with {_int_range(low, high - 1)} value(s)"))
        if verb == "allows" and low == 0:
          self._imputed(new, lines)
    before, after = _get(old, "value_count.max"), _get(new, "value_count.max")
    if before != after:
      lines.append(f"- value_count.max: {_text(old, 'value_count.max')} → "
                   f"{_text(new, 'value_count.max')}")
      verb, case = _upper_bound_change(before, after, "examples with more than", "values")
      lines.append(self._why(verb, "FEATURE_TYPE_HIGH_NUMBER_VALUES", name, case))

  def _domain(self, old: _Feature, new: _Feature, lines: List[str]) -> None:
    name = new.proto.name
    kind = "ENUM_TYPE_UNEXPECTED_STRING_VALUES"
    if old.domain_ref != new.domain_ref and old.values is not None and new.values is not None:
      lines.append(f"- domain: string_domain {json.dumps(old.domain_ref or '(inline)')} → "
                   f"{json.dumps(new.domain_ref or '(inline)')}")
    if old.values is None and new.values is None:
      return
    if old.values is None:
      lines.append(f"- domain: added with {len(new.values)} values: {_quote(new.values)}")
      lines.append(self._why("blocks", kind, name, "for any other value"))
      return
    if new.values is None:
      lines.append(f"- domain: removed (was {len(old.values)} values: {_quote(old.values)})")
      lines.append(self._why("allows", kind, name, "for any value"))
      return
    added = sorted(set(new.values) - set(old.values))
    removed = sorted(set(old.values) - set(new.values))
    is_label = name == self.new_label
    if added:
      lines.append(f"- domain: added {_quote(added)}")
      lines.append(self._why("allows", kind, name, f"for {_quote(added)}"))
      if is_label:
        lines.append(f"  - new label class(es): the model's outputs change; retrain")
    if removed:
      lines.append(f"- domain: removed {_quote(removed)}")
      lines.append(self._why("blocks", kind, name, f"for {_quote(removed)}"))
    if is_label:
      common = set(old.values) & set(new.values)
      old_order = [v for v in old.values if v in common]
      new_order = [v for v in new.values if v in common]
      if old_order != new_order:
        lines.append(f"- label class order: {', '.join(old_order)} → {', '.join(new_order)}")
        lines.append("  - class ids follow this order: retrain, and do not compare with models "
                     "trained on the old order")
      if added or removed:
        strategy = self.new.policy.rebalance.strategy
        lines.append(f"- policy rebalance (strategy {strategy}): balances the classes "
                     f"{', '.join(new.values)}")

  def _bounds(self, old: _Feature, new: _Feature, lines: List[str]) -> None:
    name = new.proto.name
    for domain, big, small in (("int_domain", "INT_TYPE_BIG_INT", "INT_TYPE_SMALL_INT"),
                               ("float_domain", "FLOAT_TYPE_BIG_FLOAT", "FLOAT_TYPE_SMALL_FLOAT")):
      old_d, new_d = getattr(old, domain), getattr(new, domain)
      for bound in ("max", "min"):
        before = getattr(old_d, bound) if old_d is not None and old_d.HasField(bound) else None
        after = getattr(new_d, bound) if new_d is not None and new_d.HasField(bound) else None
        if before == after:
          continue
        lines.append(f"- {domain}.{bound}: {_opt(before)} → {_opt(after)}")
        if bound == "max":
          verb, case = _upper_bound_change(before, after, "values above")
          lines.append(self._why(verb, big, name, case))
        else:
          verb, case = _lower_bound_change(before, after)
          lines.append(self._why(verb, small, name, case))
      if domain == "float_domain":
        for flag, kind in (("disallow_nan", "FLOAT_TYPE_HAS_NAN"),
                           ("disallow_inf", "FLOAT_TYPE_HAS_INF")):
          before = bool(old_d is not None and getattr(old_d, flag))
          after = bool(new_d is not None and getattr(new_d, flag))
          if before != after:
            lines.append(f"- float_domain.{flag}: {_num(before)} → {_num(after)}")
            lines.append(self._why("blocks" if after else "allows", kind, name, ""))

  def _environments(self, old: _Feature, new: _Feature, lines: List[str]) -> None:
    name = new.proto.name
    changed = False
    for key in ("in_environment", "not_in_environment"):
      before, after = list(getattr(old.proto, key)), list(getattr(new.proto, key))
      added = [e for e in after if e not in before]
      removed = [e for e in before if e not in after]
      if added:
        lines.append(f"- {key}: added {_quote(added)}")
      if removed:
        lines.append(f"- {key}: removed {_quote(removed)}")
      changed = changed or bool(added or removed)
    if not changed:
      return
    common = [e for e in self.new.schema.default_environment
              if e in self.old.schema.default_environment]
    for env in common:
      if env in old.expected_in and env not in new.expected_in:
        lines.append(self._why("allows", "SCHEMA_MISSING_COLUMN", name,
                               f"in {env} data (the column may be absent there)"))
      elif env in new.expected_in and env not in old.expected_in:
        lines.append(self._why("blocks", "SCHEMA_MISSING_COLUMN", name,
                               f"in {env} data without the column"))

  def _comparators(self, old: _Feature, new: _Feature, comparison: str, lines: List[str]) -> None:
    name = new.proto.name
    before = _effective_comparators(old, comparison, self.old.policy, name == self.old_label)
    after = _effective_comparators(new, comparison, self.new.policy, name == self.new_label)
    for kind in sorted(set(before) | set(after)):
      b, a = before.get(kind), after.get(kind)
      if b == a:
        continue
      if b and a and b[1] == a[1] and b[1].startswith("policy thresholds."):
        continue  # a change of the policy-wide default: reported once, under Policy
      measure = f"- {comparison} ({_MEASURE[kind]})"
      if b is None:
        lines.append(f"{measure}: not checked → {_num(a[0])} ({a[1]})")
        lines.append(self._why("blocks", kind, name, f"for distances above {_num(a[0])}"))
        if kind == "COMPARATOR_L_INFTY_HIGH" and new.numeric:
          lines.append("  - note: TFDV's L-infinity distance of a numeric feature always reads 0; "
                       "use jensen_shannon_divergence for numeric features")
      elif a is None:
        lines.append(f"{measure}: {_num(b[0])} ({b[1]}) → not checked")
        lines.append(self._why("allows", kind, name, "for any distance"))
      else:
        lines.append(f"{measure}: {_num(b[0])} ({b[1]}) → {_num(a[0])} ({a[1]})")
        if a[0] != b[0]:
          low, high = sorted((a[0], b[0]))
          lines.append(self._why("allows" if a[0] > b[0] else "blocks", kind, name,
                                 f"for distances above {_num(low)} up to {_num(high)}"))

  # policy level ------------------------------------------------------------------------------

  def _policy_level(self) -> None:
    old_data = {k: v for k, v in self.old.policy.data.items() if k != "features"}
    new_data = {k: v for k, v in self.new.policy.data.items() if k != "features"}
    old_flat, new_flat = _flatten_dict(old_data), _flatten_dict(new_data)
    lines = self.review.policy_lines
    for key in sorted(set(old_flat) | set(new_flat), key=_policy_order):
      before, after = old_flat.get(key), new_flat.get(key)
      if before == after:
        continue
      if key in ("findings.block", "findings.warn", "findings.info"):
        added = [p for p in after or [] if p not in (before or [])]
        removed = [p for p in before or [] if p not in (after or [])]
        if added or removed:
          what = "; ".join(p for p in (added and f"added {_quote(added)}",
                                       removed and f"removed {_quote(removed)}") if p)
          lines.append(f"- {key}: {what}")
          for kind in sorted(set(added) | set(removed)):
            if not any(c in kind for c in "*?["):
              was, now = self.old.policy.severity(kind), self.new.policy.severity(kind)
              if was != now:
                lines.append(f"  - {kind}: {was} → {now}")
        continue
      lines.append(f"- {key}: {_yaml_text(before)} → {_yaml_text(after)}{self._users(key)}")
      match = re.match(r"^thresholds\.(skew|drift)\.(numeric|categorical)$", key)
      if match and isinstance(before, (int, float)) and isinstance(after, (int, float)):
        kind = ("COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH" if match.group(2) == "numeric"
                else "COMPARATOR_L_INFTY_HIGH")
        low, high = sorted((float(before), float(after)))
        severity = _severity(self.new.policy, kind, "", False)
        lines.append(f"  - {'allows' if after > before else 'blocks'} {kind} for distances above "
                     f"{_num(low)} up to {_num(high)} {severity}")
    known = set(self.old_features) | set(self.new_features)
    for name in sorted(set(self.new.policy.data["features"]) - known):
      lines.append(f"- features.{name}: names a feature neither schema has; fix the name or "
                   "remove the entry")

  def _users(self, key: str) -> str:
    """` (used by: a, b)`: the features a policy-wide default applies to, in the new schema."""
    match = re.match(r"^(thresholds\.(skew|drift)|preprocessing)\.(numeric|categorical)"
                     r"(?:\.(\w+))?$", key)
    if not match:
      return ""
    group, comparison, kind, setting = match.groups()
    users = []
    for name, feature in sorted(self.new_features.items()):
      if feature.numeric != (kind == "numeric"):
        continue
      is_label = name == self.new_label
      if group == "preprocessing":
        wheres = [] if is_label else [w for _, _, w in _treatment(self.new.policy, feature)]
        if f"preprocessing.{kind}.{setting}" not in wheres:
          continue
      else:
        wheres = [w for _, w in _effective_comparators(feature, comparison, self.new.policy,
                                                       is_label).values()]
        if f"policy thresholds.{comparison}.{kind}" not in wheres:
          continue
      users.append(name)
    return f" (used by: {_names(users, quote=False) if users else 'no feature'})"


def _summary(feature: _Feature) -> List[str]:
  """A feature's settings, type first: "type: INT", "presence.min_fraction: 0.9", …"""
  items = [f"{k}: {text}" for k, (_, text) in feature.flat.items()
           if k not in ("name", "type") and not k.startswith(("string_domain.value", "domain"))]
  return [f"type: {feature.type_name}"] + items


def _names(names: Sequence[str], quote: bool = True) -> str:
  if not names:
    return "(none)"
  shown = [f"`{n}`" if quote else n for n in names[:_LIST_LIMIT]]
  more = f", … (+{len(names) - _LIST_LIMIT} more)" if len(names) > _LIST_LIMIT else ""
  return ", ".join(shown) + more


def _policy_order(key: str) -> Tuple[int, str]:
  sections = ("version", "findings", "thresholds", "preprocessing", "rebalance")
  head = key.split(".", 1)[0]
  return (sections.index(head) if head in sections else len(sections), key)


def _get(feature: _Feature, key: str):
  return feature.flat.get(key, (None, ""))[0]


def _text(feature: _Feature, key: str) -> str:
  return feature.flat.get(key, (None, "(none)"))[1]


def _opt(value) -> str:
  return "(none)" if value is None else _num(value)


def _pct(fraction: float) -> str:
  return f"{fraction * 100:.4g}%"


def _int_range(low: int, high: int) -> str:
  return str(low) if low == high else f"{low} to {high}"


def _upper_bound_change(before, after, what: str, unit: str = "") -> Tuple[str, str]:
  """A maximum that moved: (allows/blocks, the case), e.g. 'for values above 50 up to 59'."""
  unit = f" {unit}" if unit else ""
  if after is None or (before is not None and after > before):
    upto = f" up to {_num(after)}" if after is not None else ""
    return "allows", f"for {what} {_num(before)}{upto}{unit}"
  upto = f" up to {_num(before)}" if before is not None else ""
  return "blocks", f"for {what} {_num(after)}{upto}{unit}"


def _lower_bound_change(before, after) -> Tuple[str, str]:
  if after is None or (before is not None and after < before):
    down = f" down to {_num(after)}" if after is not None else ""
    return "allows", f"for values below {_num(before)}{down}"
  down = f" down to {_num(before)}" if before is not None else ""
  return "blocks", f"for values below {_num(after)}{down}"


def _generic(old: Mapping[str, Tuple[Any, str]], new: Mapping[str, Tuple[Any, str]]) -> List[str]:
  lines = []
  for key in sorted(set(old) | set(new)):
    before, after = old.get(key), new.get(key)
    if before is not None and after is not None and before[0] == after[0]:
      continue
    was, now = (before[1] if before else "(none)"), (after[1] if after else "(none)")
    lines.append(f"- {key}: {was} → {now}")
  return lines


def _dict_lines(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str) -> List[str]:
  lines = []
  for key in sorted(set(old) | set(new)):
    before, after = old.get(key), new.get(key)
    if before == after:
      continue
    if isinstance(before, list) or isinstance(after, list):
      added = [p for p in after or [] if p not in (before or [])]
      removed = [p for p in before or [] if p not in (after or [])]
      what = "; ".join(p for p in (added and f"added {_quote(added)}",
                                   removed and f"removed {_quote(removed)}") if p)
      lines.append(f"- {prefix}{key}: {what}")
    else:
      lines.append(f"- {prefix}{key}: {_yaml_text(before)} → {_yaml_text(after)}")
  return lines


def render(review: Review, old_name: str, new_name: str, level: int = 1,
           notes: Optional[Mapping[str, List[str]]] = None,
           note_headings: Optional[Mapping[str, str]] = None) -> str:
  """The review as markdown; `notes` (propose) add per-feature lines above the changes."""
  notes = notes or {}
  if review.empty and not notes:
    return NO_CHANGES
  h = "#" * level
  changed = len(review.features) - len(review.added) - len(review.removed)
  settings = sum(line.startswith("- ") for line in review.policy_lines)
  summary = (f"{changed} feature(s) changed, {len(review.added)} added, {len(review.removed)} "
             f"removed; {settings} policy-wide setting(s) changed.")
  every = review.schema_lines + review.policy_lines + [
      line for lines in review.features.values() for line in lines]
  relaxed = sum(l.startswith("  - allows ") and "(policy: block," in l for l in every)
  tightened = sum(l.startswith("  - blocks ") and "(policy: block," in l for l in every)
  verdict = (f"Checks that stop a run (policy: block): {relaxed} relaxed, {tightened} "
             "tightened.")
  out = [f"{h} Schema review: `{old_name}` → `{new_name}`", "", verdict, "", summary, "",
         "\"allows KIND\": TFDV no longer raises that anomaly in the case named; \"blocks KIND\": "
         "it now does. `(policy: …)` is what DataGuard then does (block stops the run) and the "
         "policy.yaml entry that decides it.", ""]
  if review.schema_lines:
    out += [f"{h}# Schema", ""] + review.schema_lines + [""]
  names = sorted(set(review.features) | set(notes))
  if names:
    out += [f"{h}# Features", ""]
    for name in names:
      heading = review.headings.get(name) or (note_headings or {}).get(name, "")
      out += [f"{h}## `{name}` {heading}".rstrip(), ""]
      if name in notes:
        out += ["Anomalies in the new data:", ""] + notes[name] + [""]
        if name in review.features:
          out += ["Proposed changes:", ""]
      out += review.features.get(name, []) + ([""] if name in review.features else [])
  if review.policy_lines:
    out += [f"{h}# Policy (policy.yaml)", ""] + review.policy_lines + [""]
  return "\n".join(out).rstrip() + "\n"


def compare(old: str, new: str) -> Review:
  """The structured review of two schema files or folders."""
  return _Differ(_load_side(old), _load_side(new)).run()


def diff(old: str, new: str, old_name: Optional[str] = None, new_name: Optional[str] = None,
         level: int = 1) -> str:
  """A markdown review of the change from `old` to `new` (schema files or schema folders; folders
  include policy.yaml). Exactly "no changes" when they mean the same (reordered features or
  non-label domain values, comments and policy defaults written out do not count). `level` is the
  markdown level of the review's own heading (its sections are one deeper)."""
  return render(compare(old, new), old_name or old, new_name or new, level=level)


# ---------------------------------------------------------------------------------------------
# check


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
  try:
    features.label_classes_from_schema(schema, labels[0])
  except ValueError as e:
    return [f"{schema_path}: {e}"]
  return []


# ---------------------------------------------------------------------------------------------
# propose (TensorFlow Data Validation, imported only here)

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
  label = label or _label(curated)
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
  policy_text = _policy_with_entries(policy_path, entries, proposed,
                                     os.path.basename(data.rstrip(os.sep)))
  target = schema_folder if write else out
  # The review compares the curated folder with the proposal before anything is written.
  old_side = _Side(schema_folder, curated, Policy.load(schema_folder), True)
  new_policy = Policy.from_dict(yaml.safe_load(policy_text or "") or {}, source=POLICY_FILE)
  new_side = _Side(target or schema_folder, proposed, new_policy, True)
  review = _Differ(old_side, new_side).run()
  for record in anomalies:
    record["changes"] = [line[2:] for line in review.features.get(record["feature"], [])
                         if line.startswith("- ")]
  review_markdown = _note(schema_folder, target, data, num_examples, anomalies, needs_decision,
                          preflight, review, {f.name: f for f in proposed.feature})

  written = []
  if target is not None:
    os.makedirs(target, exist_ok=True)
    for name, text in ((SCHEMA_FILE, schema_text), (POLICY_FILE, policy_text)):
      path = os.path.join(target, name)
      if text is not None and _write_if_changed(path, text):
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
      _write_if_changed(path, text)
      written.append(path)
  return Proposal(proposed, entries, anomalies, needs_decision, review_markdown, written,
                  num_examples, statistics)


def _statistics(data: str, label: str, split: str, delimiter: str,
                na_values: Optional[Sequence[str]]):
  """The new data's statistics (DatasetFeatureStatisticsList) and the CSV pre-flight's findings."""
  import tempfile  # pylint: disable=g-import-not-at-top
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
  from trainguard import csv_input  # pylint: disable=g-import-not-at-top
  na = tuple(na_values) if na_values is not None else csv_input.DEFAULT_NA_TOKENS
  profile = csv_input.inspect(data, label, delimiter, na)
  preflight = [f.line() for f in profile.findings] + [f"warning: {w}" for w in profile.warnings]
  import tensorflow_data_validation as tfdv  # pylint: disable=g-import-not-at-top
  from apache_beam.options import pipeline_options  # pylint: disable=g-import-not-at-top
  from trainguard.pipeline import configs  # pylint: disable=g-import-not-at-top
  with tempfile.TemporaryDirectory(prefix="trainguard-propose-") as tmp:
    staged = os.path.join(tmp, "data.csv")
    csv_input.stage(profile, staged, na)
    statistics = tfdv.generate_statistics_from_csv(
        staged, output_path=os.path.join(tmp, "stats.tfrecord"),
        pipeline_options=pipeline_options.PipelineOptions(list(configs.BEAM_PIPELINE_ARGS)))
  return statistics, preflight


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
    severity, where = severity_of(policy, kind, feature, feature == label)
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
  from trainguard.components.data_guard import dataset_checks  # pylint: disable=g-import-not-at-top
  known = {f.name for f in curated.feature}
  distinct = dataset_checks.distinct_counts(statistics)
  limit = policy.data["thresholds"]["dataset"]["id_like_fraction"]
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
    elif unique and present > 20 and unique / present >= limit:
      entries[feature.name] = {"exclude": True}
      needs_decision.append(f"`{feature.name}` (new) looks like an identifier ({unique} distinct "
                            f"values in {present} rows); the proposed policy excludes it.")
    elif feature.type in _NUMERIC:
      entries[feature.name] = dict(policy.data["preprocessing"]["numeric"])
    else:
      entries[feature.name] = dict(policy.data["preprocessing"]["categorical"])
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


def _policy_with_entries(policy_path: str, entries: Mapping[str, Mapping[str, Any]],
                         schema: schema_pb2.Schema, source: str) -> Optional[str]:
  """The curated policy.yaml text with `entries` added under `features:`, comments kept. None when
  there is no policy file and nothing to add."""
  text = ""
  if os.path.isfile(policy_path):
    with open(policy_path, encoding="utf-8") as f:
      text = f.read()
  if not entries:
    return text or None
  raw = (yaml.safe_load(text) or {}) if text else {"version": 1}
  expected = copy.deepcopy(raw)
  expected.setdefault("features", {})
  expected["features"] = dict(expected["features"] or {})
  expected["features"].update({k: dict(v) for k, v in entries.items()})
  comment = f"  # new in {source}: review (trainguard schema propose)"
  new_text = _insert_entries(text or "version: 1\n", entries, comment)
  if new_text is None or yaml.safe_load(new_text) != expected:
    new_text = ("# Rewritten by trainguard schema propose (comments could not be kept).\n"
                + yaml.safe_dump(expected, sort_keys=False))
  Policy.from_dict(yaml.safe_load(new_text), source=policy_path, schema=schema)
  return new_text


def _insert_entries(text: str, entries: Mapping[str, Mapping[str, Any]],
                    comment: str) -> Optional[str]:
  lines = text.splitlines()
  at = next((i for i, l in enumerate(lines) if re.match(r"^features:", l)), None)
  def entry_lines(indent: str) -> List[str]:
    return [f"{indent}{name}: "
            f"{yaml.safe_dump(dict(value), default_flow_style=True, sort_keys=False).strip()}"
            f"{comment}" for name, value in entries.items()]
  if at is None:
    return text.rstrip("\n") + "\n\nfeatures:\n" + "\n".join(entry_lines("  ")) + "\n"
  rest = lines[at][len("features:"):].split("#", 1)[0].strip()
  if rest in ("{}", "null", "~"):
    lines[at:at + 1] = ["features:"] + entry_lines("  ")
    return "\n".join(lines) + "\n"
  if rest:
    return None  # a non-empty flow mapping: rewrite instead
  end, indent = at, None
  for i in range(at + 1, len(lines)):
    line = lines[i]
    if not line.strip() or line.lstrip().startswith("#"):
      continue
    if not line[0].isspace():
      break
    if indent is None:
      indent = line[:len(line) - len(line.lstrip())]
    end = i
  lines[end + 1:end + 1] = entry_lines(indent or "  ")
  return "\n".join(lines) + "\n"


def _write_if_changed(path: str, text: str) -> bool:
  if os.path.isfile(path):
    with open(path, encoding="utf-8") as f:
      if f.read() == text:
        return False
  with open(path, "w", encoding="utf-8") as f:
    f.write(text)
  return True


def _note(schema_folder: str, target: Optional[str], data: str, num_examples: int,
          anomalies: List[Dict[str, Any]], needs_decision: List[str], preflight: List[str],
          review: Review, types: Mapping[str, schema_pb2.Feature]) -> str:
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
