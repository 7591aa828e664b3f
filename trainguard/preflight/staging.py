"""Staging: the CSV rewritten as CsvExampleGen should read it, block by block, atomically."""
import csv
import filecmp
import hashlib
import io
import os
import re
from typing import Iterator, List, Optional, Sequence

from trainguard.files import atomic_write
from trainguard.preflight.blocks import (ARROW, COPY, CRLF, Block, arrow_modules, count_true,
                                         open_text, parse_block, records, strip_cells, text_lines,
                                         trim_kind)
from trainguard.preflight.profile import DEFAULT_NA_TOKENS, CsvProfile

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
  with (open_text(profile.path) if layout is None else open(profile.path, "rb")) as source, \
      atomic_write(staged, "wb") as out:
    out.write(header)
    if layout is None:
      reader = csv.reader(text_lines(source, 1 << 16), delimiter=profile.delimiter)
      next(reader)
      _stage_rows(reader, out, na, keep, label_index)
    else:
      copy = len(keep) == len(profile.columns) and na == layout.na
      for block in layout.blocks:
        if block.kind in (COPY, CRLF) and copy:
          _copy_bytes(source, block, out, crlf=block.kind == CRLF)
        elif block.kind in (COPY, CRLF, ARROW):
          _stage_arrow(source, block, out, profile, na, keep, label_index)
        else:
          _stage_rows(records(source, profile.delimiter, block.start, block.end), out, na, keep,
                      label_index)
  if os.path.isfile(destination) and filecmp.cmp(staged, destination, shallow=False):
    os.remove(staged)
    return False
  os.replace(staged, destination)
  return True


_NEEDS_QUOTES = re.compile('[,"\n\r]')


def _csv_line(cells: List[str]) -> str:
  """One staged row: csv.writer's minimal quoting, and a cell with a bare \r quoted too. Not
  csv.writer itself: with "\n" line ends it leaves '0\r0' unquoted, and pyarrow (CsvExampleGen)
  then reads the \r as the end of the row (found by the fuzz tests)."""
  if len(cells) == 1 and not cells[0]:
    return '""\n'  # a row of one empty field, as csv.writer writes it
  return ",".join('"' + c.replace('"', '""') + '"' if _NEEDS_QUOTES.search(c) else c
                  for c in cells) + "\n"


def _stage_rows(reader: Iterator[List[str]], out, na, keep: List[int],
                label_index: Optional[int]) -> None:
  text = io.StringIO()
  for cells in reader:
    if not cells or (len(cells) == 1 and not cells[0].strip()):
      continue
    if label_index is not None and cells[label_index].strip() in na:
      continue
    text.write(_csv_line(["" if cells[i].strip() in na else cells[i].strip() for i in keep]))
    if text.tell() > 1 << 20:
      out.write(text.getvalue().encode("utf-8"))
      text.seek(0)
      text.truncate()
  out.write(text.getvalue().encode("utf-8"))


def _copy_bytes(raw, block: "Block", out, crlf: bool) -> None:
  """A block already as staged, but perhaps for \r\n line ends (never split: blocks end after a
  line break) and a missing final line break."""
  raw.seek(block.start)
  data = raw.read(block.end - block.start)
  out.write(data.replace(b"\r\n", b"\n") if crlf else data)
  if data and not data.endswith(b"\n"):  # the last row of a file without a final line break
    out.write(b"\n")


def _stage_arrow(raw, block: "Block", out, profile: CsvProfile, na, keep: List[int],
                 label_index: Optional[int]) -> None:
  """One block rewritten column-wise: what `_stage_rows` writes for it, byte for byte."""
  pa, pc, np = arrow_modules()
  raw.seek(block.start)
  data = raw.read(block.end - block.start)
  table = parse_block(data, profile.delimiter, len(profile.columns), block)
  trim = trim_kind(data, len(data), profile.delimiter, block)
  cells = {i: table.column(i).combine_chunks() for i in set(keep) | {label_index} - {None}}
  if trim is not None:
    cells = {i: strip_cells(cell, trim) for i, cell in cells.items()}
  rows = None  # rows kept, unless all are
  if len(profile.columns) == 1:
    rows = pc.not_equal(cells[0], "")
  na_set = pa.array(sorted(na), pa.string())
  if label_index is not None:
    labelled = pc.invert(pc.is_in(cells[label_index], value_set=na_set))
    rows = labelled if rows is None else pc.and_(rows, labelled)
  # _csv_line quotes a cell with a comma, a quote, a line feed or a carriage return in it
  specials = [c for c in ',"\n\r' if c.encode() in data and (
      c != "," or profile.delimiter != "," or block.quoted)]
  parts = []
  for i in keep:
    column = cells[i] if rows is None else cells[i].filter(rows)
    missing = pc.is_in(column, value_set=na_set)
    if count_true(missing):
      column = pc.if_else(missing, pa.scalar("", pa.string()), column)
    if specials:
      quote = pc.match_substring(column, specials[0])
      for special in specials[1:]:
        quote = pc.or_(quote, pc.match_substring(column, special))
      if count_true(quote):
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


def carve(staged: str, train_destination: str, validation_destination: str, share: float) -> None:
  """Splits a staged train file into train and validation rows, by a hash of each row's staged text
  (so a row lands in the same part run after run, and identical rows in the same part, as
  ExampleGen's hash split does), `share` of the rows to validation. Streams row by row; each
  destination is replaced only when its bytes change. For input the user split into train and eval
  files: early stopping needs rows that are neither trained on nor blessed on."""
  cut = int(share * (1 << 64))
  with open(staged, newline="", encoding="utf-8") as source, \
      atomic_write(train_destination + ".staged", "wb") as train, \
      atomic_write(validation_destination + ".staged", "wb") as validation:
    reader = csv.reader(source)
    header = _csv_line(next(reader)).encode("utf-8")
    train.write(header)
    validation.write(header)
    for cells in reader:
      line = _csv_line(cells).encode("utf-8")
      digest = int.from_bytes(hashlib.blake2b(line, digest_size=8).digest(), "big")
      (validation if digest < cut else train).write(line)
  for destination in (train_destination, validation_destination):
    written = destination + ".staged"
    if os.path.isfile(destination) and filecmp.cmp(written, destination, shallow=False):
      os.remove(written)
    else:
      os.replace(written, destination)
