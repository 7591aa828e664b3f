"""trainguard as a package: the wheel's metadata and files, its requirements against the lock, and
the short public imports. TensorFlow-free; the wheel is built from a copy of the checkout, offline.

A real resolve of the wheel's requirements alone needs the package index, which the tests do not
reach; instead each requirement must admit the lock's pin (so requirements.lock, which uv resolved,
is one solution of them) and the packages whose newest releases break this stack must be bounded.
"""
import email.parser
import os
import re
import shutil
import subprocess
import sys
import zipfile

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import trainguard

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Their newest releases break this stack: kfp-pipeline-spec >= 0.3 needs a newer protobuf than TFX
# 1.16 runs on, setuptools 81 removed pkg_resources (tensorflow_hub imports it), TensorFlow 2.16 is
# built against numpy 1.
MUST_BE_BOUNDED = ("kfp-pipeline-spec", "protobuf", "setuptools", "numpy")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
  """The wheel `pip wheel .` builds, with the venv's setuptools (no index, no isolation)."""
  source = tmp_path_factory.mktemp("source") / "trainguard"
  shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
      ".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", "outputs"))
  out = tmp_path_factory.mktemp("dist")
  proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                         "--no-index", "-q", str(source), "-w", str(out)],
                        capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  (path,) = out.glob("trainguard-*.whl")
  return zipfile.ZipFile(path)


def _metadata(wheel):
  name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
  return email.parser.Parser().parsestr(wheel.read(name).decode("utf-8"))


def _lock_pins():
  pins = {}
  with open(os.path.join(ROOT, "requirements.lock"), encoding="utf-8") as f:
    for line in f:
      match = re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s;]+)", line)
      if match:
        pins[canonicalize_name(match.group(1))] = match.group(2)
  return pins


def test_the_wheel_carries_full_metadata_and_one_version(wheel):
  meta = _metadata(wheel)
  assert meta["Name"] == "trainguard" and meta["Version"] == trainguard.__version__
  assert meta["Author"] == "trainguard authors" and meta["License"] == "Apache-2.0"
  assert meta["Requires-Python"] and meta["Summary"]
  assert meta["Description-Content-Type"] == "text/markdown"
  with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
    assert meta.get_payload().strip() == f.read().strip()  # the long description is the README
  (license_file,) = [n for n in wheel.namelist() if n.endswith("dist-info/licenses/LICENSE")]
  text = wheel.read(license_file).decode("utf-8")
  assert "Apache License" in text and "Version 2.0, January 2004" in text
  assert "END OF TERMS AND CONDITIONS" in text  # the full text, not a pointer to it
  entry_points = next(n for n in wheel.namelist() if n.endswith("dist-info/entry_points.txt"))
  assert "trainguard = trainguard.cli:main" in wheel.read(entry_points).decode("utf-8")


def test_every_requirement_admits_the_lock_pin_and_the_risky_ones_are_bounded(wheel):
  pins = _lock_pins()
  requirements = [Requirement(r) for r in _metadata(wheel).get_all("Requires-Dist")]
  names = {canonicalize_name(r.name) for r in requirements}
  assert "palmerpenguins" not in names  # the default data ships as a file
  assert set(MUST_BE_BOUNDED) <= names
  for requirement in requirements:
    name = canonicalize_name(requirement.name)
    assert name in pins, f"{name} is not in requirements.lock: `make lock` after changing it"
    assert requirement.specifier.contains(pins[name], prereleases=True), (
        f"{requirement} does not admit the lock's {name}=={pins[name]}")
    assert str(requirement.specifier), f"{name} has no version range at all"
    if name in MUST_BE_BOUNDED:
      assert any(s.operator in ("<", "<=", "==", "~=") for s in requirement.specifier), (
          f"{requirement} has no upper bound")


def test_the_wheel_ships_the_default_data_the_docs_and_no_tests(wheel):
  files = set(wheel.namelist())
  assert "trainguard/pipeline/penguins.csv" in files
  assert {"trainguard/docs/policy.md", "trainguard/components/data_guard/README.md",
          "trainguard/schemas/penguins/policy.yaml"} <= files
  assert not [f for f in files if f.endswith("_test.py") or f.endswith("conftest.py")]
  # The DataGuard README's links to the docs resolve inside the installed package.
  readme = wheel.read("trainguard/components/data_guard/README.md").decode("utf-8")
  for link in set(re.findall(r"\]\((\.\./[^)#]+)", readme)):
    target = os.path.normpath(os.path.join("trainguard/components/data_guard", link))
    assert target in files, link


def test_the_default_run_reads_the_shipped_penguins_csv(without_heavy_imports):
  proc = without_heavy_imports(
      "from trainguard.pipeline import datasets\n"
      "path = datasets.penguins_source_csv()\n"
      "lines = open(path).read().splitlines()\n"
      "assert lines[0].startswith('species,island,bill_length_mm'), lines[0]\n"
      "print(path, len(lines) - 1)\n", heavy=("palmerpenguins", "tensorflow"))
  path, rows = proc.stdout.split()
  assert path.endswith(os.path.join("pipeline", "penguins.csv")) and rows == "344"


def test_short_public_imports_are_lazy_and_policy_is_tensorflow_free():
  code = "import trainguard, sys; trainguard.Policy; assert 'tensorflow' not in sys.modules"
  proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
  assert proc.returncode == 0, proc.stderr[-2000:]
  from trainguard.policy import Policy  # pylint: disable=g-import-not-at-top
  assert trainguard.Policy is Policy
  assert {"DataGuard", "Rebalance", "Policy"} <= set(dir(trainguard))
  with pytest.raises(AttributeError, match="has no attribute 'DataGaurd'"):
    trainguard.DataGaurd  # pylint: disable=pointless-statement
