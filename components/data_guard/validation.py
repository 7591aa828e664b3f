"""DataGuard's checks on statistics: TFDV with environments, skew and drift, then the policy.

Why not ExampleValidator: TFX 1.16's ExampleValidator calls `tfdv.validate_statistics(stats,
schema)` with no environment, no serving statistics and no previous statistics, so the schema's
environments, train/serving skew and span-to-span drift are never checked. Here:

- each split is validated in the TRAINING environment; the train split also against the serving
  sample (skew) and the previous span's train split (drift);
- the serving sample is validated in the SERVING environment, where the label is absent;
- skew/drift comparators come from the curated schema; a feature without one gets the policy's
  default (L-infinity for categorical features, Jensen-Shannon divergence for numeric ones: TFDV's
  L-infinity on numeric features always reads 0);
- missing and NaN counts come from the statistics themselves (CsvExampleGen writes an empty cell as
  a feature with no value, which TFDV's presence check does not count as missing).

Anomalies stay data (protos); the policy alone decides what blocks.
"""
import copy
import dataclasses
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2

from trainguard.components.data_guard.findings import Finding, FindingsReport
from trainguard.policy import CATEGORICAL, NUMERIC, Policy

TRAINING, SERVING = "TRAINING", "SERVING"
SERVING_SPLIT = "serving"
SKEW_AND_DRIFT_KINDS = ("COMPARATOR_L_INFTY_HIGH", "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH")

Statistics = statistics_pb2.DatasetFeatureStatisticsList


def validate(schema: schema_pb2.Schema, policy: Policy, label_key: str,
             statistics: Mapping[str, Statistics],
             serving_statistics: Optional[Statistics] = None,
             baseline_statistics: Optional[Statistics] = None,
             preflight_findings: Sequence[Finding] = (),
             ) -> Tuple[Dict[str, anomalies_pb2.Anomalies], FindingsReport]:
  """Validates every split; returns TFDV anomalies per split (plus 'serving') and the findings.

  `preflight_findings` (from the CLI's pass over the raw CSV) join the report with the policy's
  severity for their kind.
  """
  if "train" not in statistics:
    raise ValueError(f"statistics have no 'train' split (splits: {', '.join(statistics)})")
  schema = with_default_comparators(schema, policy, label_key)
  anomalies: Dict[str, anomalies_pb2.Anomalies] = {}
  findings: List[Finding] = [
      dataclasses.replace(f, severity=policy.severity(f.kind, f.feature))
      for f in preflight_findings]
  for split, stats in statistics.items():
    anomalies[split] = tfdv.validate_statistics(
        stats, schema, environment=_environment(schema, TRAINING),
        previous_statistics=baseline_statistics if split == "train" else None,
        serving_statistics=serving_statistics if split == "train" else None)
    findings += _anomaly_findings(anomalies[split], schema, policy, label_key, split, stats)
    findings += _statistics_findings(stats, schema, policy, label_key, split)
  if serving_statistics is not None:
    anomalies[SERVING_SPLIT] = tfdv.validate_statistics(
        serving_statistics, schema, environment=_environment(schema, SERVING))
    findings += _anomaly_findings(anomalies[SERVING_SPLIT], schema, policy, label_key,
                                  SERVING_SPLIT, serving_statistics)
  return anomalies, FindingsReport(findings, policy.source)


def with_default_comparators(schema: schema_pb2.Schema, policy: Policy,
                             label_key: str) -> schema_pb2.Schema:
  """A copy of the schema where every feature without a skew/drift comparator gets the policy's."""
  schema = copy.deepcopy(schema)
  for feature in schema.feature:
    numeric = feature.type in (schema_pb2.INT, schema_pb2.FLOAT)
    for comparison, field in (("skew", "skew_comparator"), ("drift", "drift_comparator")):
      if comparison == "skew" and feature.name == label_key:
        continue  # the label is absent at serving time
      comparator = getattr(feature, field)
      if comparator.HasField("infinity_norm") or comparator.HasField("jensen_shannon_divergence"):
        continue
      threshold = policy.threshold(comparison, feature.name, numeric)
      if numeric:
        comparator.jensen_shannon_divergence.threshold = threshold
      else:
        comparator.infinity_norm.threshold = threshold
  return schema


def _environment(schema: schema_pb2.Schema, name: str) -> Optional[str]:
  return name if name in schema.default_environment else None


def _anomaly_findings(anomalies: anomalies_pb2.Anomalies, schema: schema_pb2.Schema,
                      policy: Policy, label_key: str, split: str,
                      stats: Statistics) -> List[Finding]:
  features = {f.name: f for f in schema.feature}
  measurements = _skew_drift_measurements(anomalies)
  findings = []
  for feature_name, info in sorted(anomalies.anomaly_info.items()):
    feature = features.get(feature_name)
    is_label = feature_name == label_key
    for reason in info.reason:
      kind = anomalies_pb2.AnomalyInfo.Type.Name(reason.type)
      measured, threshold = measurements.get((feature_name, kind), (None, None))
      findings.append(Finding(
          kind=kind, feature=feature_name, split=split,
          severity=policy.severity(kind, feature_name, is_label),
          expected=_expected(kind, feature, schema, threshold),
          found=_found(kind, reason, feature, stats),
          fix=_fix(kind, feature_name, is_label),
          source="tfdv", measured=measured, threshold=threshold))
  if anomalies.HasField("dataset_anomaly_info"):
    for reason in anomalies.dataset_anomaly_info.reason:
      kind = anomalies_pb2.AnomalyInfo.Type.Name(reason.type)
      findings.append(Finding(
          kind=kind, feature="", split=split, severity=policy.severity(kind),
          expected="a dataset that matches the schema", found=reason.description.strip(),
          fix="Check the data source and the schema's dataset constraints.", source="tfdv"))
  return findings


def _skew_drift_measurements(anomalies) -> Dict[Tuple[str, str], Tuple[float, float]]:
  kinds = {
      anomalies_pb2.DriftSkewInfo.Measurement.L_INFTY: "COMPARATOR_L_INFTY_HIGH",
      anomalies_pb2.DriftSkewInfo.Measurement.JENSEN_SHANNON_DIVERGENCE:
          "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH",
  }
  out = {}
  for info in anomalies.drift_skew_info:
    name = ".".join(info.path.step)
    for measurement in list(info.drift_measurements) + list(info.skew_measurements):
      kind = kinds.get(measurement.type)
      if kind and measurement.value > measurement.threshold:
        out[(name, kind)] = (float(measurement.value), float(measurement.threshold))
  return out


def _statistics_findings(stats: Statistics, schema: schema_pb2.Schema, policy: Policy,
                         label_key: str, split: str) -> List[Finding]:
  """Missing and NaN counts per feature, which TFDV's anomalies do not report as numbers."""
  if not stats.datasets:
    return []
  dataset = stats.datasets[0]
  findings = []
  schema_features = {f.name: f for f in schema.feature}
  for feature in dataset.features:
    name = ".".join(feature.path.step) or feature.name
    if name not in schema_features:
      continue
    common = _common_stats(feature)
    if common is None or dataset.num_examples == 0:
      continue
    missing = missing_count(common, dataset.num_examples)
    if missing and name != label_key:
      fraction = missing / dataset.num_examples
      findings.append(Finding(
          kind="MISSING_VALUES", feature=name, split=split,
          severity=policy.severity("MISSING_VALUES", name),
          expected="a value in every row",
          found=f"{missing} of {dataset.num_examples} rows missing ({fraction:.1%})",
          fix=_imputation_fix(policy, name, schema_features[name]),
          source="statistics", measured=fraction))
    nan = _nan_count(feature)
    if nan:
      findings.append(Finding(
          kind="NAN_VALUES", feature=name, split=split,
          severity=policy.severity("NAN_VALUES", name, name == label_key),
          expected="finite numbers", found=f"{nan} NaN value(s) in {dataset.num_examples} rows",
          fix="NaN counts as missing and Transform imputes it; fix the producer if NaN is not "
              "expected.", source="statistics", measured=nan / dataset.num_examples))
  return findings


def missing_count(common: statistics_pb2.CommonStatistics, num_examples: int) -> int:
  """Rows without a value: absent features plus (for single-valued features) empty value lists."""
  if common.max_num_values <= 1:
    return int(round(num_examples - common.tot_num_values))
  return int(common.num_missing)


def _common_stats(feature) -> Optional[statistics_pb2.CommonStatistics]:
  for kind in ("num_stats", "string_stats", "bytes_stats", "struct_stats"):
    if feature.HasField(kind):
      return getattr(feature, kind).common_stats
  return None


def _nan_count(feature) -> int:
  if feature.HasField("num_stats") and feature.num_stats.histograms:
    return int(feature.num_stats.histograms[0].num_nan)
  return 0


def _imputation_fix(policy: Policy, name: str, feature: schema_pb2.Feature) -> str:
  """What Transform does with `name`'s missing values, as the policy says (an excluded feature is
  not in the model, so nothing imputes it)."""
  kind = NUMERIC if feature.type in (schema_pb2.INT, schema_pb2.FLOAT) else CATEGORICAL
  settings = {setting: (value, key) for setting, value, key in policy.treatment_with_source(
      name, kind)}
  if "exclude" in settings:
    return (f"none needed: {name} is excluded from the model ({settings['exclude'][1]} in "
            "policy.yaml), so Transform does not impute it.")
  return f"Transform imputes them ({settings['impute'][0]}, learned from the train split)."


def _found(kind: str, reason, feature: Optional[schema_pb2.Feature], stats: Statistics) -> str:
  """TFDV's description, and for a numeric column read as text, sample values that are not
  numbers."""
  text = reason.description.strip() or reason.short_description
  if kind != "UNEXPECTED_DATA_TYPE" or feature is None or not stats.datasets:
    return text
  for feature_stats in stats.datasets[0].features:
    if ".".join(feature_stats.path.step) == feature.name and feature_stats.HasField("string_stats"):
      values = [b.label for b in feature_stats.string_stats.rank_histogram.buckets] or [
          v.value for v in feature_stats.string_stats.top_values]
      bad = [v for v in values if not _is_number(v)][:5]
      if bad:
        return text + "; values that are not numbers include " + ", ".join(repr(v) for v in bad)
  return text


def _is_number(text: str) -> bool:
  try:
    float(text)
    return True
  except ValueError:
    return False


def _expected(kind: str, feature: Optional[schema_pb2.Feature], schema: schema_pb2.Schema,
              threshold: Optional[float]) -> str:
  if kind in SKEW_AND_DRIFT_KINDS:
    return f"distance ≤ {threshold:g}" if threshold is not None else "a similar distribution"
  if feature is None:
    return "no such feature (it is not in the schema)"
  type_name = schema_pb2.FeatureType.Name(feature.type)
  if kind == "ENUM_TYPE_UNEXPECTED_STRING_VALUES":
    values = list(feature.string_domain.value) or next(
        (list(d.value) for d in schema.string_domain if d.name == feature.domain), [])
    return "one of " + ", ".join(values[:10]) + (" …" if len(values) > 10 else "")
  if kind.startswith("FEATURE_TYPE_LOW") or kind == "SCHEMA_MISSING_COLUMN":
    return f"present in ≥ {feature.presence.min_fraction:.0%} of rows"
  return f"{type_name} values"


_SHIFT_FIX = ("compare how this feature is produced for training and for serving (or since the "
              "previous span); retrain on recent data if the shift is real, and raise its "
              "threshold in policy.yaml only if expected.")
_FIXES = {
    "UNEXPECTED_DATA_TYPE": "clean the offending values at the source (a numeric column with text "
                            "in it is read as text); if the new type is right, change the type in "
                            "schema.pbtxt.",
    "SCHEMA_MISSING_COLUMN": "add the column back to the data, or remove the feature from "
                             "schema.pbtxt if it was dropped on purpose.",
    "COMPARATOR_L_INFTY_HIGH": _SHIFT_FIX,
    "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH": _SHIFT_FIX,
    "ENUM_TYPE_UNEXPECTED_STRING_VALUES": "Transform maps unseen categories to the "
                                          "out-of-vocabulary id; add them to the feature's domain "
                                          "in schema.pbtxt if they are valid.",
    "FEATURE_TYPE_LOW_FRACTION_PRESENT": "Transform imputes the gaps; lower presence.min_fraction "
                                         "in schema.pbtxt if this rate is expected.",
}
_LABEL_FIXES = {
    "ENUM_TYPE_UNEXPECTED_STRING_VALUES": "the label has classes the schema does not list: fix the "
                                          "data, or add the class to the label's domain in "
                                          "schema.pbtxt (a new class needs a retrained model).",
    "FEATURE_TYPE_LOW_FRACTION_PRESENT": "rows without a label cannot train: drop them or fill the "
                                         "label at the source.",
    "FEATURE_TYPE_LOW_NUMBER_VALUES": "rows without a label cannot train: drop them or fill the "
                                      "label at the source.",
    "SCHEMA_MISSING_COLUMN": "the label column is missing: check --label and the data's header.",
}


def _fix(kind: str, feature: str, is_label: bool) -> str:
  if is_label and kind in _LABEL_FIXES:
    return _LABEL_FIXES[kind]
  if kind.startswith(("STRING_TYPE_NOW_", "INT_TYPE_", "FLOAT_TYPE_", "BOOL_TYPE_")):
    return _FIXES["UNEXPECTED_DATA_TYPE"]
  return _FIXES.get(kind, f"review {feature or 'the data'} against schema.pbtxt.")
