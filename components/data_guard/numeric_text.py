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
"""
from typing import List, Optional

from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from trainguard.components.data_guard import fixes, value_findings
from trainguard.components.data_guard.findings import Finding
from trainguard.policy import Policy

KIND = "NUMERIC_COLUMN_WITH_TEXT"
NUMERIC_SHARE = 0.9  # ≥ 90% numeric-parseable values: a numeric column with bad values
_SHOWN = 5


def parse_number(value: str) -> Optional[float]:
  try:
    return float(value)
  except ValueError:
    return None


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
    if not bad or len(numbers) < 2 or share < NUMERIC_SHARE:
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
