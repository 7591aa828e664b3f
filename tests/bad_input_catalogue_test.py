"""The catalogue of malformed inputs and configurations, each run through the real entry point.

Every case calls `trainguard.cli.main(argv)` in-process (a few also through the installed console
script) and checks: the exit code, a message that names the file, column or flag and says what to
do, no traceback, and no pipeline started (no ML Metadata store written): these are all rejected
before TensorFlow is imported. The two cases that need the pipeline to see the data (text in a
numeric column, an infinity) share the one blocked run of tests/conftest.py and check ML Metadata:
nothing after DataGuard executed and no artifact of a later component exists.

docs/reliability.md holds this catalogue as a table; regenerate it with
`.venv/bin/python tests/bad_input_catalogue_test.py` after changing a case or a message.
"""
import dataclasses
import io
import os
import re
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from typing import Callable, List, Tuple

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)  # for `python tests/bad_input_catalogue_test.py`

from trainguard import cli  # pylint: disable=g-import-not-at-top,wrong-import-position


# ---------------------------------------------------------------------------------------------
# Inputs


def _write(folder, name, text, mode="w"):
  path = os.path.join(folder, name)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, mode) as f:
    f.write(text)
  return path


def _rows(n=30, label=lambda i: "a" if i % 3 else "b", header="x,c,y"):
  lines = [header] + [f"{i * 1.5},{'r' if i % 2 else 's'},{label(i)}" for i in range(n)]
  return "\n".join(lines) + "\n"


def _good(d):
  return _write(d, "data.csv", _rows())


def _schema_folder(d):
  """A schema/policy pair written by `trainguard schema init` (for the policy cases)."""
  folder = os.path.join(d, "schema")
  assert cli.main(["schema", "init", _good(d), "--label", "y", "--out", folder,
                   "--force"]) == 0
  return folder


def _with_policy(d, text):
  folder = _schema_folder(d)
  _write(folder, "policy.yaml", text)
  return ["run", _good(d), "--label", "y", "--schema", folder]


def _with_schema(d, text):
  folder = os.path.join(d, "schema")
  _write(folder, "schema.pbtxt", text)
  return ["run", _good(d), "--label", "y", "--schema", folder]


def _disk_full(d):
  """The staged copy of the data lands on a full disk: its temporary file is /dev/full."""
  os.makedirs(os.path.join(d, "w", "data", "data"))
  os.symlink("/dev/full", os.path.join(d, "w", "data", "data", "data.csv.staged.tmp"))
  return ["run", _good(d), "--label", "y"]


@dataclasses.dataclass
class Case:
  id: str
  input: str                                   # what is wrong, for the table
  argv: Callable[[str], List[str]]             # builds the command line in a temporary folder
  exit: int
  says: Tuple[str, ...]                        # the problem and the fix, in the message


CASES = [
    Case("missing-file", "a CSV path that does not exist",
         lambda d: ["run", f"{d}/nope.csv", "--label", "y"], 2,
         ("nope.csv: no such file", "check the path")),
    Case("directory", "a folder where the CSV should be",
         lambda d: ["diagnose", d, "--label", "y"], 2, ("is a directory", "pass the CSV file")),
    Case("empty-file", "an empty file (0 bytes)",
         lambda d: ["run", _write(d, "e.csv", ""), "--label", "y"], 2,
         ("e.csv: the file is empty", "needs a header line and data rows")),
    Case("header-only", "a header and no rows",
         lambda d: ["run", _write(d, "h.csv", "x,c,y\n"), "--label", "y"], 2,
         ("h.csv: the header has no data rows", "add data")),
    Case("too-few-rows", "3 data rows",
         lambda d: ["run", _write(d, "f.csv", _rows(3)), "--label", "y"], 2,
         ("f.csv: 3 data row(s)", "at least 10", "Add rows")),
    Case("wrong-delimiter", "a semicolon-separated file read as commas",
         lambda d: ["run", _write(d, "s.csv", _rows().replace(",", ";")), "--label", "y"], 2,
         ("s.csv, line 1", "looks semicolon-separated", "pass --delimiter ';'")),
    Case("ragged-rows", "a row with one field too many",
         lambda d: ["run", _write(d, "r.csv", _rows() + "1,s,a,extra\n"), "--label", "y"], 2,
         ("r.csv, line 32: 4 fields where the header has 3", "fix the row")),
    Case("non-utf8", "Latin-1 bytes in a UTF-8 file",
         lambda d: ["run", _write(d, "l.csv", _rows().encode() + b"1,r\xe9d,a\n", "wb"),
                    "--label", "y"], 2,
         ("l.csv", "not UTF-8", "re-save the file as UTF-8")),
    Case("duplicate-columns", "two columns with the same name",
         lambda d: ["run", _write(d, "d.csv", _rows(header="x,x,y")), "--label", "y"], 2,
         ("d.csv, line 1: column 'x' appears twice", "rename one")),
    Case("colliding-names", "two names that become the same feature name",
         lambda d: ["run", _write(d, "n.csv", _rows(header="a b,a.b,y")), "--label", "y"], 2,
         ("columns 'a b' and 'a.b' both become 'a_b'", "rename one")),
    Case("no-label-column", "--label names no column",
         lambda d: ["run", _good(d), "--label", "target"], 2,
         ("no column named 'target' for --label", "(columns: x, c, y)", "pass one of these")),
    Case("single-class-label", "a label with one class",
         lambda d: ["run", _write(d, "o.csv", _rows(label=lambda i: "a")), "--label", "y"], 2,
         ("label 'y' has a single class ('a')", "needs at least two")),
    Case("label-entirely-missing", "a label column with no value in any row",
         lambda d: ["run", _write(d, "m.csv", _rows(label=lambda i: "")), "--label", "y"], 2,
         ("every row lacks a value for label 'y'", "Fill the label")),
    Case("label-mostly-missing", "a label missing in 8 of 30 rows",
         lambda d: ["run", _write(d, "m.csv", _rows(label=lambda i: "a" if i % 2 else ("b" if i % 4 else ""))),
                    "--label", "y"], 2,
         ("have no value for label 'y'", "too many to drop", "Fill the label at the source")),
    Case("continuous-label-as-classes", "a regression target with --task classification",
         lambda d: ["run", _write(d, "c.csv", _rows(label=lambda i: f"{i * 0.37:.2f}")),
                    "--label", "y", "--task", "classification"], 2,
         ("label 'y' looks continuous", "for --task classification", "drop --task")),
    Case("regression-label-with-text", "a numeric regression label with a stray word",
         lambda d: ["run", _write(d, "rt.csv", _rows(
             label=lambda i: "unknown" if i == 5 else f"{i * 0.37:.2f}")), "--label", "y"], 2,
         ("regression label 'y' has 1 value(s) that are not numbers ('unknown'; lines 7)",
          "--task classification")),
    Case("regression-label-few-values", "--task regression on a label of four values",
         lambda d: ["run", _write(d, "rf.csv", _rows(label=lambda i: str(i % 4))), "--label", "y",
                    "--task", "regression"], 2,
         ("takes only 4 distinct value(s)", "pass --task classification")),
    Case("unseen-eval-class", "a label class in --eval-data that training never has",
         lambda d: ["run", _good(d), "--label", "y", "--eval-data",
                    _write(d, "ev.csv", _rows(label=lambda i: "c" if i == 4 else "ab"[i % 2]))], 2,
         ("ev.csv: label 'y' has class(es) 'c'", "never has", "remove those rows")),
    Case("class-not-in-schema", "a label class the curated schema does not list",
         lambda d: _with_schema(d, 'feature { name: "x" type: FLOAT }\n'
                                   'feature { name: "c" type: BYTES }\n'
                                   'feature { name: "y" type: BYTES string_domain { value: "a" '
                                   'value: "z" } }\n'), 2,
         ("label 'y' has class(es) 'b'", "schema.pbtxt does not list", "reviewed schema change")),
    Case("eval-header-differs", "--eval-data with other columns",
         lambda d: ["run", _good(d), "--label", "y", "--eval-data",
                    _write(d, "ev.csv", _rows(header="x,colour,y"))], 2,
         ("ev.csv: its columns (x, colour, y) differ", "need the same header")),
    Case("serving-missing-feature", "a serving sample without a feature the schema requires",
         lambda d: ["run", _good(d), "--label", "y", "--serving-data",
                    _write(d, "srv.csv", "x\n" + "".join(f"{i}\n" for i in range(12)))], 2,
         ("srv.csv: no value in column(s) 'c'", "requires at serving", "add them to the serving")),
    Case("schema-does-not-parse", "a schema.pbtxt with a typo",
         lambda d: _with_schema(d, 'feature { name: "x" type: FLOT }\n'), 2,
         ("schema.pbtxt: does not parse as a TFDV schema", "fix the line it names")),
    Case("schema-without-label", "a curated schema that lacks the label",
         lambda d: _with_schema(d, 'feature { name: "x" type: FLOAT }\n'), 2,
         ("label 'y' is not a feature of the schema", "add it to schema.pbtxt")),
    Case("schema-folder-empty", "--schema pointing at a folder without schema.pbtxt",
         lambda d: ["run", _good(d), "--label", "y", "--schema", d], 2,
         ("no schema.pbtxt in it", "trainguard schema init")),
    Case("policy-unknown-feature", "a policy naming a feature the schema does not have",
         lambda d: _with_policy(d, "features:\n  colour: {impute: most_frequent}\n"), 2,
         ("policy.yaml: features.colour names a feature the schema does not have",)),
    Case("policy-not-yaml", "a policy.yaml that is not valid YAML",
         lambda d: _with_policy(d, "findings: [unclosed\n"), 2,
         ("policy.yaml, line 2, column 1: not valid YAML", "fix the syntax")),
    Case("impossible-imputation", "median imputation of a text column",
         lambda d: _with_policy(d, "features:\n  c: {impute: median}\n"), 2,
         ("features.c.impute is 'median', which needs numbers",)),
    Case("k-neighbors-above-class", "SMOTE with k_neighbors 5 and a class of 3 rows",
         lambda d: ["run", _write(d, "k.csv", _rows(label=lambda i: "b" if i in (1, 7, 9) else "a")),
                    "--label", "y", "--rebalance", "smote"], 2,
         ("k_neighbors=5 needs at least 6 rows", "class 'b' of label 'y' has 3",
          "lower rebalance.k_neighbors")),
    Case("unknown-strategy-flag", "--rebalance with a misspelt strategy",
         lambda d: ["run", _good(d), "--label", "y", "--rebalance", "smoote"], 2,
         ("argument --rebalance: invalid choice: 'smoote'", "choose from")),
    Case("unknown-strategy-policy", "a misspelt strategy in policy.yaml",
         lambda d: _with_policy(d, "rebalance: {strategy: smoote}\n"), 2,
         ("rebalance.strategy is 'smoote'",)),
    Case("negative-epochs", "--epochs -1",
         lambda d: ["run", _good(d), "--label", "y", "--epochs", "-1"], 2,
         ("--epochs must be at least 1, got -1",)),
    Case("epochs-not-a-number", "--epochs ten",
         lambda d: ["run", _good(d), "--label", "y", "--epochs", "ten"], 2,
         ("argument --epochs: invalid int value: 'ten'",)),
    Case("negative-seed", "--seed -3",
         lambda d: ["run", _good(d), "--label", "y", "--seed", "-3"], 2,
         ("--seed must be 0 or more", "got -3")),
    Case("bad-delimiter", "--delimiter with two characters",
         lambda d: ["run", _good(d), "--label", "y", "--delimiter", ";;"], 2,
         ("--delimiter must be one character",)),
    Case("workdir-under-a-file", "--workdir (the pipeline root) under a regular file (ENOTDIR)",
         lambda d: ["run", _good(d), "--label", "y", "--workdir", _good(d) + "/runs"], 2,
         ("is a file, not a folder", "choose another --workdir")),
    Case("missing-module", "--run-fn naming a module that cannot be imported",
         lambda d: ["run", _good(d), "--label", "y", "--run-fn", "my_models.wide.run_fn"], 2,
         ("--run-fn my_models.wide.run_fn: no Python module 'my_models.wide'",
          "add its folder to PYTHONPATH")),
    Case("missing-function", "--preprocessing-fn naming a function the module lacks",
         lambda d: ["run", _good(d), "--label", "y", "--preprocessing-fn",
                    "trainguard.models.preprocessing.preprocess"], 2,
         ("defines no top-level 'preprocess'", "check the name")),
    Case("disk-full", "the staged data written to a full disk (ENOSPC, /dev/full)",
         _disk_full, 2,
         ("data.csv.staged: cannot write it (No space left on device)", "free space")),
    Case("schema-init-overwrite", "`schema init` over a reviewed schema without --force",
         lambda d: ["schema", "init", _good(d), "--label", "y", "--out", _schema_folder(d)], 2,
         ("schema.pbtxt exists", "pass --force")),
]

# The two defects only the pipeline run sees in full, checked on the shared blocked run.
PIPELINE_CASES = [
    ("numeric-column-with-text", "the text 'broken' in a numeric column (line 6)", 1,
     ("bill_length_mm: NUMERIC_COLUMN_WITH_TEXT", "line 6: 'broken'", "fix or blank those cells")),
    ("infinite-values", "'inf' in a numeric column (line 10)", 1,
     ("bill_depth_mm: INFINITE_VALUES", "line 10: 'inf'", "blank those cells")),
]

CONSOLE_SCRIPT_CASES = ("empty-file", "negative-epochs", "workdir-under-a-file", "disk-full")


def run_case(case: Case, folder: str) -> Tuple[int, str]:
  """Runs one case in-process in `folder`; returns the exit code and what went to stderr."""
  err = io.StringIO()
  with redirect_stdout(io.StringIO()):
    argv = case.argv(folder)
    if "--workdir" not in argv and argv[0] != "schema":
      argv += ["--workdir", os.path.join(folder, "w")]
    with redirect_stderr(err):
      code = cli.main(argv)
  return code, err.getvalue()


# ---------------------------------------------------------------------------------------------
# Tests


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_rejected_with_a_message_that_says_what_to_do(case, tmp_path):
  code, err = run_case(case, str(tmp_path))
  assert code == case.exit, err
  for phrase in case.says:
    assert phrase in err, f"{phrase!r} not in {err!r}"
  assert "Traceback" not in err
  assert err.count("\n") <= 3, err  # one message, not a log dump
  assert not os.path.exists(os.path.join(tmp_path, "w", "metadata.sqlite")), \
      "a pipeline was started"
  assert not any(name.endswith(".tmp") for _, _, files in os.walk(tmp_path) for name in files)


@pytest.mark.parametrize("case_id", CONSOLE_SCRIPT_CASES)
def test_console_script_gives_the_same_exit_code_and_message(case_id, tmp_path):
  case = next(c for c in CASES if c.id == case_id)
  argv = case.argv(str(tmp_path))
  if "--workdir" not in argv:
    argv += ["--workdir", str(tmp_path / "w")]
  script = os.path.join(os.path.dirname(sys.executable), "trainguard")
  proc = subprocess.run([script, *argv], capture_output=True, text=True, timeout=120)
  assert proc.returncode == case.exit, proc.stderr
  assert all(phrase in proc.stderr for phrase in case.says), proc.stderr
  assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("case_id, input_text, exit_code, says", PIPELINE_CASES,
                         ids=[c[0] for c in PIPELINE_CASES])
def test_defects_the_pipeline_sees_stop_it_before_transform(blocked_run, case_id, input_text,
                                                            exit_code, says):
  from trainguard.pipeline import results  # pylint: disable=g-import-not-at-top
  assert blocked_run.returncode == exit_code, blocked_run.output[-3000:]
  for phrase in says:
    assert phrase in blocked_run.output
  summary = results.latest_run(blocked_run.paths)
  assert "Transform" not in summary.executions
  assert not [key for key in summary.artifacts
              if not key.startswith(("CsvExampleGen.", "StatisticsGen.", "ImportSchemaGen.",
                                     "DataGuard."))]


def test_catalogue_has_every_case_the_issue_names_and_the_docs_list_them_all():
  ids = [c.id for c in CASES] + [c[0] for c in PIPELINE_CASES]
  assert len(ids) == len(set(ids)) and len(ids) >= 25
  with open(os.path.join(REPO, "docs", "reliability.md"), encoding="utf-8") as f:
    docs = f.read()
  assert [i for i in ids if f"`{i}`" not in docs] == []


# ---------------------------------------------------------------------------------------------
# docs/reliability.md's table


def markdown_table() -> str:
  import tempfile  # pylint: disable=g-import-not-at-top
  rows = ["| case | input | exit | message |", "|---|---|---|---|"]
  for case in CASES:
    with tempfile.TemporaryDirectory() as folder:
      code, err = run_case(case, folder)
      message = re.sub(re.escape(folder), "…", err.strip()).replace("|", "\\|")
    rows.append(f"| `{case.id}` | {case.input} | {code} | {message} |")
  for case_id, input_text, code, says in PIPELINE_CASES:
    rows.append(f"| `{case_id}` | {input_text} | {code} | DataGuard blocks before Transform: "
                f"{'; '.join(says[:2])} (shared blocked run, checked in ML Metadata) |")
  return "\n".join(rows)


if __name__ == "__main__":
  print(markdown_table())
