"""No code from data: nothing unpickles or evaluates a user's files (docs/reliability.md)."""
import ast
import os

import pytest

from trainguard import cli, preflight

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE_FOLDERS = ("trainguard", "components", "models", "pipeline", "kubeflow", "scripts", "bench")

# Module-level functions that turn bytes into running code or arbitrary objects.
UNSAFE_CALLS = {
    ("pickle", "load"), ("pickle", "loads"), ("cPickle", "load"), ("cPickle", "loads"),
    ("marshal", "load"), ("marshal", "loads"), ("dill", "load"), ("dill", "loads"),
    ("cloudpickle", "load"), ("cloudpickle", "loads"), ("joblib", "load"),
    ("yaml", "load"), ("yaml", "unsafe_load"), ("yaml", "full_load"), ("shelve", "open"),
}
UNSAFE_BUILTINS = {"eval", "exec", "compile", "__import__"}


def _sources():
  for top in SOURCE_FOLDERS:
    for folder, _, names in os.walk(os.path.join(REPO, top)):
      for name in names:
        if name.endswith(".py") and not name.endswith("_test.py") and name != "conftest.py":
          yield os.path.join(folder, name)


def _unsafe(path):
  with open(path, encoding="utf-8") as f:
    tree = ast.parse(f.read(), filename=path)
  for node in ast.walk(tree):
    if not isinstance(node, ast.Call):
      continue
    func = node.func
    where = f"{os.path.relpath(path, REPO)}:{node.lineno}"
    if isinstance(func, ast.Name) and func.id in UNSAFE_BUILTINS:
      yield f"{where} {func.id}()"
    if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
        and (func.value.id, func.attr) in UNSAFE_CALLS):
      yield f"{where} {func.value.id}.{func.attr}()"
    if any(k.arg == "allow_pickle" and isinstance(k.value, ast.Constant) and k.value.value
           for k in node.keywords):
      yield f"{where} allow_pickle=True"


def test_no_source_file_unpickles_or_evaluates_anything():
  sources = list(_sources())
  assert len(sources) > 30
  assert [hit for path in sources for hit in _unsafe(path)] == []


def test_a_policy_with_a_python_object_tag_is_rejected_and_not_run(tmp_path, capsys):
  rows = "x,c,y\n" + "".join(f"{i},{'rs'[i % 2]},{'ab'[i % 3 == 0]}\n" for i in range(30))
  data = tmp_path / "data.csv"
  data.write_text(rows)
  folder = tmp_path / "schema"
  assert cli.main(["schema", "init", str(data), "--label", "y", "--out", str(folder)]) == 0
  marker = tmp_path / "pwned"
  (folder / "policy.yaml").write_text(
      f'rebalance: !!python/object/apply:os.system ["touch {marker}"]\n')
  code = cli.main(["run", str(data), "--label", "y", "--schema", str(folder),
                   "--workdir", str(tmp_path / "w")])
  assert code == cli.EXIT_USAGE
  assert "policy.yaml" in capsys.readouterr().err
  assert not marker.exists()


def test_code_in_a_csv_cell_is_only_text(tmp_path):
  marker = tmp_path / "pwned"
  payload = f"__import__('os').system('touch {marker}')"
  rows = "x,c,y\n" + "".join(f"{i},{payload if i == 3 else 'r'},{'ab'[i % 3 == 0]}\n"
                               for i in range(30))
  path = tmp_path / "data.csv"
  path.write_text(rows)
  profile = preflight.inspect(str(path), "y")
  assert payload in profile.column("c").values
  preflight.stage(profile, str(tmp_path / "staged" / "data.csv"))
  assert not marker.exists()


@pytest.mark.parametrize("flag", ["--run-fn", "--preprocessing-fn"])
def test_model_code_comes_only_from_an_import_path(tmp_path, capsys, flag):
  """A file path (code next to the data) is not a module path: it is refused before any run."""
  module = tmp_path / "model.py"
  module.write_text("def run_fn(fn_args):\n  pass\n")
  code = cli.main(["run", str(tmp_path / "none.csv"), "--label", "y", flag, str(module)])
  assert code == cli.EXIT_USAGE
  assert flag in capsys.readouterr().err
