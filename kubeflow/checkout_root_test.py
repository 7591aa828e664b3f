"""`python -m trainguard.kubeflow.kubeflow_v2_runner` from the checkout's root, without an editable
install (trainguard/__init__.py's `_checkout_root`).

From the root, Python imports the checkout's `trainguard/` folder ahead of any installed package;
its siblings (kubeflow/, pipeline/, ...) must then resolve as `trainguard.*` from the same tree.
Two ways of proving it:
- cheap, always: this venv's interpreter with the editable install's finder removed from
  `sys.meta_path`, which is what a non-editable install looks like from the root;
- real, when uv is there (the `image_env` fixture, shared with container_test.py): the venv that
  holds only the lock and the built wheel, compiling the pipeline from the checkout's root.
"""
import ast
import os
import subprocess
import sys

import yaml

from trainguard.kubeflow.conftest import IMAGE, REPO

# Run by `python -c` (like `-m`, the working folder first on sys.path) without the editable finder.
_WITHOUT_EDITABLE_FINDER = """
import runpy, sys
sys.meta_path[:] = [f for f in sys.meta_path if "_EditableFinder" not in getattr(f, "__name__", "")]
import trainguard.pipeline
print("pipeline:", trainguard.pipeline.__file__)
sys.argv = ["kubeflow_v2_runner", "--help"]
runpy.run_module("trainguard.kubeflow.kubeflow_v2_runner", run_name="__main__", alter_sys=True)
"""


def _env():
  return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TRAINGUARD_IMAGE")}


def test_the_runner_runs_from_the_root_without_the_editable_finder():
  proc = subprocess.run([sys.executable, "-c", _WITHOUT_EDITABLE_FINDER], cwd=REPO, env=_env(),
                        capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert f"pipeline: {os.path.join(REPO, 'pipeline', '__init__.py')}" in proc.stdout
  assert "usage: kubeflow_v2_runner" in proc.stdout and "--image" in proc.stdout


def test_without_the_mapping_the_root_shadows_the_package():
  """What broke before (and what `_checkout_root` undoes): the checkout's folder has no kubeflow."""
  code = ("import sys; sys.meta_path[:] = [f for f in sys.meta_path if '_EditableFinder' not in "
          "getattr(f, '__name__', '')]; import trainguard; "
          "trainguard.__path__[:] = [p for p in trainguard.__path__ if p.endswith('trainguard')]; "
          "import trainguard.kubeflow")
  proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=_env(), capture_output=True,
                        text=True, timeout=120)
  assert proc.returncode == 1
  assert "ModuleNotFoundError: No module named 'trainguard.kubeflow'" in proc.stderr


def test_the_runner_compiles_from_the_root_with_the_wheel_installed(image_env, tmp_path):
  out = str(tmp_path / "spec")
  proc = subprocess.run([image_env.python, "-m", "trainguard.kubeflow.kubeflow_v2_runner",
                         "--image", IMAGE, "--output-dir", out], cwd=REPO, env=image_env.env(),
                        capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  with open(os.path.join(out, "pipeline.yaml"), encoding="utf-8") as f:
    assert yaml.safe_load(f)["pipelineInfo"]["name"]
  # Installed, the package maps nothing: site-packages holds no checkout.
  proc = subprocess.run([image_env.python, "-c", "import trainguard; print(trainguard.__path__)"],
                        cwd=str(tmp_path), env=image_env.env(), capture_output=True, text=True,
                        timeout=120)
  assert proc.returncode == 0, proc.stderr
  paths = ast.literal_eval(proc.stdout.strip())
  assert len(paths) == 1 and "site-packages" in paths[0] and REPO not in paths[0]
