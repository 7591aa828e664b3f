"""`trainguard schema check|diff|propose` through cli.main: exit codes and what reaches the user."""
import pytest

from trainguard import cli
from trainguard.schema_review.diff_test import BASE, _folder


@pytest.fixture
def main():
  """cli.main, which wires the schema commands."""
  return cli.main


def test_cli_check_and_diff(tmp_path, main, capsys):
  good = _folder(tmp_path / "ok", "shop")
  assert main(["schema", "check", str(tmp_path / "ok")]) == 0
  assert "1 schema folder(s)" in capsys.readouterr().out
  _folder(tmp_path / "bad", "shop", BASE.replace('not_in_environment: "SERVING"', ""))
  assert main(["schema", "check", str(tmp_path / "bad")]) == 1
  err = capsys.readouterr().err
  assert "problem: " in err and "no label" in err and "1 problem(s)" in err
  assert main(["schema", "diff", good, good]) == 0
  assert capsys.readouterr().out == "no changes\n"
  assert main(["schema", "diff", good, str(tmp_path / "nope")]) == 2
  assert "trainguard: error: " in capsys.readouterr().err


def test_cli_propose_refuses_to_overwrite_without_write(tmp_path, main, capsys):
  folder = _folder(tmp_path, "shop")
  (tmp_path / "new.csv").write_text("label,color\na,red\n")
  assert main(["schema", "propose", "--schema", folder, "--data", str(tmp_path / "new.csv"),
               "--out", folder]) == 2
  assert "is the curated schema folder; pass --write" in capsys.readouterr().err
