"""Property-based tests of the CSV pre-flight (issue 25): generated CSVs, not hand-picked ones.

Why: the pre-flight has two parsers that must agree (the pyarrow block path and the row-by-row
`csv` path, `scan.Scan`), a CLI that must turn every bad byte into a message and never a
traceback, and types that must be the ones the pipeline later reads from the staged file (else the
inferred schema contradicts the data, and DataGuard blocks on an anomaly the user cannot see the
cause of). Hand-written cases cover what someone thought of; these generate quoting, embedded line
breaks and delimiters, byte-order marks, CR/CRLF, NUL and control bytes, non-UTF-8 bytes, very long
fields, numbers in every odd spelling and odd headers, and shrink any disagreement to a minimal
file. Fixed seed (`derandomize`), so CI sees the same examples every run; the longer search is
`scripts/fuzz_preflight.py`. Only the pipeline-agreement test imports TensorFlow (TFDV), once.

Regressions hypothesis found are plain tests at the end of this file.
"""
import contextlib
import io
import os
import tempfile
from types import SimpleNamespace
from typing import List, NamedTuple, Optional, Tuple

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trainguard import cli, preflight
from trainguard.errors import InputError
from trainguard.preflight import scan
from trainguard.preflight.profile import sanitize

# The CI budget: a few hundred examples in all (the longer run: scripts/fuzz_preflight.py).
CI_EXAMPLES = {"cli": 80, "paths": 150, "pipeline": 50}


def ci_settings(name: str, examples: Optional[int] = None):
  return settings(max_examples=examples or CI_EXAMPLES[name], derandomize=True, deadline=None,
                  database=None, print_blob=True,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.filter_too_much])


# ---------------------------------------------------------------------------------------------
# Generated CSVs

NUMBER_FORMS = [
    "1e309", "-1e309", "-0", "+5", " 12 ", "1_000", "0x1A", "NaN", "nan", "inf", "-inf",
    "Infinity", "1,5", "1.0", "5.", ".5", "007", "1e5", "1E-3", "nan(1)", "0.1", "1e", "e1", "--5",
    "+-1", "1__0", "_1", "1 2", "9223372036854775807", "9223372036854775808",
    "-9223372036854775808", "-9223372036854775809", "123456789012345678901234",
    "\u0661\u0662", "\uff11\uff12", "\u0661.5", "\u00a012\u00a0", "\t3\t", "0.0", "-.5e-3",
]
NA_FORMS = ["", "NA", "n/a", "?", "-", "null", "None", "  ", "NAN"]
SPECIAL_TEXT = [
    '"', ",", ";", "\t", "|", "\n", "\r", "\r\n", "\x00", "\x0b", "\x0c", "\x1c", "\x1f",
    "\x85", "\u2028", "\u2029", "\xa0", "\ufeff", "é", "\U0001f600", '""', " ",
]
ODD_NAMES = ["x", "y", "x", "a b", "a.b", "a_b", "size (cm)", "1x", "", "  ", "é", "_", "class",
             "x ", " x", "ünïcödé", "a,b", 'q"uote', "line\nbreak", "NA", "f_1x"]
DELIMITERS = [",", ",", ",", ",", ";", "\t", "|"]
LINE_ENDS = ["\n", "\r\n", "\r"]
BAD_BYTES = [b"\xff", b"\xe9", b"\xc3", b"\x80", b"\x00", b"\xed\xa0\x80", b"\xe2\x82"]

numbers = st.one_of(
    st.sampled_from(NUMBER_FORMS),
    st.integers(-(1 << 70), 1 << 70).map(str),
    st.integers(-1000, 1000).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(-1e6, 1e6).map(lambda x: f"{x:.3f}"),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda x: f"{x:e}"))
texts = st.one_of(
    st.sampled_from(["red", "blue", "green", "a b", "x,y", 'say "hi"', "é", "line\nbreak"]),
    st.lists(st.one_of(st.sampled_from(SPECIAL_TEXT), st.text(max_size=4)), max_size=4).map(
        "".join),
    st.text(max_size=12))
longs = st.tuples(st.sampled_from([1000, 70000, 140000]), st.sampled_from("xé7")).map(
    lambda t: t[1] * t[0])  # csv's field limit is 131072 characters
KINDS = ["numeric", "number", "integer", "text", "mixed", "empty", "label", "number"]


def is_float(text: str) -> bool:
  try:
    float(text)
  except ValueError:
    return False
  return True


INTEGER_FORMS = ["-0", "+5", " 12 ", "1_000", "007", "9223372036854775807", "9223372036854775808",
                 "-9223372036854775809", "\u0661\u0662", "\uff11\uff12", "0x1A"]


def cell_for(kind: str, messy: bool):
  """One cell's text for a column of `kind` (a mostly-numeric column still gets odd cells); NUL
  and fields beyond csv's limit only in messy files (the row-by-row path rejects both). Built once
  per kind: building strategies per draw took most of the time."""
  if (kind, messy) not in _CELLS:
    cell = _cell_for(kind)
    _CELLS[kind, messy] = cell if messy else cell.filter(
        lambda text: "\x00" not in text and len(text) < 100000)
  return _CELLS[kind, messy]


_CELLS = {}


def _cell_for(kind: str):
  if kind == "numeric":
    return st.one_of(*[numbers] * 24, st.sampled_from(NA_FORMS), texts)
  if kind == "number":  # only what float() reads, in every spelling
    return st.one_of(*[numbers.filter(is_float)] * 12, st.sampled_from(NA_FORMS))
  if kind == "integer":
    return st.one_of(*[st.integers(-50, 50).map(str)] * 40, st.sampled_from(INTEGER_FORMS),
                     st.sampled_from(NA_FORMS))
  if kind == "text":
    return st.one_of(texts, st.sampled_from(NA_FORMS))
  if kind == "empty":
    return st.sampled_from(NA_FORMS)
  if kind == "label":
    return st.one_of(*[st.sampled_from(["a", "b", "c"])] * 15, st.sampled_from(NA_FORMS),
                     numbers)
  return st.one_of(*[numbers, texts, st.sampled_from(NA_FORMS)] * 8, longs)


class Csv(NamedTuple):
  data: bytes
  label: Optional[str]     # what --label names (None: a file profiled without one)
  delimiter: str
  na_values: Optional[str]  # --na-values (None: the default list)

  @property
  def na_tokens(self) -> Tuple[str, ...]:
    from trainguard.preflight import options  # pylint: disable=g-import-not-at-top
    return options.na_tokens(self.na_values)


def field(draw, text: str, delimiter: str, messy: bool) -> str:
  """`text` as a CSV field: quoted as csv.writer would when it must be (or, now and then, when it
  need not; in a messy file, not at all though it must, or with spaces around)."""
  # (the codecs reader the row-by-row path reads through ends a line at any of str.splitlines'
  # breaks: unquoted, \x1c or \u2028 split a row there)
  must = any(c in text for c in (delimiter, '"')) or len(text.splitlines()) > 1 or (
      text and text.splitlines(True)[-1] != text.splitlines()[-1])
  how = draw(st.sampled_from(["auto"] * 8 + ["always"] + (["never", "padded"] if messy else [])))
  if how == "never":
    return text
  if how == "padded":
    return " " + text + " "
  if must or how == "always":
    return '"' + text.replace('"', '""') + '"'
  return text


@st.composite
def csv_files(draw, rows=st.integers(0, 40)) -> Csv:
  messy = not draw(st.integers(0, 3))  # else the rows are read: the header is usable, no
  delimiter = draw(st.sampled_from(DELIMITERS))  # ragged row or bad byte (but NUL, line breaks...)
  ncols = draw(st.integers(1, 6))
  names = draw(st.lists(st.one_of(st.sampled_from(ODD_NAMES), st.text(max_size=6)),
                        min_size=ncols, max_size=ncols))
  if not messy:  # odd names, renamed with a warning, but unique once sanitized
    seen = set()
    for i, name in enumerate(names):
      if sanitize(name) in seen or not name.strip() or any(c in name for c in "\x00\r\n"):
        name = names[i] = f"c{i}"
      seen.add(sanitize(name))
  kinds = draw(st.lists(st.sampled_from(KINDS), min_size=ncols, max_size=ncols))
  label_at = draw(st.one_of(st.none(), st.integers(0, ncols - 1)))
  if label_at is not None and draw(st.integers(0, 3)):
    kinds[label_at] = "label"
  end = draw(st.sampled_from(LINE_ENDS + ["mixed"]))
  lines = [delimiter.join(field(draw, n, delimiter, messy) for n in names)]
  for _ in range(draw(rows)):
    cells = [draw(cell_for(kind, messy)) for kind in kinds]
    shape = draw(st.sampled_from(["row"] * 30 + ["blank", "spaces"]
                                 + (["ragged", "short"] * 3 if messy else [])))
    if shape == "blank":
      lines.append("")
    elif shape == "spaces":
      lines.append("   ")
    elif shape == "ragged":
      lines.append(delimiter.join(field(draw, c, delimiter, messy) for c in cells + ["extra"]))
    elif shape == "short" and len(cells) > 1:
      lines.append(delimiter.join(field(draw, c, delimiter, messy) for c in cells[:-1]))
    else:
      lines.append(delimiter.join(field(draw, c, delimiter, messy) for c in cells))
  parts = []
  for line in lines:
    parts.append(line)
    parts.append(draw(st.sampled_from(LINE_ENDS)) if end == "mixed" else end)
  if not draw(st.integers(0, 4)):
    parts.pop()  # no final line break
  data = "".join(parts).encode("utf-8")
  if not draw(st.integers(0, 5)):
    data = b"\xef\xbb\xbf" + data
  for _ in range(draw(st.sampled_from([0, 1, 2])) if messy else 0):  # not UTF-8, a NUL
    at = draw(st.integers(0, len(data)))
    data = data[:at] + draw(st.sampled_from(BAD_BYTES)) + data[at:]
  label = None if label_at is None else names[label_at]
  if label is not None and not draw(st.integers(0, 9)):
    label = label.strip() + "_absent"
  na_values = draw(st.sampled_from([None] * 6 + ["NA,?", "-999,unknown", "nan,NaN,NAN"]))
  return Csv(data, label, delimiter, na_values)


def written(folder: str, csv_file: Csv, name: str = "data.csv") -> str:
  path = os.path.join(folder, name)
  with open(path, "wb") as f:
    f.write(csv_file.data)
  return path


# ---------------------------------------------------------------------------------------------
# (a) The CLI: a message and exit 0, 1 or 2, whatever the bytes


def _no_pipeline(plan, options, include_training):
  """Stands in for `run.run_pipeline`: the pre-flight ends with the staged files; check them."""
  del options, include_training
  for root, _, files in os.walk(plan.data_root):
    for name in files:
      with open(os.path.join(root, name), encoding="utf-8") as f:
        f.read()  # staged files are UTF-8 text
  return SimpleNamespace(findings=None, report_path=None, log_path=None)


def run_cli(argv: List[str]) -> Tuple[int, str]:
  """`trainguard.cli.main(argv)` in-process with the pipeline replaced: (exit code, stderr)."""
  out, err = io.StringIO(), io.StringIO()
  saved = cli.run_pipeline
  cli.run_pipeline = _no_pipeline
  try:
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
      code = cli.main(argv)
  finally:
    cli.run_pipeline = saved
  return code, err.getvalue()


def check_cli(csv_file: Csv, command: str, extra: str) -> None:
  with tempfile.TemporaryDirectory() as folder:
    path = written(folder, csv_file)
    label = csv_file.label if csv_file.label is not None else "y"
    if command == "schema-init":
      argv = ["schema", "init", path, "--label", label, "--out", os.path.join(folder, "s")]
    else:
      argv = ["diagnose", path, "--label", label, "--workdir", os.path.join(folder, "w")]
      if extra == "eval":
        argv += ["--eval-data", path]
      elif extra == "serving":
        argv += ["--serving-data", path]
      elif extra == "previous":
        argv += ["--previous-span", path]
      elif extra in ("classification", "regression"):
        argv += ["--task", extra]
    if csv_file.delimiter != ",":
      argv += ["--delimiter", csv_file.delimiter]
    if csv_file.na_values is not None:
      argv += ["--na-values", csv_file.na_values]
    code, err = run_cli(argv)
  assert code in (0, 1, 2), (code, err)
  assert "Traceback" not in err, err
  if code == 2:
    assert err.startswith("trainguard"), err  # one message, not a log dump


@ci_settings("cli")
@given(csv_files(), st.sampled_from(["diagnose"] * 4 + ["schema-init"]),
       st.sampled_from([None] * 4 + ["eval", "serving", "previous", "classification",
                                     "regression"]))
def test_the_cli_never_lets_an_exception_escape(csv_file, command, extra):
  check_cli(csv_file, command, extra)


# ---------------------------------------------------------------------------------------------
# (b) The two parse paths: the same profile and the same staged bytes, at any block size

BLOCK_SIZES = [1, 16, 97, 333, 4096, 8 << 20]


def snapshot(profile) -> str:
  """Everything `inspect` found (as preflight_test compares the paths)."""
  import dataclasses  # pylint: disable=g-import-not-at-top
  return repr((profile.rows, profile.label_missing_rows, profile.warnings, profile.task,
               [(dataclasses.astuple(c), list(c.values)) for c in profile.columns],
               [f.__dict__ for f in profile.findings]))


def inspected(path: str, csv_file: Csv, fast: bool,
              block: int = scan._BLOCK_BYTES):  # pylint: disable=protected-access
  """The profile, or the InputError's message, with the given path and block size."""
  saved = scan._FAST, scan._BLOCK_BYTES  # pylint: disable=protected-access
  scan._FAST, scan._BLOCK_BYTES = fast, block  # pylint: disable=protected-access
  try:
    return preflight.inspect(path, csv_file.label, delimiter=csv_file.delimiter,
                             na_tokens=csv_file.na_tokens)
  except InputError as e:
    return f"InputError: {e}"
  finally:
    scan._FAST, scan._BLOCK_BYTES = saved  # pylint: disable=protected-access


def staged_bytes(profile, folder: str, name: str, na) -> bytes:
  out = os.path.join(folder, name, "data.csv")
  preflight.stage(profile, out, na)
  with open(out, "rb") as f:
    return f.read()


def check_paths(csv_file: Csv, blocks: List[int]) -> None:
  with tempfile.TemporaryDirectory() as folder:
    path = written(folder, csv_file)
    reference = inspected(path, csv_file, fast=False)
    expected = None
    for block in blocks:
      profile = inspected(path, csv_file, fast=True, block=block)
      if isinstance(reference, str) or isinstance(profile, str):
        assert profile == reference, block
        continue
      assert snapshot(profile) == snapshot(reference), block
      if expected is None:
        expected = {na: staged_bytes(reference, folder, f"python-{i}", na)
                    for i, na in enumerate({csv_file.na_tokens, ("", "NA")})}
      for i, (na, data) in enumerate(expected.items()):
        assert staged_bytes(profile, folder, f"fast-{block}-{i}", na) == data, (block, na)


@ci_settings("paths")
@given(csv_files(), st.lists(st.sampled_from(BLOCK_SIZES), min_size=2, max_size=3, unique=True))
def test_both_parse_paths_give_the_same_profile_and_staged_bytes(csv_file, blocks):
  check_paths(csv_file, blocks)


# ---------------------------------------------------------------------------------------------
# (c) The pre-flight's types are the pipeline's: CsvExampleGen's, then TFDV's statistics

_TYPE_NAMES = {0: "UNKNOWN", 1: "INT", 2: "FLOAT", 3: "BYTES"}  # column_types.INT, ... STRING


class PipelineView:
  """What the pipeline reads from a staged file: our CsvExampleGen's column types (pass 1, stock's
  inference) and the feature types of TFDV's statistics of the examples it encodes (what
  StatisticsGen computes). `tfdv.generate_statistics_from_csv` is not that: it reads the file line
  by line (`ReadFromText`), so a quoted line break splits a row there; CsvExampleGen does not.
  Imported once, by the one test that needs TensorFlow."""

  def __init__(self):
    # pylint: disable=g-import-not-at-top
    from tensorflow_data_validation.statistics import stats_impl
    from tensorflow_data_validation.statistics import stats_options
    from tensorflow_metadata.proto.v0 import statistics_pb2
    from tfx_bsl.coders import example_coder

    from trainguard.components.csv_example_gen import column_types, executor
    self.column_types, self.executor, self.stats_impl = column_types, executor, stats_impl
    self.options = stats_options.StatsOptions()
    self.decoder = example_coder.ExamplesToRecordBatchDecoder()
    self.tfdv_names = {statistics_pb2.FeatureNameStatistics.INT: "INT",
                       statistics_pb2.FeatureNameStatistics.FLOAT: "FLOAT",
                       statistics_pb2.FeatureNameStatistics.STRING: "BYTES",
                       statistics_pb2.FeatureNameStatistics.BYTES: "BYTES"}

  def types(self, staged: str):
    """({column: CsvExampleGen's type}, {feature: TFDV's type})."""
    names = self.column_types.header(staged)
    file_types = self.column_types.infer_types(staged, names)
    example_gen = {n: _TYPE_NAMES[t] for n, t in zip(names, file_types.types)}
    encoder = self.executor.Encoder(names, file_types)
    examples = [e for batch in encoder.read(staged) for e in encoder.encode(batch)]
    if not examples:
      return example_gen, {}
    statistics = self.stats_impl.generate_statistics_in_memory(
        self.decoder.DecodeBatch(examples), self.options)
    tfdv = {f.path.step[0]: self.tfdv_names[f.type] for f in statistics.datasets[0].features}
    return example_gen, tfdv


def check_pipeline_types(view: PipelineView, csv_file: Csv) -> None:
  with tempfile.TemporaryDirectory() as folder:
    path = written(folder, csv_file)
    profile = inspected(path, csv_file, fast=True)
    if isinstance(profile, str):
      return
    staged = os.path.join(folder, "staged", "data.csv")
    preflight.stage(profile, staged, csv_file.na_tokens)
    example_gen, tfdv = view.types(staged)
  flagged = {f.feature for f in profile.findings if f.kind == "NUMERIC_COLUMN_WITH_TEXT"}
  for column in profile.kept_columns:
    said = column.type_name
    if said != "BYTES" and column.non_numeric:
      # A numeric column with stray text: CsvExampleGen reads text, the pre-flight says so.
      assert column.name in flagged or column.name == profile.label, column
      said = "BYTES"
    assert example_gen[column.name] == said, (column.name, column.type_name, example_gen)
    assert tfdv.get(column.name, said) == said, (column.name, column.type_name, tfdv)
  assert sorted(example_gen) == sorted(c.name for c in profile.kept_columns)


def test_the_preflights_types_are_the_pipelines():
  view = PipelineView()

  @ci_settings("pipeline")
  @given(csv_files(rows=st.integers(10, 40)))
  def types_agree(csv_file):
    check_pipeline_types(view, csv_file)

  types_agree()


# ---------------------------------------------------------------------------------------------
# Regressions: what hypothesis found, as plain tests


def _column_types(tmp_path, cells: List[str]):
  """x's type and text count from both parse paths (a second, plain column keeps rows apart)."""
  path = str(tmp_path / "r.csv")
  with open(path, "w", encoding="utf-8") as f:
    f.write("x,z\n" + "".join(f"{cell},{i}\n" for i, cell in enumerate(cells)))
  found = set()
  for fast in (True, False):
    x = inspected(path, Csv(b"", None, ",", None), fast=fast).column("x")
    found.add((x.type_name, x.non_numeric))
  (one,) = found
  return one


def test_an_integer_beyond_int64_is_text_as_csv_example_gen_reads_it(tmp_path):
  """Found by hypothesis: '1180591620717411303423' in a column of numbers. CsvExampleGen (stock's
  inference) reads an integer beyond int64 as STRING, so the column is text in the pipeline; the
  pre-flight called it FLOAT and raised nothing. Now the cell is stray text, named."""
  assert _column_types(tmp_path, [str(i) for i in range(20)] + ["1180591620717411303423"]) == \
      ("INT", 1)
  assert _column_types(tmp_path, [str(i) for i in range(20)] + ["9223372036854775807",
                                                                 "-9223372036854775808"]) == \
      ("INT", 0)
  assert _column_types(tmp_path, [str(i) for i in range(20)] + ["9223372036854775808"]) == \
      ("INT", 1)


def test_other_scripts_digits_are_text_as_csv_example_gen_reads_them(tmp_path):
  """Found by hypothesis: fullwidth '１２' is a number to `float(str)` but not to `int()` /
  `float()` of its bytes, which is how CsvExampleGen reads it: the pre-flight said INT, the
  pipeline STRING."""
  assert _column_types(tmp_path, ["\uff11\uff12"] * 12) == ("BYTES", 12)
  assert _column_types(tmp_path, ["\u0661.5"] + ["1.5"] * 11) == ("FLOAT", 1)


def test_underscored_integers_are_integers_as_csv_example_gen_reads_them(tmp_path):
  """`int(b'1_000')` is 1000: CsvExampleGen reads '1_000' and '+5' as INT; the pre-flight's digit
  pattern made the column FLOAT, and the inferred schema then contradicted the examples."""
  assert _column_types(tmp_path, ["1_000", "+5", "-0", "007"] * 3) == ("INT", 0)


def test_minus_zero_gives_both_paths_the_same_extremes(tmp_path):
  """Found by hypothesis: '0.0' then '-0.0' in a column: the row-by-row path kept 0.0 as the
  minimum, numpy's min in the block path -0.0 (equal, but not the same profile)."""
  path = str(tmp_path / "z.csv")
  with open(path, "w", encoding="utf-8") as f:
    f.write("x,z\n" + "".join(f"{v},{i}\n" for i, v in enumerate(["5", "0.0", "-0.0"] * 4)))
  profiles = [inspected(path, Csv(b"", None, ",", None), fast=fast) for fast in (True, False)]
  assert {repr(p.column("x").minimum) for p in profiles} == {"0.0"}


def check_cli_code(csv_file: Csv) -> Tuple[int, str]:
  with tempfile.TemporaryDirectory() as folder:
    na = ["--na-values", csv_file.na_values] if csv_file.na_values is not None else []
    return run_cli(["diagnose", written(folder, csv_file), "--label", csv_file.label,
                    "--workdir", os.path.join(folder, "w")] + na)


def test_integer_class_ids_spanning_more_than_the_class_limit_are_refused():
  """Found by scripts/fuzz_preflight.py: a label of 0, 1, 2 and 2**63 - 1 is four classes to the
  task rule, and the schema declared every id from 0 to 2**63 - 1 a class: the class list filled
  memory (the process was killed). Now an input error before TensorFlow."""
  rows = [str(i % 3) for i in range(30)] + ["9223372036854775807"]
  code, err = check_cli_code(Csv(("x,y\n" + "".join(f"{i},{r}\n" for i, r in enumerate(rows)))
                                 .encode(), "y", ",", None))
  assert code == 2 and "integer class ids from 0 to 9223372036854775807" in err, err
  assert "--task regression" in err


def test_an_integer_label_with_a_stray_text_value_is_refused_as_such():
  """Found by scripts/fuzz_preflight.py: an INT label column holding 'NA' (not a missing token by
  --na-values) ended in `int('NA')`, a traceback."""
  data = "x,c1\n" + "1e309,0\n" * 5 + "2,1\n" * 4 + "1e309,NA\n"
  code, err = check_cli_code(Csv(data.encode(), "c1", ",", "nan,NaN,NAN"))
  assert code == 2 and "holds numbers and 1 value(s) that are not ('NA'; lines 11)" in err, err


def test_a_byte_order_mark_starting_a_later_block_is_kept():
  """Found by scripts/fuzz_preflight.py: pyarrow drops a UTF-8 byte-order mark at the start of
  every buffer it parses, so a cell starting with one lost it when a block began there, in the
  block path only. Such a block is read by Python."""
  data = b"x\n" + b"red\n" * 30 + b"\xef\xbb\xbfgreen\n" + b"red\n" * 5
  check_paths(Csv(data, None, ",", None), [1, 16, 97, 8 << 20])
