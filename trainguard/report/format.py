"""Display text for numbers, shared by the report's template filters and the evaluation's
failure reasons."""
import math
from typing import Optional


def format_number(value: Optional[float]) -> str:
  """"1,234" for whole numbers, else 4 significant digits; "" for None; inf and nan as written."""
  if value is None:
    return ""
  if isinstance(value, float) and not math.isfinite(value):
    return str(value)
  if isinstance(value, int) or float(value).is_integer() and abs(value) < 1e15:
    return f"{int(value):,}"
  return f"{value:.4g}"


def format_statistic(value: Optional[float]) -> str:
  """A feature's mean, std or bound as a person reads it: "24,646" rather than "2.465e+04" from
  a thousand up, else `format_number`; "" for None."""
  if value is not None and math.isfinite(value) and 1e3 <= abs(value) < 1e15:
    return f"{value:,.0f}"
  return format_number(value)
