"""Where model code may come from, checked before a run starts.

TFX loads `run_fn` and `preprocessing_fn` by import path inside the Trainer and Transform
executors, minutes into a run. A typo there should fail in the first second instead, with the
flag named. Only import paths are accepted: code comes from the installed package or a module the
user put on the path, never from the data folders a run reads (nothing there is unpickled or
evaluated). The check reads the module's source with `ast` and does not execute it.
"""
import ast
import importlib.util

from trainguard.errors import ModuleCodeError  # pylint: disable=unused-import


def check_function_path(flag: str, dotted: str) -> str:
  """Returns the module's file; raises ModuleCodeError naming the flag, the path and the fix."""
  module_name, _, function = (dotted or "").rpartition(".")
  if not module_name or not function.isidentifier():
    raise ModuleCodeError(
        f"{flag} {dotted!r}: expected an import path ending in a function name, like "
        "my_package.model.run_fn.")
  try:
    spec = importlib.util.find_spec(module_name)
  except (ImportError, ValueError):
    spec = None  # a parent package that does not exist
  if spec is None or not spec.origin or not spec.origin.endswith(".py"):
    raise ModuleCodeError(
        f"{flag} {dotted}: no Python module {module_name!r} can be imported here; install the "
        "package that holds it (pip install -e .) or add its folder to PYTHONPATH.")
  with open(spec.origin, encoding="utf-8") as f:
    tree = ast.parse(f.read(), filename=spec.origin)
  if function not in _top_level_names(tree):
    raise ModuleCodeError(
        f"{flag} {dotted}: {spec.origin} defines no top-level {function!r}; check the name.")
  return spec.origin


def _top_level_names(tree: ast.Module):
  names = set()
  for node in tree.body:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
      names.add(node.name)
    elif isinstance(node, ast.Assign):
      names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target, ast.Name):
      names.add(node.target.id)
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
      names.update((a.asname or a.name).split(".")[0] for a in node.names)
  return names
