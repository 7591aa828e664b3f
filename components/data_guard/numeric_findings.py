"""Findings on the values of the train split's numeric features, judged from TFDV's statistics.

Why from the statistics: TFDV records, per numeric feature, its min and max, ten equal-mass
(quantile) buckets and ten equal-width buckets over [min, max] (StatisticsGen's defaults), on data
of any size and at no extra cost. They cannot locate every value, but they locate the extremes
relative to the bulk, which is what an outlier is.

- `OUTLIERS`: the min or max lies more than `outlier_iqr_multiple` (k, 50) interquartile ranges
  beyond the quartiles, i.e. outside [Q1 − k·IQR, Q3 + k·IQR]. Quartiles are read off the quantile
  buckets (linear between the deciles around them). The count beyond that range is the rows of the
  equal-width buckets lying wholly outside it (a lower bound, and at least the extreme itself).
  Features the schema makes categorical, the label, excluded features and features with IQR 0 (a
  sparse column: most rows one value) are not judged.
  Why k = 50 and not Tukey's 3: real data has long tails that are signal, not error. Measured with
  TFDV's statistics, the farthest extreme in IQRs is 1.2 on penguins, 2.0 on iris, 2.8 on wine and
  diabetes, 17.4 on breast cancer (`area error`; 1.4% of its rows are beyond 3 IQRs) and 31 on
  digits (edge pixels, mostly 0); a value planted at a million times the rest is 2.3 million IQRs
  out. Tukey's 3 would call 13 breast-cancer and digits features outliers; 50 leaves a 1.6× margin
  over digits. Synthetic extreme tails do exceed it (lognormal with σ = 2: 136 IQRs; Pareto with
  α = 1.5: 54) — for those, too, a clip at train quantiles keeps a z-score from being dominated by
  a few rows. A feature with `clip` in the policy is not judged (Transform clips it); an extreme
  listed in its `missing_values` is replaced by the next value inward (the dataset pass's).
- `DISGUISED_MISSING_VALUES` (sentinel numbers): the train min or max is held by at least
  `SENTINEL_MIN_ROWS` (3) rows and lies at least `sentinel_gap_ratio` (1.0) times the range of the
  values between the min and the max away from them (-999 below values in [0, 100]: a gap of 999,
  ten ranges); such a sentinel is not judged an outlier too. Counted
  in the dataset pass (`extreme_values.py`: rows at the min and max, the others' min and max); a
  sentinel inside the range (-1 in a column of -5 to 5, 0 where impossible) is not found. Why both
  conditions: a lone far value is an outlier, not a code; a repeated edge value next to the rest is
  an ordinary bound (digits' pixels reach 16 in many rows, one step past 15). None on penguins or
  scikit-learn's bundled data.
"""
import dataclasses
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from trainguard.components.data_guard.findings import Finding
from trainguard.policy import Policy

Histogram = statistics_pb2.Histogram
CLIP_SUGGESTION = (0.01, 0.99)  # the quantiles the fix proposes
SENTINEL_MIN_ROWS = 3


def quantiles(num_stats: statistics_pb2.NumericStatistics,
              probabilities: Sequence[float]) -> Optional[List[float]]:
  """The `probabilities` quantiles from the quantile buckets (equal mass: edge i is the i/n
  quantile; linear between edges), or None without them."""
  for histogram in num_stats.histograms:
    if histogram.type == Histogram.QUANTILES and histogram.buckets:
      edges = [histogram.buckets[0].low_value] + [b.high_value for b in histogram.buckets]
      found = np.interp(list(probabilities), np.linspace(0.0, 1.0, len(edges)), edges)
      return [float(q) for q in found]
  return None


def quartiles(num_stats: statistics_pb2.NumericStatistics) -> Optional[Tuple[float, float]]:
  """(Q1, Q3) from the quantile buckets, or None."""
  found = quantiles(num_stats, (0.25, 0.75))
  return None if found is None else (found[0], found[1])


@dataclasses.dataclass(frozen=True)
class Extremes:
  """Where a numeric column's min and max lie against its bulk: the one outlier rule, which
  `OUTLIERS` (features) and `LABEL_OUTLIERS` (a regression label, `label_findings.py`) share."""
  q1: float
  q3: float
  k: float
  low_value: float   # the min (or the next value inward, when the policy calls the min missing)
  high_value: float  # the max (likewise)
  distance: float    # the farther extreme's distance beyond the quartiles, in IQRs

  @property
  def low(self) -> float:
    return self.q1 - self.k * (self.q3 - self.q1)

  @property
  def high(self) -> float:
    return self.q3 + self.k * (self.q3 - self.q1)

  @property
  def farthest(self) -> float:
    return (self.high_value if self.high_value - self.q3 >= self.q1 - self.low_value
            else self.low_value)

  def described(self) -> str:
    """"min v, max w" for the extremes outside [low, high]."""
    return ", ".join(f"{label} {value:.6g}" for label, value, out in (
        ("min", self.low_value, self.low_value < self.low),
        ("max", self.high_value, self.high_value > self.high)) if out)


def beyond_robust_range(policy: Policy, s: statistics_pb2.NumericStatistics,
                        low_value: Optional[float] = None,
                        high_value: Optional[float] = None) -> Optional[Extremes]:
  """The extremes when the min or max (or the given replacements) lies more than
  `outlier_iqr_multiple` IQRs beyond the quartiles; None when neither does, or without quantiles,
  values or spread (IQR 0)."""
  k = policy.dataset_threshold("outlier_iqr_multiple")
  found = quartiles(s)
  if found is None or not int(s.common_stats.num_non_missing) or not found[1] - found[0] > 0:
    return None
  q1, q3 = found
  low_value = s.min if low_value is None else low_value
  high_value = s.max if high_value is None else high_value
  distance = max(high_value - q3, q1 - low_value) / (q3 - q1)
  if not distance > k:
    return None
  return Extremes(q1, q3, k, float(low_value), float(high_value), float(distance))


def values_beyond(num_stats: statistics_pb2.NumericStatistics, low: float, high: float) -> int:
  """Rows of the equal-width buckets wholly outside [low, high], and at least one per extreme
  outside it (a bucket that straddles the bound is not counted: a lower bound)."""
  beyond = 0
  for histogram in num_stats.histograms:
    if histogram.type == Histogram.STANDARD:
      beyond = sum(b.sample_count for b in histogram.buckets
                   if b.low_value > high or b.high_value < low)
      break
  extremes = int(num_stats.max > high) + int(num_stats.min < low)
  return max(int(round(beyond)), extremes)


def _numeric_features(statistics, schema: schema_pb2.Schema, policy: Policy, label_key: str):
  numeric = {f.name for f in schema.feature
             if f.type in (schema_pb2.INT, schema_pb2.FLOAT) and f.name != label_key
             and not (f.HasField("int_domain") and f.int_domain.is_categorical)
             and not policy.is_excluded(f.name)}
  for feature in statistics.datasets[0].features:
    name = ".".join(feature.path.step)
    if name in numeric and feature.HasField("num_stats"):
      yield name, feature.num_stats


def numeric_findings(statistics: statistics_pb2.DatasetFeatureStatisticsList,
                     schema: schema_pb2.Schema, policy: Policy, label_key: str,
                     extremes: Optional[Dict[str, dict]] = None) -> List[Finding]:
  """The kinds above for the train split's `statistics` and the dataset pass's `extremes`
  (`extreme_values.as_result`; without them, no sentinels)."""
  findings: List[Finding] = []
  extremes = extremes or {}
  for name, s in sorted(_numeric_features(statistics, schema, policy, label_key)):
    treatment = policy.treatment(name, "numeric")
    missing = set(treatment.get("missing_values", ()))
    measured = extremes.get(name)
    if measured:
      sentinels = _sentinels(policy, name, s, measured, missing)
      findings += [finding for finding, _ in sentinels]
      missing |= {value for _, value in sentinels}
    if not treatment.get("clip"):
      findings += _outliers(policy, name, s, measured, missing)
  return findings


def _outliers(policy: Policy, name: str, s, measured: Optional[dict], missing) -> List[Finding]:
  present = int(s.common_stats.num_non_missing)
  low_value, high_value = s.min, s.max
  # An extreme the policy calls missing is not a value: the next one inward is (when measured).
  replaced = low_value in missing or high_value in missing
  found = quartiles(s)
  if found is None:
    return []
  if low_value in missing:
    low_value = (measured or {}).get("inner_low") or found[0]
  if high_value in missing:
    high_value = (measured or {}).get("inner_high") or found[1]
  out = beyond_robust_range(policy, s, low_value, high_value)
  if out is None:
    return []
  sides = int(out.high_value > out.high) + int(out.low_value < out.low)
  # The histograms hold the rows the policy calls missing too: then only the extremes count.
  beyond = sides if replaced else values_beyond(s, out.low, out.high)
  q_low, q_high = CLIP_SUGGESTION
  return [Finding(
      kind="OUTLIERS", feature=name, split="train", severity=policy.severity("OUTLIERS", name),
      expected=f"values within the quartiles ± {out.k:g} × IQR, [{out.low:.6g}, {out.high:.6g}]",
      found=(f"at least {beyond} of {present} values ({beyond / present:.2%}) beyond it "
             f"({out.described()}; quartiles {out.q1:.6g} and {out.q3:.6g}): the farthest is "
             f"{out.distance:.3g} IQRs out"),
      fix=(f"they dominate the mean and spread a z-score scales with: clip at train quantiles "
           f"with features.{name}.clip: [{q_low}, {q_high}]; if they are codes for missing, "
           f"features.{name}.missing_values: [{_exact(out.farthest)}]."),
      source="statistics", measured=out.distance, threshold=float(out.k))]


def _sentinels(policy: Policy, name: str, s, measured: dict, missing
               ) -> List[Tuple[Finding, float]]:
  """(finding, the sentinel value) per extreme that is one."""
  ratio = policy.dataset_threshold("sentinel_gap_ratio")
  inner_low, inner_high = measured.get("inner_low"), measured.get("inner_high")
  present = int(s.common_stats.num_non_missing)
  if inner_low is None or inner_high is None or not present:
    return []
  findings = []
  for side, value, rows in (("min", measured["low"], measured["rows_at_low"]),
                            ("max", measured["high"], measured["rows_at_high"])):
    if value in missing or rows < SENTINEL_MIN_ROWS:
      continue
    # The range between the extremes: the values other than the min and the max.
    rest_low, rest_high = inner_low, inner_high
    span = rest_high - rest_low
    gap = rest_low - value if side == "min" else value - rest_high
    if not span > 0 or gap < ratio * span:
      continue
    findings.append((Finding(
        kind="DISGUISED_MISSING_VALUES", feature=name, split="train",
        severity=policy.severity("DISGUISED_MISSING_VALUES", name),
        expected=(f"no value repeated at the {side}, {ratio:g}× the other values' range or more "
                  "away from them"),
        found=(f"{_exact(value)} in {rows} of {present} rows ({rows / present:.1%}), while the "
               f"other values lie in [{rest_low:.6g}, {rest_high:.6g}]: a code for unknown is "
               "averaged into the mean Transform imputes and scales with"),
        fix=(f"if {_exact(value)} means missing, set features.{name}.missing_values: "
             f"[{_exact(value)}] (Transform imputes it, learned on train, at serving too); if it "
             f"is a real value, list DISGUISED_MISSING_VALUES under features.{name}.info."),
        source="dataset", measured=float(gap / span), threshold=float(ratio)), value))
  return findings


def _exact(value: float) -> str:
  """A value as a policy file would write it to match it: an integer as one, else 9 digits (what
  round-trips a float32, as tf.Example stores it)."""
  return str(int(value)) if float(value).is_integer() else f"{value:.9g}"
