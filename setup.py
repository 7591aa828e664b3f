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

setup(
    name="trainguard",
    version="0.1.0",
    description=(
        "TFX pipeline components that find and fix what stops a TensorFlow model from training "
        "well: missing values, dtype drift, unscaled features, leakage, class imbalance, skew."
    ),
    python_requires=">=3.10,<3.11",
    packages=list(_FOLDERS),
    package_dir=_FOLDERS,
    # Curated schemas and policies ship with the package so runners inside an image find them.
    package_data={"trainguard.schemas": ["*/*.pbtxt", "*/*.yaml"], "": ["*.md"],
                  "trainguard": ["report/templates/*.j2"]},
    # The exact pins live in requirements.lock (installed by `make`); these are the direct needs.
    install_requires=[
        "tfx==1.16.0",
        "tensorflow==2.16.2",
        "tensorflow-data-validation==1.16.1",
        "tensorflow-transform==1.16.0",
        "tfx-bsl==1.16.1",
        "ml-metadata==1.16.0",
        "tensorflow-model-analysis==0.47.1",
        "apache-beam[gcp]==2.59.0",
        "scikit-learn==1.5.1",
        "imbalanced-learn==0.12.4",
        "palmerpenguins",
        "kfp-pipeline-spec",
        "pyyaml",
        "jinja2",
        "matplotlib",
    ],
    entry_points={"console_scripts": ["trainguard=trainguard.cli:main"]},
    cmdclass={"build_py": _BuildPyWithoutTests},
)
