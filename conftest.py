"""Fixtures every test folder shares.

`without_heavy_imports`: the TensorFlow-free contract. The pre-flight, the CLI's rejections, the
policy, Transform's plan, schema review and Rebalance's planning must run without importing
TensorFlow, TFX or Beam (each costs 10-20 s of start-up on these 2 cores, and a bad flag must fail in
well under a second). The check runs in a fresh interpreter, so nothing an earlier test imported
hides an import; before, each test module spelt its own copy of it.
"""
import subprocess
import sys
from typing import Sequence

import pytest

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
