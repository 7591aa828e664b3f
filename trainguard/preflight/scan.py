"""The pass over the data rows: one streaming pass that fills the columns' profiles.

Speed: a block is profiled column-wise by pyarrow (parse, strip, missing tokens, numbers, counts,
distinct values) when its bytes hold nothing the two parsers could read differently (see
`Scan._layout`); any other block, and every block with a problem (a ragged row, a bad byte, an
unbalanced quote, a NUL), is read by the pure-Python path (`csv` row by row, `ColumnProfile.add`
per cell), which is what names the file, line and column in the message. Both paths give the same
profile.
"""
import codecs
import csv
import dataclasses
import math
import os
from typing import Dict, List, Optional, Tuple

from trainguard.errors import InputError
from trainguard.preflight.blocks import (ARROW, COPY, CRLF, MAYBE_NUMBER, OTHER_LINE_BREAKS,
                                         PLAIN_NUMBER, PYTHON, Block, Layout, LineCounter,
                                         Undecodable, add_values, arrow_modules, count_true,
                                         count_values, fast_delimiter, locate_undecodable, masked,
                                         nbytes, parse_block, strip_cells, trim_kind)
from trainguard.components.data_guard.numeric_text import is_int64, parse_number
from trainguard.preflight.profile import MAX_TRACKED_VALUES, SAMPLES, ColumnProfile

# |values| from which a cell of digits may lie beyond int64 (text to CsvExampleGen): float64 cannot
# tell 2**63 - 1 from 2**63, so these cells are judged by Python.
_WIDE = float(1 << 62)

_BLOCK_BYTES = 8 << 20
_FAST = True  # False: every block by the Python path (the reference the tests compare against)


class Scan:
  """The pass over the data rows, filling the columns' profiles."""

  def __init__(self, path: str, delimiter: str, columns: List[ColumnProfile],
               label_index: Optional[int], na: frozenset):
    self.path, self.delimiter, self.columns = path, delimiter, columns
    self.label_index, self.na = label_index, na
    self.rows = 0
    self.label_missing: List[int] = []
    self.blocks: List[Block] = []
    self.stat = None
    self._numbers: Dict[str, Optional[float]] = {}

  def layout(self) -> Layout:
    return Layout(self.stat.st_size, self.stat.st_mtime_ns, self.na, tuple(self.blocks))

  def run(self, body_start: int, header_lines: int) -> None:
    try:
      with open(self.path, "rb") as raw:
        self.stat = os.fstat(raw.fileno())
        pos, line = body_start, header_lines
        fast = _FAST and fast_delimiter(self.delimiter)
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
    except Undecodable:
      locate_undecodable(self.path, self.delimiter, len(self.columns))
      raise InputError(f"{self.path}: bytes that are not UTF-8; re-save the file as UTF-8 (e.g. "
                       "`iconv -f latin1 -t utf-8`).") from None

  # -- the Python path: the row-by-row profile, from a record boundary ------------------------

  def _python(self, raw, start: int, stop: int, first_line: int) -> Tuple[int, int]:
    """Profiles records from byte `start` until the first record boundary at or after `stop`;
    returns that boundary and the line it ends."""
    path, columns, na, label_index = self.path, self.columns, self.na, self.label_index
    lines = LineCounter(raw, start)
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
      raise Undecodable() from e
    except csv.Error as e:
      raise InputError(f"{path}, line {first_line + reader.line_num}: {e}; fix the quoting of "
                       "that row.") from e
    self.blocks.append(Block(start, lines.offset, PYTHON))
    return lines.offset, first_line + reader.line_num

  # -- the pyarrow path ----------------------------------------------------------------------

  def _fast(self, data: bytes, at_eof: bool, pos: int, line: int):
    """Profiles the whole records at the start of `data` column-wise; returns (next byte offset,
    its line), or where the Python path should read to (None: all of `data`)."""
    if data.startswith(codecs.BOM_UTF8):
      # pyarrow drops a byte-order mark at the start of every buffer it parses, so one that
      # begins a later block's first cell would vanish there, and only there (found by
      # scripts/fuzz_preflight.py); csv, and CsvExampleGen reading the whole file, keep it.
      return None
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
    block = Block(pos, pos + cut, ARROW, quoted, newlines_in_values)
    pa, pc, np = arrow_modules()
    try:
      table = parse_block(view, self.delimiter, len(self.columns), block)
    except pa.ArrowInvalid:
      return cut  # a ragged row, a whitespace-only line: the Python path names or skips it
    if table.num_rows != len(record_lines):
      return cut
    raws = [table.column(i).combine_chunks() for i in range(len(self.columns))]
    limit = csv.field_size_limit()
    if (newlines_in_values or longest_line > limit) and any(
        len(raw) and pc.max(pc.binary_length(raw)).as_py() > limit for raw in raws):
      return cut  # csv's "field larger than field limit"
    copy = self._profile(raws, trim_kind(data, cut, self.delimiter, block),
                         np.asarray(record_lines, np.int64))
    if copy and self.delimiter == "," and data.find(b'"', 0, cut) < 0 \
        and len(record_lines) == lines_used:
      carriage = data.count(b"\r", 0, cut)
      if not carriage:
        block = dataclasses.replace(block, kind=COPY)
      elif carriage == data.count(b"\r\n", 0, cut):
        block = dataclasses.replace(block, kind=CRLF)
    self.blocks.append(block)
    return pos + cut, line + lines_used

  def _layout(self, data: bytes, at_eof: bool, line: int):
    """Where the last whole record of `data` ends (`cut`), whether pyarrow must read quotes and
    line breaks inside them, the line (as csv's line_num counts) of every non-empty record before
    `cut`, and the lines they take. None when pyarrow and csv could read the bytes differently:
    control characters (NUL, form feeds, \\x1c-\\x1f: csv or str.splitlines treat them apart),
    Unicode line breaks, a quote csv would read otherwise than pyarrow, no whole record."""
    _, _, np = arrow_modules()
    arr = np.frombuffer(data, np.uint8)
    size = len(arr)
    control = np.flatnonzero(arr < 32)
    codes = arr[control]
    if np.any((codes != 10) & (codes != 13) & (codes != 9)):
      return None
    if not data.isascii() and any(b in data for b in OTHER_LINE_BREAKS):
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
    pa, pc, np = arrow_modules()
    na_set = pa.array(sorted(self.na), pa.string())
    cells = raws if trim is None else [strip_cells(raw, trim) for raw in raws]
    keep = None  # rows that are neither blank nor without a label, as a boolean array
    if len(cells) == 1:
      keep = pc.not_equal(cells[0], "")
    if self.label_index is not None:
      missing_label = pc.is_in(cells[self.label_index], value_set=na_set)
      if keep is not None:
        missing_label = pc.and_(missing_label, keep)
      if count_true(missing_label):
        self.label_missing.extend(
            record_lines[missing_label.to_numpy(zero_copy_only=False)].tolist())
        keep = pc.invert(missing_label) if keep is None else pc.and_not(keep, missing_label)
    kept = len(record_lines) if keep is None else count_true(keep)
    if kept == len(record_lines):
      keep = None
    self.rows += kept
    unchanged = keep is None and len(cells) > 1
    for column, raw, cell in zip(self.columns, raws, cells):
      missing = pc.is_in(cell, value_set=na_set)
      if keep is None:
        n_missing = count_true(missing)
        valid = pc.invert(missing) if n_missing else None
      else:
        valid = pc.and_not(keep, missing)
        n_missing = kept - count_true(valid)
      column.missing += n_missing
      if unchanged:
        unchanged = nbytes(cell) == nbytes(raw) and n_missing == np.count_nonzero(
            pc.binary_length(cell).to_numpy(zero_copy_only=False) == 0)
      if kept - n_missing:
        column.present += kept - n_missing
        present = cell if valid is None else masked(cell, valid)
        self._add_column(column, present, record_lines)
    return unchanged

  def _add_column(self, column: ColumnProfile, present, lines) -> None:
    """One block of a column; `present` is null where a cell is missing or its row dropped."""
    pa, pc, np = arrow_modules()
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
      # ...but for "nan(…)", which only pyarrow reads, and integers perhaps beyond int64
      odd = np.flatnonzero(valid & (np.isnan(value) | (integral & (np.abs(value) >= _WIDE))))
      if len(odd):
        is_number = valid.copy()
        for at, text in zip(odd, present.take(pa.array(odd)).to_pylist()):
          is_number[at] = self._number(text) is not None
          integral[at] = is_int64(text)
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
        count_values(column, distinct, np.bincount(index[valid], minlength=len(distinct)))
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
      column.minimum = min(column.minimum, float(finite_values.min()) + 0.0)  # no -0.0, as
      column.maximum = max(column.maximum, float(finite_values.max()) + 0.0)  # ColumnProfile.add
    if not counted:
      add_values(column, present)

  def _classify(self, texts: List[str]):
    """float() of each text: (is a number, its value, integral per ColumnProfile.add)."""
    _, _, np = arrow_modules()
    numbers = [self._number(text) for text in texts]
    is_number = np.array([n is not None for n in numbers], bool)
    value = np.array([math.nan if n is None else n for n in numbers], float)
    integral = np.array([n is not None and is_int64(text) for text, n in zip(texts, numbers)],
                        bool)
    return is_number, value, integral

  def _classify_column(self, present, valid):
    """`_classify` for many distinct texts, some not numbers: what float() and pyarrow read alike
    by pyarrow, the few other texts float() might accept by float()."""
    pa, pc, np = arrow_modules()
    size = len(present)
    is_number = np.zeros(size, bool)
    value = np.full(size, math.nan)
    integral = np.zeros(size, bool)
    plain = pc.fill_null(pc.match_substring_regex(present, PLAIN_NUMBER), False)
    if count_true(plain):
      at = np.flatnonzero(plain.to_numpy(zero_copy_only=False))
      texts = present.filter(plain)
      is_number[at] = True
      value[at] = pc.cast(texts, pa.float64()).to_numpy(zero_copy_only=False)
      integral[at] = pc.ascii_is_decimal(pc.ascii_ltrim(texts, "-")).to_numpy(
          zero_copy_only=False)
      wide = at[integral[at] & (np.abs(value[at]) >= _WIDE)]  # perhaps beyond int64: Python's
      if len(wide):
        is_number[wide], value[wide], integral[wide] = self._classify(
            present.take(pa.array(wide)).to_pylist())
    maybe = pc.and_not(pc.fill_null(pc.match_substring_regex(present, MAYBE_NUMBER), False),
                       plain)
    if count_true(maybe):
      at = np.flatnonzero(maybe.to_numpy(zero_copy_only=False))
      is_number[at], value[at], integral[at] = self._classify(present.filter(maybe).to_pylist())
    return is_number & valid, value, integral

  def _number(self, value: str) -> Optional[float]:
    if value not in self._numbers:
      if len(self._numbers) > 10_000:
        self._numbers.clear()
      self._numbers[value] = parse_number(value)
    return self._numbers[value]
