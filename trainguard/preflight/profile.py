"""What one streaming pass learns of a CSV: per column, counts, numbers, samples and distinct values.

Memory stays bounded: per column, counters and at most `MAX_TRACKED_VALUES` distinct values. The
profile decides the types CsvExampleGen is given (a column ≥ 90% numbers is numeric, its other
cells are reported) and which columns are unusable (constant, ID-like); the ID-like threshold is the
policy's (`thresholds.dataset.id_like_fraction`), asked through `Policy.is_id_like`.
"""
import dataclasses
import math
import re
from typing import Any, Dict, List, Optional, Tuple

from trainguard import task as task_lib
from trainguard.components.data_guard.findings import Finding
# The rule "≥ 90% numbers is a numeric column", and what a number is, are DataGuard's too (from
# the statistics, when the pre-flight never ran): one definition.
from trainguard.components.data_guard.numeric_text import NUMERIC_SHARE, is_int64, parse_number
from trainguard.policy import ID_LIKE_MIN_ROWS, Policy

DEFAULT_NA_TOKENS = ("", "NA", "N/A", "n/a", "na", "NaN", "nan", "null", "NULL", "None", "none",
                     "?", "-")
MAX_TRACKED_VALUES = 200     # distinct values remembered per column (domains, label classes)
MIN_ROWS = 10                # fewer rows cannot be split into train and eval meaningfully
MAX_LABEL_MISSING_SHARE = 0.2
MAX_LABEL_CLASSES = task_lib.MAX_CLASSES_OF_A_NUMBER
SAMPLES = 5
_NAME_OK = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclasses.dataclass
class ColumnProfile:
  name: str
  original: str
  present: int = 0
  missing: int = 0
  numeric: int = 0
  integer: int = 0
  non_numeric: int = 0
  non_numeric_samples: List[Tuple[int, str]] = dataclasses.field(default_factory=list)
  non_finite: int = 0
  non_finite_samples: List[Tuple[int, str]] = dataclasses.field(default_factory=list)
  minimum: float = math.inf
  maximum: float = -math.inf
  values: Dict[str, int] = dataclasses.field(default_factory=dict)
  overflow: bool = False  # more distinct values than MAX_TRACKED_VALUES

  def add(self, value: str, row: int) -> None:
    self.present += 1
    number = parse_number(value)
    if number is None:
      self.non_numeric += 1
      if len(self.non_numeric_samples) < SAMPLES:
        self.non_numeric_samples.append((row, value))
    else:
      self.numeric += 1
      if math.isfinite(number):
        # + 0.0: -0.0 becomes 0.0, so the extremes do not depend on which of "0" and "-0" came
        # first (nor on the parse path: numpy's min picks -0.0; hypothesis found it)
        self.minimum = min(self.minimum, number + 0.0)
        self.maximum = max(self.maximum, number + 0.0)
        if is_int64(value):
          self.integer += 1
      else:
        self.non_finite += 1
        if len(self.non_finite_samples) < SAMPLES:
          self.non_finite_samples.append((row, value))
    if value in self.values:
      self.values[value] += 1
    elif len(self.values) < MAX_TRACKED_VALUES:
      self.values[value] = 1
    else:
      self.overflow = True

  @property
  def all_missing(self) -> bool:
    return self.present == 0

  @property
  def is_numeric(self) -> bool:
    return self.present > 0 and self.numeric / self.present >= NUMERIC_SHARE

  @property
  def type_name(self) -> str:
    """The type CsvExampleGen should see: INT, FLOAT or BYTES."""
    if not self.is_numeric:
      return "BYTES"
    return "INT" if self.integer == self.numeric and not self.non_finite else "FLOAT"

  @property
  def distinct(self) -> Optional[int]:
    return None if self.overflow else len(self.values)

  @property
  def is_constant(self) -> bool:
    return self.present > 0 and not self.overflow and len(self.values) == 1

  def is_id_like(self, policy: Policy) -> bool:
    """Text or integer values that (nearly) never repeat: an identifier, not a feature. Decimal
    measurements never repeat either and are not identifiers, so FLOAT columns are not judged, and
    an integer column counts only when its values fill their range densely (a row counter). How
    distinct is "nearly never" is the policy's `thresholds.dataset.id_like_fraction` (before, the
    pre-flight had its own 0.95 and ignored a policy that changed it)."""
    if self.type_name == "FLOAT":
      return False
    if self.type_name == "INT" and self.maximum - self.minimum + 1 > 1.5 * self.present:
      return False  # integer measurements (incomes, counts) are sparse over their range; ids are not
    if self.overflow:  # more distinct values than tracked: an identifier if none tracked repeats
      return (self.present > ID_LIKE_MIN_ROWS
              and all(count == 1 for count in self.values.values()))
    return policy.is_id_like(len(self.values), self.present)


@dataclasses.dataclass
class CsvProfile:
  path: str
  delimiter: str
  label: Optional[str]
  columns: List[ColumnProfile]
  rows: int                       # data rows kept (rows without a label are dropped)
  label_missing_rows: List[int]   # 1-based line numbers (header = line 1) of dropped rows
  findings: List[Finding]
  warnings: List[str]
  task: str = task_lib.CLASSIFICATION  # what the label's values call for (trainguard.task), or --task
  # Where each block of the file starts and ends and how it was read, for `stage` (not compared).
  # (a `blocks.Layout`; typed Any because blocks imports this module)
  layout: Optional[Any] = dataclasses.field(default=None, compare=False, repr=False)

  def column(self, name: str) -> ColumnProfile:
    for column in self.columns:
      if column.name == name:
        return column
    raise KeyError(name)

  @property
  def kept_columns(self) -> List[ColumnProfile]:
    return [c for c in self.columns if not c.all_missing]

  def unusable_columns(self, policy: Policy) -> List[str]:
    """Constant and ID-like columns: excluded from the model unless the policy keeps them."""
    return [c.name for c in self.kept_columns
            if c.name != self.label and (c.is_constant or c.is_id_like(policy))]

  @property
  def label_classes(self) -> List[str]:
    column = self.column(self.label)
    if column.type_name == "INT":
      return sorted(column.values, key=int)  # int(), not int(float()): exact beyond 2**53
    return sorted(column.values)


def sanitize(name: str) -> str:
  """A column name TFX can use as a feature name (letters, digits, underscores)."""
  cleaned = re.sub(r"[^A-Za-z0-9_]+", "_", name.strip()).strip("_") or "column"
  return cleaned if _NAME_OK.match(cleaned) else "f_" + cleaned
