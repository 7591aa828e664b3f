"""Checks that this Python environment can run every step of a compiled spec, as the image must.

    python -m trainguard.kubeflow.spec_check kubeflow/build/pipeline.json kubeflow/build/pipeline.yaml

Run it with the image's interpreter (the Dockerfile does, at build time; the tests do in a fresh venv
holding only the lock and the built wheel). For every step of the spec (a PipelineJob JSON or a
PipelineSpec YAML) it imports what the container will import: the entrypoint modules (`python -m
...`, and the driver of a pre-cache check), the `--executor_class_path` class, the class of every
artifact type, and every function named by module path in a parameter (`preprocessing_fn`,
`run_fn`, ...). It also fails if a step would install a wheel at run time (`module_file`, anything
under `<pipeline_root>/_wheels`), names a file under the image's site-packages that this
environment does not hold (the curated schema), or names a path of the machine that compiled it: an
absolute local path, a `file://` URI or a relative file path in any step's parameter (a
`schema_file` of ImportSchemaGen, a `module_file`, a Pusher's `base_directory`, ...) or in a runtime
parameter's default. Such a path is read or written inside the step's container, where it does not
exist (or is lost with the pod): put the file in the bucket (`gs://...`) or ship it in the image.
Paths under `--image-path` (a folder the image or a mounted volume provides) are accepted.
Exit status 1 lists each problem.
"""
import argparse
import dataclasses
import importlib
import json
import os
import re
import sys
import sysconfig
from typing import Any, Dict, Iterator, List, Tuple

import yaml

# A parameter naming a Python object of the packages the image runs, e.g. trainguard.models.x.fn.
_OBJECT_PATH = re.compile(r"^(trainguard|tfx)(\.[A-Za-z_][A-Za-z0-9_]*)+$")
_RUNTIME_WHEEL_PARAMETERS = ("module_file", "module_path")
# A remote location the step reads through tf.io.gfile or the platform (gs://, s3://, hdfs://...).
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# A relative path to a file: folders, then a name with an extension (schemas/x/schema.pbtxt).
_RELATIVE_FILE = re.compile(r"^(\.{1,2}/)?([\w.-]+/)+[\w-]+\.[A-Za-z0-9]{1,8}$")
# Keys of a JSON-valued parameter that hold a location (push_destination's base_directory, ...);
# other strings in JSON (a policy's informational `source`, a description) are not locations.
_LOCATION_KEY = re.compile(r"(^|_)(dir|directory|path|file|root|uri|location)$")


@dataclasses.dataclass
class Report:
  checked: Dict[str, List[str]] = dataclasses.field(default_factory=dict)  # kind -> names
  problems: List[str] = dataclasses.field(default_factory=list)

  def add(self, kind: str, name: str) -> None:
    if name not in self.checked.setdefault(kind, []):
      self.checked[kind].append(name)


def load_spec(path: str) -> Dict[str, Any]:
  """The PipelineSpec as a dict, from a PipelineJob JSON or a PipelineSpec YAML."""
  with open(path, encoding="utf-8") as f:
    data = json.load(f) if path.endswith(".json") else yaml.safe_load(f)
  return data.get("pipelineSpec", data)


def containers(spec: Dict[str, Any]) -> Iterator[Tuple[str, Dict[str, Any]]]:
  for label, executor in sorted(spec["deploymentSpec"]["executors"].items()):
    if "container" in executor:
      yield label, executor["container"]


def executor_class_path(container: Dict[str, Any]) -> str:
  args = container.get("args", [])
  return args[args.index("--executor_class_path") + 1] if "--executor_class_path" in args else ""


def task_parameters(spec: Dict[str, Any]) -> Iterator[Tuple[str, str, Any]]:
  """(task, parameter, constant value) of every task of the root DAG."""
  for task_name, task in sorted(spec["root"]["dag"]["tasks"].items()):
    for name, value in sorted(task.get("inputs", {}).get("parameters", {}).items()):
      if "runtimeValue" in value:
        yield task_name, name, value["runtimeValue"].get("constant")


def _snake(key: str) -> str:
  return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key).lower()


def _json(text: str) -> Any:
  """The JSON object or list a string parameter holds (None if it holds none)."""
  if text.strip()[:1] not in ("{", "["):
    return None
  try:
    return json.loads(text)
  except ValueError:
    return None


def _locations(value: Any, key: str = "") -> Iterator[Tuple[str, str]]:
  """(key path, string) of what a parameter value names where a location goes: the whole value
  if a plain string, else the strings under location keys of its JSON (nested JSON included)."""
  if isinstance(value, str):
    parsed = _json(value)
    if parsed is not None:
      yield from _locations(parsed, key)
    elif not key or _LOCATION_KEY.search(_snake(re.sub(r"(\[\d+\])+$", "", key).rsplit(".")[-1])):
      yield key, value
  elif isinstance(value, dict):
    for k, v in sorted(value.items()):
      yield from _locations(v, f"{key}.{k}" if key else str(k))
  elif isinstance(value, list):
    for i, v in enumerate(value):
      yield from _locations(v, f"{key}[{i}]")


def local_path_problem(value: str, accepted: Tuple[str, ...]) -> str:
  """Why `value` names the compiling machine's disk (empty if it does not, or is under one of the
  `accepted` folders the image provides)."""
  if any(value == a or value.startswith(a.rstrip("/") + "/") for a in accepted):
    return ""
  if value.startswith("file://"):
    return "is a file:// URI of the machine that compiled the spec"
  if _URI.match(value):
    return ""
  if value.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", value):
    return "is an absolute path of the machine that compiled the spec"
  if _RELATIVE_FILE.match(value):
    return "is a relative path, read against the step container's working folder"
  return ""


def root_parameter_defaults(spec: Dict[str, Any]) -> Iterator[Tuple[str, Any]]:
  for name, definition in sorted(spec["root"].get("inputDefinitions", {}).get(
      "parameters", {}).items()):
    if "defaultValue" in definition:
      yield name, definition["defaultValue"]


def _module_of(command: List[str]) -> str:
  return command[command.index("-m") + 1] if "-m" in command else ""


def _import_object(path: str) -> Any:
  """Imports `a.b.c` as module `a.b.c`, else attribute `c` of module `a.b` (and so on)."""
  parts = path.split(".")
  for i in range(len(parts), 0, -1):
    try:
      obj = importlib.import_module(".".join(parts[:i]))
    except ModuleNotFoundError as e:
      if e.name and not ".".join(parts[:i]).startswith(e.name):
        raise  # the module exists but one of its own imports is missing
      continue
    for attr in parts[i:]:
      obj = getattr(obj, attr)
    return obj
  raise ModuleNotFoundError(f"no module in {path!r}")


def check(spec: Dict[str, Any], image_site_packages: str,
          image_paths: Tuple[str, ...] = ()) -> Report:
  """What would fail in the container; `image_paths`: folders the image (or a volume) provides."""
  from tfx.orchestration.kubeflow.v2 import compiler_utils  # pylint: disable=g-import-not-at-top
  report = Report()

  def try_import(kind, name, where):
    report.add(kind, name)
    try:
      _import_object(name)
    except Exception as e:  # pylint: disable=broad-except
      report.problems.append(f"{where}: {kind} {name!r} does not import here: "
                             f"{type(e).__name__}: {e}")

  for label, container in containers(spec):
    for command in (container.get("command", []),
                    container.get("lifecycle", {}).get("preCacheCheck", {}).get("command", [])):
      if command:
        if not _module_of(command):
          report.problems.append(f"{label}: command {command} runs no Python module")
        else:
          try_import("entrypoint module", _module_of(command), label)
    if "--executor_class_path" in container.get("args", []):
      try_import("executor class", executor_class_path(container), label)
    elif container.get("command"):
      report.problems.append(f"{label}: no --executor_class_path in {container.get('args')}")

  for name, component in sorted(spec["components"].items()):
    for side in ("inputDefinitions", "outputDefinitions"):
      for artifact in component.get(side, {}).get("artifacts", {}).values():
        title = yaml.safe_load(artifact["artifactType"]["instanceSchema"])["title"]
        try_import("artifact class", compiler_utils.TITLE_TO_CLASS_PATH.get(title, title), name)

  here = sysconfig.get_paths()["purelib"]
  for task, parameter, value in task_parameters(spec):
    where = f"{task}.{parameter}"
    if parameter in _RUNTIME_WHEEL_PARAMETERS:
      report.problems.append(f"{where}: installs user code at run time; name the function by "
                             "module path of the installed package instead (e.g. run_fn)")
    if isinstance(value, str) and _OBJECT_PATH.match(value):
      try_import("function or class", value, where)
    if isinstance(value, str) and value.startswith(image_site_packages.rstrip("/") + "/"):
      local = os.path.join(here, os.path.relpath(value, image_site_packages))
      report.add("file in the image", value)
      if not os.path.isfile(local):
        report.problems.append(f"{where}: {value} is not in this environment ({local} missing)")
  accepted = (image_site_packages, *image_paths)
  located = [(f"{task}.{parameter}", value) for task, parameter, value in task_parameters(spec)]
  located += [(f"runtime parameter {name} (default)", value)
              for name, value in root_parameter_defaults(spec)]
  for where, value in located:
    for key, path in _locations(value):
      why = local_path_problem(path, accepted)
      if why:
        report.problems.append(
            f"{where}{'.' + key if key else ''}: {path} {why}; it does not exist in the step's "
            "container: put it in the bucket (gs://...) or ship it in the image (package data "
            "under site-packages), or pass --image-path if the image provides that folder")
  if "_wheels" in json.dumps(spec):
    report.problems.append("the spec names <pipeline_root>/_wheels: a step would pip-install a "
                           "wheel built at compile time; drop module_file")
  return report


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
  parser.add_argument("specs", nargs="+", metavar="SPEC",
                      help="pipeline.json (PipelineJob) or pipeline.yaml (PipelineSpec)")
  parser.add_argument("--json", action="store_true", help="print {spec: report} as JSON")
  parser.add_argument("--image-path", action="append", default=[], metavar="FOLDER",
                      help="a folder the image or a mounted volume provides: local paths under "
                      "it are accepted (repeat)")
  args = parser.parse_args(argv)
  from trainguard.kubeflow import kubeflow_v2_runner  # pylint: disable=g-import-not-at-top
  reports = {path: check(load_spec(path), kubeflow_v2_runner.IMAGE_SITE_PACKAGES,
                         tuple(args.image_path))
             for path in args.specs}
  if args.json:
    print(json.dumps({p: dataclasses.asdict(r) for p, r in reports.items()}, indent=1,
                     sort_keys=True))
  else:
    for path, report in reports.items():
      for kind, names in sorted(report.checked.items()):
        print(f"{path}: {kind}: {len(names)} checked")
      for problem in report.problems:
        print(f"{path}: PROBLEM: {problem}", file=sys.stderr)
      print(f"{path}: {'OK' if not report.problems else f'{len(report.problems)} problem(s)'}")
  return 1 if any(r.problems for r in reports.values()) else 0


if __name__ == "__main__":
  sys.exit(main())
