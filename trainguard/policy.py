"""The policy file, `schemas/<name>/policy.yaml`: the decisions a reviewer should see next to the schema.

The schema says what the data looks like; the policy says what trainguard does about it: which
findings stop a run and which only warn, default skew/drift thresholds, how each feature is imputed,
scaled and encoded, and how class imbalance is fixed. One pull request shows both a schema change and
its consequences. The file is validated on load against the schema (unknown keys, unknown features,
impossible combinations), so a mistake fails in well under a second, before TensorFlow or Beam start.

Format (every key optional; see `docs/policy.md`):

  version: 1
  findings:                  # lists extend the defaults; a kind listed here leaves the others
    block: [UNEXPECTED_DATA_TYPE, "STRING_TYPE_NOW_*", ...]   # kinds that stop the run (globs)
    warn: [FEATURE_TYPE_LOW_FRACTION_PRESENT, ...]             # kinds reported, run goes on
    info: [...]
    replace: false           # true: the three lists above are the whole lists, no defaults
    default: warn            # severity of a kind named in no list
    label: block             # severity of any schema anomaly on the label column
  thresholds:
    skew:  {categorical: 0.15, numeric: 0.4}  # L-infinity / mean shift in std, train vs serving
    drift: {categorical: 0.15, numeric: 0.4}  # this span's train vs the previous span's
    dataset: {cross_split_fraction: 0.01, leakage_balanced_accuracy: 0.98, leakage_nmi: 0.98,
              imbalance_ratio: 1.5, scale_ratio: 100, id_like_fraction: 0.95}
  preprocessing:
    numeric: {impute: mean, scale: z_score}
    categorical: {impute: most_frequent, encode: vocabulary}
    missing_indicators: false    # add <feature>_was_missing (0/1) for every feature
  features:
    <feature>: {impute: ..., scale: ..., exclude: false, missing_indicator: true, skew: 0.2,
                drift: 0.2, block: [...], warn: [...], missing_values: [...], clip: [q, q],
                normalize: true, datetime: parts}
  rebalance: {strategy: auto, sampling_strategy: auto, k_neighbors: 5, class_weights: false}
  label:
    map: {"adelie": "Adelie", "Adelie ": "Adelie"}   # spellings of a class → the class
"""
import copy
import dataclasses
import json
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import yaml

from trainguard import policy_format, policy_kinds
from trainguard.errors import PolicyError
# The format's names, imported from here by the components, the CLI and schema review.
from trainguard.policy_defaults import (  # noqa: F401  pylint: disable=unused-import
    BUILTIN_TREATMENT, CATEGORICAL, DATASET_THRESHOLDS, DEFAULT_BLOCK, DEFAULT_INFO, DEFAULT_WARN,
    ENCODINGS, ID_LIKE_MIN_ROWS, IMPUTATIONS, NUMERIC, NUMERIC_ONLY_IMPUTATIONS, POLICY_FILE,
    SAMPLING_STRATEGY_NAMES, SCALINGS, STRATEGIES, SYNTHESIZING_STRATEGIES, defaults)
from trainguard.policy_kinds import SEVERITIES  # noqa: F401  pylint: disable=unused-import

# `Policy.source` of the built-in policy (no policy.yaml), as findings.json and reviews show it.
DEFAULT_SOURCE = "<default policy>"


@dataclasses.dataclass(frozen=True)
class RebalanceSettings:
  """`rebalance:` of the policy, validated: what Rebalance and the Trainer are given."""
  strategy: str = "auto"
  sampling_strategy: Union[str, float, Mapping[str, int]] = "auto"
  k_neighbors: int = 5
  seed: Optional[int] = None
  chunk_size: Optional[int] = None
  class_weights: bool = False


@dataclasses.dataclass(frozen=True)
class RegressionSettings:
  """`regression:` of the policy, validated: what Transform, the Trainer and the Evaluator use
  for a numeric label."""
  label_transform: str = "none"
  loss: str = "mse"
  min_r2: float = 0.05


class Policy:
  """A validated policy: defaults merged with the file, checked against the schema's features."""

  def __init__(self, data: Mapping[str, Any], source: str = "<policy>"):
    self.source = source
    self.data = data

  @classmethod
  def load(cls, schema_folder: Union[str, "os.PathLike[str]"], schema=None) -> "Policy":
    """Reads `<schema_folder>/policy.yaml` and validates it (against `schema` when given).

    An existing folder without a policy.yaml gets the defaults: a schema folder before its first
    review (SchemaGen's output, `schema init` without an edit) has none, and that is no mistake.
    A folder that does not exist, or the path of a file (policy.yaml itself, most often), is one:
    both used to give the defaults without a word, so a typo relaxed every decision."""
    folder = os.fspath(schema_folder)
    if not os.path.exists(folder):
      raise PolicyError(f"{folder}: no such folder; Policy.load takes the schema folder that holds "
                        f"{POLICY_FILE} (e.g. schemas/penguins), or use Policy.default() for the "
                        "defaults.")
    if not os.path.isdir(folder):
      hint = (f"pass its folder, {os.path.dirname(folder) or '.'!r}"
              if os.path.basename(folder) == POLICY_FILE
              else f"pass the folder that holds {POLICY_FILE}")
      raise PolicyError(f"{folder}: a file, not a folder; Policy.load takes the schema folder that "
                        f"holds {POLICY_FILE}: {hint}.")
    path = os.path.join(folder, POLICY_FILE)
    if not os.path.isfile(path):
      near = sorted(n for n in os.listdir(folder)
                    if n.lower() in (POLICY_FILE, "policy.yml") and n != POLICY_FILE)
      if near:
        raise PolicyError(f"{os.path.join(folder, near[0])}: trainguard reads {POLICY_FILE} only; "
                          f"rename it to {POLICY_FILE}.")
      return cls.default(schema)
    with open(path, encoding="utf-8") as f:
      try:
        raw = yaml.safe_load(f) or {}
      except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise PolicyError(f"{path}{where}: not valid YAML ({problem}); fix the syntax.") from e
    return cls.from_dict(raw, source=path, schema=schema)

  @classmethod
  def default(cls, schema=None) -> "Policy":
    """The built-in policy (docs/policy.md's defaults), as a folder without policy.yaml gets."""
    return cls.from_dict({}, source=DEFAULT_SOURCE, schema=schema)

  @classmethod
  def from_dict(cls, raw: Mapping[str, Any], source: str = "<policy>", schema=None) -> "Policy":
    return cls(policy_format.parse(raw, source, schema), source)

  @classmethod
  def from_json(cls, text: str) -> "Policy":
    payload = json.loads(text)
    return cls(payload["data"], payload["source"])

  def to_json(self) -> str:
    return json.dumps({"source": self.source, "data": self.data}, sort_keys=True)

  def check_against(self, schema) -> "Policy":
    """Validates this policy against `schema` (feature names, with the closest one suggested, and
    their types): for a policy loaded before the schema was at hand, e.g. `DataGuard(policy=
    "schemas/mine")`, whose schema is a channel until the executor runs. Returns self."""
    policy_format.validate(self.data, self.source, schema)
    return self

  # --- what the components ask ---------------------------------------------------------------
  #
  # Every rule of the policy is answered here and nowhere else: DataGuard, Transform's plan, the
  # pre-flight and schema review ask, so they cannot drift apart (before, schema review, the
  # pre-flight and Rebalance each re-coded some of these, and three copies had drifted). The
  # `*_with_source` forms also return the policy key that decided, for messages and reviews.

  def severity_with_source(self, kind: str, feature: Optional[str] = None,
                           is_label: bool = False) -> Tuple[str, str]:
    """(severity, deciding key) of a finding `kind` on `feature`: per-feature lists, then the
    label rule, then the global block/warn/info lists (glob patterns), then the default."""
    per_feature = self.data["features"].get(feature or "") or {}
    severity = policy_kinds.decide(kind, per_feature)
    if severity:
      return severity, f"features.{feature}.{severity}"
    if is_label:
      return self.data["findings"]["label"], "findings.label"
    severity = policy_kinds.decide(kind, self.data["findings"])
    if severity:
      return severity, f"findings.{severity}"
    return self.data["findings"]["default"], "findings.default"

  def severity(self, kind: str, feature: Optional[str] = None, is_label: bool = False) -> str:
    return self.severity_with_source(kind, feature, is_label)[0]

  def threshold_with_source(self, comparison: str, feature: str,
                            numeric: bool) -> Tuple[float, str]:
    """(threshold, deciding key) of `feature`'s skew or drift check (`comparison`)."""
    per_feature = self.data["features"].get(feature) or {}
    if comparison in per_feature:
      return float(per_feature[comparison]), f"features.{feature}.{comparison}"
    kind = NUMERIC if numeric else CATEGORICAL
    return (float(self.data["thresholds"][comparison][kind]),
            f"thresholds.{comparison}.{kind}")

  def threshold(self, comparison: str, feature: str, numeric: bool) -> float:
    """The skew or drift threshold of `feature` (`comparison` is 'skew' or 'drift')."""
    return self.threshold_with_source(comparison, feature, numeric)[0]

  def dataset_threshold(self, name: str) -> float:
    """`thresholds.dataset.<name>`: where a dataset check (DataGuard's pass, the pre-flight)
    starts to count."""
    return float(self.data["thresholds"]["dataset"][name])

  def training_threshold(self, name: str) -> float:
    """Where a training-diagnosis finding starts (`thresholds.training.<name>`)."""
    return float(self.data["thresholds"]["training"][name])

  def is_id_like(self, distinct: int, present: int) -> bool:
    """Whether a column with `distinct` values in `present` rows with a value is an identifier
    (`thresholds.dataset.id_like_fraction`, with at least ID_LIKE_MIN_ROWS rows)."""
    return (distinct > 0 and present > ID_LIKE_MIN_ROWS
            and distinct / present >= self.dataset_threshold("id_like_fraction"))

  def is_excluded(self, feature: str) -> bool:
    return bool((self.data["features"].get(feature) or {}).get("exclude"))

  def excluded_features(self) -> List[str]:
    return sorted(n for n in self.data["features"] if self.is_excluded(n))

  def treatment_with_source(self, name: str, kind: str) -> List[Tuple[str, Any, str]]:
    """How Transform treats feature `name` of `kind` ('numeric' or 'categorical'), as the policy
    says it: [(setting, value, deciding key)], or [("exclude", True, key)] for an excluded one."""
    if self.is_excluded(name):
      return [("exclude", True, f"features.{name}.exclude")]
    return self._settings(name, kind)

  def _settings(self, name: str, kind: str) -> List[Tuple[str, Any, str]]:
    entry = self.data["features"].get(name) or {}
    for_kind = self.data["preprocessing"][kind]
    return [(key, entry[key], f"features.{name}.{key}") if key in entry else
            (key, for_kind.get(key, builtin), f"preprocessing.{kind}.{key}")
            for key, builtin in BUILTIN_TREATMENT[kind].items()]

  def treatment(self, name: str, kind: str) -> Dict[str, Any]:
    """One feature's resolved treatment (Transform's plan, `models/preprocessing_plan.py`): its
    policy entry over the defaults for its kind, with constants and bucket counts parsed, and its
    `missing_values`, `clip`, `normalize` and `datetime` (with the numeric treatment of its parts)
    when the entry sets them."""
    prep = self.data["preprocessing"]
    entry = self.data["features"].get(name) or {}
    settings = {key: value for key, value, _ in self._settings(name, kind)}
    impute = settings["impute"]
    resolved: Dict[str, Any] = {"kind": kind}
    if impute.startswith("constant:"):
      value = impute.split(":", 1)[1]
      resolved.update(impute="constant", impute_value=float(value) if kind == NUMERIC else value)
    else:
      resolved["impute"] = impute
    if kind == NUMERIC:
      scale = settings["scale"]
      if scale.startswith("bucketize:"):
        resolved.update(scale="bucketize", num_buckets=int(scale.split(":", 1)[1]))
      else:
        resolved["scale"] = scale
    else:
      resolved["encode"] = settings["encode"]
    indicator = entry.get("missing_indicator")
    if indicator is None:
      indicator = bool(prep.get("missing_indicators", False)) or resolved["impute"] == "none"
    resolved["missing_indicator"] = bool(indicator)
    resolved["excluded"] = bool(entry.get("exclude", False))
    if entry.get("missing_values"):
      resolved["missing_values"] = [float(v) if kind == NUMERIC else str(v)
                                    for v in entry["missing_values"]]
    if kind == NUMERIC and entry.get("clip"):
      resolved["clip"] = [float(q) for q in entry["clip"]]
    if kind == CATEGORICAL and entry.get("normalize"):
      resolved["normalize"] = True
    if kind == CATEGORICAL and entry.get("datetime"):
      # The parts are numbers: the numeric defaults, not this feature's (text) entry.
      parts = Policy(dict(self.data, features={})).treatment(name, NUMERIC)
      resolved["datetime"] = {
          "order": entry["datetime"], "parts": list(policy_format.DATETIME_PARTS),
          "treatment": {k: v for k, v in parts.items()
                        if k not in ("missing_indicator", "excluded")}}
      if entry.get("missing_indicator") is None:
        resolved["missing_indicator"] = parts["missing_indicator"]
    return resolved

  @property
  def label_map(self) -> Dict[str, str]:
    """`label.map`: each spelling of a class → the class. Transform's graph applies it before the
    class ids (models/preprocessing.py `label_ids`), the one place the Trainer, Rebalance and the
    Evaluator (through the exported transform) all read the label from."""
    return dict((self.data.get("label") or {}).get("map") or {})

  def label_classes(self, schema_classes: Sequence[str]) -> List[str]:
    """The classes a model learns: the schema domain's in its order, each spelling `label.map`
    maps replaced by its class, once (the domain may keep every spelling, as an inferred schema
    does, or list the classes alone: DataGuard expects the mapped spellings; the plan and the
    pre-flight ask this)."""
    out: List[str] = []
    for cls in map(self.label_class, schema_classes):
      if cls not in out:
        out.append(cls)
    return out

  def label_class(self, value: Any) -> str:
    """The class a raw label `value` is: its `label.map` class, else the value itself (as text).
    DataGuard's class checks (imbalance, drift, the schema domain) and the pre-flight's judge
    these, as the model learns them."""
    return self.label_map.get(str(value), str(value))

  @property
  def rebalance(self) -> RebalanceSettings:
    section = self.data["rebalance"]
    return RebalanceSettings(**{f.name: section[f.name] for f in dataclasses.fields(
        RebalanceSettings) if f.name in section})

  @property
  def regression(self) -> RegressionSettings:
    section = self.data["regression"]
    return RegressionSettings(**{f.name: section[f.name] for f in dataclasses.fields(
        RegressionSettings) if f.name in section})

  def with_overrides(self, strategy: Optional[str] = None, class_weights: Optional[bool] = None,
                     exclude: Sequence[str] = ()) -> "Policy":
    """A new Policy with the run's flags applied (`--rebalance`, `--class-weights`) and `exclude`
    columns left out of the model, except those whose entry says `exclude: false` (a reviewer's
    decision outranks the pre-flight's). The policy itself is never edited in place."""
    data = copy.deepcopy(self.data)
    if strategy is not None:
      if strategy not in STRATEGIES:
        raise PolicyError(f"rebalance strategy {strategy!r} is not one of {', '.join(STRATEGIES)}.")
      data["rebalance"]["strategy"] = strategy
    if class_weights is not None:
      data["rebalance"]["class_weights"] = bool(class_weights)
    for name in exclude:
      entry = data["features"].setdefault(name, {})
      if entry.get("exclude") is not False:
        entry["exclude"] = True
    return Policy(data, self.source)


def as_policy(policy: Union[Policy, str, "os.PathLike[str]", None]) -> Policy:
  """What a component's `policy=` accepts: a Policy, a schema folder's path (Policy.load), or
  None (the defaults). Anything else is a TypeError now, not an AttributeError deep in TFX."""
  if isinstance(policy, Policy):
    return policy
  if policy is None:
    return Policy.default()
  if isinstance(policy, (str, os.PathLike)):
    return Policy.load(policy)
  raise TypeError(f"policy must be a trainguard Policy, a schema folder path (str or "
                  f"os.PathLike, read with Policy.load) or None for the defaults; got "
                  f"{type(policy).__name__}: {policy!r:.80}")
