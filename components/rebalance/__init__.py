"""Rebalance: fixes class imbalance in transformed examples with imbalanced-learn, on Beam.

The public name is `Rebalance` (`from trainguard.components.rebalance import Rebalance`), as
tfx-addons' `sampling/__init__.py` exports `Sampler`. It is imported on first use (PEP 562), not
here: DataGuard's findings import `plan` from this package to word their CLASS_IMBALANCE fix and
must stay free of TensorFlow and TFX, which `component.py` imports (through the executor, also Beam,
tf.Transform and scikit-learn).
"""

__all__ = ["Rebalance"]


def __getattr__(name):
  if name == "Rebalance":
    from .component import Rebalance  # pylint: disable=g-import-not-at-top
    return Rebalance
  raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
