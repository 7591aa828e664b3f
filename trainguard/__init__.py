"""trainguard: find and fix what stops a TensorFlow model from training well, as TFX components.

    from trainguard import DataGuard, Rebalance, Policy

The short names are resolved on first use (PEP 562), not here: `import trainguard` runs for every
CLI command, and the CLI rejects a bad flag or file before TensorFlow is imported. `Policy` is
TensorFlow-free; `DataGuard` and `Rebalance` import TFX (and, through it, TensorFlow and Beam).
"""

__version__ = "0.1.0"

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
