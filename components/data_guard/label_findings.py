"""Findings on a regression label's values, judged from TFDV's statistics (no pass over the data).

Why from the statistics: TFDV records, per split, the label's count, mean, standard deviation, min,
max and ten quantile buckets (deciles); that locates the label's extremes against its bulk, the
shape of its distribution and its centre in each split, which is all three checks need.

- `LABEL_OUTLIERS` (train): the label's min or max more than `outlier_iqr_multiple` (50) IQRs
  beyond its quartiles: the rule and threshold of `OUTLIERS` (`numeric_findings.
  beyond_robust_range`), applied to the label. A squared-error loss is dominated by such rows.
- `SKEWED_LABEL` (train, a label ≥ 0): Kelly's decile skewness (P90 + P10 − 2·P50) / (P90 − P10)
  of at least `label_skew` (0.4), and log1p halves it or better (quantiles commute with a monotone
  map, so log1p's deciles are log1p of the label's). Why deciles and not the moment skewness: the
  statistics have no third moment, and the decile form is bounded (−1, 1) and barely moved by a
  few extreme rows. Why 0.4: the diabetes target is 0.21 on all 442 rows (log1p: −0.15) and 0.24
  on the CLI's 244-row train split, and its 244-row subsamples reach 0.3 in 4.3% of 4,000 draws,
  0.4 in 0.03% (of 100 rows: 2.7%); normal targets of 200 rows stay below 0.27 in 2,000 seeds.
  Of 200 rows, exponential targets (median 0.46) are reported in 81% of seeds, lognormal σ = 0.75
  (0.44) in 72%, σ = 1 (0.56) in 99%; a milder tail (lognormal σ = 0.5: 0.30, gamma with shape 2:
  0.32) is not. Not reported with `regression.label_transform: log` (it is done), for a label with
  negative values (log1p needs > −1 and the skew is then not a positive tail), or when log1p would
  not help (values ≪ 1, where log1p is nearly the identity).
- `LABEL_DRIFT` (each split but train): the standardised mean shift d = |mean − train mean| / train
  std of at least `label_drift_shift` (0.5) **and** at least `LABEL_DRIFT_MIN_Z` (4) standard
  errors of a random split's mean difference (d / √(1/n_train + 1/n_split)). Why 0.5: a model
  fitted to train's label centre pays about d² of the label's variance in extra squared error on a
  split shifted by d that its features do not explain, so d = 0.5 can move R² by 0.25, five times
  the blessing's `regression.min_r2` (0.05). Why the z floor: in small splits chance alone moves
  the mean that far (random 5:1:3 splits of 100 normal rows, 2,000 seeds: d ≥ 0.5 in 2.7% of the
  eval splits and 17% of the validation splits of about 11 rows; with the floor, 0 and 1 of
  them; of 50 to 200 rows, at most 1 eval and 3 validation splits in 2,000). Or a change of
  spread: the std ratio at least `label_drift_std_ratio` (1.3, either way) and at least 4 standard
  errors of its log (`drift_findings.numeric_shift`: one kurtosis for both splits, at least 3, from
  the histogram; not judged under 20 rows). Why: a model fitted to train's spread misjudges how far
  the label strays, and R² on a split of another spread is not train's. Measured with 2,000 random
  5:1:3 splits each: normal labels of 100 and 200 rows, none in eval or validation (at most 3.5
  standard errors); lognormal σ = 1 of 200 rows, 2 eval splits; diabetes, none (3.2 at most); an
  eval split's spread planted ×1.5 is found in 97% of diabetes splits (×1.3: 27%, of 147 rows).
"""
import math
from typing import List, Mapping, Optional

from tensorflow_metadata.proto.v0 import statistics_pb2

from trainguard.components.data_guard import drift_findings, fixes, numeric_findings
from trainguard.components.data_guard.findings import Finding
from trainguard.policy import Policy

LABEL_DRIFT_MIN_Z = 4.0  # standard errors of a random split's mean difference
Statistics = statistics_pb2.DatasetFeatureStatisticsList


def label_num_stats(statistics: Statistics, label_key: str
                    ) -> Optional[statistics_pb2.NumericStatistics]:
  """The label's numeric statistics in one split's `statistics`, or None."""
  for feature in statistics.datasets[0].features if statistics.datasets else ():
    if ".".join(feature.path.step) == label_key and feature.HasField("num_stats"):
      return feature.num_stats
  return None


def decile_skew(deciles) -> Optional[float]:
  """Kelly's skewness (P90 + P10 − 2·P50) / (P90 − P10) of (P10, P50, P90); None without spread."""
  p10, p50, p90 = deciles
  return (p90 + p10 - 2 * p50) / (p90 - p10) if p90 - p10 > 0 else None


def label_findings(statistics: Mapping[str, Statistics], policy: Policy, label_key: str,
                   context: str = fixes.CLI) -> List[Finding]:
  """The three kinds above for a regression label (the caller decides the task)."""
  train = label_num_stats(statistics["train"], label_key) if "train" in statistics else None
  if train is None or not int(train.common_stats.num_non_missing):
    return []
  findings = _outliers(train, policy, label_key, context)
  findings += _skew(train, policy, label_key, context)
  for split in sorted(set(statistics) - {"train"}):
    other = label_num_stats(statistics[split], label_key)
    if other is not None:
      findings += _drift(train, other, split, policy, label_key, context)
  return findings


def _finding(policy: Policy, kind: str, label_key: str, split: str, **fields) -> Finding:
  return Finding(kind=kind, feature=label_key, split=split,
                 severity=policy.severity(kind, label_key), source="statistics", **fields)


def _outliers(s, policy: Policy, label_key: str, context: str) -> List[Finding]:
  out = numeric_findings.beyond_robust_range(policy, s)
  if out is None:
    return []
  present = int(s.common_stats.num_non_missing)
  beyond = numeric_findings.values_beyond(s, out.low, out.high)
  transform = (f" or {fixes.label_transform(context)}" if s.min >= 0 else "")
  return [_finding(
      policy, "LABEL_OUTLIERS", label_key, "train",
      expected=f"label values within the quartiles ± {out.k:g} × IQR, [{out.low:.6g}, "
               f"{out.high:.6g}]",
      found=(f"at least {beyond} of {present} values ({beyond / present:.2%}) beyond it "
             f"({out.described()}; quartiles {out.q1:.6g} and {out.q3:.6g}): the farthest is "
             f"{out.distance:.3g} IQRs out, and squared error is dominated by such rows"),
      fix=(f"check those rows at the source (a unit or entry error?); if they are real, "
           f"{fixes.robust_loss(context)}{transform}; to accept them, list LABEL_OUTLIERS under "
           f"features.{label_key}.info."),
      measured=out.distance, threshold=float(out.k))]


def _skew(s, policy: Policy, label_key: str, context: str) -> List[Finding]:
  if policy.regression.label_transform == "log" or s.min < 0:
    return []
  deciles = numeric_findings.quantiles(s, (0.1, 0.5, 0.9))
  if deciles is None:
    return []
  skew = decile_skew(deciles)
  logged = decile_skew([math.log1p(q) for q in deciles])
  threshold = policy.dataset_threshold("label_skew")
  if skew is None or skew < threshold or logged is None or abs(logged) > skew / 2:
    return []
  p10, p50, p90 = deciles
  return [_finding(
      policy, "SKEWED_LABEL", label_key, "train",
      expected=f"decile skewness (P90 + P10 − 2·P50) / (P90 − P10) below {threshold:g}",
      found=(f"{skew:.2f} (P10 {p10:.6g}, median {p50:.6g}, P90 {p90:.6g}; mean "
             f"{s.mean:.6g}): a long right tail, which squared error fits at the bulk's expense; "
             f"after log1p it would be {logged:.2f}"),
      fix=f"{fixes.label_transform(context)}; to keep the label as it is, list SKEWED_LABEL "
          f"under features.{label_key}.info.",
      measured=float(skew), threshold=float(threshold))]


def _drift(train, other, split: str, policy: Policy, label_key: str,
           context: str) -> List[Finding]:
  n_train = int(train.common_stats.num_non_missing)
  n_split = int(other.common_stats.num_non_missing)
  if not n_split or not train.std_dev > 0:
    return []
  shift = abs(other.mean - train.mean) / train.std_dev
  z = shift / math.sqrt(1 / n_train + 1 / n_split)
  threshold = policy.dataset_threshold("label_drift_shift")
  spread = drift_findings.numeric_shift(train, other)
  ratio_limit = policy.dataset_threshold("label_drift_std_ratio")
  by_mean = shift >= threshold and z >= LABEL_DRIFT_MIN_Z
  by_spread = (spread is not None and spread.ratio_z is not None
               and spread.factor >= ratio_limit and spread.ratio_z >= LABEL_DRIFT_MIN_Z)
  if not (by_mean or by_spread):
    return []
  spread_text = (f"; std {other.std_dev:.6g} against {train.std_dev:.6g} (×{spread.ratio:.2f}, "
                 f"{spread.ratio_z:.1f} standard errors of its log)" if by_spread else "")
  return [_finding(
      policy, "LABEL_DRIFT", label_key, split,
      expected=(f"the {split} label's mean within {threshold:g} train standard deviations of "
                f"train's and its std within ×{ratio_limit:g} (or within {LABEL_DRIFT_MIN_Z:g} "
                "standard errors of a random split)"),
      found=(f"mean {other.mean:.6g} in {n_split} {split} rows against {train.mean:.6g} "
             f"(std {train.std_dev:.6g}) in {n_train} train rows: {shift:.2f} standard "
             f"deviations, {z:.1f} standard errors{spread_text}"),
      fix=(f"{fixes.split_source(context, split)}; if the shift is real (a later period), the "
           "metrics measure the model on it: retrain on recent data; if expected, list "
           f"LABEL_DRIFT under features.{label_key}.info."),
      measured=float(shift) if by_mean else spread.factor,
      threshold=float(threshold) if by_mean else ratio_limit)]
