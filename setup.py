"""trainguard: TFX components that find and fix what stops a TensorFlow model from training well.

Why one import name: the checkout keeps the taxi-template layout (`pipeline/`, `components/`,
`models/`, `schemas/`, `kubeflow/` at the top level), but those generic names collide with other
TFX-template projects installed in the same environment. `package_dir` installs every folder under
`trainguard.*`, so the same import path (`trainguard.models.preprocessing.preprocessing_fn`) works
from an editable checkout, from the built wheel, and inside the Kubeflow image.
"""
import os

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py


class _BuildPyWithoutTests(build_py):
  """Tests live beside the code (`*_test.py`, `conftest.py`); the wheel and the image need none."""

  def find_package_modules(self, package, package_dir):
    return [(pkg, module, path) for pkg, module, path in super().find_package_modules(
        package, package_dir) if not (module.endswith("_test") or module == "conftest")]

_TOP = ("pipeline", "components", "models", "schemas", "kubeflow")
_FOLDERS = {"trainguard": "trainguard"}
for _sub in find_packages("trainguard", exclude=["*_test"]):
  _FOLDERS[f"trainguard.{_sub}"] = os.path.join("trainguard", *_sub.split("."))
for _top in _TOP:
  _FOLDERS[f"trainguard.{_top}"] = _top
  for _sub in find_packages(_top, exclude=["*_test", "*.testdata"]):
    _FOLDERS[f"trainguard.{_top}.{_sub}"] = os.path.join(_top, *_sub.split("."))

# docs/ installs as trainguard/docs/ (markdown only): the READMEs link `../../docs/policy.md`,
# which then resolves beside them in site-packages as it does in the checkout.
_FOLDERS["trainguard.docs"] = "docs"

# Metadata, dependencies and the console script are in pyproject.toml; the layout is here.
setup(
    packages=list(_FOLDERS),
    package_dir=_FOLDERS,
    # Curated schemas and policies ship with the package so runners inside an image find them;
    # the default run's penguins CSV ships as a file (no data package at run time).
    package_data={"trainguard.schemas": ["*/*.pbtxt", "*/*.yaml"], "": ["*.md"],
                  "trainguard": ["report/templates/*.j2"],
                  "trainguard.pipeline": ["penguins.csv"]},
    cmdclass={"build_py": _BuildPyWithoutTests},
)
