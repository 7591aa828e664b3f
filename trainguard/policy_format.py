"""The policy file's format: its keys, the values each allows, the defaults, and the validation.

`trainguard.policy.Policy` is what the components ask; this module is what a policy file may say.
Validation runs on load, against the schema when there is one (unknown keys, unknown features,
impossible combinations), so a mistake fails in well under a second, before TensorFlow or Beam
start, with a message naming the file, the key, the value and the fix. TensorFlow-free.
The built-in values (default lists, thresholds, the treatments and strategies allowed) are
`policy_defaults.py`; here each section's keys sit next to their checks, so a reviewer reads what a
key allows in one place.
"""
import copy
import math
from typing import Any, Dict, Iterable, Mapping, Optional

from trainguard import policy_kinds
from trainguard.errors import PolicyError
from trainguard.policy_kinds import SEVERITIES
from trainguard.policy_defaults import (
    DATASET_THRESHOLDS, DEFAULT_LISTS, ENCODINGS, IMPUTATIONS, LABEL_TRANSFORMS, NUMERIC_ONLY_IMPUTATIONS, REGRESSION_LOSSES, SAMPLING_STRATEGY_NAMES, SCALINGS, STRATEGIES, TRAINING_THRESHOLDS, defaults)

_TOP_KEYS = {"version", "findings", "thresholds", "preprocessing", "features", "rebalance",
             "regression", "label"}
# A classification label: `map` sends spellings of a class to the class (Transform's graph applies
# it before the class ids: models/preprocessing.py).
_LABEL_KEYS = {"map"}
# A regression label (trainguard.task): how it is transformed, what loss fits it, what blesses it.
_REGRESSION_KEYS = {"label_transform", "loss", "min_r2"}
_FINDINGS_KEYS = {"block", "warn", "info", "default", "label"}
_FEATURE_KEYS = {"impute", "scale", "encode", "exclude", "missing_indicator", "skew", "drift",
                 "block", "warn", "info", "missing_values", "clip", "normalize", "datetime"}
# `datetime: parts` of a text feature: the numbers Transform parses it into
# (models/datetime_parts.py), day first for 04/03/2021 (`parts`) or month first.
DATETIME_ORDERS = ("parts", "parts_month_first")
DATETIME_PARTS = ("year", "month", "day", "day_of_week", "hour")
# `clip: [q_low, q_high]`: quantiles Transform learns on train (tft.quantiles with 1/CLIP_STEP
# buckets at most), so each must be a multiple of CLIP_STEP.
CLIP_STEP = 0.001
_PREPROCESSING_KEYS = {"numeric", "categorical", "missing_indicators"}
_NUMERIC_DEFAULT_KEYS = {"impute", "scale"}
_CATEGORICAL_DEFAULT_KEYS = {"impute", "encode"}
_REBALANCE_KEYS = {"strategy", "sampling_strategy", "k_neighbors", "seed", "chunk_size",
                   "class_weights"}


def parse(raw: Mapping[str, Any], source: str, schema=None) -> Dict[str, Any]:
  """The policy's data: the defaults with `raw` (a policy file's contents) merged in, validated
  against `schema` when given (feature names and types)."""
  if not isinstance(raw, Mapping):
    raise PolicyError(f"{source}: the policy must be a mapping of sections, got "
                      f"{type(raw).__name__}.")
  _check_keys(raw, _TOP_KEYS, source, "")
  if raw.get("version", 1) != 1:
    raise PolicyError(f"{source}: version {raw['version']!r} is not supported; use version: 1.")
  data = defaults()
  for section in ("findings", "thresholds", "preprocessing", "rebalance", "regression", "label"):
    value = raw.get(section)
    if value is None:
      continue
    if not isinstance(value, Mapping):
      raise PolicyError(f"{source}: '{section}' must be a mapping, got {value!r}.")
    if section == "findings":
      _merge_findings(data["findings"], value, source)
    else:
      _merge(data.setdefault(section, {}), value)
  features = raw.get("features") or {}
  if not isinstance(features, Mapping):
    raise PolicyError(f"{source}: 'features' must map feature names to settings, got "
                      f"{features!r}.")
  data["features"] = copy.deepcopy(dict(features))
  validate(data, source, schema)
  return data


def _merge_findings(findings: Dict[str, Any], raw: Mapping[str, Any], source: str) -> None:
  """The policy's `findings:` over the defaults: its lists extend the default ones (the kinds it
  names leave the defaults' other lists) unless `replace: true` (policy_kinds.py says why)."""
  _check_keys(raw, _FINDINGS_KEYS | {"replace"}, source, "findings.")
  replace = raw.get("replace", False)
  _check_bool(replace, source, "findings.replace")
  known = policy_kinds.known_kinds(DEFAULT_LISTS)
  own = policy_kinds.check_lists(raw, known, source, "findings.")
  findings.update(policy_kinds.merge(own, DEFAULT_LISTS, known, replace))
  for key in ("default", "label"):
    if key in raw:
      findings[key] = raw[key]


def validate(data: Mapping[str, Any], source: str, schema) -> None:
  """Raises PolicyError, naming the file, the key, the value and the fix, on the first problem."""
  src = source
  findings = data["findings"]
  _check_keys(findings, _FINDINGS_KEYS, src, "findings.")
  for key in ("default", "label"):
    if findings[key] not in SEVERITIES:
      raise PolicyError(f"{src}: findings.{key} is {findings[key]!r}; use one of "
                        f"{', '.join(SEVERITIES)}.")
  kinds = policy_kinds.known_kinds(DEFAULT_LISTS)
  for severity in SEVERITIES:
    policy_kinds.check_kind_list(findings[severity], kinds, src, f"findings.{severity}")
  for comparison in ("skew", "drift"):
    section = data["thresholds"].get(comparison)
    if not isinstance(section, Mapping):
      raise PolicyError(f"{src}: thresholds.{comparison} must map categorical/numeric to a "
                        "number.")
    _check_keys(section, {"categorical", "numeric"}, src, f"thresholds.{comparison}.")
    for kind, value in section.items():
      _check_threshold(value, src, f"thresholds.{comparison}.{kind}")
  _check_keys(data["thresholds"], {"skew", "drift", "dataset", "training"}, src, "thresholds.")
  for section, known in (("dataset", DATASET_THRESHOLDS), ("training", TRAINING_THRESHOLDS)):
    values = data["thresholds"][section]
    _check_keys(values, set(known), src, f"thresholds.{section}.")
    for key, value in values.items():
      if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise PolicyError(f"{src}: thresholds.{section}.{key} is {value!r}; use a positive "
                          "number.")
  prep = data["preprocessing"]
  _check_keys(prep, _PREPROCESSING_KEYS, src, "preprocessing.")
  for kind, allowed in (("numeric", _NUMERIC_DEFAULT_KEYS),
                        ("categorical", _CATEGORICAL_DEFAULT_KEYS)):
    if not isinstance(prep[kind], Mapping):
      raise PolicyError(f"{src}: preprocessing.{kind} must be a mapping of settings, got "
                        f"{prep[kind]!r}.")
    _check_keys(prep[kind], allowed, src, f"preprocessing.{kind}.")
    _check_treatment(prep[kind], src, f"preprocessing.{kind}", numeric=kind == "numeric")
  _check_bool(prep["missing_indicators"], src, "preprocessing.missing_indicators")
  _validate_rebalance(data, source)
  _validate_regression(data, source)
  _validate_label(data, source)
  feature_types = _feature_types(schema) if schema is not None else None
  for name, entry in data["features"].items():
    where = f"features.{name}"
    if not isinstance(entry, Mapping):
      raise PolicyError(f"{src}: {where} must be a mapping of settings, got {entry!r}.")
    if feature_types is not None and name not in feature_types:
      raise PolicyError(
          f"{src}: {where} names a feature the schema does not have"
          f"{policy_kinds.suggestion(name, feature_types)} (schema features: "
          f"{', '.join(sorted(feature_types))}); fix the name or remove the entry.")
    _check_keys(entry, _FEATURE_KEYS, src, where + ".")
    numeric = None if feature_types is None else feature_types[name] in ("INT", "FLOAT")
    _check_treatment(entry, src, where, numeric=numeric)
    _check_values(entry, src, where, numeric=numeric)
    for flag in ("exclude", "missing_indicator", "normalize"):
      if flag in entry:
        _check_bool(entry[flag], src, f"{where}.{flag}")
    if entry.get("normalize") and numeric:
      raise PolicyError(f"{src}: {where}.normalize is true, but the feature is numeric; it "
                        "merges spellings of a text category (remove it).")
    _check_datetime(entry, src, where, numeric)
    for comparison in ("skew", "drift"):
      if comparison in entry:
        _check_threshold(entry[comparison], src, f"{where}.{comparison}")
    policy_kinds.check_lists(entry, kinds, src, f"{where}.")

def _validate_label(data: Mapping[str, Any], source: str) -> None:
  """`label.map`: text to text, no spelling mapped twice over (a chain would depend on order)."""
  section = data.get("label") or {}
  _check_keys(section, _LABEL_KEYS, source, "label.")
  mapping = section.get("map") or {}
  example = 'e.g. {"adelie": "Adelie", "Adelie ": "Adelie"}'
  if not isinstance(mapping, Mapping):
    raise PolicyError(f"{source}: label.map is {mapping!r}; map each spelling to its class, "
                      f"{example}.")
  for spelling, cls in mapping.items():
    if not (isinstance(spelling, str) and isinstance(cls, str)):
      raise PolicyError(f"{source}: label.map has {spelling!r}: {cls!r}; spellings and classes "
                        f"are text: quote them (YAML reads yes/no/true/1 unquoted as other "
                        f"types), {example}.")
    if not spelling.strip() or not cls.strip() or "\n" in spelling + cls or spelling == cls:
      raise PolicyError(f"{source}: label.map has {spelling!r}: {cls!r}; map a non-empty spelling "
                        "on one line to another, non-empty class.")
    if cls in mapping:
      raise PolicyError(f"{source}: label.map maps {spelling!r} to {cls!r}, which it maps again "
                        f"(to {mapping[cls]!r}); map every spelling to the class itself.")


def _validate_regression(data: Mapping[str, Any], source: str) -> None:
  section = data["regression"]
  _check_keys(section, _REGRESSION_KEYS, source, "regression.")
  for key, allowed in (("label_transform", LABEL_TRANSFORMS), ("loss", REGRESSION_LOSSES)):
    if section[key] not in allowed:
      raise PolicyError(f"{source}: regression.{key} is {section[key]!r}; use one of "
                        f"{', '.join(allowed)}.")
  r2 = section["min_r2"]
  if isinstance(r2, bool) or not isinstance(r2, (int, float)) or not -1 <= r2 < 1:
    raise PolicyError(f"{source}: regression.min_r2 is {r2!r}; use a number in [-1, 1) (0: no "
                      "better than predicting the mean).")


def _validate_rebalance(data: Mapping[str, Any], source: str) -> None:
  src, section = source, data["rebalance"]
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


def _merge(base: Dict[str, Any], override: Mapping[str, Any]) -> None:
  for key, value in override.items():
    if isinstance(value, Mapping) and isinstance(base.get(key), dict):
      _merge(base[key], value)
    else:
      base[key] = copy.deepcopy(value)


def _check_keys(section: Mapping[str, Any], allowed: Iterable[str], source: str, prefix: str):
  unknown = sorted(set(section) - set(allowed), key=str)
  if unknown:
    raise PolicyError(f"{source}: unknown key {prefix}{unknown[0]}"
                      f"{policy_kinds.suggestion(unknown[0], allowed)}; allowed here: "
                      f"{', '.join(sorted(allowed))}.")


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


def _check_values(entry: Mapping[str, Any], source: str, where: str,
                  numeric: Optional[bool]) -> None:
  """`missing_values` (numbers for a numeric feature, text for a categorical one) and `clip`."""
  if "missing_values" in entry:
    values = entry["missing_values"]
    is_number = [isinstance(v, (int, float)) and not isinstance(v, bool) for v in values] if (
        isinstance(values, (list, tuple))) else []
    is_text = [isinstance(v, str) for v in values] if isinstance(values, (list, tuple)) else []
    if not values or not isinstance(values, (list, tuple)) or not (all(is_number) or all(is_text)):
      raise PolicyError(f"{source}: {where}.missing_values is {values!r}; use a non-empty list of "
                        "the values that mean missing, all numbers (e.g. [-999, 9999]) or all text "
                        "(e.g. [\"unknown\", \"-\"]).")
    if numeric and not all(is_number):
      raise PolicyError(f"{source}: {where}.missing_values is {values!r}, but the feature is "
                        "numeric; list numbers (e.g. [-999, 9999]).")
    if numeric is False and not all(is_text):
      raise PolicyError(f"{source}: {where}.missing_values is {values!r}, but the feature is "
                        "categorical; list text, quoted (e.g. [\"unknown\", \"-\"]).")
    if all(is_number) and not all(math.isfinite(v) for v in values):
      raise PolicyError(f"{source}: {where}.missing_values is {values!r}; NaN and inf count as "
                        "missing already: list finite numbers only.")
    if all(is_text) and not all(v.strip() and "\n" not in v for v in values):
      raise PolicyError(f"{source}: {where}.missing_values is {values!r}; an empty or blank value "
                        "counts as missing already: list non-empty text on one line.")
  if "clip" in entry:
    clip = entry["clip"]
    ok = (isinstance(clip, (list, tuple)) and len(clip) == 2
          and all(isinstance(q, (int, float)) and not isinstance(q, bool) for q in clip)
          and 0 < clip[0] < clip[1] < 1)
    if not ok:
      raise PolicyError(f"{source}: {where}.clip is {clip!r}; use two quantiles "
                        "[q_low, q_high] with 0 < q_low < q_high < 1, e.g. [0.01, 0.99].")
    if any(abs(q / CLIP_STEP - round(q / CLIP_STEP)) > 1e-6 for q in clip):
      raise PolicyError(f"{source}: {where}.clip is {clip!r}; each quantile must be a multiple of "
                        f"{CLIP_STEP:g} (e.g. 0.005, 0.01, 0.99).")
    if numeric is False:
      raise PolicyError(f"{source}: {where}.clip is {clip!r}, but the feature is categorical; "
                        "clipping applies to numeric features only (remove it).")


def _check_datetime(entry: Mapping[str, Any], source: str, where: str,
                    numeric: Optional[bool]) -> None:
  """`datetime`: a text feature's parts; they are numbers, treated as `preprocessing.numeric`."""
  if "datetime" not in entry:
    return
  if entry["datetime"] not in DATETIME_ORDERS:
    raise PolicyError(f"{source}: {where}.datetime is {entry['datetime']!r}; use parts (04/03/2021 "
                      "read day first) or parts_month_first.")
  if numeric:
    raise PolicyError(f"{source}: {where}.datetime is set, but the feature is numeric; it parses "
                      "dates written as text (remove it).")
  clash = sorted(k for k in ("impute", "encode", "normalize") if k in entry)
  if clash:
    raise PolicyError(f"{source}: {where}.{clash[0]} does not apply with datetime: the parts are "
                      "numbers, imputed and scaled as preprocessing.numeric says; remove it.")


def _is_bucketize(value: str) -> bool:
  if not value.startswith("bucketize:"):
    return False
  try:
    return int(value.split(":", 1)[1]) >= 2
  except ValueError:
    return False


def _feature_types(schema) -> Dict[str, str]:
  from tensorflow_metadata.proto.v0 import schema_pb2  # pylint: disable=g-import-not-at-top
  return {f.name: schema_pb2.FeatureType.Name(f.type) for f in schema.feature}
