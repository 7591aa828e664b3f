"""trainguard: find and fix what stops a TensorFlow model from training well, as TFX components."""

__version__ = "0.1.0"
