"""DataGuard's checks on statistics: TFDV with environments, skew and drift, then the policy.

Why not ExampleValidator: TFX 1.16's ExampleValidator calls `tfdv.validate_statistics(stats,
schema)` with no environment, no serving statistics and no previous statistics, so the schema's
environments, train/serving skew and span-to-span drift are never checked. Here:

- each split is validated in the TRAINING environment; the train split also against the serving
  sample (skew) and the previous span's train split (drift);
- the serving sample is validated in the SERVING environment, where the label is absent;
- skew/drift comparators come from the curated schema; a categorical feature without one gets the
  policy's L-infinity default (kept when the move is beyond chance), a numeric one is judged by its
  mean and spread in its own units (`drift_findings.py`: TFDV's L-infinity on numeric features
  always reads 0, and its Jensen-Shannon divergence cannot tell a 0.5-std shift from noise);
- missing and NaN counts come from the statistics themselves (CsvExampleGen writes an empty cell as
  a feature with no value, which TFDV's presence check does not count as missing).

Anomalies stay data (protos); the policy alone decides what blocks.
"""
import copy
import dataclasses
import difflib
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2

from trainguard import task as task_lib
from trainguard.components.data_guard import drift_findings, fixes, label_findings, numeric_text
from trainguard.components.data_guard.validation_schema import (
    SERVING, TRAINING, serving_schema, with_default_comparators, with_mapped_label_spellings)
from trainguard.components.data_guard.findings import Finding, FindingsReport
from trainguard.errors import InputError
# The CLI's rule for rows without a label (its threshold), so the pipeline's is the same one.
from trainguard.preflight import profile
from trainguard.policy import CATEGORICAL, NUMERIC, Policy

SERVING_SPLIT = "serving"
SKEW_AND_DRIFT_KINDS = ("COMPARATOR_L_INFTY_HIGH", "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH")

Statistics = statistics_pb2.DatasetFeatureStatisticsList


def validate(schema: schema_pb2.Schema, policy: Policy, label_key: str,
             statistics: Mapping[str, Statistics],
             serving_statistics: Union[None, Statistics, Mapping[str, Statistics]] = None,
             baseline_statistics: Optional[Statistics] = None,
             preflight_findings: Sequence[Finding] = (),
             context: str = fixes.CLI,
             ) -> Tuple[Dict[str, anomalies_pb2.Anomalies], FindingsReport]:
  """Validates every split; returns TFDV anomalies per split (plus the serving sample's) and the
  findings.

  `serving_statistics`: one sample, or a serving artifact's splits by name (a stock CsvExampleGen
  splits a serving sample 2:1 into train and eval; every split is validated, and the train split
  is compared with each for skew). `preflight_findings` (from the CLI's pass over the raw CSV)
  join the report with the policy's severity for their kind. `context`: where DataGuard runs, for
  the fix texts (`fixes.py`).
  """
  check_inputs(schema, label_key, statistics)
  serving = serving_splits(serving_statistics)
  schema = with_mapped_label_spellings(with_default_comparators(schema, policy, label_key),
                                       policy, label_key)
  anomalies: Dict[str, anomalies_pb2.Anomalies] = {}
  findings: List[Finding] = [
      dataclasses.replace(f, severity=policy.severity(f.kind, f.feature))
      for f in preflight_findings]
  said = {(f.kind, f.feature) for f in preflight_findings}
  for split, stats in statistics.items():
    anomalies[split] = tfdv.validate_statistics(
        stats, schema, environment=_environment(schema, TRAINING),
        previous_statistics=baseline_statistics if split == "train" else None,
        serving_statistics=next(iter(serving.values()), None) if split == "train" else None)
    if split == "train":
      for more in list(serving.values())[1:]:  # skew against the sample's other splits too
        anomalies[split] = _with_skew(anomalies[split], tfdv.validate_statistics(
            stats, schema, environment=_environment(schema, TRAINING), serving_statistics=more))
    split_findings = _anomaly_findings(anomalies[split], schema, policy, label_key, split, stats,
                                       context)
    split_findings += _statistics_findings(stats, schema, policy, label_key, split, context)
    findings += _label_presence(split_findings, label_key, said)
    findings += [f for f in numeric_text.numeric_text_findings(
        stats, schema, policy, label_key, split, context) if (f.kind, f.feature) not in said]
  findings = drift_findings.drift_and_skew(schema, policy, label_key, statistics["train"],
                                           baseline_statistics, serving, findings)
  if task_lib.of_schema(schema, label_key, statistics["train"]) == task_lib.REGRESSION:
    findings += label_findings.label_findings(statistics, policy, label_key, context)
  for_serving = serving_schema(schema, label_key, serving)
  for split, stats in serving.items():
    anomalies[split] = tfdv.validate_statistics(
        stats, for_serving, environment=_environment(for_serving, SERVING))
    findings += _anomaly_findings(anomalies[split], for_serving, policy, label_key, split,
                                  stats, context)
  return anomalies, FindingsReport(findings, policy.source)


def check_inputs(schema: schema_pb2.Schema, label_key: str,
                 statistics: Mapping[str, Statistics]) -> None:
  """The label key names a schema feature, and there is a `train` split: else nothing DataGuard
  says about the label or the training data would mean anything."""
  names = [f.name for f in schema.feature]
  if label_key not in names:
    close = difflib.get_close_matches(label_key, names, n=1, cutoff=0.6) or [
        n for n in names if n.casefold() == label_key.casefold()]
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise InputError(
        f"DataGuard: label_key {label_key!r} is not a feature of the schema (names are "
        f"case-sensitive; the schema has {', '.join(names[:20])}{' …' if len(names) > 20 else ''})."
        f"{hint} Pass the label column's name as label_key.")
  if "train" not in statistics:
    raise InputError(
        f"DataGuard: the statistics have no 'train' split (splits: {', '.join(statistics)}). "
        "DataGuard learns what is normal from the split named 'train' (skew, drift, leakage and "
        "the label's classes): name the training split 'train' in the ExampleGen's output_config "
        "(example_gen_pb2.SplitConfig), as TFX's default split does.")


def serving_splits(serving_statistics) -> Dict[str, Statistics]:
  """The serving sample's statistics by finding split: `serving` for one, `serving-<split>` for
  each split of a split serving artifact."""
  if serving_statistics is None:
    return {}
  if isinstance(serving_statistics, statistics_pb2.DatasetFeatureStatisticsList):
    return {SERVING_SPLIT: serving_statistics}
  if len(serving_statistics) == 1:
    return {SERVING_SPLIT: next(iter(serving_statistics.values()))}
  return {f"{SERVING_SPLIT}-{name}": stats for name, stats in serving_statistics.items()}


def _with_skew(anomalies: anomalies_pb2.Anomalies,
               other: anomalies_pb2.Anomalies) -> anomalies_pb2.Anomalies:
  """`anomalies` plus the skew anomalies found against another split of the serving sample."""
  merged = copy.deepcopy(anomalies)
  for name, info in other.anomaly_info.items():
    skew = [r for r in info.reason if anomalies_pb2.AnomalyInfo.Type.Name(r.type)
            in SKEW_AND_DRIFT_KINDS]
    have = {r.type for r in merged.anomaly_info[name].reason} if name in merged.anomaly_info else set()
    for reason in skew:
      if reason.type not in have:
        target = merged.anomaly_info[name]
        if not target.HasField("path"):
          target.path.CopyFrom(info.path)
        target.reason.add().CopyFrom(reason)
  merged.drift_skew_info.extend(other.drift_skew_info)
  return merged


def _environment(schema: schema_pb2.Schema, name: str) -> Optional[str]:
  return name if name in schema.default_environment else None


def _anomaly_findings(anomalies: anomalies_pb2.Anomalies, schema: schema_pb2.Schema,
                      policy: Policy, label_key: str, split: str,
                      stats: Statistics, context: str) -> List[Finding]:
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
          fix=fixes.anomaly(kind, feature_name, is_label, split, context),
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
                         label_key: str, split: str, context: str) -> List[Finding]:
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
    if name == label_key:
      unlabelled = missing + _nan_count(feature)
      if unlabelled:
        findings.append(_missing_label(split, name, min(unlabelled, dataset.num_examples),
                                       dataset.num_examples, policy, context))
      continue
    if missing:
      fraction = missing / dataset.num_examples
      findings.append(Finding(
          kind="MISSING_VALUES", feature=name, split=split,
          severity=policy.severity("MISSING_VALUES", name),
          expected="a value in every row",
          found=f"{missing} of {dataset.num_examples} rows missing ({fraction:.1%})",
          fix=_imputation_fix(policy, name, schema_features[name], context),
          source="statistics", measured=fraction))
    nan = _nan_count(feature)
    if nan:
      findings.append(Finding(
          kind="NAN_VALUES", feature=name, split=split,
          severity=policy.severity("NAN_VALUES", name, name == label_key),
          expected="finite numbers", found=f"{nan} NaN value(s) in {dataset.num_examples} rows",
          fix=fixes.nan_values(context), source="statistics",
          measured=nan / dataset.num_examples))
  return findings


# TFDV's anomalies of a label absent from some rows: LABEL_MISSING_ROWS_DROPPED says the same with
# the count, and the pre-flight's rule decides (a curated schema's presence 1.0 blocked one row).
LABEL_PRESENCE_KINDS = ("FEATURE_TYPE_LOW_FRACTION_PRESENT", "FEATURE_TYPE_LOW_NUMBER_PRESENT",
                        "FEATURE_TYPE_LOW_NUMBER_VALUES", "FEATURE_TYPE_NOT_PRESENT",
                        "FLOAT_TYPE_HAS_NAN")


def _label_presence(findings: List[Finding], label_key: str, said) -> List[Finding]:
  """One split's findings with the label's presence anomalies left to LABEL_MISSING_ROWS_DROPPED
  when it is there (and it left out when the pre-flight already dropped the rows)."""
  if ("LABEL_MISSING_ROWS_DROPPED", label_key) in said:
    return [f for f in findings if f.kind != "LABEL_MISSING_ROWS_DROPPED"]
  if not any(f.kind == "LABEL_MISSING_ROWS_DROPPED" for f in findings):
    return findings
  return [f for f in findings if not (f.feature == label_key and f.kind in LABEL_PRESENCE_KINDS)]


def _missing_label(split: str, label_key: str, missing: int, rows: int, policy: Policy,
                   context: str) -> Finding:
  """LABEL_MISSING_ROWS_DROPPED from the statistics, by the CLI's rule (`MAX_LABEL_MISSING_SHARE`,
  20%, the pre-flight's): at most that share, the rows are left out of training and evaluation
  (trainguard's Trainer, Rebalance and Evaluator) at the policy's severity (warn); more blocks,
  as the CLI refuses such a file. Why: a pipeline built without the CLI got them as NaN labels
  (a NaN loss) or class id -1 (Rebalance's error), or TFDV's presence anomaly blocked one row."""
  share = missing / rows
  limit = profile.MAX_LABEL_MISSING_SHARE
  over = share > limit
  if over:
    fix = (f"more than {limit:.0%} is too many to drop: fill the label at the source, or check "
           f"{fixes.label_key(context)}.")
  elif fixes.ours(context):
    fix = ("these rows are left out (trainguard's Trainer drops them from training and "
           "validation, its Evaluator from eval); fill the label at the source to use them.")
  else:
    fix = ("drop these rows before training (trainguard's Trainer and Evaluator leave them out; "
           "a Trainer of your own gets NaN or an empty label); fill the label at the source to "
           "use them.")
  return Finding(
      kind="LABEL_MISSING_ROWS_DROPPED", feature=label_key, split=split,
      severity="block" if over else policy.severity("LABEL_MISSING_ROWS_DROPPED", label_key),
      expected=f"a label on every row (at most {limit:.0%} without one are dropped)",
      found=f"{missing} of {rows} rows ({share:.1%}) have no label (absent, empty or NaN)",
      fix=fix, source="statistics", measured=share, threshold=limit)


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


def _imputation_fix(policy: Policy, name: str, feature: schema_pb2.Feature, context: str) -> str:
  """What fills `name`'s missing values, as the policy's treatment of the feature says."""
  kind = NUMERIC if feature.type in (schema_pb2.INT, schema_pb2.FLOAT) else CATEGORICAL
  settings = {setting: (value, key) for setting, value, key in policy.treatment_with_source(
      name, kind)}
  return fixes.missing_values(context, name, settings)


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
      bad = [v for v in values if numeric_text.parse_number(v) is None][:5]
      if bad:
        return text + "; values that are not numbers include " + ", ".join(repr(v) for v in bad)
  return text


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
