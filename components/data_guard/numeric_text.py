"""A numeric column with a few text cells, found from the statistics: `NUMERIC_COLUMN_WITH_TEXT`.

Why here and not only in the CLI's pre-flight: a stock CsvExampleGen reads a column with any cell
that is not a number as BYTES, stock SchemaGen then infers a string feature, TFDV validates the
data against a schema inferred from itself and passes, and a `preprocessing_fn` that scales the
column fails inside Transform (`TypeError: Tensor type tf.string is not supported` from
`tft.scale_to_z_score`). The pre-flight reads the raw CSV and never runs in a user's pipeline; the
statistics do. TFDV records the 1,000 most frequent values of a text feature with their counts
(its rank histogram), which holds every value of most such columns and, for larger ones, the
repeated stray tokens ("n/a", "?", "unknown") that make them text.

The rule is the pre-flight's, in one place: a column whose values are ≥ `NUMERIC_SHARE` (90%)
numbers is numeric and its other values are reported. A column with fewer than two distinct numbers
("0" / "unknown") is a category, not a number with stray text.

Below that cut, a column that is at least `MIXED_SHARE` (50%) numbers, or becomes one once units
and separators are read (`$73k`, `1,200`, `45%`, `73 kg`), mixes numbers and text:
`MIXED_NUMBER_TEXT`. It trains as a category, one vocabulary id per distinct spelling, so the
model never learns that 73 is between 72 and 74. The finding says how much of it plain numbers
are, how much parsing would recover, and what is left as text.
"""
import re
from typing import List, Optional

from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from trainguard.components.data_guard import fixes, value_findings
from trainguard.components.data_guard.findings import Finding
from trainguard.policy import Policy

KIND = "NUMERIC_COLUMN_WITH_TEXT"
MIXED_KIND = "MIXED_NUMBER_TEXT"
NUMERIC_SHARE = 0.9  # ≥ 90% numeric-parseable values: a numeric column with bad values
MIXED_SHARE = 0.5  # ≥ 50% numbers, plain or once units are read: a column that mixes both
_SHOWN = 5
# A number written with a currency sign, thousands separators, a magnitude suffix, a percent sign
# or a unit word: "$73k", "€1,200.50", "45%", "73 kg", "1.2M".
_WITH_UNITS = re.compile(r"^\s*[$€£¥]?\s*([-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)"
                         r"(?:(bn|BN|[kKmMbB])(?![A-Za-z]))?\s*(%|[A-Za-z]{1,4}\.?)?\s*$")
_MAGNITUDE = {"k": 1e3, "m": 1e6, "b": 1e9, "bn": 1e9}


INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


def parse_number(value: str) -> Optional[float]:
  """A cell's number as the pipeline reads its staged text, else None: CsvExampleGen infers types
  as stock (tfx_bsl's `_InferValueType`): `int()` of the cell's UTF-8 bytes, an INT when within
  int64 and text (STRING) when beyond it, else `float()` of the bytes. Bytes, not `str`: `float()`
  of a `str` also reads other scripts' digits ('١٢', fullwidth '１２'), which the bytes never are.
  Before, the pre-flight read cells with `float(str)` and called such columns, and columns of
  integers beyond int64, numeric while CsvExampleGen read them as text (hypothesis found both)."""
  if not value.isascii():
    return None
  try:
    integer = int(value)
  except ValueError:
    try:
      return float(value)
    except ValueError:
      return None
  return float(integer) if INT64_MIN <= integer <= INT64_MAX else None


def is_int64(value: str) -> bool:
  """Whether CsvExampleGen reads the cell as an INT: `int()` of its bytes, within int64 (so '+5',
  '007', '-0' and '1_000' are integers, '1.0' and '1e3' are not). Before, a pattern of digits
  decided, and '1_000' made a column FLOAT that CsvExampleGen reads as INT."""
  if not value.isascii():
    return False
  try:
    return INT64_MIN <= int(value) <= INT64_MAX
  except ValueError:
    return False


def parse_with_units(value: str) -> Optional[float]:
  """The number in "$73k" (73000), "1,200" (1200), "45%" (45), "73 kg" (73); None for text."""
  match = _WITH_UNITS.match(value)
  if not match:
    return None
  number = float(match.group(1).replace(",", ""))
  suffix = (match.group(2) or "").lower()
  return number * _MAGNITUDE.get(suffix, 1.0)


def numeric_text_findings(statistics: statistics_pb2.DatasetFeatureStatisticsList,
                          schema: schema_pb2.Schema, policy: Policy, label_key: str, split: str,
                          context: str = fixes.CLI) -> List[Finding]:
  """The text features of `schema` whose recorded values in `statistics` are mostly numbers."""
  if not statistics.datasets:
    return []
  text_features = {f.name for f in schema.feature if f.type == schema_pb2.BYTES}
  findings = []
  for name, values in sorted(value_findings.recorded_values(statistics).items()):
    if name not in text_features or not values.is_text or not values.counts:
      continue
    numbers = {v for v, _ in values.counts if parse_number(v) is not None}
    bad = [(v, n) for v, n in values.counts if v not in numbers]
    recorded = sum(n for _, n in values.counts)
    numeric_rows = recorded - sum(n for _, n in bad)
    share = numeric_rows / recorded if recorded else 0.0
    if not bad or len(numbers) < 2:
      continue
    if share < NUMERIC_SHARE:
      mixed = _mixed(name, values, numbers, recorded, policy, label_key, split, context)
      findings += [mixed] if mixed else []
      continue
    bad_rows = sum(n for _, n in bad)
    listed = ", ".join(f"{v!r} ×{n}" for v, n in bad[:_SHOWN]) + ("…" if len(bad) > _SHOWN else "")
    findings.append(Finding(
        kind=KIND, feature=name, split=split,
        severity=policy.severity(KIND, name, is_label=name == label_key),
        expected=f"numbers (the column is {share:.0%} numeric{values.among()})",
        found=f"{bad_rows} of {values.present} value(s) are not numbers ({listed}), so the column "
              "was read as text",
        fix=_fix(name, context), source="statistics", measured=bad_rows / values.present,
        threshold=1 - NUMERIC_SHARE))
  return findings


def _mixed(name, values, numbers, recorded, policy, label_key, split, context):
  """MIXED_NUMBER_TEXT for a column that is ≥ MIXED_SHARE numbers, plain or with units."""
  plain = sum(n for v, n in values.counts if v in numbers)
  units = [(v, n) for v, n in values.counts if v not in numbers and parse_with_units(v) is not None]
  recovered = sum(n for _, n in units)
  if (plain + recovered) / recorded < MIXED_SHARE or name == label_key:
    return None
  text = [(v, n) for v, n in values.counts if v not in numbers and parse_with_units(v) is None]
  shown = ", ".join(f"{v!r} → {parse_with_units(v):g}" for v, _ in units[:3])
  left = ", ".join(f"{v!r} ×{n}" for v, n in text[:_SHOWN]) + ("…" if len(text) > _SHOWN else "")
  found = (f"{plain / recorded:.0%} of {values.present} value(s) are numbers"
           + (f"; {recovered / recorded:.0%} more are numbers written with units or separators "
              f"({shown})" if units else "")
           + (f"; the rest is text ({left})" if text else "")
           + ", so the column trains as a category: one id per spelling, no order")
  fix = (f"write {name}'s numbers plainly at the source (e.g. {units[0][0]!r} as "
         f"{parse_with_units(units[0][0]):g}) so it reads as a number" if units else
         f"fix the text cells of {name} at the source so it reads as a number")
  fix += (f"; if it really is a category, list {MIXED_KIND} under features.{name}.info in the "
          "policy.")
  if context == fixes.PIPELINE:
    fix += f" Then give {name} a numeric type (FLOAT or INT) in schema.pbtxt."
  return Finding(
      kind=MIXED_KIND, feature=name, split=split,
      severity=policy.severity(MIXED_KIND, name), expected=f"one type per column (numbers, "
      f"or text categories{values.among()})", found=found, fix=fix, source="statistics",
      measured=(plain + recovered) / recorded, threshold=MIXED_SHARE)


def _fix(name: str, context: str) -> str:
  keep = (f"if {name} really is a category, list {KIND} under features.{name}.info in the "
          "policy.")
  if context == fixes.CLI:
    return ("fix or blank those cells (empty cells are imputed), or declare them missing with "
            f"--na-values; {keep}")
  if context == fixes.PIPELINE:
    return (f"fix or blank those cells at the source (empty cells are imputed), and give {name} "
            f"a numeric type (FLOAT or INT) in schema.pbtxt; {keep}")
  return ("fix or blank those cells at the source (an empty cell is a missing value): "
          "CsvExampleGen reads a column with any text as BYTES, SchemaGen infers a string feature, "
          "and numeric transforms such as tft.scale_to_z_score fail on it in Transform; or parse "
          f"it in your preprocessing_fn with the text cells mapped to missing; {keep}")
