"""The policy file, `schemas/<name>/policy.yaml`: the decisions a reviewer should see next to the schema.

The schema says what the data looks like; the policy says what trainguard does about it: which
findings stop a run and which only warn, default skew/drift thresholds, how each feature is imputed,
scaled and encoded, and how class imbalance is fixed. One pull request shows both a schema change and
its consequences. The file is validated on load against the schema (unknown keys, unknown features,
impossible combinations), so a mistake fails in well under a second, before TensorFlow or Beam start.

Format (every key optional; see `docs/policy.md`):

  version: 1
  findings:
    block: [UNEXPECTED_DATA_TYPE, "STRING_TYPE_NOW_*", ...]   # kinds that stop the run (globs)
    warn: [FEATURE_TYPE_LOW_FRACTION_PRESENT, ...]             # kinds reported, run goes on
    info: [...]
    default: warn            # severity of a kind named in no list
    label: block             # severity of any schema anomaly on the label column
  thresholds:
    skew:  {categorical: 0.3, numeric: 0.3}   # L-infinity / Jensen-Shannon, train vs serving
    drift: {categorical: 0.3, numeric: 0.3}   # this span's train vs the previous span's
    dataset: {cross_split_fraction: 0.01, leakage_balanced_accuracy: 0.98, leakage_nmi: 0.98,
              imbalance_ratio: 1.5, scale_ratio: 100, id_like_fraction: 0.95}
  preprocessing:
    numeric: {impute: mean, scale: z_score}
    categorical: {impute: most_frequent, encode: vocabulary}
    missing_indicators: false    # add <feature>_was_missing (0/1) for every feature
  features:
    <feature>: {impute: ..., scale: ..., exclude: false, missing_indicator: true, skew: 0.2,
                drift: 0.2, block: [...], warn: [...]}
  rebalance: {strategy: auto, sampling_strategy: auto, k_neighbors: 5, class_weights: false}
"""
import copy
import dataclasses
import fnmatch
import json
import math
import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import yaml

from trainguard.errors import PolicyError

POLICY_FILE = "policy.yaml"
SEVERITIES = ("block", "warn", "info")

DEFAULT_BLOCK = (
    "UNEXPECTED_DATA_TYPE",
    "INT_TYPE_NOT_INT_STRING",
    "FLOAT_TYPE_NOT_FLOAT",
    "FLOAT_TYPE_STRING_NOT_FLOAT",
    "STRING_TYPE_NOW_*",
    "BOOL_TYPE_*",
    "SCHEMA_MISSING_COLUMN",
    "COMPARATOR_L_INFTY_HIGH",
    "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH",
    "NUMERIC_COLUMN_WITH_TEXT",
    "INFINITE_VALUES",
    "CROSS_SPLIT_DUPLICATES",
    "LABEL_LEAKAGE",
)
DEFAULT_WARN = (
    "FEATURE_TYPE_LOW_FRACTION_PRESENT",
    "FEATURE_TYPE_LOW_NUMBER_PRESENT",
    "FEATURE_TYPE_LOW_NUMBER_VALUES",
    "FLOAT_TYPE_HAS_NAN",
    "NAN_VALUES",
    "ENUM_TYPE_UNEXPECTED_STRING_VALUES",
    "ALL_VALUES_MISSING",
    "LABEL_MISSING_ROWS_DROPPED",
    "DUPLICATE_ROWS",
    "CLASS_IMBALANCE",
    "ID_LIKE_COLUMN",
    "CONSTANT_COLUMN",
)
DEFAULT_INFO = ("MISSING_VALUES", "SCALE_DISPARITY")

# Dataset checks (components/data_guard/dataset_checks.py): where each starts to count.
DATASET_THRESHOLDS = {
    "cross_split_fraction": 0.01,       # eval rows identical to train rows, as a fraction of eval
    "leakage_balanced_accuracy": 0.98,  # one feature predicting the label this well leaks it
    "leakage_nmi": 0.98,                # ... or sharing this much normalized mutual information
    "imbalance_ratio": 1.5,             # majority / minority rows in train
    "scale_ratio": 100.0,               # largest / smallest std of numeric features
    "id_like_fraction": 0.95,           # distinct values / rows with a value
}

IMPUTATIONS = ("mean", "median", "most_frequent", "none")  # plus "constant:<value>"
SCALINGS = ("z_score", "min_max", "none")  # plus "bucketize:<n>"
ENCODINGS = ("vocabulary",)
STRATEGIES = ("auto", "smote", "smotenc", "borderline_smote", "adasyn", "random_over",
              "random_under", "none")
# The strategies that synthesise rows from k nearest neighbours (each needs k + 1 rows a class).
SYNTHESIZING_STRATEGIES = ("smote", "smotenc", "borderline_smote", "adasyn")
# imbalanced-learn's names for which classes to resample (`rebalance.sampling_strategy`); Rebalance
# decodes its parameter against the same list.
SAMPLING_STRATEGY_NAMES = ("auto", "minority", "majority", "not minority", "not majority", "all")
# ID-like needs this many rows with a value: in a handful of rows most columns are all-distinct.
ID_LIKE_MIN_ROWS = 20
NUMERIC = "numeric"
CATEGORICAL = "categorical"
NUMERIC_ONLY_IMPUTATIONS = ("mean", "median")

_TOP_KEYS = {"version", "findings", "thresholds", "preprocessing", "features", "rebalance"}
_FINDINGS_KEYS = {"block", "warn", "info", "default", "label"}
_FEATURE_KEYS = {"impute", "scale", "encode", "exclude", "missing_indicator", "skew", "drift",
                 "block", "warn", "info"}
_PREPROCESSING_KEYS = {"numeric", "categorical", "missing_indicators"}
_NUMERIC_DEFAULT_KEYS = {"impute", "scale"}
_CATEGORICAL_DEFAULT_KEYS = {"impute", "encode"}
_REBALANCE_KEYS = {"strategy", "sampling_strategy", "k_neighbors", "seed", "chunk_size",
                   "class_weights"}




@dataclasses.dataclass(frozen=True)
class RebalanceSettings:
  """`rebalance:` of the policy, validated: what Rebalance and the Trainer are given."""
  strategy: str = "auto"
  sampling_strategy: Union[str, float, Mapping[str, int]] = "auto"
  k_neighbors: int = 5
  seed: Optional[int] = None
  chunk_size: Optional[int] = None
  class_weights: bool = False


def defaults() -> Dict[str, Any]:
  return {
      "version": 1,
      "findings": {
          "block": list(DEFAULT_BLOCK),
          "warn": list(DEFAULT_WARN),
          "info": list(DEFAULT_INFO),
          "default": "warn",
          "label": "block",
      },
      "thresholds": {
          "skew": {"categorical": 0.3, "numeric": 0.3},
          "drift": {"categorical": 0.3, "numeric": 0.3},
          "dataset": dict(DATASET_THRESHOLDS),
      },
      "preprocessing": {
          NUMERIC: dict(_BUILTIN_TREATMENT[NUMERIC]),
          CATEGORICAL: dict(_BUILTIN_TREATMENT[CATEGORICAL]),
          "missing_indicators": False,
      },
      "features": {},
      "rebalance": {"strategy": "auto", "sampling_strategy": "auto", "k_neighbors": 5},
  }


class Policy:
  """A validated policy: defaults merged with the file, checked against the schema's features."""

  def __init__(self, data: Mapping[str, Any], source: str = "<policy>"):
    self.source = source
    self.data = data

  @classmethod
  def load(cls, schema_folder: str, schema=None) -> "Policy":
    """Reads `<schema_folder>/policy.yaml` (defaults alone when there is none) and validates it."""
    path = os.path.join(schema_folder, POLICY_FILE)
    raw: Mapping[str, Any] = {}
    if os.path.isfile(path):
      with open(path, encoding="utf-8") as f:
        try:
          raw = yaml.safe_load(f) or {}
        except yaml.YAMLError as e:
          mark = getattr(e, "problem_mark", None)
          where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
          problem = getattr(e, "problem", None) or str(e).splitlines()[0]
          raise PolicyError(f"{path}{where}: not valid YAML ({problem}); fix the syntax.") from e
    return cls.from_dict(raw, source=path if os.path.isfile(path) else "<default policy>",
                         schema=schema)

  @classmethod
  def from_dict(cls, raw: Mapping[str, Any], source: str = "<policy>", schema=None) -> "Policy":
    if not isinstance(raw, Mapping):
      raise PolicyError(f"{source}: the policy must be a mapping of sections, got "
                        f"{type(raw).__name__}.")
    _check_keys(raw, _TOP_KEYS, source, "")
    if raw.get("version", 1) != 1:
      raise PolicyError(f"{source}: version {raw['version']!r} is not supported; use version: 1.")
    data = defaults()
    for section in ("findings", "thresholds", "preprocessing", "rebalance"):
      value = raw.get(section)
      if value is None:
        continue
      if not isinstance(value, Mapping):
        raise PolicyError(f"{source}: '{section}' must be a mapping, got {value!r}.")
      _merge(data[section], value)
    data["features"] = copy.deepcopy(dict(raw.get("features") or {}))
    policy = cls(data, source)
    policy._validate(schema)
    return policy

  @classmethod
  def from_json(cls, text: str) -> "Policy":
    payload = json.loads(text)
    return cls(payload["data"], payload["source"])

  def to_json(self) -> str:
    return json.dumps({"source": self.source, "data": self.data}, sort_keys=True)

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
    for severity in SEVERITIES:
      if _matches(kind, per_feature.get(severity, ()) or ()):
        return severity, f"features.{feature}.{severity}"
    if is_label:
      return self.data["findings"]["label"], "findings.label"
    for severity in SEVERITIES:
      if _matches(kind, self.data["findings"][severity]):
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
    defaults = self.data["preprocessing"][kind]
    return [(key, entry[key], f"features.{name}.{key}") if key in entry else
            (key, defaults.get(key, builtin), f"preprocessing.{kind}.{key}")
            for key, builtin in _BUILTIN_TREATMENT[kind].items()]

  def treatment(self, name: str, kind: str) -> Dict[str, Any]:
    """One feature's resolved treatment (Transform's plan, `models/preprocessing_plan.py`): its
    policy entry over the defaults for its kind, with constants and bucket counts parsed."""
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
    return resolved

  @property
  def rebalance(self) -> RebalanceSettings:
    section = self.data["rebalance"]
    return RebalanceSettings(**{f.name: section[f.name] for f in dataclasses.fields(
        RebalanceSettings) if f.name in section})

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

  # --- validation ----------------------------------------------------------------------------

  def _validate(self, schema) -> None:
    src = self.source
    findings = self.data["findings"]
    _check_keys(findings, _FINDINGS_KEYS, src, "findings.")
    for key in ("default", "label"):
      if findings[key] not in SEVERITIES:
        raise PolicyError(f"{src}: findings.{key} is {findings[key]!r}; use one of "
                          f"{', '.join(SEVERITIES)}.")
    for severity in SEVERITIES:
      _check_kind_list(findings[severity], src, f"findings.{severity}")
    for comparison in ("skew", "drift"):
      section = self.data["thresholds"].get(comparison)
      if not isinstance(section, Mapping):
        raise PolicyError(f"{src}: thresholds.{comparison} must map categorical/numeric to a "
                          "number.")
      _check_keys(section, {"categorical", "numeric"}, src, f"thresholds.{comparison}.")
      for kind, value in section.items():
        _check_threshold(value, src, f"thresholds.{comparison}.{kind}")
    _check_keys(self.data["thresholds"], {"skew", "drift", "dataset"}, src, "thresholds.")
    dataset = self.data["thresholds"]["dataset"]
    _check_keys(dataset, set(DATASET_THRESHOLDS), src, "thresholds.dataset.")
    for key, value in dataset.items():
      if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise PolicyError(f"{src}: thresholds.dataset.{key} is {value!r}; use a positive number.")
    prep = self.data["preprocessing"]
    _check_keys(prep, _PREPROCESSING_KEYS, src, "preprocessing.")
    for kind, allowed in (("numeric", _NUMERIC_DEFAULT_KEYS),
                          ("categorical", _CATEGORICAL_DEFAULT_KEYS)):
      if not isinstance(prep[kind], Mapping):
        raise PolicyError(f"{src}: preprocessing.{kind} must be a mapping of settings, got "
                          f"{prep[kind]!r}.")
      _check_keys(prep[kind], allowed, src, f"preprocessing.{kind}.")
      _check_treatment(prep[kind], src, f"preprocessing.{kind}", numeric=kind == "numeric")
    _check_bool(prep["missing_indicators"], src, "preprocessing.missing_indicators")
    self._validate_rebalance()
    feature_types = _feature_types(schema) if schema is not None else None
    for name, entry in self.data["features"].items():
      where = f"features.{name}"
      if not isinstance(entry, Mapping):
        raise PolicyError(f"{src}: {where} must be a mapping of settings, got {entry!r}.")
      if feature_types is not None and name not in feature_types:
        raise PolicyError(
            f"{src}: {where} names a feature the schema does not have (schema features: "
            f"{', '.join(sorted(feature_types))}); fix the name or remove the entry.")
      _check_keys(entry, _FEATURE_KEYS, src, where + ".")
      numeric = None if feature_types is None else feature_types[name] in ("INT", "FLOAT")
      _check_treatment(entry, src, where, numeric=numeric)
      for flag in ("exclude", "missing_indicator"):
        if flag in entry:
          _check_bool(entry[flag], src, f"{where}.{flag}")
      for comparison in ("skew", "drift"):
        if comparison in entry:
          _check_threshold(entry[comparison], src, f"{where}.{comparison}")
      for severity in SEVERITIES:
        if severity in entry:
          _check_kind_list(entry[severity], src, f"{where}.{severity}")

  def _validate_rebalance(self) -> None:
    src, section = self.source, self.data["rebalance"]
    _check_keys(section, _REBALANCE_KEYS, src, "rebalance.")
    if section["strategy"] not in STRATEGIES:
      raise PolicyError(f"{src}: rebalance.strategy is {section['strategy']!r}; use one of "
                        f"{', '.join(STRATEGIES)}.")
    _check_bool(section.get("class_weights", False), src, "rebalance.class_weights")
    k = section.get("k_neighbors", 5)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
      raise PolicyError(f"{src}: rebalance.k_neighbors is {k!r}; use a whole number ≥ 1.")
    ratio = section.get("sampling_strategy", "auto")
    if isinstance(ratio, str):
      if ratio not in SAMPLING_STRATEGY_NAMES:
        raise PolicyError(f"{src}: rebalance.sampling_strategy is {ratio!r}; use 'auto', a "
                          "number in (0, 1], or a mapping of class to row count.")
    elif isinstance(ratio, (int, float)) and not isinstance(ratio, bool):
      if not 0 < ratio <= 1:
        raise PolicyError(f"{src}: rebalance.sampling_strategy is {ratio}; a ratio of minority to "
                          "majority rows must be in (0, 1].")
    elif isinstance(ratio, Mapping):
      for cls, count in ratio.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
          raise PolicyError(f"{src}: rebalance.sampling_strategy[{cls!r}] is {count!r}; use a "
                            "whole number of rows ≥ 0.")
    else:
      raise PolicyError(f"{src}: rebalance.sampling_strategy is {ratio!r}; use 'auto', a "
                        "number in (0, 1], or a mapping of class to row count.")


# What a feature gets when neither its entry nor `preprocessing.<kind>` names a setting.
_BUILTIN_TREATMENT = {NUMERIC: {"impute": "mean", "scale": "z_score"},
                      CATEGORICAL: {"impute": "most_frequent", "encode": "vocabulary"}}


def _merge(base: Dict[str, Any], override: Mapping[str, Any]) -> None:
  for key, value in override.items():
    if isinstance(value, Mapping) and isinstance(base.get(key), dict):
      _merge(base[key], value)
    else:
      base[key] = copy.deepcopy(value)


def _check_keys(section: Mapping[str, Any], allowed: Iterable[str], source: str, prefix: str):
  unknown = sorted(set(section) - set(allowed))
  if unknown:
    raise PolicyError(f"{source}: unknown key {prefix}{unknown[0]}; allowed here: "
                      f"{', '.join(sorted(allowed))}.")


def _check_kind_list(value, source: str, where: str) -> None:
  if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
    raise PolicyError(f"{source}: {where} must be a list of finding kinds (e.g. "
                      f"[UNEXPECTED_DATA_TYPE]), got {value!r}.")


def _check_bool(value, source: str, where: str) -> None:
  if not isinstance(value, bool):
    raise PolicyError(f"{source}: {where} is {value!r}; use true or false.")


def _check_threshold(value, source: str, where: str) -> None:
  if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
    raise PolicyError(f"{source}: {where} is {value!r}; a skew/drift threshold is a number in "
                      "(0, 1].")


def _check_treatment(entry: Mapping[str, Any], source: str, where: str,
                     numeric: Optional[bool]) -> None:
  impute = entry.get("impute")
  if impute is not None:
    if not isinstance(impute, str) or not (impute in IMPUTATIONS or impute.startswith("constant:")):
      raise PolicyError(f"{source}: {where}.impute is {impute!r}; use one of "
                        f"{', '.join(IMPUTATIONS)} or constant:<value>.")
    if numeric is False and impute in NUMERIC_ONLY_IMPUTATIONS:
      raise PolicyError(f"{source}: {where}.impute is {impute!r}, which needs numbers, but the "
                        "feature is categorical; use most_frequent or constant:<value>.")
    if numeric and impute.startswith("constant:"):
      try:
        constant = float(impute.split(":", 1)[1])
      except ValueError as e:
        raise PolicyError(f"{source}: {where}.impute is {impute!r}, but the feature is numeric; "
                          "the constant must be a number.") from e
      if not math.isfinite(constant):
        raise PolicyError(f"{source}: {where}.impute is {impute!r}; the constant must be a finite "
                          "number (NaN and inf count as missing themselves).")
    if numeric is False and impute.startswith("constant:"):
      constant = impute.split(":", 1)[1]
      if not constant.strip() or "\n" in constant or "\r" in constant:
        raise PolicyError(f"{source}: {where}.impute is {impute!r}; a categorical constant must be "
                          "a non-empty category on one line (an empty string counts as missing).")
  scale = entry.get("scale")
  if scale is not None:
    if not isinstance(scale, str) or not (scale in SCALINGS or _is_bucketize(scale)):
      raise PolicyError(f"{source}: {where}.scale is {scale!r}; use one of "
                        f"{', '.join(SCALINGS)} or bucketize:<n> with n ≥ 2.")
    if numeric is False and scale != "none":
      raise PolicyError(f"{source}: {where}.scale is {scale!r}, but the feature is categorical; "
                        "scaling applies to numeric features only (remove it).")
  encode = entry.get("encode")
  if encode is not None and encode not in ENCODINGS:
    raise PolicyError(f"{source}: {where}.encode is {encode!r}; use one of "
                      f"{', '.join(ENCODINGS)}.")
  if encode is not None and numeric:
    raise PolicyError(f"{source}: {where}.encode is {encode!r}, but the feature is numeric; "
                      "encoding applies to categorical features only (remove it).")


def _is_bucketize(value: str) -> bool:
  if not value.startswith("bucketize:"):
    return False
  try:
    return int(value.split(":", 1)[1]) >= 2
  except ValueError:
    return False


def _matches(kind: str, patterns: Iterable[str]) -> bool:
  return any(fnmatch.fnmatchcase(kind, p) for p in patterns)


def _feature_types(schema) -> Dict[str, str]:
  from tensorflow_metadata.proto.v0 import schema_pb2  # pylint: disable=g-import-not-at-top
  return {f.name: schema_pb2.FeatureType.Name(f.type) for f in schema.feature}
