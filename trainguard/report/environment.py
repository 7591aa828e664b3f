"""The Jinja2 environment every page of the report renders in: the templates folder, autoescape,
and the filters the templates use. One place, so the run report and the notebook's findings table
(`tables`) format numbers, shares and anchors the same way."""
import os
from typing import Optional

import jinja2

from trainguard.report import charts, features
from trainguard.report.format import format_number, format_statistic

TEMPLATE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")


def environment() -> jinja2.Environment:
  env = jinja2.Environment(
      loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
      autoescape=True,
      undefined=jinja2.StrictUndefined,
      trim_blocks=True,
      lstrip_blocks=True,
      keep_trailing_newline=True)
  env.filters["num"] = format_number
  env.filters["stat"] = format_statistic
  env.filters["pct"] = _percent
  env.filters["seconds"] = _seconds
  env.filters["signed"] = _signed
  env.filters["anchor"] = features.anchor
  env.globals["split_color"] = charts.split_color
  env.globals["value_rows"] = features.value_rows
  return env


def _percent(value: Optional[float]) -> str:
  return "" if value is None else f"{value:.1%}"


def _seconds(value: Optional[float]) -> str:
  if value is None:
    return ""
  return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


def _signed(value: Optional[float]) -> str:
  if value is None:
    return ""
  return ("+" if value > 0 else "") + format_number(value)
