"""`inspect`: check and profile one CSV in one streaming pass (the pre-flight's first step)."""
import codecs
import csv
import os
from typing import List, Optional, Sequence, Tuple

from trainguard.errors import InputError
from trainguard.policy import Policy
from trainguard import task as task_lib
from trainguard.preflight.checks import (check_file, check_label, columns_of, label_column,
                                         read_header)
from trainguard.preflight.findings import profile_findings
from trainguard.preflight.blocks import open_text, text_lines, utf8_len
from trainguard.preflight.profile import DEFAULT_NA_TOKENS, MIN_ROWS, CsvProfile
from trainguard.preflight.scan import Scan

def inspect(path: str, label: Optional[str], delimiter: str = ",",
            na_tokens: Sequence[str] = DEFAULT_NA_TOKENS,
            policy: Optional[Policy] = None, task: str = task_lib.AUTO) -> CsvProfile:
  """Checks and profiles `path` in one streaming pass; raises InputError on unusable input.
  `task` is `--task` (`auto`: the label's values decide; `trainguard.task`).
  Writes nothing.

  `label=None` profiles a serving sample, which has no label column. The findings are judged
  under `policy` (the default policy when None); `prepare` judges them again under the run's
  policy once the schema is known."""
  check_file(path)
  na = frozenset(na_tokens)
  header, body_start, header_lines = _header(path, delimiter)
  columns = columns_of(header, path)
  warnings = [f"{path}: column {c.original!r} renamed to {c.name!r} (TFX feature names allow "
              "letters, digits and underscores)" for c in columns if c.name != c.original]
  label_name = label_column(columns, label, path) if label is not None else None
  label_index = next((i for i, c in enumerate(columns) if c.name == label_name), None)
  scan = Scan(path, delimiter, columns, label_index, na)
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
    profile.task = check_label(profile, task)
  profile.findings = profile_findings(profile, policy or Policy.from_dict({}))
  return profile


def _header(path: str, delimiter: str) -> Tuple[List[str], int, int]:
  """The header row, the byte offset where the data rows start and the lines the header took."""
  with open_text(path) as f:
    taken: List[str] = []

    def lines():
      for line in text_lines(f):
        taken.append(line)
        yield line

    reader = csv.reader(lines(), delimiter=delimiter)
    header = read_header(reader, path, delimiter)
    header_lines = reader.line_num
    f.stream.seek(0)  # the byte-order mark, which the reader drops
    bom = len(codecs.BOM_UTF8) if f.stream.read(len(codecs.BOM_UTF8)) == codecs.BOM_UTF8 else 0
  return header, bom + sum(utf8_len(line) for line in taken[:header_lines]), header_lines

