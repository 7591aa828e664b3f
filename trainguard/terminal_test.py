"""Hostile values reach the terminal as text: escape sequences, carriage returns and right-to-left
overrides in a CSV's column names are printed as escapes (in-process, before TensorFlow)."""
import json

from trainguard import cli, terminal


def test_control_characters_are_written_as_escapes():
  text = "a\x1b[31mred\x1b[0m\rover\u202eevil\x00nul\x9bcsi\ufefftab\tnew\nline é 中 👍"
  shown = terminal.printable(text)
  assert shown == ("a\\x1b[31mred\\x1b[0m\\rover\\u202eevil\\x00nul\\x9bcsi\\ufefftab\tnew\n"
                   "line é 中 👍")
  assert terminal.printable(json.dumps({"k": "\x1b"})) == json.dumps({"k": "\x1b"})


def test_a_hostile_column_name_in_an_error_is_shown_as_text(tmp_path, capsys):
  csv = tmp_path / "hostile.csv"
  header = ["x", "\x1b[2Jcleared", "\u202eright-to-left", "<b>html</b>"]
  rows = [",".join(header)] + [f"{i},{i % 3},{i % 2},b{i % 4}" for i in range(40)]
  csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
  assert cli.main(["diagnose", str(csv), "--label", "target"]) == cli.EXIT_USAGE
  err = capsys.readouterr().err
  assert "\x1b" not in err and "\u202e" not in err, repr(err)
  assert "\\x1b[2Jcleared" in err and "\\u202eright-to-left" in err and "<b>html</b>" in err
  assert "Traceback" not in err
