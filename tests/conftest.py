"""Shared pipeline runs: each is expensive (TensorFlow start-up, Beam, training), so one real run
serves every end-to-end assertion that reads its metadata and artifacts."""
import dataclasses
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass
class CompletedRun:
  workdir: str
  pipeline_name: str
  returncode: int
  output: str

  @property
  def paths(self):
    from trainguard.pipeline import results
    return results.RunPaths(self.workdir, self.pipeline_name)


def run_local_runner(workdir: str, *args: str) -> CompletedRun:
  """Runs the local runner as a user would (`python -m ...`), in its own process."""
  command = [sys.executable, "-m", "trainguard.pipeline.local_runner", "--workdir", workdir, *args]
  proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=1800)
  output = proc.stdout + proc.stderr
  with open(os.path.join(workdir, f"runner-{len(os.listdir(workdir))}.log"), "w") as f:
    f.write(output)
  return CompletedRun(workdir, "trainguard-penguins", proc.returncode, output)


@pytest.fixture(scope="session")
def penguins_workdir(tmp_path_factory):
  return str(tmp_path_factory.mktemp("penguins"))


@pytest.fixture(scope="session")
def penguins_run(penguins_workdir) -> CompletedRun:
  """The embedded default, run once with LocalDagRunner as `make run` does."""
  run = run_local_runner(penguins_workdir)
  assert run.returncode == 0, run.output[-5000:]
  return run


@pytest.fixture(scope="session")
def penguins_rerun(penguins_run) -> CompletedRun:
  """The same command again in the same work directory: cached executions should be reused."""
  run = run_local_runner(penguins_run.workdir)
  assert run.returncode == 0, run.output[-5000:]
  return run


@pytest.fixture(scope="session")
def blocked_run(tmp_path_factory) -> CompletedRun:
  """Every other penguins row (172, all three species) with one bill length written as the text
  'broken' on line 6 and one bill depth as 'inf' on line 10: the pre-flight and DataGuard must name
  both and stop the run."""
  from trainguard import schemas
  from trainguard.pipeline import datasets
  workdir = str(tmp_path_factory.mktemp("blocked"))
  data = os.path.join(workdir, "penguins.csv")
  with open(datasets.penguins_source_csv()) as f, open(data, "w") as out:
    lines = f.readlines()
    out.write(lines[0])
    for i, line in enumerate(lines[1::2]):
      cells = line.split(",")
      if i == 4:  # line 6 of the written file
        cells[2] = "broken"
      if i == 8:  # line 10: an infinity (a division by zero upstream)
        cells[3] = "inf"
      line = ",".join(cells)
      out.write(line)
  return run_local_runner(workdir, "--data", data, "--label", "species", "--schema",
                          schemas.schema_dir("penguins"))
