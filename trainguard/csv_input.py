"""The user's CSV, checked and profiled in one streaming pass before TensorFlow is imported.

Why a pre-flight of our own: CsvExampleGen drops row numbers, types a numeric column that holds one
stray word as text (so no anomaly is ever raised), reads `NA` as a category, and fails deep inside
Beam on a ragged row or a bad byte. Here every such problem is found in well under a second per
megabyte, named with its file, row and column, and turned into either a usage error (exit 2) or a
finding that DataGuard's findings file carries. The same pass gathers what schema inference needs,
so `trainguard schema init` never imports TensorFlow either.

Memory stays bounded: per column, counters and at most `MAX_TRACKED_VALUES` distinct values.
"""
import codecs
import contextlib
import csv
import dataclasses
import filecmp
import math
import os
import re
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from trainguard.components.data_guard.findings import Finding

DEFAULT_NA_TOKENS = ("", "NA", "N/A", "n/a", "na", "NaN", "nan", "null", "NULL", "None", "none",
                     "?", "-")
NUMERIC_SHARE = 0.9          # ≥ 90% numeric-parseable values: a numeric column with bad values
MAX_TRACKED_VALUES = 200     # distinct values remembered per column (domains, label classes)
MAX_DOMAIN_SIZE = 50         # a text column with at most this many values gets a string domain
ID_LIKE_SHARE = 0.95         # distinct / present at or above it: an identifier column
MIN_ROWS = 10                # fewer rows cannot be split into train and eval meaningfully
MAX_LABEL_MISSING_SHARE = 0.2
MAX_LABEL_CLASSES = 100
SAMPLES = 5
_NAME_OK = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class InputError(ValueError):
  """Input that cannot be used as given; the message names the file, the row/column and the fix."""


class WriteError(OSError):
  """A file trainguard must write could not be written (disk full, read-only, not a folder)."""

  def __init__(self, path: str, error: OSError):
    super().__init__(error.errno, f"{path}: cannot write it ({error.strerror}); free space on "
                     "that disk or pass another --workdir.")
    self.path = path


@contextlib.contextmanager
def atomic_write(path: str, mode: str = "w", **kwargs):
  """Writes `path` through a temporary file that replaces it only when every byte is written, so a
  full disk or a crash never leaves a half-written file where a good one is expected."""
  tmp = f"{path}.tmp"
  try:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(tmp, mode, **kwargs) as out:
      yield out
    os.replace(tmp, path)
  except OSError as e:
    if os.path.lexists(tmp):
      os.remove(tmp)
    raise WriteError(path, e) from e
  except BaseException:
    if os.path.lexists(tmp):
      os.remove(tmp)
    raise


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
    number = _number(value)
    if number is None:
      self.non_numeric += 1
      if len(self.non_numeric_samples) < SAMPLES:
        self.non_numeric_samples.append((row, value))
    else:
      self.numeric += 1
      if math.isfinite(number):
        self.minimum = min(self.minimum, number)
        self.maximum = max(self.maximum, number)
        if number == int(number) and _INT.match(value.strip()):
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

  @property
  def is_id_like(self) -> bool:
    """Text or integer values that (nearly) never repeat: an identifier, not a feature. Decimal
    measurements never repeat either and are not identifiers, so FLOAT columns are not judged, and
    an integer column counts only when its values fill their range densely (a row counter)."""
    if self.present <= 20 or self.type_name == "FLOAT":
      return False
    if self.type_name == "INT" and self.maximum - self.minimum + 1 > 1.5 * self.present:
      return False  # integer measurements (incomes, counts) are sparse over their range; ids are not
    if self.overflow:
      return all(count == 1 for count in self.values.values())
    return len(self.values) / self.present >= ID_LIKE_SHARE


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

  def column(self, name: str) -> ColumnProfile:
    for column in self.columns:
      if column.name == name:
        return column
    raise KeyError(name)

  @property
  def kept_columns(self) -> List[ColumnProfile]:
    return [c for c in self.columns if not c.all_missing]

  @property
  def unusable_columns(self) -> List[str]:
    """Constant and ID-like columns: excluded from the model unless the policy keeps them."""
    return [c.name for c in self.kept_columns
            if c.name != self.label and (c.is_constant or c.is_id_like)]

  @property
  def label_classes(self) -> List[str]:
    column = self.column(self.label)
    if column.type_name == "INT":
      return sorted(column.values, key=lambda v: int(float(v)))
    return sorted(column.values)


_INT = re.compile(r"^[+-]?\d+$")


def _number(value: str) -> Optional[float]:
  try:
    return float(value)
  except ValueError:
    return None


def sanitize(name: str) -> str:
  """A column name TFX can use as a feature name (letters, digits, underscores)."""
  cleaned = re.sub(r"[^A-Za-z0-9_]+", "_", name.strip()).strip("_") or "column"
  return cleaned if _NAME_OK.match(cleaned) else "f_" + cleaned


def inspect(path: str, label: Optional[str], delimiter: str = ",",
            na_tokens: Sequence[str] = DEFAULT_NA_TOKENS) -> CsvProfile:
  """Checks and profiles `path` in one streaming pass; raises InputError on unusable input.

  `label=None` profiles a serving sample, which has no label column."""
  _check_file(path)
  na = frozenset(na_tokens)
  with _open_text(path) as f:
    reader = csv.reader(f, delimiter=delimiter)
    header = _read_header(reader, path, delimiter)
    columns = _columns(header, path)
    warnings = [f"{path}: column {c.original!r} renamed to {c.name!r} (TFX feature names allow "
                "letters, digits and underscores)" for c in columns if c.name != c.original]
    label_name = _label_column(columns, label, path) if label is not None else None
    label_index = next((i for i, c in enumerate(columns) if c.name == label_name), None)
    rows, label_missing = 0, []
    line = 1
    try:
      for cells in reader:
        line = reader.line_num
        if not cells or (len(cells) == 1 and not cells[0].strip()):
          continue  # blank line
        if len(cells) != len(columns):
          raise InputError(
              f"{path}, line {line}: {len(cells)} fields where the header has {len(columns)}; "
              "fix the row (a quoted field with the delimiter inside, or a missing/extra "
              "delimiter), or pass the right --delimiter.")
        if label_index is not None and cells[label_index].strip() in na:
          label_missing.append(line)
          continue
        rows += 1
        for column, cell in zip(columns, cells):
          value = cell.strip()
          if value in na:
            column.missing += 1
          else:
            column.add(value, line)
    except UnicodeDecodeError as e:
      raise InputError(
          f"{path}, after line {line}: bytes that are not UTF-8 ({e.reason} at byte {e.start} of "
          "the next chunk); re-save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`).") from e
    except csv.Error as e:
      raise InputError(f"{path}, line {reader.line_num}: {e}; fix the quoting of that row.") from e
  if rows == 0:
    if label_missing:
      raise InputError(f"{path}: every row lacks a value for label {label_name!r}; there is nothing "
                       "to train on. Fill the label or pick another --label.")
    raise InputError(f"{path}: the header has no data rows below it; add data.")
  if rows < MIN_ROWS:
    raise InputError(f"{path}: {rows} data row(s); at least {MIN_ROWS} are needed to split into "
                     "train and eval. Add rows.")
  profile = CsvProfile(path=os.path.abspath(path), delimiter=delimiter, label=label_name,
                       columns=columns, rows=rows, label_missing_rows=label_missing, findings=[],
                       warnings=warnings)
  if label_name is not None:
    _check_label(profile)
  profile.findings = _findings(profile)
  return profile


def _check_file(path: str) -> None:
  if os.path.isdir(path):
    raise InputError(f"{path}: is a directory; pass the CSV file itself.")
  if not os.path.exists(path):
    raise InputError(f"{path}: no such file; check the path.")
  if os.path.getsize(path) == 0:
    raise InputError(f"{path}: the file is empty; it needs a header line and data rows.")


def _open_text(path: str):
  # utf-8-sig drops a byte-order mark; strict errors so a bad byte is reported, not replaced.
  return codecs.open(path, "r", encoding="utf-8-sig", errors="strict")


def _read_header(reader, path: str, delimiter: str) -> List[str]:
  try:
    header = next(reader)
  except StopIteration as e:
    raise InputError(f"{path}: the file is empty; it needs a header line and data rows.") from e
  except UnicodeDecodeError as e:
    raise InputError(f"{path}, line 1: bytes that are not UTF-8 ({e.reason}); re-save the file as "
                     "UTF-8.") from e
  if len(header) == 1:
    for other, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe"), (",", "comma")):
      if other != delimiter and other in header[0]:
        flag = "'\\t'" if other == "\t" else repr(other)
        raise InputError(f"{path}, line 1: the header is one column but contains {name}s; the "
                         f"file looks {name}-separated: pass --delimiter {flag}.")
  if not any(h.strip() for h in header):
    raise InputError(f"{path}, line 1: the header is empty; the first line must name the columns.")
  return header


def _columns(header: List[str], path: str) -> List[ColumnProfile]:
  seen: Dict[str, str] = {}
  columns = []
  for original in header:
    name = sanitize(original)
    if name in seen:
      what = (f"column {original!r} appears twice" if seen[name] == original else
              f"columns {seen[name]!r} and {original!r} both become {name!r}")
      raise InputError(f"{path}, line 1: {what}; rename one so every column name is unique.")
    seen[name] = original
    columns.append(ColumnProfile(name=name, original=original))
  return columns


def _label_column(columns: List[ColumnProfile], label: str, path: str) -> str:
  for column in columns:
    if label in (column.original, column.name):
      return column.name
  names = ", ".join(c.original for c in columns)
  raise InputError(f"{path}: no column named {label!r} for --label (columns: {names}); pass one "
                   "of these.")


def _check_label(profile: CsvProfile) -> None:
  column = profile.column(profile.label)
  share = len(profile.label_missing_rows) / (profile.rows + len(profile.label_missing_rows))
  if share > MAX_LABEL_MISSING_SHARE:
    raise InputError(
        f"{profile.path}: {len(profile.label_missing_rows)} rows ({share:.0%}) have no value for "
        f"label {profile.label!r} (first at line {profile.label_missing_rows[0]}); more than "
        f"{MAX_LABEL_MISSING_SHARE:.0%} is too many to drop. Fill the label at the source.")
  if profile.label_missing_rows:
    profile.warnings.append(
        f"{profile.path}: dropped {len(profile.label_missing_rows)} row(s) without a label "
        f"(lines {_lines(profile.label_missing_rows)}).")
  if column.overflow or (column.distinct or 0) > MAX_LABEL_CLASSES:
    kind = "numbers" if column.is_numeric else "values"
    raise InputError(
        f"{profile.path}: label {profile.label!r} has more than {MAX_LABEL_CLASSES} distinct "
        f"{kind}; trainguard trains classifiers, not regressors. Bin the label into classes or "
        "pick a categorical --label.")
  if column.is_numeric and column.type_name == "FLOAT" and (column.distinct or 0) > 20:
    raise InputError(
        f"{profile.path}: label {profile.label!r} looks continuous ({column.distinct} distinct "
        "decimal values); trainguard trains classifiers, not regressors. Bin it into classes.")
  if (column.distinct or 0) < 2:
    only = next(iter(column.values), "")
    raise InputError(
        f"{profile.path}: label {profile.label!r} has a single class ({only!r}); a classifier "
        "needs at least two. Add rows of other classes or pick another --label.")


def _findings(profile: CsvProfile) -> List[Finding]:
  findings = []
  for column in profile.columns:
    if column.all_missing:
      findings.append(Finding(
          kind="ALL_VALUES_MISSING", feature=column.name, split="input", severity="warn",
          expected="at least one value", found=f"no value in any of {profile.rows} rows",
          fix="the column is left out of the model; drop it from the file or fill it.",
          source="preflight", measured=1.0))
    elif column.is_numeric and column.non_numeric:
      samples = ", ".join(f"line {r}: {v!r}" for r, v in column.non_numeric_samples)
      findings.append(Finding(
          kind="NUMERIC_COLUMN_WITH_TEXT", feature=column.name, split="input", severity="block",
          expected="numbers (the column is " f"{column.numeric / column.present:.0%} numeric)",
          found=f"{column.non_numeric} value(s) that are not numbers ({samples})",
          fix="fix or blank those cells (empty cells are imputed), or declare them missing with "
              "--na-values.",
          source="preflight", measured=column.non_numeric / column.present))
    elif column.is_numeric and column.non_finite:
      samples = ", ".join(f"line {r}: {v!r}" for r, v in column.non_finite_samples)
      findings.append(Finding(
          kind="INFINITE_VALUES", feature=column.name, split="input", severity="block",
          expected="finite numbers", found=f"{column.non_finite} infinite value(s) ({samples})",
          fix="an infinity is usually a division by zero upstream: fix it at the source or blank "
              "those cells (empty cells are imputed); to impute them as missing instead, add "
              "INFINITE_VALUES to findings.warn in policy.yaml.",
          source="preflight", measured=column.non_finite / column.present))
    elif column.name != profile.label and (column.is_constant or column.is_id_like):
      kind = "CONSTANT_COLUMN" if column.is_constant else "ID_LIKE_COLUMN"
      found = (f"the single value {next(iter(column.values))!r} in every row" if column.is_constant
               else f"values that (nearly) never repeat in {column.present} rows")
      findings.append(Finding(
          kind=kind, feature=column.name, split="input", severity="warn",
          expected="a feature that varies and repeats", found=found,
          fix=f"left out of the model; set features.{column.name}.exclude: false in policy.yaml "
              "to keep it.", source="preflight"))
  if profile.label_missing_rows:
    findings.append(Finding(
        kind="LABEL_MISSING_ROWS_DROPPED", feature=profile.label, split="input", severity="warn",
        expected="a label on every row",
        found=f"{len(profile.label_missing_rows)} row(s) without one (lines "
              f"{_lines(profile.label_missing_rows)})",
        fix="these rows were dropped; fill the label at the source to use them.",
        source="preflight",
        measured=len(profile.label_missing_rows) / (profile.rows + len(profile.label_missing_rows))))
  return findings


def _lines(lines: List[int]) -> str:
  shown = ", ".join(str(n) for n in lines[:SAMPLES])
  return shown + (f" and {len(lines) - SAMPLES} more" if len(lines) > SAMPLES else "")


def stage(profile: CsvProfile, destination: str, na_tokens: Sequence[str] = DEFAULT_NA_TOKENS) -> bool:
  """Writes the CSV as CsvExampleGen should read it: sanitized header, missing-value tokens as empty
  cells, rows without a label and columns without any value left out. Streams row by row; the
  destination is replaced only when its bytes change (so ExampleGen's cache survives). Returns
  whether it was (re)written."""
  na = frozenset(na_tokens)
  keep = [i for i, c in enumerate(profile.columns) if not c.all_missing]
  label_index = next((i for i, c in enumerate(profile.columns) if c.name == profile.label), None)
  staged = destination + ".staged"
  with _open_text(profile.path) as f, atomic_write(staged, encoding="utf-8", newline="") as out:
    reader = csv.reader(f, delimiter=profile.delimiter)
    writer = csv.writer(out, lineterminator="\n")
    next(reader)
    writer.writerow([profile.columns[i].name for i in keep])
    for cells in reader:
      if not cells or (len(cells) == 1 and not cells[0].strip()):
        continue
      if label_index is not None and cells[label_index].strip() in na:
        continue
      writer.writerow(["" if cells[i].strip() in na else cells[i].strip() for i in keep])
  if os.path.isfile(destination) and filecmp.cmp(staged, destination, shallow=False):
    os.remove(staged)
    return False
  os.replace(staged, destination)
  return True


def infer_schema(profile: CsvProfile):
  """A schema for review, from the profile alone (no TensorFlow): types as CsvExampleGen will read
  the staged file, domains for low-cardinality text, the label categorical and absent at serving."""
  from tensorflow_metadata.proto.v0 import schema_pb2  # pylint: disable=g-import-not-at-top
  schema = schema_pb2.Schema()
  schema.default_environment.extend(["TRAINING", "SERVING"])
  for column in profile.kept_columns:
    feature = schema.feature.add(name=column.name)
    feature.type = getattr(schema_pb2, column.type_name)
    feature.value_count.max = 1
    if not column.missing:
      feature.value_count.min = 1
    feature.presence.min_fraction = 1.0
    feature.presence.min_count = 1
    is_label = column.name == profile.label
    if is_label:
      feature.not_in_environment.append("SERVING")
      if column.type_name == "INT":
        values = [int(float(v)) for v in column.values]
        feature.int_domain.min, feature.int_domain.max = min(values), max(values)
        feature.int_domain.is_categorical = True
      else:
        feature.string_domain.value.extend(profile.label_classes)
    elif column.type_name == "BYTES" and column.distinct and column.distinct <= MAX_DOMAIN_SIZE:
      feature.string_domain.value.extend(sorted(column.values))
  return schema
