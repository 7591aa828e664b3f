"""Blocks of the CSV's bytes and the pyarrow side of the scan: parsing a block column-wise, counting
a column's values, and the readers the Python path shares with staging.

The pass over the data rows reads blocks of bytes, each profiled by pyarrow or, when it has
anything the two parsers could read differently or a problem to name, by Python (`scan.Scan`).
pyarrow does not import TensorFlow.
"""
import codecs
import csv
import dataclasses
import os
import re
from typing import Iterator, List, Optional, Tuple

from trainguard.errors import InputError
from trainguard.preflight.profile import MAX_TRACKED_VALUES, ColumnProfile

COPY, CRLF, ARROW, PYTHON = "copy", "crlf", "arrow", "python"
# What str.strip() strips (str.isspace), for pyarrow's utf8_trim; a test checks it is complete.
PY_WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
                  "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
# Numbers that float() and pyarrow's cast read alike (a leading "+" pyarrow refuses).
PLAIN_NUMBER = r"^-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
# Every other string float() may accept ("+1", "1_000", "inf", "NAN", other scripts' digits) is
# made of these characters; those are passed to float() itself.
MAYBE_NUMBER = r"^[\p{Nd}+\-._eEiInNfFtTyYaA]+$"
# Line breaks str.splitlines knows beyond \r, \n. The readers here split lines at \r, \n and \r\n
# only (`split_lines`), as pyarrow and CsvExampleGen do; the block path still leaves these to Python.
OTHER_LINE_BREAKS = (b"\xc2\x85", b"\xe2\x80\xa8", b"\xe2\x80\xa9")
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)")


def split_lines(text: str, final: bool) -> Tuple[List[str], str]:
  """(the whole lines of `text`, each with its line break; the rest, for the next chunk).

  Lines end at \n, \r\n or \r only. Not `str.splitlines` (which the codecs reader iterates by): it
  also ends a line at \x0b, \x0c, \x1c-\x1e, \x85, U+2028 and U+2029, so an unquoted form feed
  inside a field cut the row in two and a valid CSV was rejected as ragged, while pyarrow and
  CsvExampleGen read one row (hypothesis found it). A \r at the end of a chunk waits: it may be the
  first half of a \r\n."""
  lines = _LINE.findall(text)
  rest = text[sum(map(len, lines)):]
  if not final and not rest and lines and lines[-1].endswith("\r"):
    rest = lines.pop()
  if final and rest:
    lines.append(rest)
    rest = ""
  return lines, rest


def text_lines(reader, chunk_chars: int = 72) -> Iterator[str]:
  """The lines of a text reader (`open_text`'s), split as `split_lines` splits them. It reads 72
  characters at a time, as the codecs reader's `readline` does, so the rows before a byte that is not
  UTF-8 are read (and a problem in them named) before it is met."""
  pending = ""
  while True:
    chunk = reader.read(chunk_chars)
    lines, pending = split_lines(pending + chunk, final=not chunk)
    yield from lines
    if not chunk:
      return


@dataclasses.dataclass(frozen=True)
class Block:
  start: int               # byte offsets in the file; a block holds whole records
  end: int
  kind: str                # COPY: staged as is when every column is kept, CRLF: with \r\n
                           # as \n; ARROW: rewritten by pyarrow; PYTHON: row by row
  quoted: bool = False     # pyarrow reads '"' as the quote character (else as a plain character)
  newlines_in_values: bool = False


@dataclasses.dataclass(frozen=True)
class Layout:
  size: int
  mtime_ns: int
  na: frozenset
  blocks: Tuple[Block, ...]

  def unchanged(self, path: str) -> bool:
    try:
      stat = os.stat(path)
    except OSError:
      return False
    return (stat.st_size, stat.st_mtime_ns) == (self.size, self.mtime_ns)


def arrow_modules():
  import numpy as np  # pylint: disable=g-import-not-at-top
  import pyarrow as pa  # pylint: disable=g-import-not-at-top
  import pyarrow.compute as pc  # pylint: disable=g-import-not-at-top
  return pa, pc, np


def fast_delimiter(delimiter: str) -> bool:
  return len(delimiter) == 1 and (delimiter == "\t" or " " <= delimiter <= "~") and delimiter != '"'


def parse_block(data, delimiter: str, ncols: int, block: Block):
  """pyarrow's reading of a block: every column as strings, nothing read as null."""
  pa, _, _ = arrow_modules()
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


def trim_kind(data: bytes, cut: int, delimiter: str, block: Block) -> Optional[bool]:
  """How the cells of `data[:cut]` (a block pyarrow reads) are stripped: None when no cell can
  hold whitespace, True when only ASCII whitespace, False when Unicode whitespace too (or when
  the bytes after `cut` are not ASCII: a slower strip, the same cells)."""
  if not data.isascii():
    return False
  if data.find(b" ", 0, cut) >= 0 or block.newlines_in_values or (
      data.find(b"\t", 0, cut) >= 0 and (delimiter != "\t" or block.quoted)):
    return True
  return None  # (\x0b, \x0c, \x1c-\x1f send a block to the Python path)


def strip_cells(column, ascii_only: bool):
  """str.strip() of every cell."""
  _, pc, _ = arrow_modules()
  column = column.combine_chunks() if hasattr(column, "combine_chunks") else column
  if ascii_only:  # control characters other than \t \r \n never reach pyarrow
    return pc.ascii_trim(column, characters=" \t\r\n")
  return pc.utf8_trim(column, characters=PY_WHITESPACE)


class LineCounter:
  """The file's lines from byte `start` on, split as `split_lines` splits them, decoded strictly;
  `offset` is the byte offset just after the last line yielded (the end of the file once they are
  all read)."""

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
      lines, pending = split_lines(pending + decoder.decode(chunk), final=not chunk)
      end = self.raw.tell()
      for line in lines:
        self.offset += utf8_len(line)
        yield line
      if not chunk:
        self.offset = end
        return


def records(raw, delimiter: str, start: int, end: int) -> Iterator[List[str]]:
  """The records between two record boundaries, read by csv."""
  lines = LineCounter(raw, start)
  for cells in csv.reader(lines, delimiter=delimiter):
    yield cells
    if lines.offset >= end:
      return


class Undecodable(Exception):
  """Bytes that are not UTF-8 somewhere after a byte offset: the exact message needs the codecs
  reader's own view (it decodes ahead in chunks), so the file is re-read from its start."""




def masked(cell, valid):
  """`cell` with nulls where `valid` is false (sharing its buffers when it can)."""
  pa, pc, _ = arrow_modules()
  if cell.offset == 0 and valid.offset == 0 and cell.buffers()[0] is None:
    return pa.Array.from_buffers(pa.string(), len(cell),
                                 [valid.buffers()[1], cell.buffers()[1], cell.buffers()[2]])
  return pc.if_else(valid, cell, pa.scalar(None, pa.string()))


def count_values(column: ColumnProfile, distinct: List[str], counts) -> None:
  """Counts of distinct values in order of first appearance, as `ColumnProfile.add` keeps them."""
  for value, count in zip(distinct, counts.tolist()):
    if value in column.values:
      column.values[value] += count
    elif len(column.values) < MAX_TRACKED_VALUES:
      column.values[value] = count
    else:
      column.overflow = True


_PREFIX = 8192  # rows in which a column's first distinct values are looked for first


def add_values(column: ColumnProfile, present) -> None:
  """The first MAX_TRACKED_VALUES distinct values in order of appearance, counted over the file;
  `overflow` once another value appears. Null cells (missing) are not values."""
  pa, pc, np = arrow_modules()
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
        count_new_values(column, values, counted.field("counts").to_numpy())
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


def count_new_values(column: ColumnProfile, values, counts) -> None:
  """`count_values` for many distinct values (a pyarrow array), converting only those kept."""
  pa, pc, np = arrow_modules()
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


def count_true(mask) -> int:
  """True values in a boolean array (BooleanArray.true_count crashes on compute results in
  pyarrow 10)."""
  _, pc, _ = arrow_modules()
  return pc.sum(mask).as_py() or 0


def nbytes(column) -> int:
  """The bytes of a string array's values, from its offsets."""
  _, _, np = arrow_modules()
  if not len(column):
    return 0
  offsets = np.frombuffer(column.buffers()[1], np.int32)
  return int(offsets[column.offset + len(column)] - offsets[column.offset])


def locate_undecodable(path: str, delimiter: str, ncols: int) -> None:
  """Re-reads the file as the codecs reader does up to its first problem and raises the message
  that names it (the bytes that are not UTF-8, or a ragged row or bad quoting before them)."""
  with open_text(path) as f:
    reader = csv.reader(text_lines(f), delimiter=delimiter)
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
      line, column, bad = first_undecodable(path)
      raise InputError(
          f"{path}, line {line}: bytes that are not UTF-8 ({e.reason}: byte 0x{bad:02X} at byte "
          f"{column} of the line); re-save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)."
      ) from e
    except csv.Error as e:
      raise InputError(f"{path}, line {reader.line_num}: {e}; fix the quoting of that row.") from e


def first_undecodable(path: str) -> Tuple[int, int, int]:
  """(line, byte in that line counted from 0, the byte) of the file's first byte that is not UTF-8,
  line breaks counted as `split_lines` counts them. Read in 1 MiB chunks. Before, the message named
  the line before the codecs reader's look-ahead met the byte and its offset in that chunk
  ("after line 37 ... at byte 0 of the next chunk" for a bad byte in line 42)."""
  line, line_start, base, pending, cr_before = 1, 0, 0, b"", False
  with open(path, "rb") as raw:
    while True:
      chunk = raw.read(1 << 20)
      data = pending + chunk
      try:
        _, used = codecs.utf_8_decode(data, "strict", not chunk)
        bad = None
      except UnicodeDecodeError as e:
        used, bad = e.start, e.start
      text = data[:used]
      breaks = text.count(b"\n") + text.count(b"\r") - text.count(b"\r\n")
      if cr_before and text.startswith(b"\n"):
        breaks -= 1  # the \n of a \r\n cut by the chunk
      line += breaks
      last = max(text.rfind(b"\n"), text.rfind(b"\r"))
      if last >= 0:
        line_start = base + last + 1
      if bad is not None:
        return line, base + bad - line_start, data[bad]
      if not chunk:
        raise ValueError(f"{path} is UTF-8")
      cr_before = text.endswith(b"\r") or (not text and cr_before)
      pending, base = data[used:], base + used


def open_text(path: str):
  # utf-8-sig drops a byte-order mark; strict errors so a bad byte is reported, not replaced.
  return codecs.open(path, "r", encoding="utf-8-sig", errors="strict")


def utf8_len(text: str) -> int:
  return len(text) if text.isascii() else len(text.encode("utf-8"))
