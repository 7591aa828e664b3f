"""trainguard: find and fix what stops a TensorFlow model from training well, as TFX components.

    from trainguard import DataGuard, Rebalance, Policy

The short names are resolved on first use (PEP 562), not here: `import trainguard` runs for every
CLI command, and the CLI rejects a bad flag or file before TensorFlow is imported. `Policy` is
TensorFlow-free; `DataGuard` and `Rebalance` import TFX (and, through it, TensorFlow and Beam).
"""

__version__ = "0.1.0"


def _checkout_root():
  """The checkout this folder is in, or None when installed (site-packages holds no setup.py).

  Why: in a checkout the package's other folders (components/, kubeflow/, models/, pipeline/,
  schemas/) are this folder's siblings, which setup.py's package_dir installs as `trainguard.*`.
  Run from the checkout's root (`python -m trainguard.kubeflow.kubeflow_v2_runner`), Python puts
  the working folder first on sys.path, so this folder is imported ahead of an installed package;
  an editable install maps the siblings, a wheel does not, and `trainguard.kubeflow` was not found.
  Adding the checkout to `__path__` maps them as setup.py does: all of trainguard from one tree.
  """
  import os  # pylint: disable=g-import-not-at-top
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  folders = ("components", "kubeflow", "models", "pipeline", "schemas")
  if os.path.isfile(os.path.join(root, "setup.py")) and all(
      os.path.isfile(os.path.join(root, f, "__init__.py")) for f in folders):
    return root
  return None


_CHECKOUT = _checkout_root()
if _CHECKOUT and _CHECKOUT not in __path__:
  __path__.append(_CHECKOUT)

# Public name -> the module that defines it, imported when the name is first asked for.
_PUBLIC = {
    "DataGuard": "trainguard.components.data_guard.component",
    "Rebalance": "trainguard.components.rebalance.component",
    "Policy": "trainguard.policy",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name):
  if name in _PUBLIC:
    import importlib  # pylint: disable=g-import-not-at-top
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value  # later look-ups skip this function
    return value
  raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
  return sorted(set(globals()) | set(_PUBLIC))
