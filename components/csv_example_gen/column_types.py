"""Pass 1 of CsvExampleGen: each column's type, as stock CsvExampleGen (tfx_bsl) infers it, and the
block reader both passes share.

Every column read as text in bounded Arrow blocks (`read_blocks`); per block, each column's
non-empty values are matched with regular expressions in Arrow and the integers range-checked by an
Arrow cast; the few values that match neither go through the same Python test as stock
(`value_type`, tfx_bsl's `_InferValueType`). The `ColumnTypes` of the files of a split are joined
(`join_types`: a column's type only moves up, UNKNOWN < INT < FLOAT < STRING).
"""
from typing import Dict, Iterator, List, NamedTuple, Sequence, Tuple

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from tfx.utils import io_utils

from trainguard.components.data_guard import numeric_text

# Column types, ordered like tfx_bsl's csv_decoder.ColumnType (a value's type only ever moves up).
UNKNOWN, INT, FLOAT, STRING = 0, 1, 2, 3
TYPE_NAMES = {UNKNOWN: "UNKNOWN", INT: "INT", FLOAT: "FLOAT", STRING: "STRING"}

# Bytes of CSV that Arrow parses into one record batch: what bounds memory per file. A block must
# hold the longest row; a file with a longer one is read again with blocks twice as large.
DEFAULT_BLOCK_SIZE = 4 << 20
MAX_BLOCK_SIZE = 1 << 30

# Values Arrow's int64 / float64 parsers read exactly as Python's int() / float() do. Anything else
# that Python accepts (surrounding spaces, '+', '_' between digits, 'inf', 'nan'; Arrow would also
# accept hexadecimal integers, which Python's int() does not) is decided and converted by Python.
_CLEAN_INT = r"^-?[0-9]+$"
_CLEAN_FLOAT = r"^-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"


class ColumnTypes(NamedTuple):
  """What pass 1 learns from a split's files."""
  types: Tuple[int, ...]  # per column
  python: Tuple[bool, ...]  # per column: some value is converted by Python, not Arrow
  block_size: int  # blocks large enough for the longest row


def value_type(cell: bytes) -> int:
  """One cell's type, exactly as tfx_bsl's csv_decoder._InferValueType (stock's inference): `int()`
  of the bytes within int64 is INT, beyond it STRING, else `float()` of the bytes FLOAT. The rule is
  `numeric_text`'s (one definition, shared with the pre-flight and DataGuard); bytes that are not
  ASCII are never a number to `int()`/`float()` of bytes."""
  if not cell:
    return UNKNOWN
  if not cell.isascii():
    return STRING
  text = cell.decode("ascii")
  if numeric_text.is_int64(text):
    return INT
  return STRING if numeric_text.parse_number(text) is None else FLOAT


def _python_type(values: pa.Array, current: int) -> int:
  """The type of `values` (text, no nulls) joined with `current`, by Python, one by one; stops at
  the first text value."""
  for cell in values.cast(pa.binary()).to_pylist():
    current = max(current, value_type(cell))
    if current == STRING:
      break
  return current


def _column_type(values: pa.Array, current: int) -> Tuple[int, bool]:
  """(type of `current` joined with these values', whether any value needs Python to convert).

  `values`: one block of one column as text, empty cells null."""
  if values.null_count:
    values = values.drop_null()
  if not len(values):
    return current, False
  is_int = pc.match_substring_regex(values, _CLEAN_INT)
  ints = int(pc.sum(is_int).as_py() or 0)
  found, needs_python = UNKNOWN, False
  if ints:
    int_values = values if ints == len(values) else values.filter(is_int)
    try:
      pc.cast(int_values, pa.int64())
      found = INT
    except (pa.ArrowInvalid, OverflowError):  # beyond int64 (stock: STRING), or let Python judge
      found = _python_type(int_values, found)
      needs_python = found != STRING
  if ints < len(values) and found != STRING:
    rest = values.filter(pc.invert(is_int)) if ints else values
    is_float = pc.match_substring_regex(rest, _CLEAN_FLOAT)
    floats = int(pc.sum(is_float).as_py() or 0)
    if floats:
      found = max(found, FLOAT)
    if floats < len(rest):
      found = _python_type(rest.filter(pc.invert(is_float)), max(current, found))
      needs_python = needs_python or found != STRING
  return max(current, found), needs_python


def join_types(a: ColumnTypes, b: ColumnTypes) -> ColumnTypes:
  return ColumnTypes(tuple(max(x, y) for x, y in zip(a.types, b.types)),
                 tuple(x or y for x, y in zip(a.python, b.python)),
                 max(a.block_size, b.block_size))


class RowTooLong(Exception):
  """A row does not fit in a block."""


def is_local(path: str) -> bool:
  return "://" not in path


def open_file(path: str):
  """What Arrow reads: the path itself on a local disk (Arrow decompresses .gz, .bz2, ... by the
  name), else Beam's file system (GCS, S3, ...; compression by the name, as stock reads)."""
  return path if is_local(path) else beam.io.filesystems.FileSystems.open(path)


def read_blocks(path: str, column_names: Sequence[str],
          column_types: Dict[str, pa.DataType], block_size: int) -> Iterator[pa.RecordBatch]:
  """The file's data rows in blocks: the header line skipped (the names are stock's, see
  `header`), an empty cell as null, quoted fields with commas, quotes and line breaks, blank lines
  skipped as stock skips them."""
  options = dict(
      read_options=pa_csv.ReadOptions(column_names=list(column_names), skip_rows=1,
                                      block_size=block_size),
      parse_options=pa_csv.ParseOptions(delimiter=",", quote_char='"', double_quote=True,
                                        escape_char=False, newlines_in_values=True,
                                        ignore_empty_lines=True),
      convert_options=pa_csv.ConvertOptions(
          column_types=column_types, null_values=[""], strings_can_be_null=True,
          quoted_strings_can_be_null=True, check_utf8=True))
  try:
    reader = pa_csv.open_csv(open_file(path), **options)
    while True:
      try:
        batch = reader.read_next_batch()
      except StopIteration:
        return
      if batch.num_rows:
        yield batch
  except pa.ArrowInvalid as e:
    if "Empty CSV file" in str(e):
      return  # no line at all: no example, as stock
    if "straddles two block boundaries" in str(e) and block_size < MAX_BLOCK_SIZE:
      raise RowTooLong() from e
    raise ValueError(f"Invalid CSV in {path}: {e}") from e


def header(path: str) -> List[str]:
  """Column names as stock reads them (first line, stripped, split on commas, no quoting)."""
  return io_utils.load_csv_column_names(path)


def infer_types(path: str, column_names: Sequence[str],
                block_size: int = DEFAULT_BLOCK_SIZE) -> ColumnTypes:
  """Pass 1 over one file: each column's type, whether Python must convert it, and a block size
  that holds the file's longest row (from `block_size` on, doubled until it does)."""
  while True:
    try:
      return _infer_file(path, column_names, block_size)
    except RowTooLong:
      block_size *= 2


def _infer_file(path: str, column_names: Sequence[str], block_size: int) -> ColumnTypes:
  types = [UNKNOWN] * len(column_names)
  needs_python = [False] * len(column_names)
  text = {name: pa.string() for name in column_names}
  for batch in read_blocks(path, column_names, text, block_size):
    for i in range(len(column_names)):
      if types[i] == STRING:
        continue
      types[i], python = _column_type(batch.column(i), types[i])
      needs_python[i] = needs_python[i] or python
  # Read to the end even when every column is text: every cell is checked to be UTF-8 (stock fails
  # on one that is not) and every row to fit in a block, so that pass 2 cannot fail midway.
  return ColumnTypes(tuple(types), tuple(needs_python), block_size)
