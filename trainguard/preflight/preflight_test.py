"""The pre-flight over a user's CSV: profile, findings, staging and schema inference, no TensorFlow."""
import dataclasses
import os
import re

import pytest

from trainguard import preflight, schema_folder
from trainguard.errors import InputError
from trainguard.policy import Policy
from trainguard.preflight.findings import profile_findings
from trainguard.preflight import blocks, scan
from trainguard.preflight import staging as stage_module


def _write(tmp_path, text, name="data.csv", mode="w"):
  path = tmp_path / name
  if mode == "wb":
    path.write_bytes(text)
  else:
    path.write_text(text)
  return str(path)


def _rows(n=12, extra=""):
  lines = ["x,size (cm),colour,y"]
  for i in range(n):
    lines.append(f"{i * 1.5},{i},{'red' if i % 3 else 'blue'},{'a' if i % 2 else 'b'}")
  return "\n".join(lines) + "\n" + extra


def test_profile_types_missing_and_sanitized_names(tmp_path):
  text = _rows().replace("3.0,2,", "NA,2,").replace(",4,", ",?,")
  profile = preflight.inspect(_write(tmp_path, text), "y")
  assert [c.name for c in profile.columns] == ["x", "size_cm", "colour", "y"]
  assert profile.column("x").type_name == "FLOAT" and profile.column("x").missing == 1
  assert profile.column("size_cm").type_name == "INT" and profile.column("size_cm").missing == 1
  assert profile.column("colour").type_name == "BYTES"
  assert profile.rows == 12 and profile.label_classes == ["a", "b"]
  assert any("renamed to 'size_cm'" in w for w in profile.warnings)


def test_numeric_column_with_stray_text_is_a_blocking_finding_with_line_numbers(tmp_path):
  text = _rows(20).replace("\n6.0,", "\noops,").replace("\n9.0,", "\nn.a.,")
  profile = preflight.inspect(_write(tmp_path, text), "y")
  (finding,) = [f for f in profile.findings if f.kind == "NUMERIC_COLUMN_WITH_TEXT"]
  assert finding.feature == "x" and finding.severity == "block"
  assert "line 6: 'oops'" in finding.found and "line 8: 'n.a.'" in finding.found
  assert profile.column("x").type_name == "FLOAT"  # still a numeric column, with bad values


def test_all_missing_column_is_dropped_with_a_warning_and_left_out_of_schema(tmp_path):
  lines = ["a,empty,y"] + [f"{i},,{'p' if i % 2 else 'q'}" for i in range(12)]
  profile = preflight.inspect(_write(tmp_path, "\n".join(lines) + "\n"), "y")
  assert [f.kind for f in profile.findings] == ["ALL_VALUES_MISSING"]
  schema = schema_folder.infer_schema(profile)
  assert [f.name for f in schema.feature] == ["a", "y"]
  out = str(tmp_path / "staged" / "data.csv")
  preflight.stage(profile, out)
  assert open(out).readline().strip() == "a,y"


def test_rows_without_label_are_dropped_with_their_line_numbers(tmp_path):
  text = _rows(20).replace(",a\n", ",\n", 2)
  profile = preflight.inspect(_write(tmp_path, text), "y")
  assert profile.rows == 18 and profile.label_missing_rows == [3, 5]
  out = str(tmp_path / "s.csv")
  preflight.stage(profile, out)
  assert sum(1 for _ in open(out)) == 19
  # the policy's severity, as DataGuard's for the same rows (default warn)
  (dropped,) = profile_findings(profile, Policy.from_dict({}))
  assert (dropped.kind, dropped.severity, dropped.found) == (
      "LABEL_MISSING_ROWS_DROPPED", "warn", "2 row(s) without one (lines 3, 5)")
  quiet = Policy.from_dict({"findings": {"info": ["LABEL_MISSING_ROWS_DROPPED"]}})
  assert [f.severity for f in profile_findings(profile, quiet)] == ["info"]


def test_staging_normalizes_missing_tokens_and_keeps_an_unchanged_file(tmp_path):
  profile = preflight.inspect(_write(tmp_path, _rows().replace("3.0,2,", "NA,2,")), "y")
  out = str(tmp_path / "staged" / "data.csv")
  assert preflight.stage(profile, out) is True
  assert ",2,red" in open(out).read().split("\n")[3]
  assert open(out).read().split("\n")[3].startswith(",2,")
  mtime = os.stat(out).st_mtime_ns
  assert preflight.stage(profile, out) is False
  assert os.stat(out).st_mtime_ns == mtime


def test_inferred_schema_has_environments_label_domain_and_optional_values(tmp_path):
  profile = preflight.inspect(_write(tmp_path, _rows().replace("3.0,2,", "NA,2,")), "y")
  schema = schema_folder.infer_schema(profile)
  features = {f.name: f for f in schema.feature}
  assert list(schema.default_environment) == ["TRAINING", "SERVING"]
  assert list(features["y"].not_in_environment) == ["SERVING"]
  assert list(features["y"].string_domain.value) == ["a", "b"]
  assert list(features["colour"].string_domain.value) == ["blue", "red"]
  assert not features["x"].value_count.HasField("min") and features["x"].value_count.max == 1
  assert features["size_cm"].value_count.min == 1


def test_integer_label_gets_an_int_domain(tmp_path):
  lines = ["a,y"] + [f"{i},{i % 3}" for i in range(12)]
  profile = preflight.inspect(_write(tmp_path, "\n".join(lines)), "y")
  feature = [f for f in schema_folder.infer_schema(profile).feature if f.name == "y"][0]
  assert (feature.int_domain.min, feature.int_domain.max) == (0, 2)


@pytest.mark.parametrize("make, message", [
    (lambda p: str(p / "missing.csv"), "no such file"),
    (lambda p: str(p), "is a directory"),
    (lambda p: _write(p, ""), "the file is empty"),
    (lambda p: _write(p, "x,y\n"), "no data rows"),
    (lambda p: _write(p, "x,y\n1,a\n"), "1 data row(s); at least 10"),
    (lambda p: _write(p, _rows(12, "1,2,3\n")), "line 14: 3 fields where the header has 4"),
    (lambda p: _write(p, _rows().replace(",", ";")), "looks semicolon-separated: pass --delimiter ';'"),
    (lambda p: _write(p, "x,x,y\n" + "1,2,a\n" * 12), "column 'x' appears twice"),
    (lambda p: _write(p, "a b,a.b,y\n" + "1,2,a\n" * 12), "both become 'a_b'"),
    (lambda p: _write(p, _rows().encode() + b"1.0,2,r\xe9d,a\n", mode="wb"), "not UTF-8"),
    (lambda p: _write(p, "x,\0y\n" + "1,a\n" * 12), "line 1 (the header): line contains NUL"),
    (lambda p: _write(p, _rows().replace("x,size (cm),colour,y", "x,size,colour,z")),
     "no column named 'y' for --label"),
    (lambda p: _write(p, "x,y\n" + "1,a\n" * 12), "single class ('a')"),
    (lambda p: _write(p, _rows(20).replace(",a\n", ",\n")), "too many to drop"),
])
def test_unusable_input_is_rejected_with_the_file_and_the_fix(tmp_path, make, message):
  path = make(tmp_path)
  with pytest.raises(InputError) as raised:
    preflight.inspect(path, "y")
  assert message in str(raised.value)
  assert str(raised.value).startswith(path)


def test_constant_and_id_like_columns_are_flagged_for_exclusion(tmp_path):
  lines = ["id,code,const,x,y"] + [
      f"{i},c{i},k,{i % 7},{'a' if i % 2 else 'b'}" for i in range(40)]
  profile = preflight.inspect(_write(tmp_path, "\n".join(lines) + "\n"), "y")
  assert profile.unusable_columns(Policy.from_dict({})) == ["id", "code", "const"]
  kinds = {(f.kind, f.feature) for f in profile.findings}
  assert kinds == {("ID_LIKE_COLUMN", "id"), ("ID_LIKE_COLUMN", "code"),
                   ("CONSTANT_COLUMN", "const")}


def test_the_id_like_threshold_is_the_policys(tmp_path):
  """Before, the pre-flight judged ID-like columns by its own 0.95 whatever the policy said."""
  lines = ["code,x,y"] + [f"c{i // 2 if i < 8 else i},{i % 7},{'a' if i % 2 else 'b'}"
                          for i in range(40)]  # 36 distinct codes in 40 rows: 0.9
  profile = preflight.inspect(_write(tmp_path, "\n".join(lines) + "\n"), "y")
  assert profile.unusable_columns(Policy.from_dict({})) == []
  lenient = Policy.from_dict({"thresholds": {"dataset": {"id_like_fraction": 0.85}}})
  assert profile.unusable_columns(lenient) == ["code"]
  assert [f.kind for f in profile_findings(profile, lenient)] == ["ID_LIKE_COLUMN"]


# ---------------------------------------------------------------------------------------------
# The block-wise pass (pyarrow) against the row-by-row one (Python): same profile, same staged
# bytes, same messages, wherever the blocks end.


def _snapshot(profile):
  """Everything `inspect` found, the file's name left out (some tests compare two files)."""
  return repr((profile.rows, profile.label_missing_rows, profile.warnings,
               [(dataclasses.astuple(c), list(c.values)) for c in profile.columns],
               [f.__dict__ for f in profile.findings])).replace(profile.path, "<the file>")


def _python_only(monkeypatch, function, *args, **kwargs):
  """`function` with every block read by the Python path (the reference)."""
  monkeypatch.setattr(scan, "_FAST", False)
  try:
    return function(*args, **kwargs)
  finally:
    monkeypatch.setattr(scan, "_FAST", True)


def _staged(profile, folder, name, na=preflight.DEFAULT_NA_TOKENS):
  out = str(folder / name / "data.csv")
  preflight.stage(profile, out, na)
  with open(out, "rb") as f:
    return f.read()


def _mixed(n=300, nl="\n"):
  """Numbers, text, missing tokens, padding, quoted delimiters and line breaks, odd numbers."""
  lines = ["id,x,size (cm),colour,note,y"]
  for i in range(n):
    x = {7: "oops", 50: "inf", 90: " 2.5 ", 120: "+1", 130: "1_000", 140: "NaN", 150: "\u0661"}.get(
        i, f"{i * 0.37:.3f}" if i % 11 else "NA")
    note = ['"a, b"', f'"line{nl}break"', '"say ""hi"""', "", "?", " pad ", "plain"][i % 7]
    y = "" if i in (3, 200) else "ab"[i % 2]
    lines.append(f"{i},{x},{i % 13},{['red', 'blue', 'green'][i % 3]},{note},{y}")
  return nl.join(lines) + nl


@pytest.mark.parametrize("block", [16, 97, 333, 8 << 20])
def test_blocks_of_any_size_give_the_python_profile_and_staged_bytes(tmp_path, monkeypatch, block):
  # (pyarrow's read_csv costs milliseconds a call whatever the size: small files, few blocks)
  path = _write(tmp_path, _mixed(210))
  reference = _python_only(monkeypatch, preflight.inspect, path, "y")
  monkeypatch.setattr(scan, "_BLOCK_BYTES", block)
  profile = preflight.inspect(path, "y")
  assert _snapshot(profile) == _snapshot(reference)
  assert profile.label_missing_rows == [6, 231]  # rows 3 and 200, after 1 and 29 quoted breaks
  assert _staged(profile, tmp_path, "fast") == _staged(reference, tmp_path, "python")
  assert _staged(profile, tmp_path, "other-na", ("", "NA")) == \
      _staged(reference, tmp_path, "python-other-na", ("", "NA"))


def test_quoted_line_breaks_across_blocks_keep_physical_line_numbers(tmp_path, monkeypatch):
  lines = ["x,note,y"]
  for i in range(40):
    lines.append(f'{i},"first\r\nsecond\nthird",{"ab"[i % 2]}')  # 3 physical lines per row
  lines.append('oops,"one\ntwo",a')  # rows end on lines 4, 7, ..., 121; this one on line 123
  lines.append('inf,x,')             # line 124: no label
  path = str(tmp_path / "q.csv")
  with open(path, "w", newline="") as f:
    f.write("\n".join(lines) + "\n")
  monkeypatch.setattr(scan, "_BLOCK_BYTES", 200)
  profile = preflight.inspect(path, "y")
  x = profile.column("x")
  assert x.non_numeric_samples == [(123, "oops")]
  assert profile.label_missing_rows == [124]
  assert _snapshot(profile) == _snapshot(_python_only(monkeypatch, preflight.inspect, path, "y"))
  assert any(b.kind == "arrow" and b.newlines_in_values for b in profile.layout.blocks)


@pytest.mark.parametrize("final_break", ["\n", ""])
def test_a_bad_cell_in_the_last_block_is_named_with_its_line(tmp_path, monkeypatch, final_break):
  lines = ["x,z,y"] + [f"{i},{i * 2.5},{'ab'[i % 2]}" for i in range(500)] + ["oops,inf,a"]
  path = _write(tmp_path, "\n".join(lines) + final_break)
  monkeypatch.setattr(scan, "_BLOCK_BYTES", 700)
  profile = preflight.inspect(path, "y")
  assert len(profile.layout.blocks) > 5
  found = {f.kind: f.found for f in profile.findings}
  assert "line 502: 'oops'" in found["NUMERIC_COLUMN_WITH_TEXT"]
  assert "line 502: 'inf'" in found["INFINITE_VALUES"]
  assert _snapshot(profile) == _snapshot(_python_only(monkeypatch, preflight.inspect, path, "y"))
  assert _staged(profile, tmp_path, "a").endswith(b"oops,inf,a\n")


def test_byte_order_mark_and_crlf_give_the_plain_files_profile_and_staging(tmp_path, monkeypatch):
  monkeypatch.setattr(scan, "_BLOCK_BYTES", 700)
  text = _mixed(120)
  plain = preflight.inspect(_write(tmp_path, text, "plain.csv"), "y")
  expected = _staged(plain, tmp_path, "plain")
  for name, data in [("bom.csv", b"\xef\xbb\xbf" + text.encode()),
                     ("crlf.csv", _mixed(120, "\r\n").encode()),
                     ("both.csv", b"\xef\xbb\xbf" + _mixed(120, "\r\n").encode())]:
    profile = preflight.inspect(_write(tmp_path, data, name, mode="wb"), "y")
    assert profile.columns[0].name == "id"
    if "crlf" in name or "both" in name:  # the quoted break inside "note" is \r\n there
      assert [c.values for c in profile.columns if c.name != "note"] == \
          [c.values for c in plain.columns if c.name != "note"]
      assert profile.column("x") == plain.column("x")
    else:
      assert _snapshot(profile) == _snapshot(plain)
      assert _staged(profile, tmp_path, "staged-" + name) == expected
    assert profile.label_missing_rows == plain.label_missing_rows
    reference = _python_only(monkeypatch, preflight.inspect, profile.path, "y")
    assert _snapshot(profile) == _snapshot(reference)
    assert _staged(profile, tmp_path, name + "-fast") == \
        _staged(reference, tmp_path, name + "-python")


# What the row-by-row pass said before the block-wise one existed, for problems after block 1.
_LATE_PROBLEMS = [
    ("ragged", _rows(40, "1,2,3\n").encode(),
     ", line 42: 3 fields where the header has 4; fix the row (a quoted field with the delimiter "
     "inside, or a missing/extra delimiter), or pass the right --delimiter."),
    ("nul", _rows(40, "1.0,2,r\x00d,a\n").encode(),
     ", line 42: line contains NUL; fix the quoting of that row."),
    ("not-utf8", _rows(40).encode() + b"1.0,2,r\xe9d,a\n" + _rows(5).split("\n", 1)[1].encode(),
     ", line 42: bytes that are not UTF-8 (invalid continuation byte: byte 0xE9 at byte 7 of the "
     "line); re-save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)."),
    ("unbalanced-quote", _rows(40, '1.0,2,"red,a\n2.0,3,blue,b\n').encode(),
     ", line 43: 3 fields where the header has 4; fix the row (a quoted field with the delimiter "
     "inside, or a missing/extra delimiter), or pass the right --delimiter."),
    ("field-too-large", _rows(40, '1.0,2,"' + "r" * 140000 + '",a\n').encode(),
     ", line 42: field larger than field limit (131072); fix the quoting of that row."),
]


@pytest.mark.parametrize("data, message", [c[1:] for c in _LATE_PROBLEMS],
                         ids=[c[0] for c in _LATE_PROBLEMS])
@pytest.mark.parametrize("block", [64, 8 << 20])
def test_problems_in_a_later_block_keep_their_exact_message(tmp_path, monkeypatch, data, message,
                                                           block):
  path = _write(tmp_path, data, mode="wb")
  monkeypatch.setattr(scan, "_BLOCK_BYTES", block)
  with pytest.raises(InputError) as raised:
    preflight.inspect(path, "y")
  assert str(raised.value) == path + message


def test_a_character_cut_short_at_the_end_is_dropped_as_the_codecs_reader_does(tmp_path):
  profile = preflight.inspect(_write(tmp_path, _rows().encode() + b"1.0,2,red,a\xe2\x82",
                                     mode="wb"), "y")
  assert profile.rows == 13 and profile.column("y").values == {"b": 6, "a": 7}


def test_numbers_only_float_reads_are_read_by_float(tmp_path, monkeypatch):
  odd = ["+1", "1_000", "\u0661\u0662", "NAN", "-Infinity", "nan(1)", "1e999", "١.5", "0x10", "5."]
  lines = ["x,y"] + [f"{v},{'ab'[i % 2]}" for i, v in enumerate(odd * 3)]
  path = _write(tmp_path, "\n".join(lines) + "\n")
  profile = preflight.inspect(path, "y")
  assert _snapshot(profile) == _snapshot(_python_only(monkeypatch, preflight.inspect, path, "y"))
  x = profile.column("x")
  # Other scripts' digits are text, as CsvExampleGen reads the bytes (fuzz_test found it).
  assert (x.numeric, x.non_numeric, x.non_finite) == (18, 12, 9)


@pytest.mark.parametrize("nl, kind", [("\n", "copy"), ("\r\n", "crlf")])
def test_clean_blocks_are_staged_as_bytes_and_the_file_is_read_once(tmp_path, monkeypatch, nl,
                                                                   kind):
  path = _write(tmp_path, _rows(200).replace("\n", nl).encode(), mode="wb")
  monkeypatch.setattr(scan, "_BLOCK_BYTES", 1024)
  profile = preflight.inspect(path, "y")
  assert {b.kind for b in profile.layout.blocks} == {kind}
  monkeypatch.setattr(stage_module, "_stage_rows", None)  # no row-by-row staging
  monkeypatch.setattr(stage_module, "parse_block", None) # and no second parse
  staged = _staged(profile, tmp_path, "s")
  assert staged == ("x,size_cm,colour,y\n" + _rows(200).split("\n", 1)[1]).encode()


def test_python_whitespace_is_what_str_strip_strips():
  assert blocks.PY_WHITESPACE == "".join(
      chr(c) for c in range(0x110000) if chr(c).isspace())


def test_the_block_wise_pass_imports_no_tensorflow(tmp_path, without_heavy_imports):
  path = _write(tmp_path, _mixed())
  without_heavy_imports(
      "import sys\n"
      "from trainguard import preflight\n"
      f"profile = preflight.inspect({path!r}, 'y')\n"
      f"preflight.stage(profile, {str(tmp_path / 'out.csv')!r})\n"
      "assert 'pyarrow' in sys.modules\n")


def test_staging_reads_row_by_row_without_a_layout_or_after_the_file_changed(tmp_path):
  path = _write(tmp_path, _mixed(60))
  profile = preflight.inspect(path, "y")
  expected = _staged(profile, tmp_path, "blocks")
  assert _staged(dataclasses.replace(profile, layout=None), tmp_path, "rows") == expected
  with open(path, "a") as f:
    f.write("999,1.5,3,red,plain,a\n")
  assert _staged(profile, tmp_path, "changed") == expected + b"999,1.5,3,red,plain,a\n"


def test_a_rejected_run_writes_nothing(tmp_path):
  """Every check runs before staging: a serving sample the schema cannot serve (found in step 3)
  leaves no staged data, no inferred schema and no workdir behind."""
  train = _write(tmp_path, _rows())
  serving = _write(tmp_path, "colour\n" + "red\nblue\n" * 6, "serving.csv")
  workdir = tmp_path / "w"
  options = preflight.RunOptions(csv=train, label="y", workdir=str(workdir),
                                 serving_data=serving)
  with pytest.raises(InputError, match="requires at serving"):
    preflight.prepare(options)
  assert not workdir.exists()
  run = preflight.prepare(dataclasses.replace(options, serving_data=None))
  assert os.path.isfile(os.path.join(run.data_root, "data.csv"))
  assert os.path.isfile(os.path.join(run.schema_folder, "schema.pbtxt"))


def test_carve_splits_train_rows_by_their_content_and_keeps_unchanged_files(tmp_path):
  """A presplit train file gives up about `share` of its rows to validation; every row lands in
  exactly one part, identical rows together, the same way on every run."""
  rows = [f"{i % 97},{'a' if i % 2 else 'b'}" for i in range(600)] + ["5,b"] * 20
  staged = _write(tmp_path, "x,y\n" + "\n".join(rows) + "\n", name="staged.csv")
  train, validation = str(tmp_path / "train.csv"), str(tmp_path / "validation.csv")
  stage_module.carve(staged, train, validation, share=1 / 6)
  train_rows = open(train).read().splitlines()
  validation_rows = open(validation).read().splitlines()
  assert train_rows[0] == validation_rows[0] == "x,y"
  assert sorted(train_rows[1:] + validation_rows[1:]) == sorted(rows)
  assert 0.1 < (len(validation_rows) - 1) / len(rows) < 0.25
  assert not set(train_rows[1:]) & set(validation_rows[1:])  # identical rows never straddle
  mtimes = [os.stat(p).st_mtime_ns for p in (train, validation)]
  stage_module.carve(staged, train, validation, share=1 / 6)
  assert [os.stat(p).st_mtime_ns for p in (train, validation)] == mtimes
  assert not [p for p in os.listdir(tmp_path) if p.endswith((".staged", ".tmp"))]


def test_a_presplit_run_stages_train_validation_and_eval(tmp_path):
  train = _write(tmp_path, _rows(60))
  evaluation = _write(tmp_path, _rows(12), name="eval.csv")
  run = preflight.prepare(preflight.RunOptions(
      csv=train, label="y", eval_data=evaluation, workdir=str(tmp_path / "work")))
  assert sorted(os.listdir(run.data_root)) == ["eval", "train", "validation"]
  read = lambda split: open(os.path.join(run.data_root, split, "data.csv")).read().splitlines()
  assert len(read("train")) - 1 + len(read("validation")) - 1 == 60
  assert len(read("validation")) > 1 and len(read("eval")) - 1 == 12


def _continuous(tmp_path, label=lambda i: f"{i * 0.37:.2f}", rows=40):
  return _write(tmp_path, "x,y\n" + "".join(f"{i},{label(i)}\n" for i in range(rows)))


def test_a_number_with_many_values_is_a_regression_label_and_its_schema_has_no_domain(tmp_path):
  profile = preflight.inspect(_continuous(tmp_path), "y")
  assert profile.task == "regression"
  label = next(f for f in schema_folder.infer_schema(profile).feature if f.name == "y")
  assert label.type == 3 and not label.HasField("string_domain")  # FLOAT, no classes
  assert list(label.not_in_environment) == ["SERVING"]
  from trainguard import task  # pylint: disable=g-import-not-at-top
  assert task.of_schema(schema_folder.infer_schema(profile), "y") == "regression"
  assert preflight.inspect(_write(tmp_path, _rows(), name="c.csv"), "y").task == "classification"


@pytest.mark.parametrize("label, task, message", [
    (lambda i: f"{i * 0.37:.2f}", "classification",
     "looks continuous (40 distinct decimal values) for --task classification; drop --task"),
    (lambda i: "n/a?" if i == 7 else ("oops" if i == 9 else f"{i * 0.37:.2f}"), "auto",
     "regression label 'y' has 2 value(s) that are not numbers ('n/a?', 'oops'; lines 9, 11)"),
    (lambda i: str(i % 4), "regression",
     "regression label (--task regression) 'y' takes only 4 distinct value(s)"),
    (lambda i: "inf" if i == 3 else f"{i * 0.37:.2f}", "auto", "infinite value(s) (lines 5)"),
])
def test_a_regression_label_is_checked_for_what_a_regression_needs(tmp_path, label, task, message):
  with pytest.raises(InputError, match=re.escape(message)):
    preflight.inspect(_continuous(tmp_path, label), "y", task=task)


def test_a_curated_schema_declares_the_task_and_a_contradicting_flag_is_refused(tmp_path):
  data = _continuous(tmp_path)
  folder = str(tmp_path / "schema")
  schema_folder.write_schema_folder(
      schema_folder.infer_schema(preflight.inspect(data, "y")), folder, overwrite=False)
  run = preflight.prepare(preflight.RunOptions(csv=data, label="y", schema=folder,
                                               workdir=str(tmp_path / "w")))
  assert run.task == "regression" and run.label_classes == []
  with pytest.raises(InputError, match="for --task classification"):
    preflight.prepare(preflight.RunOptions(csv=data, label="y", schema=folder, task="classification",
                                           workdir=str(tmp_path / "w")))


def test_a_log_label_transform_needs_a_label_above_minus_one(tmp_path):
  data = _continuous(tmp_path, label=lambda i: f"{i * 0.37 - 2:.2f}")
  folder = str(tmp_path / "schema")
  schema_folder.write_schema_folder(
      schema_folder.infer_schema(preflight.inspect(data, "y")), folder, overwrite=False)
  with open(os.path.join(folder, "policy.yaml"), "a") as f:
    f.write("regression:\n  label_transform: log\n")
  with pytest.raises(InputError, match="reaches -2, but .*regression.label_transform: log"):
    preflight.prepare(preflight.RunOptions(csv=data, label="y", schema=folder,
                                           workdir=str(tmp_path / "w")))


@pytest.mark.parametrize("block", [64, 8 << 20])
def test_unquoted_unicode_line_breaks_and_form_feeds_stay_inside_their_field(tmp_path, monkeypatch,
                                                                             block):
  """Found by hypothesis: a form feed, \\x85 or U+2028 in an unquoted field ended the line for
  `str.splitlines` (the codecs reader), so the row was cut in two and the valid file rejected as
  ragged, while pyarrow and CsvExampleGen read one row. Lines end at \\r and \\n only."""
  breaks = ["\x0b", "\x0c", "\x1c", "\x1e", "\x85", "\u2028", "\u2029"]
  rows = "".join(f"{i},x{breaks[i % len(breaks)]}z{i % 4},{i % 2}\n" for i in range(30))
  path = _write(tmp_path, ("a,b,y\n" + rows).encode(), mode="wb")
  monkeypatch.setattr(scan, "_BLOCK_BYTES", block)
  profile = preflight.inspect(path, "y")
  assert profile.rows == 30
  assert [(c.name, c.type_name) for c in profile.columns] == [("a", "INT"), ("b", "BYTES"),
                                                              ("y", "INT")]
  staged = _staged(profile, tmp_path, f"staged-{block}")
  assert staged.count(b"\n") == 31 and b"x\xe2\x80\xa8z1" in staged


def test_label_map_gives_the_run_the_classes_a_model_learns(tmp_path):
  # The schema's domain keeps every spelling (TFDV then accepts the rows); the run's classes, which
  # the pipeline hands the Trainer, Rebalance and the Evaluator, are the mapped ones.
  data = _write(tmp_path, _rows().replace(",a\n", ",A\n", 2))
  folder = str(tmp_path / "schema")
  schema_folder.write_schema_folder(
      schema_folder.infer_schema(preflight.inspect(data, "y")), folder, overwrite=False)
  (tmp_path / "schema" / "policy.yaml").write_text('label:\n  map: {"A": "a"}\n')
  run = preflight.prepare(preflight.RunOptions(csv=data, label="y", schema=folder,
                                               workdir=str(tmp_path / "w")))
  assert run.label_classes == ["a", "b"]  # the domain: A, a, b


def _mapped_folder(tmp_path, train, policy_yaml):
  """A curated schema inferred from `train` (its domain: the classes alone), with `policy_yaml`."""
  folder = str(tmp_path / "schema")
  schema_folder.write_schema_folder(
      schema_folder.infer_schema(preflight.inspect(train, "y")), folder, overwrite=False)
  (tmp_path / "schema" / "policy.yaml").write_text(policy_yaml)
  return folder


def test_eval_and_domain_checks_judge_the_classes_label_map_makes(tmp_path):
  # Issue 21: the eval file's 'A' and the train file's 'B' are spellings label.map sends to a
  # class the schema lists (a, b); check_eval_classes ran before the policy was read and refused 'A'.
  folder = _mapped_folder(tmp_path, _write(tmp_path, _rows(), name="clean.csv"),
                          'label:\n  map: {"A": "a", "B": "b"}\n')
  train = _write(tmp_path, _rows().replace(",b\n", ",B\n", 2))
  evaluation = _write(tmp_path, _rows().replace(",a\n", ",A\n", 2), name="eval.csv")
  run = preflight.prepare(preflight.RunOptions(csv=train, label="y", eval_data=evaluation,
                                               schema=folder, workdir=str(tmp_path / "w")))
  assert run.label_classes == ["a", "b"]
  # A spelling outside the map is still its own class: unseen in train, or not in the domain.
  unmapped = _write(tmp_path, _rows().replace(",a\n", ",c\n", 1), name="eval-c.csv")
  with pytest.raises(InputError, match=r"has class\(es\) 'c' that the training file"):
    preflight.prepare(preflight.RunOptions(csv=train, label="y", eval_data=unmapped,
                                           schema=folder, workdir=str(tmp_path / "w")))
  with pytest.raises(InputError, match=r"has class\(es\) 'c' that .*schema.pbtxt does not list"):
    preflight.prepare(preflight.RunOptions(csv=unmapped, label="y", schema=folder,
                                           workdir=str(tmp_path / "w")))
