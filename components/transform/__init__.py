"""Transform: TFX's Transform component with a fixed batch size, so reruns learn the same values."""
from trainguard.components.transform.component import Transform

__all__ = ["Transform"]
