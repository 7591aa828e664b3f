"""Shared fixtures of the model-code tests."""
import pytest

from trainguard.models import fixtures


@pytest.fixture(scope="session")
def transform_run(tmp_path_factory) -> fixtures.TransformRun:
  """One Beam run of the generated preprocessing_fn, shared by every test that needs one."""
  return fixtures.run_transform(str(tmp_path_factory.mktemp("transform")))


@pytest.fixture(scope="session")
def value_fixes_run(tmp_path_factory) -> fixtures.TransformRun:
  """One Beam run on the value-fixes data (policy `missing_values` and `clip`)."""
  return fixtures.run_value_fixes(str(tmp_path_factory.mktemp("value_fixes")))


@pytest.fixture(scope="session")
def defect_fixes_run(tmp_path_factory) -> fixtures.TransformRun:
  """One Beam run on the real-world-defects data (policy `normalize`)."""
  return fixtures.run_defect_fixes(str(tmp_path_factory.mktemp("defect_fixes")))
