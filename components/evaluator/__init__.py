"""Evaluator: TFX's Evaluator, whose blessing also requires a model free of blocking training
findings. Imported on first use, so importing the package stays cheap."""

__all__ = ["Evaluator"]


def __getattr__(name):
  if name == "Evaluator":
    from trainguard.components.evaluator.component import Evaluator  # pylint: disable=g-import-not-at-top
    return Evaluator
  raise AttributeError(name)
