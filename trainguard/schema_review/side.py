"""One side of a schema review: a schema and its policy, and what each feature means to TFDV and to
the policy there.

Why apart from the diff: `propose` builds both sides itself (the curated folder, and the proposal
before it is written) and asks the same questions of a feature (where is it expected, which skew
and drift checks apply). The policy's rules are not re-coded here: severities, thresholds and
treatments come from `Policy.*_with_source`, which also name the key that decides, so a review
line says which policy.yaml entry to change. No TensorFlow.
"""
import dataclasses
import os
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from tensorflow_metadata.proto.v0 import schema_pb2

from trainguard import schema_folder
from trainguard.errors import InputError, ReviewError
from trainguard.policy import CATEGORICAL, NUMERIC, Policy
from trainguard.schema_folder import SCHEMA_FILE, label_features
from trainguard.schema_review.flatten import flatten_proto

NUMERIC_TYPES = (schema_pb2.INT, schema_pb2.FLOAT)
_INACTIVE_STAGES = ("DEPRECATED", "DISABLED")
COMPARATORS = (  # schema field, anomaly kind, what it measures
    ("infinity_norm", "COMPARATOR_L_INFTY_HIGH", "L-infinity distance"),
    ("jensen_shannon_divergence", "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH",
     "Jensen-Shannon divergence"),
    ("normalized_abs_difference", "COMPARATOR_NORMALIZED_ABSOLUTE_DIFFERENCE_HIGH",
     "normalized absolute difference"),
)
MEASURE = {kind: measure for _, kind, measure in COMPARATORS}
# A numeric feature without a comparator of its own: its mean's move in std (drift_findings.py).
NUMERIC_KINDS = {"skew": "NUMERIC_SKEW", "drift": "NUMERIC_DRIFT"}
MEASURE.update({kind: "mean shift in std" for kind in NUMERIC_KINDS.values()})


def read_schema(path: str) -> schema_pb2.Schema:
  """`schema_folder.read_schema`, its message unchanged, as the ReviewError that `propose`, `diff`
  and `check` raise (the CLI's schema commands report it as a usage error)."""
  try:
    return schema_folder.read_schema(path)
  except InputError as e:
    raise ReviewError(str(e)) from e


@dataclasses.dataclass
class ReviewSide:
  """One side of a diff: a schema and (for a folder) its policy, defaults merged in."""
  path: str
  schema: schema_pb2.Schema
  policy: Policy
  has_policy: bool


def load_side(path: str) -> ReviewSide:
  """A schema folder (schema and policy) or a schema file (with the default policy)."""
  if os.path.isdir(path):
    schema_path = os.path.join(path, SCHEMA_FILE)
    if not os.path.isfile(schema_path):
      raise ReviewError(f"{path}: no {SCHEMA_FILE} in it; point at a schema folder or a "
                        "schema file.")
    schema = read_schema(schema_path)
    # Validated without the schema: a policy entry naming a removed feature is shown, not fatal.
    return ReviewSide(path, schema, Policy.load(path, schema=None), True)
  if not os.path.isfile(path):
    raise ReviewError(f"{path}: no such file or folder; give a schema folder or a "
                      f"{SCHEMA_FILE} file.")
  return ReviewSide(path, read_schema(path), Policy.from_dict({}, source="<default policy>"),
                    False)


def label_of(schema: schema_pb2.Schema) -> Optional[str]:
  """The label when exactly one feature is absent at serving time, else None."""
  labels = label_features(schema)
  return labels[0] if len(labels) == 1 else None


@dataclasses.dataclass
class Feature:
  """A schema feature resolved for review: its flattened leaves and its domain, named or inline."""
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
    return self.proto.type in NUMERIC_TYPES

  @property
  def kind(self) -> str:
    """The policy's kind of the feature: 'numeric' or 'categorical'."""
    return NUMERIC if self.numeric else CATEGORICAL

  @property
  def inactive(self) -> bool:
    return (self.proto.deprecated
            or schema_pb2.LifecycleStage.Name(self.proto.lifecycle_stage) in _INACTIVE_STAGES)

  def leaf_value(self, key: str):
    """The value of a flattened leaf (`presence.min_fraction`), None when unset."""
    return self.flat.get(key, (None, ""))[0]

  def leaf_text(self, key: str) -> str:
    """The text of a flattened leaf, "(none)" when unset."""
    return self.flat.get(key, (None, "(none)"))[1]

  def settings_summary(self) -> List[str]:
    """The feature's settings, type first: "type: INT", "presence.min_fraction: 0.9", …"""
    items = [f"{k}: {text}" for k, (_, text) in self.flat.items()
             if k not in ("name", "type") and not k.startswith(("string_domain.value", "domain"))]
    return [f"type: {self.type_name}"] + items


def features_of(schema: schema_pb2.Schema) -> Dict[str, Feature]:
  """Every feature of `schema` by name, with named domains resolved."""
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
    out[f.name] = Feature(f, flatten_proto(f), values, f.domain, int_domain, float_domain,
                          expected_environments(f, envs))
  return out


def expected_environments(feature: schema_pb2.Feature, environments: Sequence[str]) -> Set[str]:
  """The default environments in which TFDV expects the feature."""
  return {env for env in environments
          if (not feature.in_environment or env in feature.in_environment)
          and env not in feature.not_in_environment}


def severity_note(policy: Policy, kind: str, feature: str, is_label: bool) -> str:
  """`(policy: warn, findings.warn)`: what DataGuard does with the kind, and which entry says so."""
  return "(policy: {}, {})".format(*policy.severity_with_source(kind, feature, is_label))


def effective_comparators(feature: Feature, comparison: str, policy: Policy,
                          is_label: bool) -> Dict[str, Tuple[float, str]]:
  """Skew or drift checks DataGuard applies to the feature: kind -> (threshold, where it is set).
  As `validation.with_default_comparators`: the schema's comparator, else the policy's threshold
  (L-infinity for categorical, the mean shift in std for numeric: NUMERIC_SKEW / NUMERIC_DRIFT);
  no default skew check on the label."""
  comparator = getattr(feature.proto, f"{comparison}_comparator")
  out = {}
  for field, kind, _ in COMPARATORS:
    if comparator.HasField(field):
      out[kind] = (float(getattr(comparator, field).threshold), "schema")
  has_own = comparator.HasField("infinity_norm") or comparator.HasField("jensen_shannon_divergence")
  if not has_own and not (comparison == "skew" and is_label):
    threshold, key = policy.threshold_with_source(comparison, feature.proto.name, feature.numeric)
    kind = NUMERIC_KINDS[comparison] if feature.numeric else "COMPARATOR_L_INFTY_HIGH"
    out[kind] = (threshold, f"policy {key}")
  return out


def treatment_text(policy: Policy, feature: Feature) -> str:
  """How Transform treats the feature, each setting with the policy entry that decides it."""
  parts = policy.treatment_with_source(feature.proto.name, feature.kind)
  if parts[0][0] == "exclude":
    return f"excluded from the model ({parts[0][2]})"
  return ", ".join(f"{key} {value} ({where})" for key, value, where in parts)
