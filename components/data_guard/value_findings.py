"""Findings on the values of the train split's features, judged from TFDV's statistics alone.

Why from the statistics and not from a new pass over the rows: TFDV already keeps, per text
feature, the exact count of distinct values and the 1,000 most frequent values with their counts
(its rank histogram; StatisticsGen's default `num_rank_histogram_buckets`), so these defects of
real data cost nothing to find, on data of any size. What lies beyond the 1,000 most frequent
values is not seen; the findings say so when it matters.

- `NEAR_CONSTANT_COLUMN`: the top value holds ≥ `near_constant_fraction` (0.99) of the rows with a
  value and fewer than `near_constant_other_rows` (10) rows hold anything else. Only features with
  recorded value counts (text features, and integer ones the schema makes categorical): for other
  numeric features TFDV counts only zeros exactly (its histograms are ranges, not values), and a
  numeric column that is zero in all but a few rows is a sparse feature, common in real data and
  seldom what stops training (digits has seven such edge pixels).
- `HIGH_CARDINALITY_CATEGORICAL`: a text feature with distinct/present ≥
  `high_cardinality_fraction` (0.5: at most two rows a value on average), more than
  `ID_LIKE_MIN_ROWS` rows, and below the ID-like cut (`ID_LIKE_COLUMN` reports those).
- `DATETIME_COLUMN`: ≥ `datetime_fraction` (0.9) of the recorded rows (placeholders aside) hold
  values that parse as dates or times in one of `DATETIME_FORMATS`, with at least two distinct ones.
  Fix: the feature's `datetime: parts` (`parts_month_first` when the values read month first),
  which Transform parses with the same formats (`models/datetime_parts.py`); the warning that a
  random split of time-ordered rows leaks the future stays, also once the parts are set.
- `CATEGORY_VARIANTS`: recorded values of a text feature equal after Unicode NFKC normalisation,
  case-folding and trimming; any group counts. On the label, `findings.label` decides (block).
  The fix is the feature's `normalize: true` for the groups Transform's normalisation merges
  (lower-casing, white space: `models/text_normalization.py`; no NFKC in TensorFlow core), named
  apart from the rest; on the label, a `label.map` entry to each group's most frequent spelling.
  Groups the policy already merges are not reported again.
- `DISGUISED_MISSING_VALUES`: recorded values of a text feature that are placeholders for missing
  (`PLACEHOLDERS`, case-insensitive, trimmed, and whitespace-only or empty values); any counts,
  except those the feature's `missing_values` lists (Transform imputes them).
"""
import dataclasses
import datetime
import json
import re
import unicodedata
from typing import Dict, List, Optional, Sequence, Tuple

from tensorflow_metadata.proto.v0 import statistics_pb2

from trainguard.components.data_guard import fixes
from trainguard.components.data_guard.findings import Finding
from trainguard.models import text_normalization
from trainguard.policy import ID_LIKE_MIN_ROWS, Policy

PLACEHOLDERS = frozenset({"-", "?", "unknown", "none", "null", "n/a", "na", "missing"})
# The date and time formats a text column is recognised by (strptime's codes; %b/%B English).
DATETIME_FORMATS: Dict[str, Tuple[str, ...]] = {
    "ISO 8601 date (2021-03-04)": ("%Y-%m-%d",),
    "ISO 8601 date and time (2021-03-04T05:06[:07[.890]][Z|+01:00], T or a space)": tuple(
        f"%Y-%m-%d{sep}{time}{zone}" for sep in ("T", " ")
        for time in ("%H:%M", "%H:%M:%S", "%H:%M:%S.%f") for zone in ("", "%z")),
    "2021/03/04 [05:06[:07]]": ("%Y/%m/%d", "%Y/%m/%d %H:%M", "%Y/%m/%d %H:%M:%S"),
    "04/03/2021 or 03/04/2021 [05:06[:07]] (day or month first)": tuple(
        f"{day}{time}" for day in ("%d/%m/%Y", "%m/%d/%Y") for time in ("", " %H:%M", " %H:%M:%S")),
    "04.03.2021": ("%d.%m.%Y",),
    "4 Mar 2021, 4 March 2021, Mar 4, 2021, 04-Mar-2021": (
        "%d %b %Y", "%d %B %Y", "%b %d, %Y", "%B %d, %Y", "%d-%b-%Y"),
}
_FORMAT_NAMES = {f: name for name, formats in DATETIME_FORMATS.items() for f in formats}
# A cheap test before strptime: a 4-digit year and a separator (plain numbers are never dates).
_MAYBE_DATE = re.compile(r"^(?=.*\d{4})(?=.*[-/.: ,]).{6,40}$")
_SHOWN = 5  # values or groups a finding lists


@dataclasses.dataclass(frozen=True)
class RecordedValues:
  """What TFDV kept of one feature's values: enough to judge the kinds above."""
  is_text: bool                     # STRING/BYTES, not an integer feature made categorical
  present: int                      # values (rows, for a single-valued feature)
  unique: int                       # distinct values, counted exactly
  counts: Tuple[Tuple[str, int], ...]  # the most frequent values with their counts, most first

  @property
  def complete(self) -> bool:
    return len(self.counts) >= self.unique

  def among(self) -> str:
    """Where the values were seen, for a message."""
    return ("" if self.complete else
            f" (among the {len(self.counts)} most frequent of {self.unique} values TFDV records)")


def recorded_values(statistics: statistics_pb2.DatasetFeatureStatisticsList
                    ) -> Dict[str, RecordedValues]:
  """Per feature with string statistics: its recorded values (rank histogram, else top values)."""
  out = {}
  for feature in statistics.datasets[0].features:
    if not feature.HasField("string_stats"):
      continue
    s = feature.string_stats
    if s.rank_histogram.buckets:
      counts = [(b.label, int(round(b.sample_count))) for b in s.rank_histogram.buckets]
    else:
      counts = [(v.value, int(round(v.frequency))) for v in s.top_values]
    is_text = feature.type in (statistics_pb2.FeatureNameStatistics.STRING,
                               statistics_pb2.FeatureNameStatistics.BYTES)
    out[".".join(feature.path.step)] = RecordedValues(
        is_text, int(s.common_stats.tot_num_values), int(s.unique), tuple(counts))
  return out


def is_placeholder(value: str) -> bool:
  return not value.strip() or value.strip().casefold() in PLACEHOLDERS


def variant_key(value: str) -> str:
  """The spelling-free form of a category: NFKC, case-folded (NFKC again: folding can denormalise)
  and trimmed."""
  return unicodedata.normalize(
      "NFKC", unicodedata.normalize("NFKC", value).casefold()).strip()


def datetime_format(value: str, first: Sequence[str] = ()) -> Optional[str]:
  """The strptime format `value` parses with (trying `first` first), or None."""
  value = value.strip()
  if not _MAYBE_DATE.match(value):
    return None
  for fmt in list(first) + [f for f in _FORMAT_NAMES if f not in first]:
    try:
      datetime.datetime.strptime(value, fmt)
      return fmt
    except ValueError:
      continue
  return None


def value_findings(statistics: statistics_pb2.DatasetFeatureStatisticsList, policy: Policy,
                   label_key: str, context: str = fixes.CLI,
                   skip: frozenset = frozenset()) -> List[Finding]:
  """The kinds above for the train split's `statistics`; `context` words the fixes (`fixes.py`).
  Features in `skip` are not judged (a numeric column with stray text, reported as such)."""
  return judge(recorded_values(statistics), policy, label_key, context, skip)


def judge(recorded: Dict[str, RecordedValues], policy: Policy, label_key: str,
          context: str = fixes.CLI, skip: frozenset = frozenset()) -> List[Finding]:
  """The kinds above for recorded values: TFDV's (`value_findings`), or the CSV pre-flight's
  counts, from which `schema init` proposes the policy entries the fixes name."""
  findings: List[Finding] = []

  def add(kind, feature, expected, found, fix, measured, threshold=None, is_label=False):
    findings.append(Finding(
        kind=kind, feature=feature, split="train",
        severity=policy.severity(kind, feature, is_label=is_label), expected=expected,
        found=found, fix=fix, source="statistics", measured=measured, threshold=threshold))

  for feature, values in sorted(recorded.items()):
    if feature in skip:
      continue
    is_label = feature == label_key
    if values.present == 0 or not values.counts or (
        policy.is_excluded(feature) and not is_label):
      # Excluded, its values do not train; but the split warning of a date column still holds.
      if values.present and values.is_text:
        _datetime(add, policy, feature, values, context)
      continue
    if values.is_text:
      treatment = {} if is_label else policy.treatment(feature, "categorical")
      # Transform compares missing_values as it compares the values: normalised, or trimmed.
      spelling = text_normalization.graph_key if treatment.get("normalize") else str.strip
      handled = {spelling(v) for v in treatment.get("missing_values", ())}
      _placeholders(add, feature, values, is_label, handled, context, spelling)
      _variants(add, feature, values, is_label, policy)
    if is_label:
      continue
    _near_constant(add, policy, feature, values)
    if values.is_text and not _datetime(add, policy, feature, values, context):
      _high_cardinality(add, policy, feature, values)
  return findings


def _near_constant(add, policy, feature, values):
  top, top_rows = values.counts[0]
  others = values.present - top_rows
  share = top_rows / values.present
  fraction = policy.dataset_threshold("near_constant_fraction")
  max_others = policy.dataset_threshold("near_constant_other_rows")
  if values.unique >= 2 and 0 < others < max_others and share >= fraction:
    add("NEAR_CONSTANT_COLUMN", feature,
        f"the top value in < {fraction:.0%} of rows, or ≥ {max_others:g} rows with another value",
        f"{top!r} in {top_rows} of {values.present} rows ({share:.2%}); {others} row(s) hold "
        f"{values.unique - 1} other value(s)",
        f"{others} row(s) cannot teach a model what the other values mean; {_exclude(feature)}, "
        "unless"
        " those rows are the rare signal the model needs.", share, fraction)


def _high_cardinality(add, policy, feature, values):
  fraction = policy.dataset_threshold("high_cardinality_fraction")
  ratio = values.unique / values.present
  if (values.present > ID_LIKE_MIN_ROWS and ratio >= fraction
      and not policy.is_id_like(values.unique, values.present)):
    add("HIGH_CARDINALITY_CATEGORICAL", feature,
        f"fewer than {fraction:.0%} distinct values (rows per value on average > "
        f"{1 / fraction:g})",
        f"{values.unique} distinct values in {values.present} rows ({ratio:.0%}; "
        f"{values.present / values.unique:.1f} rows per value)",
        f"a vocabulary memorises values it sees once or twice; {_exclude(feature)}, or derive a "
        "coarser"
        " feature at the source (hash buckets are not yet a policy setting).", ratio, fraction)


def _datetime(add, policy, feature, values, context) -> bool:
  fraction = policy.dataset_threshold("datetime_fraction")
  candidates = [(v, n) for v, n in values.counts if not is_placeholder(v)]
  total = sum(n for _, n in candidates)
  parsed, failed, used, examples = 0, 0, [], []
  for value, n in candidates:
    fmt = datetime_format(value, used)
    if fmt is None:
      failed += n
      if (total - failed) / total < fraction:
        return False  # the share can no longer reach the threshold: stop parsing
      continue
    parsed += n
    if fmt not in used:
      used.append(fmt)
    examples.append(value)
  share = parsed / total if total else 0.0
  if share < fraction or len(examples) < 2:
    return False
  kinds = sorted({_FORMAT_NAMES[f].split(" (")[0] for f in used})
  expanded = (policy.data["features"].get(feature) or {}).get("datetime")
  # 04/03/2021: the reading the values parsed with first (DataGuard tries it first for the rest).
  slash = [f[:5] for f in used if f[:5] in ("%d/%m", "%m/%d")]
  order = "parts_month_first" if slash[:1] == ["%m/%d"] else "parts"
  if policy.is_excluded(feature):
    note = "it is excluded from the model (policy), but"
  elif expanded:
    note = (f"Transform expands it into its parts (features.{feature}.datetime: {expanded}), "
            "but")
  else:
    note = (f"as a category it is noise: set features.{feature}.datetime: {order} (Transform "
            "parses it into year, month, day, day_of_week and hour, at serving too) or "
            f"{_exclude(feature)};")
  add("DATETIME_COLUMN", feature, f"fewer than {fraction:.0%} of values dates or times",
      f"{share:.0%} of its values{values.among()} are dates/times ({'; '.join(kinds)}; e.g. "
      + ", ".join(repr(e) for e in examples[:3]) + ")",
      f"{note} if rows are ordered in time a random (hash) split leaks the future into training: "
      + ("split by time, passing the later rows as --eval-data." if context == fixes.CLI else
         "split by time (the later rows as the eval split, e.g. ExampleGen's input_config with "
         "one file pattern per split)."), share, fraction)
  return True


def _exclude(feature: str) -> str:
  return f"exclude it: features.{feature}.exclude: true in policy.yaml"


def _variants(add, feature, values, is_label, policy):
  """Groups of spellings the graph still tells apart: the label's `label.map` and a feature's
  `normalize: true` (Transform's lower-casing, white space collapse and trim) merge theirs."""
  label_map = policy.label_map if is_label else {}
  normalized = not is_label and policy.treatment(feature, "categorical").get("normalize")

  def trained_as(value):
    value = label_map.get(value, value)
    return text_normalization.graph_key(value) if normalized else value

  groups: Dict[str, List[Tuple[str, int]]] = {}
  for value, n in values.counts:
    if not is_placeholder(value):
      groups.setdefault(variant_key(value), []).append((value, n))
  groups = {k: g for k, g in groups.items() if len({trained_as(v) for v, _ in g}) > 1}
  if not groups:
    return
  ordered = sorted(groups.values(), key=lambda g: -sum(n for _, n in g))
  minority = sum(n for g in ordered for _, n in g[1:])  # counts come most frequent first
  shown = "; ".join(" / ".join(f"{v!r} ({n})" for v, n in g) for g in ordered[:_SHOWN])
  more = f"; and {len(ordered) - _SHOWN} more group(s)" if len(ordered) > _SHOWN else ""
  fix = (_label_map_fix(ordered, label_map) if is_label
         else _normalize_fix(feature, ordered, normalized))
  add("CATEGORY_VARIANTS", feature,
      "one spelling per category (after Unicode NFKC, case-folding and trimming)",
      f"{len(ordered)} group(s) of spellings{values.among()}: {shown}{more}", fix,
      minority / values.present, is_label=is_label)


def _label_map_fix(groups, label_map) -> str:
  """The whole `label.map` to write: the policy's, and each spelling still apart sent to the class
  of its group's most frequent spelling (counts come most frequent first)."""
  pairs = dict(label_map)
  for group in groups:
    cls = label_map.get(group[0][0], group[0][0])
    pairs.update((v, cls) for v, _ in group[1:] if label_map.get(v, v) != cls)
  entry = "{" + ", ".join(f"{json.dumps(v)}: {json.dumps(c)}" for v, c in pairs.items()) + "}"
  return ("the model trains on fake extra classes: map each spelling to its class with "
          f"label.map: {entry} in policy.yaml (Transform maps the label before its class id, so "
          "the Trainer, Rebalance and the Evaluator see one class; the schema's label domain "
          "keeps every spelling), or write one spelling at the source.")


def _normalize_fix(feature, groups, normalized) -> str:
  """`normalize: true` for the groups the graph can merge; the rest named, with why not."""
  merges = [g for g in groups if len({text_normalization.graph_key(v) for v, _ in g}) < len(g)]
  apart = [" / ".join(repr(v) for v in sorted({text_normalization.graph_key(v): v
                                               for v, _ in g}.values()))
           for g in groups if len({text_normalization.graph_key(v) for v, _ in g}) > 1]
  fix = "each spelling gets its own vocabulary id"
  if merges and not normalized:
    fix += (f": set features.{feature}.normalize: true (Transform lower-cases, collapses white "
            "space and trims before the vocabulary, at serving too; it merges "
            f"{len(merges)} of these {len(groups)} group(s))")
  if apart:
    fix += ("; " if merges and not normalized else ": ") + (
        "Transform cannot merge " + "; ".join(apart[:_SHOWN]) + " (they differ by Unicode NFKC "
        "normalisation or case-folding beyond lower case, which TensorFlow core has no op for): "
        "write one spelling at the source")
  return fix + "."


def _placeholders(add, feature, values, is_label, handled=frozenset(), context=fixes.CLI,
                  spelling=str.strip):
  """`handled`: the feature's `missing_values` (Transform imputes those already), as `spelling`
  makes them: trimmed, or normalised when the feature is `normalize`d."""
  found = [(v, n) for v, n in values.counts
           if is_placeholder(v) and spelling(v) not in handled]
  if not found:
    return
  rows = sum(n for _, n in found)
  listed = ", ".join(f"{v!r} in {n} row(s)" for v, n in found[:_SHOWN])
  if is_label:
    fix = ("each placeholder trains as a fake class: if they mean missing, blank them at the "
           "source" + (" or add them to --na-values (it replaces the default list: keep its "
                       "entries)" if context == fixes.CLI else "") + " so those rows are dropped")
  else:
    codes = ", ".join(json.dumps(v.strip()) for v, _ in found if v.strip())
    blanks = any(not v.strip() for v, _ in found)
    fix = ("each placeholder trains as a category of its own: if they mean missing, "
           + (f"set features.{feature}.missing_values: [{codes}] (Transform imputes them, learned "
              "on train, at serving too)" if codes else "")
           + (" and " if codes and blanks else "")
           + ("blank values are missing already: check the source" if blanks else ""))
  add("DISGUISED_MISSING_VALUES", feature, "missing values left empty, not written as text",
      f"{listed}{'…' if len(found) > _SHOWN else ''}: {rows} of {values.present} rows "
      f"({rows / values.present:.1%}){values.among()}",
      f"{fix}; if one is a real category, list DISGUISED_MISSING_VALUES under "
      f"features.{feature}.info.", rows / values.present, is_label=is_label)
