"""Fixtures every test folder shares.

`without_heavy_imports`: the TensorFlow-free contract. The pre-flight, the CLI's rejections, the
policy, Transform's plan, schema review and Rebalance's planning must run without importing
TensorFlow, TFX or Beam (each costs 10-20 s of start-up on these 2 cores, and a bad flag must fail in
well under a second). The check runs in a fresh interpreter, so nothing an earlier test imported
hides an import; before, each test module spelt its own copy of it.

Workers: `make test` runs the suite on 2 pytest-xdist workers, a test module on one worker
(`--dist loadfile`), so a module-scoped fixture is made once; a session-scoped pipeline run that
tests of several modules read is made once per worker that needs it. (`--dist loadgroup` would have
grouped those too, but pytest-xdist 3.8 names a group by rewriting `item._nodeid`, which pytest 9
no longer reads: every test was scheduled alone, and a module's fixture made on both workers; CI
took 2,312 s.) Two builds of the wheel from the checkout (`pip wheel`, which writes `build/` in
it) take `trainguard.kubeflow.conftest.wheel_build_lock()` first: the adopting test and the
Kubeflow image may build at once.

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
