"""`trainguard diagnose` end to end on a generated CSV that carries the article's problems at once:
a numeric column with stray text, missing values, unscaled features, class imbalance, duplicates,
an ID column, and an eval file that shares rows with the train file."""
import json

import numpy as np
import pytest

from trainguard import cli


def _write(path, header, rows):
  with open(path, "w") as f:
    f.write(",".join(header) + "\n")
    for row in rows:
      f.write(",".join(str(v) for v in row) + "\n")


@pytest.fixture(scope="module")
def diagnosis(tmp_path_factory):
  folder = tmp_path_factory.mktemp("diagnose")
  rng = np.random.default_rng(7)
  header = ["customer_id", "income", "age", "score", "region", "churned"]
  rows = []
  for i in range(180):
    churned = "yes" if i % 10 == 0 else "no"                   # 1:9 imbalance
    income = "" if i % 12 == 3 else f"{rng.normal(60000, 15000):.0f}"   # missing, large scale
    age = f"{rng.integers(18, 80)}"
    score = f"{rng.normal(0.5, 0.1):.3f}"                     # small scale
    region = rng.choice(["north", "south", "east"])
    rows.append([f"C{i:05d}", income, age, score, region, churned])
  rows[17][3] = "unknown"                                     # stray text, line 19 of the file
  rows += rows[40:44]                                         # duplicated rows
  train, evaluation = folder / "customers.csv", folder / "customers-eval.csv"
  _write(train, header, rows)
  _write(evaluation, header, rows[100:130])                   # eval shares 30 train rows
  return str(train), str(evaluation), str(folder / "work")


def test_diagnose_names_each_problem_with_its_column_and_fix(diagnosis, capsys):
  train, evaluation, workdir = diagnosis
  code = cli.main(["diagnose", train, "--label", "churned", "--eval-data", evaluation,
                   "--workdir", workdir, "--json"])
  out = capsys.readouterr().out
  report = json.loads(out[out.index("{"):out.rindex("}") + 1])
  assert code == cli.EXIT_BLOCKED
  found = {(f["kind"], f["feature"]) for f in report["findings"]}
  severity = {(f["kind"], f["feature"]): f["severity"] for f in report["findings"]}
  assert severity[("NUMERIC_COLUMN_WITH_TEXT", "score")] == "block"
  assert severity[("UNEXPECTED_DATA_TYPE", "score")] == "block"
  assert severity[("CROSS_SPLIT_DUPLICATES", "")] == "block"
  assert ("MISSING_VALUES", "income") in found
  assert ("CLASS_IMBALANCE", "churned") in found
  assert ("DUPLICATE_ROWS", "") in found
  assert ("ID_LIKE_COLUMN", "customer_id") in found
  text = next(f for f in report["findings"] if f["kind"] == "NUMERIC_COLUMN_WITH_TEXT")
  assert "line 19: 'unknown'" in text["found"]
  for finding in report["findings"]:
    assert finding["fix"], finding
