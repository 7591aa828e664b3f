"""The report's Features section: one card per feature, built from the run's TFDV statistics.

Why from the statistics and nothing else: StatisticsGen already made one pass over every split,
and its `DatasetFeatureStatisticsList` holds what a person needs to see a feature — TFDV's
equal-width histogram, mean / std / min / median / max, the missing count, the top values and the
rank histogram of a text feature. A second pass over the data for a picture would cost as much as
StatisticsGen itself on a large split. The serving sample's and the previous span's statistics
come from their own StatisticsGen when the pipeline has them.

The share of a split's values the train split never has ("unseen in train", what Transform's
vocabulary maps to its out-of-vocabulary id) is exact when both rank histograms list every
distinct value (TFDV keeps up to 1,000 buckets by default); when the split lists only part of its
values it is a lower bound, and when train's own list is cut it is unknown.

Pure protobuf: no TensorFlow import.
"""
import math
import zlib
from typing import Dict, Iterable, List, Mapping, Optional, Sequence

from tensorflow_metadata.proto.v0 import statistics_pb2

from trainguard.report.data import Bucket, FeatureCard, SplitProfile

# The order splits are drawn and listed in; others follow by name.
SPLIT_ORDER = ("train", "eval", "serving", "previous span")
TOP_VALUES = 5
LABEL_VALUES = 50  # the label's classes, all of them when there are no more than this
_SEVERITY = {"block": 0, "warn": 1, "info": 2, "": 3}


def feature_name(feature: statistics_pb2.FeatureNameStatistics) -> str:
  return ".".join(feature.path.step) if feature.path.step else feature.name


def feature_cards(statistics: Mapping[str, statistics_pb2.DatasetFeatureStatistics],
                  findings: Iterable = (), label_key: str = "") -> List[FeatureCard]:
  """A card per feature of the train split (then features only other splits have), each with a
  profile per split in `SPLIT_ORDER` and the findings that name it; worst severity first, then
  by name. `statistics` maps a split name to its statistics."""
  by_split = {split: {feature_name(f): f for f in stats.features}
              for split, stats in statistics.items()}
  rows = {split: int(stats.num_examples) for split, stats in statistics.items()}
  names: Dict[str, None] = {}
  for split in _ordered(by_split):
    names.update(dict.fromkeys(by_split[split]))
  by_feature: Dict[str, List] = {}
  for finding in findings:
    if getattr(finding, "feature", ""):
      by_feature.setdefault(finding.feature, []).append(finding)
  cards = []
  for name in names:
    present = {s: by_split[s][name] for s in _ordered(by_split) if name in by_split[s]}
    kind = _kind(next(iter(present.values())))
    train_values = _value_counts(present.get("train"))
    top = LABEL_VALUES if name == label_key else TOP_VALUES
    profiles = [_profile(split, feature, rows[split], kind, train_values, split == "train", top)
                for split, feature in present.items()]
    card_findings = sorted(by_feature.get(name, []),
                           key=lambda f: (_SEVERITY.get(f.severity, 3), f.split, f.kind))
    cards.append(FeatureCard(name, kind, profiles, card_findings, is_label=name == label_key))
  return sorted(cards, key=lambda c: (_SEVERITY[c.severity], c.name))


def _ordered(splits: Iterable[str]) -> List[str]:
  splits = list(splits)
  known = [s for s in SPLIT_ORDER if s in splits]
  return known + sorted(s for s in splits if s not in SPLIT_ORDER)


def _kind(feature: statistics_pb2.FeatureNameStatistics) -> str:
  which = feature.WhichOneof("stats")
  return {"num_stats": "numeric", "string_stats": "categorical"}.get(which, "other")


def _common(feature: statistics_pb2.FeatureNameStatistics):
  which = feature.WhichOneof("stats")
  if which == "num_stats":
    return feature.num_stats.common_stats
  if which == "string_stats":
    return feature.string_stats.common_stats
  if which == "bytes_stats":
    return feature.bytes_stats.common_stats
  if which == "struct_stats":
    return feature.struct_stats.common_stats
  return None


def _profile(split: str, feature: statistics_pb2.FeatureNameStatistics, rows: int, kind: str,
             train_values: Optional[Dict[str, float]], is_train: bool,
             top: int = TOP_VALUES) -> SplitProfile:
  profile = SplitProfile(split=split, rows=rows)
  common = _common(feature)
  if common is not None and rows:
    profile.missing = common.num_missing / rows
  if kind == "numeric" and feature.WhichOneof("stats") == "num_stats":
    stats = feature.num_stats
    if common is not None and common.num_non_missing:
      profile.mean, profile.std = _finite(stats.mean), _finite(stats.std_dev)
      profile.min, profile.median, profile.max = stats.min, stats.median, stats.max
    standard = [h for h in stats.histograms
                if h.type == statistics_pb2.Histogram.STANDARD]
    if standard:
      profile.nan = int(standard[0].num_nan)
      profile.histogram = [Bucket(b.low_value, b.high_value, b.sample_count)
                           for b in standard[0].buckets
                           if math.isfinite(b.low_value) and math.isfinite(b.high_value)]
  elif kind == "categorical":
    stats = feature.string_stats
    profile.unique = int(stats.unique)
    profile.top_values = [(b.label, b.sample_count) for b in stats.rank_histogram.buckets[:top]]
    if not profile.top_values:
      profile.top_values = [(v.value, v.frequency) for v in stats.top_values[:top]]
    if not is_train and train_values is not None:
      profile.unseen, profile.unseen_lower_bound = _unseen(stats, train_values)
  return profile


def _finite(value: float) -> Optional[float]:
  return value if math.isfinite(value) else None


def _value_counts(feature: Optional[statistics_pb2.FeatureNameStatistics]
                  ) -> Optional[Dict[str, float]]:
  """Every distinct value of a text feature with its count, or None when the statistics list
  only some of them (the feature has more distinct values than rank-histogram buckets)."""
  if feature is None or feature.WhichOneof("stats") != "string_stats":
    return None
  stats = feature.string_stats
  buckets = stats.rank_histogram.buckets
  if len(buckets) < stats.unique:
    return None
  return {b.label: b.sample_count for b in buckets}


def _unseen(stats: statistics_pb2.StringStatistics,
            train_values: Mapping[str, float]) -> Sequence:
  """(share of values not in train, whether that share is only a lower bound)."""
  buckets = stats.rank_histogram.buckets
  total = stats.common_stats.tot_num_values or sum(b.sample_count for b in buckets)
  if not total:
    return None, False
  unseen = sum(b.sample_count for b in buckets if b.label not in train_values)
  return unseen / total, len(buckets) < stats.unique


def anchor(name: str) -> str:
  """The card's element id: readable, unique per name, safe in HTML and CSS selectors."""
  slug = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "-" for c in name)[:40]
  return f"feature-{slug.strip('-') or 'x'}-{zlib.crc32(name.encode('utf-8')):08x}"


def value_rows(card: FeatureCard, limit: int = TOP_VALUES) -> List[tuple]:
  """A categorical card's most frequent values (train's first, then other splits'), each with its
  share of every split's rows: [(value, {split: share or None}), ...]."""
  values: Dict[str, None] = {}
  for profile in card.profiles:
    values.update(dict.fromkeys(v for v, _ in profile.top_values[:limit]))
  rows = []
  for value in list(values)[:limit + 2]:
    shares = {}
    for profile in card.profiles:
      counts = dict(profile.top_values)
      shares[profile.split] = (counts[value] / profile.rows if value in counts and profile.rows
                               else None)
    rows.append((value, shares))
  return rows
