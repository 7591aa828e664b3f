"""Fixtures every test folder shares.

`without_heavy_imports`: the TensorFlow-free contract. The pre-flight, the CLI's rejections, the
policy, Transform's plan, schema review and Rebalance's planning must run without importing
TensorFlow, TFX or Beam (each costs 10-20 s of start-up on these 2 cores, and a bad flag must fail in
well under a second). The check runs in a fresh interpreter, so nothing an earlier test imported
hides an import; before, each test module spelt its own copy of it.

Workers: `make test` runs the suite on 2 pytest-xdist workers (`--dist loadgroup`). Each worker
builds the session fixtures its tests ask for, so every test that reads one shared pipeline run
(`SHARED_RUNS`) is sent to one worker and the run is made once; the Kubeflow tests and the
adopting test, which build the wheel inside the checkout (`build/`, `*.egg-info`), share a worker
so two builds never write there at once; any other module's tests stay together, so a
module-scoped fixture is made once too.

`_frozen_heap`: once TensorFlow, TFX and Beam are imported, a test process holds about 900,000
tracked objects, and every full collection of Python's cyclic garbage collector walks them all.
The pre-flight's property test (many small objects) took 114 s in such a process and 27 s with
those objects frozen (`gc.freeze`), 35 s in a fresh one. So each test module starts with the heap
collected and frozen, and unfreezes it when it ends (garbage from a module is collected after it).
"""
import gc
import os
import subprocess
import sys
from typing import Sequence

import pytest

# Session fixtures that run a pipeline (tests/conftest.py, models/conftest.py, kubeflow/conftest.py):
# tests asking for one of them share a worker (a group may hold several runs that one test reads).
SHARED_RUNS = {
    "penguins_workdir": "penguins_run", "penguins_run": "penguins_run",
    "penguins_rerun": "penguins_run", "blocked_run": "penguins_run",  # one test reads both
    "transform_run": "transform_run", "value_fixes_run": "value_fixes_run",
    "defect_fixes_run": "defect_fixes_run",
}
# Tests that build the wheel in the checkout (pip wheel of the source tree writes build/ there).
IN_TREE_WHEEL_BUILDS = ("kubeflow/", "tests/adopting_e2e_test.py")

@pytest.fixture(scope="module", autouse=True)
def _frozen_heap():
  if os.environ.get("TRAINGUARD_TEST_GC_FREEZE", "1") == "0":  # to measure without it
    yield
    return
  gc.collect()
  gc.freeze()
  yield
  gc.unfreeze()


HEAVY = ("tensorflow", "tensorflow_data_validation", "tensorflow_transform", "apache_beam", "tfx")


def _run_without(code: str, heavy: Sequence[str] = HEAVY) -> subprocess.CompletedProcess:
  check = (f"\nimport sys as _sys\n_heavy = sorted({{m.split('.')[0] for m in _sys.modules}} & "
           f"set({tuple(heavy)!r}))\nassert not _heavy, f'imported: {{_heavy}}'\n")
  proc = subprocess.run([sys.executable, "-c", code + check], capture_output=True, text=True,
                        timeout=120)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return proc


@pytest.fixture
def without_heavy_imports():
  """`without_heavy_imports(code, heavy=HEAVY)`: runs `code` in a fresh Python and fails if it
  raises or if any module in `heavy` was imported; returns the finished process."""
  return _run_without


def worker_group(nodeid: str, fixturenames: Sequence[str]) -> str:
  """The xdist group of a test: see the module docstring."""
  path = nodeid.split("::")[0]
  if path.startswith(IN_TREE_WHEEL_BUILDS):
    return "in_tree_wheel_builds"
  for name in fixturenames:
    if name in SHARED_RUNS:
      return SHARED_RUNS[name]
  return path


@pytest.hookimpl(tryfirst=True)  # before xdist reads the marks into the node ids
def pytest_collection_modifyitems(config, items):
  del config
  for item in items:
    item.add_marker(pytest.mark.xdist_group(worker_group(item.nodeid, item.fixturenames)))
