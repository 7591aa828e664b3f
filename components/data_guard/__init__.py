"""DataGuard: TFDV validation with environments, serving and previous-span statistics, as a gate.

The public name is `DataGuard` (`from trainguard.components.data_guard import DataGuard`), as
tfx-addons' `sampling/__init__.py` exports `Sampler`. It is imported on first use (PEP 562), not
here: the CLI and the pre-flight import `findings` from this package and must stay free of
TensorFlow and TFX, which `component.py` imports.
"""

__all__ = ["DataGuard"]


def __getattr__(name):
  if name == "DataGuard":
    from .component import DataGuard  # pylint: disable=g-import-not-at-top
    return DataGuard
  raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
