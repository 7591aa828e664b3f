"""The user's CSV, checked and profiled in one streaming pass before TensorFlow is imported.

Why a pre-flight of our own: CsvExampleGen drops row numbers, types a numeric column that holds one
stray word as text (so no anomaly is ever raised), reads `NA` as a category, and fails deep inside
Beam on a ragged row or a bad byte. Here every such problem is found in well under a second per
megabyte, named with its file, row and column, and turned into either a usage error (exit 2) or a
finding that DataGuard's findings file carries. The same pass gathers what schema inference needs,
so `trainguard schema init` never imports TensorFlow either.

Memory stays bounded: per column, counters and at most `MAX_TRACKED_VALUES` distinct values; the
file is read in blocks of `_BLOCK_BYTES`.

Speed: a block is profiled column-wise by pyarrow (parse, strip, missing tokens, numbers, counts,
distinct values) when its bytes hold nothing the two parsers could read differently (see
`_Scan._layout`); any other block, and every block with a problem (a ragged row, a bad byte, an
unbalanced quote, a NUL), is read by the pure-Python path (`csv` row by row, `ColumnProfile.add`
per cell), which is what names the file, line and column in the message. Both paths give the same
profile. pyarrow does not import TensorFlow.
"""
import codecs
import csv
import dataclasses
import filecmp
import io
import math
import os
import re
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from trainguard.components.data_guard.findings import Finding
from trainguard.errors import InputError, WriteError  # pylint: disable=unused-import
from trainguard.files import atomic_write

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
  # Where each block of the file starts and ends and how it was read, for `stage` (not compared).
  layout: Optional["_Layout"] = dataclasses.field(default=None, compare=False, repr=False)

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
  header, body_start, header_lines = _header(path, delimiter)
  columns = _columns(header, path)
  warnings = [f"{path}: column {c.original!r} renamed to {c.name!r} (TFX feature names allow "
              "letters, digits and underscores)" for c in columns if c.name != c.original]
  label_name = _label_column(columns, label, path) if label is not None else None
  label_index = next((i for i, c in enumerate(columns) if c.name == label_name), None)
  scan = _Scan(path, delimiter, columns, label_index, na)
  scan.run(body_start, header_lines)
  rows, label_missing = scan.rows, scan.label_missing
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
                       warnings=warnings, layout=scan.layout())
  if label_name is not None:
    _check_label(profile)
  profile.findings = _findings(profile)
  return profile


def _header(path: str, delimiter: str) -> Tuple[List[str], int, int]:
  """The header row, the byte offset where the data rows start and the lines the header took."""
  with _open_text(path) as f:
    taken: List[str] = []

    def lines():
      for line in f:
        taken.append(line)
        yield line

    reader = csv.reader(lines(), delimiter=delimiter)
    header = _read_header(reader, path, delimiter)
    header_lines = reader.line_num
    f.stream.seek(0)  # the byte-order mark, which the reader drops
    bom = len(codecs.BOM_UTF8) if f.stream.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8 else 0
  return header, bom + sum(_utf8_len(line) for line in taken[:header_lines]), header_lines


def _utf8_len(text: str) -> int:
  return len(text) if text.isascii() else len(text.encode("utf-8"))


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
  except csv.Error as e:  # e.g. a NUL byte: the file is not text, or not this CSV dialect
    raise InputError(f"{path}, line 1 (the header): {e}; the first line must name the columns, "
                     "separated by the delimiter, as plain UTF-8 text.") from e
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
  cells, rows without a label and columns without any value left out, comma-separated, `\\n` line
  ends, quoted as `csv.writer` quotes. Streams block by block, reusing what `inspect` learnt: a
  block that is already in that form is copied as bytes, the others are rewritten column-wise by
  pyarrow, or row by row where `inspect` needed Python. The destination is replaced only when its
  bytes change (so ExampleGen's cache survives). Returns whether it was (re)written."""
  na = frozenset(na_tokens)
  keep = [i for i, c in enumerate(profile.columns) if not c.all_missing]
  label_index = next((i for i, c in enumerate(profile.columns) if c.name == profile.label), None)
  staged = destination + ".staged"
  layout = profile.layout
  if layout is not None and not (keep and layout.unchanged(profile.path)):
    layout = None  # (no column to write, or the file changed since `inspect`): row by row
  header = _csv_line([profile.columns[i].name for i in keep]).encode("utf-8")
  with (_open_text(profile.path) if layout is None else open(profile.path, "rb")) as source, \
      atomic_write(staged, "wb") as out:
    out.write(header)
    if layout is None:
      reader = csv.reader(source, delimiter=profile.delimiter)
      next(reader)
      _stage_rows(reader, out, na, keep, label_index)
    else:
      copy = len(keep) == len(profile.columns) and na == layout.na
      for block in layout.blocks:
        if block.kind in (_COPY, _CRLF) and copy:
          _copy_bytes(source, block, out, crlf=block.kind == _CRLF)
        elif block.kind in (_COPY, _CRLF, _ARROW):
          _stage_arrow(source, block, out, profile, na, keep, label_index)
        else:
          _stage_rows(_records(source, profile.delimiter, block.start, block.end), out, na, keep,
                      label_index)
  if os.path.isfile(destination) and filecmp.cmp(staged, destination, shallow=False):
    os.remove(staged)
    return False
  os.replace(staged, destination)
  return True


def _csv_line(cells: List[str]) -> str:
  text = io.StringIO()
  csv.writer(text, lineterminator="\n").writerow(cells)
  return text.getvalue()


def _stage_rows(reader: Iterator[List[str]], out, na, keep: List[int],
                label_index: Optional[int]) -> None:
  text = io.StringIO()
  writer = csv.writer(text, lineterminator="\n")
  for cells in reader:
    if not cells or (len(cells) == 1 and not cells[0].strip()):
      continue
    if label_index is not None and cells[label_index].strip() in na:
      continue
    writer.writerow(["" if cells[i].strip() in na else cells[i].strip() for i in keep])
    if text.tell() > 1 << 20:
      out.write(text.getvalue().encode("utf-8"))
      text.seek(0)
      text.truncate()
  out.write(text.getvalue().encode("utf-8"))


def _copy_bytes(raw, block: "_Block", out, crlf: bool) -> None:
  """A block already as staged, but perhaps for \r\n line ends (never split: blocks end after a
  line break) and a missing final line break."""
  raw.seek(block.start)
  data = raw.read(block.end - block.start)
  out.write(data.replace(b"\r\n", b"\n") if crlf else data)
  if data and not data.endswith(b"\n"):  # the last row of a file without a final line break
    out.write(b"\n")


def _stage_arrow(raw, block: "_Block", out, profile: CsvProfile, na, keep: List[int],
                 label_index: Optional[int]) -> None:
  """One block rewritten column-wise: what `_stage_rows` writes for it, byte for byte."""
  pa, pc, np = _arrow()
  raw.seek(block.start)
  data = raw.read(block.end - block.start)
  table = _parse(data, profile.delimiter, len(profile.columns), block)
  trim = _trim(data, len(data), profile.delimiter, block)
  cells = {i: table.column(i).combine_chunks() for i in set(keep) | {label_index} - {None}}
  if trim is not None:
    cells = {i: _strip(cell, trim) for i, cell in cells.items()}
  rows = None  # rows kept, unless all are
  if len(profile.columns) == 1:
    rows = pc.not_equal(cells[0], "")
  na_set = pa.array(sorted(na), pa.string())
  if label_index is not None:
    labelled = pc.invert(pc.is_in(cells[label_index], value_set=na_set))
    rows = labelled if rows is None else pc.and_(rows, labelled)
  # csv.writer quotes a cell with a comma, a quote or a line feed in it
  specials = [c for c in ',"\n' if c.encode() in data and (
      c != "," or profile.delimiter != "," or block.quoted)]
  parts = []
  for i in keep:
    column = cells[i] if rows is None else cells[i].filter(rows)
    missing = pc.is_in(column, value_set=na_set)
    if _count(missing):
      column = pc.if_else(missing, pa.scalar("", pa.string()), column)
    if specials:
      quote = pc.match_substring(column, specials[0])
      for special in specials[1:]:
        quote = pc.or_(quote, pc.match_substring(column, special))
      if _count(quote):
        quoted = pc.binary_join_element_wise('"', pc.replace_substring(column, '"', '""'), '"', "")
        column = pc.if_else(quote, quoted, column)
    parts.append(column)
  if not len(parts[0]):
    return
  if len(parts) == 1:  # csv.writer writes a row of one empty field as ""
    parts[0] = pc.if_else(pc.equal(parts[0], ""), pa.scalar('""', pa.string()), parts[0])
  parts[-1] = pc.binary_join_element_wise(parts[-1], "", "\n")
  lines = pc.binary_join_element_wise(*parts, ",") if len(parts) > 1 else parts[0]
  offsets = np.frombuffer(lines.buffers()[1], np.int32)[lines.offset:lines.offset + len(lines) + 1]
  out.write(memoryview(lines.buffers()[2])[offsets[0]:offsets[-1]])


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


# ---------------------------------------------------------------------------------------------
# The pass over the data rows: blocks of bytes, each profiled by pyarrow or, when it has anything
# the two parsers could read differently or a problem to name, by Python.

_BLOCK_BYTES = 8 << 20
_FAST = True  # False: every block by the Python path (the reference the tests compare against)
_COPY, _CRLF, _ARROW, _PYTHON = "copy", "crlf", "arrow", "python"
# What str.strip() strips (str.isspace), for pyarrow's utf8_trim; a test checks it is complete.
_PY_WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
                  "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
# Numbers that float() and pyarrow's cast read alike (a leading "+" pyarrow refuses).
_PLAIN_NUMBER = r"^-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
# Every other string float() may accept ("+1", "1_000", "inf", "NAN", other scripts' digits) is
# made of these characters; those are passed to float() itself.
_MAYBE_NUMBER = r"^[\p{Nd}+\-._eEiInNfFtTyYaA]+$"
# Line breaks str.splitlines (so the codecs reader, so `line` in the messages) knows beyond \r, \n.
_OTHER_LINE_BREAKS = (b"\xc2\x85", b"\xe2\x80\xa8", b"\xe2\x80\xa9")


@dataclasses.dataclass(frozen=True)
class _Block:
  start: int               # byte offsets in the file; a block holds whole records
  end: int
  kind: str                # _COPY: staged as is when every column is kept, _CRLF: with \r\n
                           # as \n; _ARROW: rewritten by pyarrow; _PYTHON: row by row
  quoted: bool = False     # pyarrow reads '"' as the quote character (else as a plain character)
  newlines_in_values: bool = False


@dataclasses.dataclass(frozen=True)
class _Layout:
  size: int
  mtime_ns: int
  na: frozenset
  blocks: Tuple[_Block, ...]

  def unchanged(self, path: str) -> bool:
    try:
      stat = os.stat(path)
    except OSError:
      return False
    return (stat.st_size, stat.st_mtime_ns) == (self.size, self.mtime_ns)


def _arrow():
  import numpy as np  # pylint: disable=g-import-not-at-top
  import pyarrow as pa  # pylint: disable=g-import-not-at-top
  import pyarrow.compute as pc  # pylint: disable=g-import-not-at-top
  return pa, pc, np


def _fast_delimiter(delimiter: str) -> bool:
  return len(delimiter) == 1 and (delimiter == "\t" or " " <= delimiter <= "~") and delimiter != '"'


def _parse(data, delimiter: str, ncols: int, block: _Block):
  """pyarrow's reading of a block: every column as strings, nothing read as null."""
  pa, _, _ = _arrow()
  import pyarrow.csv as pcsv  # pylint: disable=g-import-not-at-top
  names = [f"c{i}" for i in range(ncols)]
  return pcsv.read_csv(
      pa.py_buffer(data),
      read_options=pcsv.ReadOptions(column_names=names, use_threads=False,
                                    block_size=max(len(data) + 1, 1 << 20)),
      parse_options=pcsv.ParseOptions(delimiter=delimiter,
                                      quote_char='"' if block.quoted else False,
                                      double_quote=True, escape_char=False,
                                      newlines_in_values=block.newlines_in_values,
                                      ignore_empty_lines=True),
      convert_options=pcsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                          null_values=[], strings_can_be_null=False,
                                          quoted_strings_can_be_null=False, check_utf8=False))


def _trim(data: bytes, cut: int, delimiter: str, block: _Block) -> Optional[bool]:
  """How the cells of `data[:cut]` (a block pyarrow reads) are stripped: None when no cell can
  hold whitespace, True when only ASCII whitespace, False when Unicode whitespace too (or when
  the bytes after `cut` are not ASCII: a slower strip, the same cells)."""
  if not data.isascii():
    return False
  if data.find(b" ", 0, cut) >= 0 or block.newlines_in_values or (
      data.find(b"\t", 0, cut) >= 0 and (delimiter != "\t" or block.quoted)):
    return True
  return None  # (\x0b, \x0c, \x1c-\x1f send a block to the Python path)


def _strip(column, ascii_only: bool):
  """str.strip() of every cell."""
  _, pc, _ = _arrow()
  column = column.combine_chunks() if hasattr(column, "combine_chunks") else column
  if ascii_only:  # control characters other than \t \r \n never reach pyarrow
    return pc.ascii_trim(column, characters=" \t\r\n")
  return pc.utf8_trim(column, characters=_PY_WHITESPACE)


class _Lines:
  """The file's lines from byte `start` on, as the codecs reader yields them (str.splitlines),
  decoded strictly; `offset` is the byte offset just after the last line yielded (the end of the
  file once they are all read)."""

  def __init__(self, raw, start: int):
    self.raw, self.offset = raw, start

  def __iter__(self):
    self.raw.seek(self.offset)
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    pending = ""
    while True:
      chunk = self.raw.read(1 << 20)
      # Never final, as in the codecs reader: a character cut short by the end of the file is
      # dropped, not an error.
      text = pending + decoder.decode(chunk)
      lines = text.splitlines(True)
      # The last line may go on in the next chunk (or be the \r of a \r\n).
      pending = lines.pop() if chunk and lines else ""
      end = self.raw.tell()
      for line in lines:
        self.offset += _utf8_len(line)
        yield line
      if not chunk:
        self.offset = end
        return


def _records(raw, delimiter: str, start: int, end: int) -> Iterator[List[str]]:
  """The records between two record boundaries, read by csv."""
  lines = _Lines(raw, start)
  for cells in csv.reader(lines, delimiter=delimiter):
    yield cells
    if lines.offset >= end:
      return


class _Undecodable(Exception):
  """Bytes that are not UTF-8 somewhere after a byte offset: the exact message needs the codecs
  reader's own view (it decodes ahead in chunks), so the file is re-read from its start."""


class _Scan:
  """The pass over the data rows, filling the columns' profiles."""

  def __init__(self, path: str, delimiter: str, columns: List[ColumnProfile],
               label_index: Optional[int], na: frozenset):
    self.path, self.delimiter, self.columns = path, delimiter, columns
    self.label_index, self.na = label_index, na
    self.rows = 0
    self.label_missing: List[int] = []
    self.blocks: List[_Block] = []
    self.stat = None
    self._numbers: Dict[str, Optional[float]] = {}

  def layout(self) -> _Layout:
    return _Layout(self.stat.st_size, self.stat.st_mtime_ns, self.na, tuple(self.blocks))

  def run(self, body_start: int, header_lines: int) -> None:
    try:
      with open(self.path, "rb") as raw:
        self.stat = os.fstat(raw.fileno())
        pos, line = body_start, header_lines
        fast = _FAST and _fast_delimiter(self.delimiter)
        while pos < self.stat.st_size:
          raw.seek(pos)
          data = raw.read(_BLOCK_BYTES)
          if not data:
            break
          at_eof = pos + len(data) >= self.stat.st_size
          done = self._fast(data, at_eof, pos, line) if fast else None
          if isinstance(done, tuple):
            pos, line = done
          else:  # the Python path reads on to the first record boundary at or after `done`
            pos, line = self._python(raw, pos, pos + (done or len(data)), line)
    except _Undecodable:
      _locate_undecodable(self.path, self.delimiter, len(self.columns))
      raise InputError(f"{self.path}: bytes that are not UTF-8; re-save the file as UTF-8 (e.g. "
                       "`iconv -f latin1 -t utf-8`).") from None

  # -- the Python path: the row-by-row profile, from a record boundary ------------------------

  def _python(self, raw, start: int, stop: int, first_line: int) -> Tuple[int, int]:
    """Profiles records from byte `start` until the first record boundary at or after `stop`;
    returns that boundary and the line it ends."""
    path, columns, na, label_index = self.path, self.columns, self.na, self.label_index
    lines = _Lines(raw, start)
    reader = csv.reader(lines, delimiter=self.delimiter)
    try:
      for cells in reader:
        line = first_line + reader.line_num
        if not cells or (len(cells) == 1 and not cells[0].strip()):
          pass  # blank line
        elif len(cells) != len(columns):
          raise InputError(
              f"{path}, line {line}: {len(cells)} fields where the header has {len(columns)}; "
              "fix the row (a quoted field with the delimiter inside, or a missing/extra "
              "delimiter), or pass the right --delimiter.")
        elif label_index is not None and cells[label_index].strip() in na:
          self.label_missing.append(line)
        else:
          self.rows += 1
          for column, cell in zip(columns, cells):
            value = cell.strip()
            if value in na:
              column.missing += 1
            else:
              column.add(value, line)
        if lines.offset >= stop:
          break
    except UnicodeDecodeError as e:
      raise _Undecodable() from e
    except csv.Error as e:
      raise InputError(f"{path}, line {first_line + reader.line_num}: {e}; fix the quoting of "
                       "that row.") from e
    self.blocks.append(_Block(start, lines.offset, _PYTHON))
    return lines.offset, first_line + reader.line_num

  # -- the pyarrow path ----------------------------------------------------------------------

  def _fast(self, data: bytes, at_eof: bool, pos: int, line: int):
    """Profiles the whole records at the start of `data` column-wise; returns (next byte offset,
    its line), or where the Python path should read to (None: all of `data`)."""
    layout = self._layout(data, at_eof, line)
    if layout is None:
      return None
    cut, quoted, newlines_in_values, record_lines, lines_used, longest_line = layout
    view = memoryview(data)[:cut]
    if not data.isascii():
      try:
        codecs.utf_8_decode(view, "strict", True)
      except UnicodeDecodeError:
        return cut  # the Python path decodes, finds it and has it named
    block = _Block(pos, pos + cut, _ARROW, quoted, newlines_in_values)
    pa, pc, np = _arrow()
    try:
      table = _parse(view, self.delimiter, len(self.columns), block)
    except pa.ArrowInvalid:
      return cut  # a ragged row, a whitespace-only line: the Python path names or skips it
    if table.num_rows != len(record_lines):
      return cut
    raws = [table.column(i).combine_chunks() for i in range(len(self.columns))]
    limit = csv.field_size_limit()
    if (newlines_in_values or longest_line > limit) and any(
        len(raw) and pc.max(pc.binary_length(raw)).as_py() > limit for raw in raws):
      return cut  # csv's "field larger than field limit"
    copy = self._profile(raws, _trim(data, cut, self.delimiter, block),
                         np.asarray(record_lines, np.int64))
    if copy and self.delimiter == "," and data.find(b'"', 0, cut) < 0 \
        and len(record_lines) == lines_used:
      carriage = data.count(b"\r", 0, cut)
      if not carriage:
        block = dataclasses.replace(block, kind=_COPY)
      elif carriage == data.count(b"\r\n", 0, cut):
        block = dataclasses.replace(block, kind=_CRLF)
    self.blocks.append(block)
    return pos + cut, line + lines_used

  def _layout(self, data: bytes, at_eof: bool, line: int):
    """Where the last whole record of `data` ends (`cut`), whether pyarrow must read quotes and
    line breaks inside them, the line (as csv's line_num counts) of every non-empty record before
    `cut`, and the lines they take. None when pyarrow and csv could read the bytes differently:
    control characters (NUL, form feeds, \\x1c-\\x1f: csv or str.splitlines treat them apart),
    Unicode line breaks, a quote csv would read otherwise than pyarrow, no whole record."""
    _, _, np = _arrow()
    arr = np.frombuffer(data, np.uint8)
    size = len(arr)
    control = np.flatnonzero(arr < 32)
    codes = arr[control]
    if np.any((codes != 10) & (codes != 13) & (codes != 9)):
      return None
    if not data.isascii() and any(b in data for b in _OTHER_LINE_BREAKS):
      return None
    ends = control[codes == 10]  # the last byte of every line break, \r\n being one
    carriage = control[codes == 13]
    starts = ends
    if len(carriage):
      after = carriage + 1
      crlf = np.zeros(len(carriage), bool)
      inside = after < size
      crlf[inside] = arr[after[inside]] == 10
      lone = carriage[~crlf]
      if not at_eof and len(lone) and lone[-1] == size - 1:
        lone = lone[:-1]  # perhaps the first half of a \r\n
      ends = np.union1d(ends, lone)
      starts = ends - ((arr[ends] == 10) & (ends > 0) & (arr[np.maximum(ends - 1, 0)] == 13))
    delimiter = ord(self.delimiter)
    quoted = False
    record = np.ones(len(ends), bool)
    if b'"' in data:
      quotes = np.flatnonzero(arr == 34)
      before = arr[np.maximum(quotes - 1, 0)]
      opening = (quotes == 0) | (before == delimiter) | (before == 10) | (before == 13)
      if opening.any():  # else csv reads every quote as a plain character, so can pyarrow
        quoted = True
        record = (np.searchsorted(quotes, ends) & 1) == 0  # outside quotes
    record_ends = ends[record]
    if at_eof:
      cut = size
    elif len(record_ends):
      cut = int(record_ends[-1]) + 1
    else:
      return None
    newlines_in_values = False
    if quoted:
      quotes = quotes[quotes < cut]
      opening = opening[:len(quotes)]
      if len(quotes) % 2:
        return None
      adjacent = np.diff(quotes) == 1  # "" inside a quoted field
      even_ok = opening[0::2].copy()
      even_ok[1:] |= adjacent[1::2]
      after = quotes[1::2] + 1
      following = arr[np.minimum(after, size - 1)]
      odd_ok = (after >= cut) | (following == delimiter) | (following == 10) | (following == 13)
      odd_ok[:len(adjacent[1::2])] |= adjacent[1::2]
      if not (even_ok.all() and odd_ok.all()):
        return None
      newlines_in_values = not record[ends < cut].all()
    in_cut = ends < cut
    ends, starts, record = ends[in_cut], starts[in_cut], record[in_cut]
    record_ends, record_starts = ends[record], starts[record]
    previous = np.concatenate(([-1], record_ends[:-1]))
    non_empty = record_starts != previous + 1
    lines_of = line + 1 + np.flatnonzero(record)[non_empty]
    lines_used = len(ends)
    last = int(record_ends[-1]) if len(record_ends) else -1
    if cut > last + 1:  # the last record of a file without a final line break
      lines_used += 1
      lines_of = np.append(lines_of, line + lines_used)
    longest_line = int(np.diff(np.concatenate(([-1], ends, [cut - 1]))).max())
    return cut, quoted, newlines_in_values, lines_of, lines_used, longest_line

  def _profile(self, raws, trim: Optional[bool], record_lines) -> bool:
    """Adds one block's rows to the profile, as `ColumnProfile.add` per cell would. `trim`: None
    when no cell can have whitespace to strip, else whether the block is ASCII. Returns whether
    staging the block would give back its bytes (no row dropped, no cell changed)."""
    pa, pc, np = _arrow()
    na_set = pa.array(sorted(self.na), pa.string())
    cells = raws if trim is None else [_strip(raw, trim) for raw in raws]
    keep = None  # rows that are neither blank nor without a label, as a boolean array
    if len(cells) == 1:
      keep = pc.not_equal(cells[0], "")
    if self.label_index is not None:
      missing_label = pc.is_in(cells[self.label_index], value_set=na_set)
      if keep is not None:
        missing_label = pc.and_(missing_label, keep)
      if _count(missing_label):
        self.label_missing.extend(
            record_lines[missing_label.to_numpy(zero_copy_only=False)].tolist())
        keep = pc.invert(missing_label) if keep is None else pc.and_not(keep, missing_label)
    kept = len(record_lines) if keep is None else _count(keep)
    if kept == len(record_lines):
      keep = None
    self.rows += kept
    unchanged = keep is None and len(cells) > 1
    for column, raw, cell in zip(self.columns, raws, cells):
      missing = pc.is_in(cell, value_set=na_set)
      if keep is None:
        n_missing = _count(missing)
        valid = pc.invert(missing) if n_missing else None
      else:
        valid = pc.and_not(keep, missing)
        n_missing = kept - _count(valid)
      column.missing += n_missing
      if unchanged:
        unchanged = _nbytes(cell) == _nbytes(raw) and n_missing == np.count_nonzero(
            pc.binary_length(cell).to_numpy(zero_copy_only=False) == 0)
      if kept - n_missing:
        column.present += kept - n_missing
        present = cell if valid is None else _masked(cell, valid)
        self._add_column(column, present, record_lines)
    return unchanged

  def _add_column(self, column: ColumnProfile, present, lines) -> None:
    """One block of a column; `present` is null where a cell is missing or its row dropped."""
    pa, pc, np = _arrow()
    size, nulls = len(present), present.null_count
    valid = np.ones(size, bool) if not nulls else \
        pc.is_valid(present).to_numpy(zero_copy_only=False)
    numbers = None
    try:  # a failing cast is slow in pyarrow: try the first cells first
      pc.cast(present.slice(0, 64), pa.float64())
      numbers = pc.cast(present, pa.float64())
    except pa.ArrowInvalid:
      pass
    counted = False
    if numbers is not None:  # pyarrow read every cell as a number; float() reads each the same...
      value = numbers.to_numpy(zero_copy_only=False)
      is_number = valid
      integral = value == np.trunc(value)  # needed, not enough: "1.0" is not an integer cell
      if integral.any():
        integral &= pc.fill_null(pc.ascii_is_decimal(pc.ascii_ltrim(present, "-")),
                                 False).to_numpy(zero_copy_only=False)
      odd = np.flatnonzero(valid & np.isnan(value))
      if len(odd):  # ...but for "nan(…)", which only pyarrow reads
        is_number = valid.copy()
        for at, text in zip(odd, present.take(pa.array(odd)).to_pylist()):
          is_number[at] = self._number(text) is not None
    else:
      encoded = None
      if not column.overflow:  # few distinct values (so far): classify each once
        encoded = pc.dictionary_encode(present)
        if len(encoded.dictionary) > 4 * MAX_TRACKED_VALUES:
          encoded = None
      if encoded is not None:
        distinct = encoded.dictionary.to_pylist()
        is_number, value, integral = self._classify(distinct)
        index = pc.fill_null(encoded.indices, 0).to_numpy(zero_copy_only=False)
        is_number, value, integral = is_number[index] & valid, value[index], integral[index]
        _count_values(column, distinct, np.bincount(index[valid], minlength=len(distinct)))
        counted = True
      else:
        is_number, value, integral = self._classify_column(present, valid)
    finite = is_number & np.isfinite(value)
    non_numeric = valid & ~is_number
    non_finite = is_number & ~finite
    n_non_numeric = int(np.count_nonzero(non_numeric))
    n_non_finite = int(np.count_nonzero(non_finite))
    column.numeric += size - nulls - n_non_numeric
    column.non_numeric += n_non_numeric
    column.non_finite += n_non_finite
    column.integer += int(np.count_nonzero(integral & finite))
    for samples, mask, count in ((column.non_numeric_samples, non_numeric, n_non_numeric),
                                 (column.non_finite_samples, non_finite, n_non_finite)):
      if count and len(samples) < SAMPLES:
        at = np.flatnonzero(mask)[:SAMPLES - len(samples)]
        samples.extend(zip(lines[at].tolist(), present.take(pa.array(at)).to_pylist()))
    if finite.any():
      finite_values = value[finite]
      column.minimum = min(column.minimum, float(finite_values.min()))
      column.maximum = max(column.maximum, float(finite_values.max()))
    if not counted:
      _add_values(column, present)

  def _classify(self, texts: List[str]):
    """float() of each text: (is a number, its value, integral per ColumnProfile.add)."""
    _, _, np = _arrow()
    numbers = [self._number(text) for text in texts]
    is_number = np.array([n is not None for n in numbers], bool)
    value = np.array([math.nan if n is None else n for n in numbers], float)
    integral = np.array([n is not None and math.isfinite(n) and n == int(n)
                         and _INT.match(text.strip()) is not None
                         for text, n in zip(texts, numbers)], bool)
    return is_number, value, integral

  def _classify_column(self, present, valid):
    """`_classify` for many distinct texts, some not numbers: what float() and pyarrow read alike
    by pyarrow, the few other texts float() might accept by float()."""
    pa, pc, np = _arrow()
    size = len(present)
    is_number = np.zeros(size, bool)
    value = np.full(size, math.nan)
    integral = np.zeros(size, bool)
    plain = pc.fill_null(pc.match_substring_regex(present, _PLAIN_NUMBER), False)
    if _count(plain):
      at = np.flatnonzero(plain.to_numpy(zero_copy_only=False))
      texts = present.filter(plain)
      is_number[at] = True
      value[at] = pc.cast(texts, pa.float64()).to_numpy(zero_copy_only=False)
      integral[at] = pc.ascii_is_decimal(pc.ascii_ltrim(texts, "-")).to_numpy(
          zero_copy_only=False)
    maybe = pc.and_not(pc.fill_null(pc.match_substring_regex(present, _MAYBE_NUMBER), False),
                       plain)
    if _count(maybe):
      at = np.flatnonzero(maybe.to_numpy(zero_copy_only=False))
      is_number[at], value[at], integral[at] = self._classify(present.filter(maybe).to_pylist())
    return is_number & valid, value, integral

  def _number(self, value: str) -> Optional[float]:
    if value not in self._numbers:
      if len(self._numbers) > 10_000:
        self._numbers.clear()
      self._numbers[value] = _number(value)
    return self._numbers[value]


def _masked(cell, valid):
  """`cell` with nulls where `valid` is false (sharing its buffers when it can)."""
  pa, pc, _ = _arrow()
  if cell.offset == 0 and valid.offset == 0 and cell.buffers()[0] is None:
    return pa.Array.from_buffers(pa.string(), len(cell),
                                 [valid.buffers()[1], cell.buffers()[1], cell.buffers()[2]])
  return pc.if_else(valid, cell, pa.scalar(None, pa.string()))


def _count_values(column: ColumnProfile, distinct: List[str], counts) -> None:
  """Counts of distinct values in order of first appearance, as `ColumnProfile.add` keeps them."""
  for value, count in zip(distinct, counts.tolist()):
    if value in column.values:
      column.values[value] += count
    elif len(column.values) < MAX_TRACKED_VALUES:
      column.values[value] = count
    else:
      column.overflow = True


_PREFIX = 8192  # rows in which a column's first distinct values are looked for first


def _add_values(column: ColumnProfile, present) -> None:
  """The first MAX_TRACKED_VALUES distinct values in order of appearance, counted over the file;
  `overflow` once another value appears. Null cells (missing) are not values."""
  pa, pc, np = _arrow()
  if len(column.values) < MAX_TRACKED_VALUES:
    for part in (present.slice(0, _PREFIX), present.slice(_PREFIX)):
      if len(column.values) >= MAX_TRACKED_VALUES:
        present = part
        break
      if len(part):
        counted = pc.value_counts(part)  # in order of first appearance, null among them
        values = counted.field("values")
        if values.null_count:
          valid = pc.is_valid(values)
          values, counted = values.filter(valid), counted.filter(valid)
        _count_new_values(column, values, counted.field("counts").to_numpy())
    else:
      return
  if not len(present):
    return
  keys = list(column.values)
  index = pc.index_in(present, value_set=pa.array(keys, pa.string()))
  if index.null_count > present.null_count:
    column.overflow = True
  counts = np.bincount(index.drop_null().to_numpy(), minlength=len(keys))
  for k in np.flatnonzero(counts):
    column.values[keys[k]] += int(counts[k])


def _count_new_values(column: ColumnProfile, values, counts) -> None:
  """`_count_values` for many distinct values (a pyarrow array), converting only those kept."""
  pa, pc, np = _arrow()
  new = np.arange(len(values))
  if column.values:
    keys = list(column.values)
    index = pc.fill_null(pc.index_in(values, value_set=pa.array(keys, pa.string())), -1)
    index = index.to_numpy(zero_copy_only=False)
    for k in np.flatnonzero(index >= 0):
      column.values[keys[index[k]]] += int(counts[k])
    new = np.flatnonzero(index < 0)
  room = MAX_TRACKED_VALUES - len(column.values)
  for k, value in zip(new[:room], values.take(pa.array(new[:room], pa.int64())).to_pylist()):
    column.values[value] = int(counts[k])
  if len(new) > room:
    column.overflow = True


def _count(mask) -> int:
  """True values in a boolean array (BooleanArray.true_count crashes on compute results in
  pyarrow 10)."""
  _, pc, _ = _arrow()
  return pc.sum(mask).as_py() or 0


def _nbytes(column) -> int:
  """The bytes of a string array's values, from its offsets."""
  _, _, np = _arrow()
  if not len(column):
    return 0
  offsets = np.frombuffer(column.buffers()[1], np.int32)
  return int(offsets[column.offset + len(column)] - offsets[column.offset])


def _locate_undecodable(path: str, delimiter: str, ncols: int) -> None:
  """Re-reads the file as the codecs reader does up to its first problem and raises the message
  that names it (the bytes that are not UTF-8, or a ragged row or bad quoting before them)."""
  with _open_text(path) as f:
    reader = csv.reader(f, delimiter=delimiter)
    line = 1
    try:
      next(reader)
      for cells in reader:
        line = reader.line_num
        if not cells or (len(cells) == 1 and not cells[0].strip()):
          continue
        if len(cells) != ncols:
          raise InputError(
              f"{path}, line {line}: {len(cells)} fields where the header has {ncols}; "
              "fix the row (a quoted field with the delimiter inside, or a missing/extra "
              "delimiter), or pass the right --delimiter.")
    except UnicodeDecodeError as e:
      raise InputError(
          f"{path}, after line {line}: bytes that are not UTF-8 ({e.reason} at byte {e.start} of "
          "the next chunk); re-save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`).") from e
    except csv.Error as e:
      raise InputError(f"{path}, line {reader.line_num}: {e}; fix the quoting of that row.") from e
