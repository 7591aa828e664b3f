"""The pre-flight over a user's CSV: profile, findings, staging and schema inference, no TensorFlow."""
import os

import pytest

from trainguard import csv_input
from trainguard.csv_input import InputError


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
  profile = csv_input.inspect(_write(tmp_path, text), "y")
  assert [c.name for c in profile.columns] == ["x", "size_cm", "colour", "y"]
  assert profile.column("x").type_name == "FLOAT" and profile.column("x").missing == 1
  assert profile.column("size_cm").type_name == "INT" and profile.column("size_cm").missing == 1
  assert profile.column("colour").type_name == "BYTES"
  assert profile.rows == 12 and profile.label_classes == ["a", "b"]
  assert any("renamed to 'size_cm'" in w for w in profile.warnings)


def test_numeric_column_with_stray_text_is_a_blocking_finding_with_line_numbers(tmp_path):
  text = _rows(20).replace("\n6.0,", "\noops,").replace("\n9.0,", "\nn.a.,")
  profile = csv_input.inspect(_write(tmp_path, text), "y")
  (finding,) = [f for f in profile.findings if f.kind == "NUMERIC_COLUMN_WITH_TEXT"]
  assert finding.feature == "x" and finding.severity == "block"
  assert "line 6: 'oops'" in finding.found and "line 8: 'n.a.'" in finding.found
  assert profile.column("x").type_name == "FLOAT"  # still a numeric column, with bad values


def test_all_missing_column_is_dropped_with_a_warning_and_left_out_of_schema(tmp_path):
  lines = ["a,empty,y"] + [f"{i},,{'p' if i % 2 else 'q'}" for i in range(12)]
  profile = csv_input.inspect(_write(tmp_path, "\n".join(lines) + "\n"), "y")
  assert [f.kind for f in profile.findings] == ["ALL_VALUES_MISSING"]
  schema = csv_input.infer_schema(profile)
  assert [f.name for f in schema.feature] == ["a", "y"]
  out = str(tmp_path / "staged" / "data.csv")
  csv_input.stage(profile, out)
  assert open(out).readline().strip() == "a,y"


def test_rows_without_label_are_dropped_with_their_line_numbers(tmp_path):
  text = _rows(20).replace(",a\n", ",\n", 2)
  profile = csv_input.inspect(_write(tmp_path, text), "y")
  assert profile.rows == 18 and profile.label_missing_rows == [3, 5]
  out = str(tmp_path / "s.csv")
  csv_input.stage(profile, out)
  assert sum(1 for _ in open(out)) == 19


def test_staging_normalizes_missing_tokens_and_keeps_an_unchanged_file(tmp_path):
  profile = csv_input.inspect(_write(tmp_path, _rows().replace("3.0,2,", "NA,2,")), "y")
  out = str(tmp_path / "staged" / "data.csv")
  assert csv_input.stage(profile, out) is True
  assert ",2,red" in open(out).read().split("\n")[3]
  assert open(out).read().split("\n")[3].startswith(",2,")
  mtime = os.stat(out).st_mtime_ns
  assert csv_input.stage(profile, out) is False
  assert os.stat(out).st_mtime_ns == mtime


def test_inferred_schema_has_environments_label_domain_and_optional_values(tmp_path):
  profile = csv_input.inspect(_write(tmp_path, _rows().replace("3.0,2,", "NA,2,")), "y")
  schema = csv_input.infer_schema(profile)
  features = {f.name: f for f in schema.feature}
  assert list(schema.default_environment) == ["TRAINING", "SERVING"]
  assert list(features["y"].not_in_environment) == ["SERVING"]
  assert list(features["y"].string_domain.value) == ["a", "b"]
  assert list(features["colour"].string_domain.value) == ["blue", "red"]
  assert not features["x"].value_count.HasField("min") and features["x"].value_count.max == 1
  assert features["size_cm"].value_count.min == 1


def test_integer_label_gets_an_int_domain(tmp_path):
  lines = ["a,y"] + [f"{i},{i % 3}" for i in range(12)]
  profile = csv_input.inspect(_write(tmp_path, "\n".join(lines)), "y")
  feature = [f for f in csv_input.infer_schema(profile).feature if f.name == "y"][0]
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
    (lambda p: _write(p, _rows().replace("x,size (cm),colour,y", "x,size,colour,z")),
     "no column named 'y' for --label"),
    (lambda p: _write(p, "x,y\n" + "1,a\n" * 12), "single class ('a')"),
    (lambda p: _write(p, "x,y\n" + "".join(f"{i},{i * 0.37}\n" for i in range(40))),
     "looks continuous"),
    (lambda p: _write(p, _rows(20).replace(",a\n", ",\n")), "too many to drop"),
])
def test_unusable_input_is_rejected_with_the_file_and_the_fix(tmp_path, make, message):
  path = make(tmp_path)
  with pytest.raises(InputError) as raised:
    csv_input.inspect(path, "y")
  assert message in str(raised.value)
  assert str(raised.value).startswith(path)


def test_constant_and_id_like_columns_are_flagged_for_exclusion(tmp_path):
  lines = ["id,code,const,x,y"] + [
      f"{i},c{i},k,{i % 7},{'a' if i % 2 else 'b'}" for i in range(40)]
  profile = csv_input.inspect(_write(tmp_path, "\n".join(lines) + "\n"), "y")
  assert profile.unusable_columns == ["id", "code", "const"]
  kinds = {(f.kind, f.feature) for f in profile.findings}
  assert kinds == {("ID_LIKE_COLUMN", "id"), ("ID_LIKE_COLUMN", "code"),
                   ("CONSTANT_COLUMN", "const")}
