"""`datetime: parts` of a text feature: a date/time column expanded into numbers, in the graph.

Why: as a category a date is noise (every day its own vocabulary id, no order, nothing learned
about a day the train split never had); its parts (year, month, day of month, day of week, hour)
are numbers a model can use. Why with tf.strings ops in the Transform graph: the serving signature
runs the same parse, so a request's date gives exactly the parts training saw, with no parser
outside the model to keep in step.

What is parsed: the formats DataGuard's `DATETIME_COLUMN` recognises
(`components/data_guard/value_findings.py` `DATETIME_FORMATS`, strptime's), each rewritten as an
RE2 pattern with strptime's own field patterns (`%m` is `1[0-2]|0[1-9]|[1-9]`, a space matches any
run of white space, case is ignored, 6 to 40 characters once trimmed), and then checked as
strptime checks them (a day that the month does not have, year 0: not a date). The test holds the
graph's result equal to `datetime.strptime` on a list of values. Two differences, both stated:
- `04/03/2021`, day or month first: DataGuard tries the formats that earlier values parsed with
  first, so its reading can follow the column's order; the graph reads `parts` day first and
  `parts_month_first` month first, and either takes the other reading when the first is not a
  date (`03/25/2021` is 25 March under `parts` too).
- Only ASCII digits (Python's `\\d` also takes other scripts' digits; RE2's does not).
The hour is what the value says (a `+01:00` or `Z` zone is parsed, not applied); a value without a
time has no hour (missing, imputed). Day of week: Monday 0 … Sunday 6, as `date.weekday()`.
"""
from typing import Dict, Tuple

import tensorflow as tf

from trainguard import policy_format
from trainguard.models import text_normalization

PARTS = policy_format.DATETIME_PARTS
ORDERS = policy_format.DATETIME_ORDERS

_S = "[" + text_normalization.SPACE_CHARACTERS + "]+"  # strptime: a space matches \s+
_Y = r"(\d\d\d\d)"
_M = r"(1[0-2]|0[1-9]|[1-9])"
_D = r"(3[01]|[12]\d|0[1-9]|[1-9]| [1-9])"
_H = r"(2[0-3]|[0-1]\d|\d)"
_MIN = r"(?:[0-5]\d|\d)"
_SEC = r"(?:[0-5]\d|\d)"
_ZONE = r"(?:[+-]\d\d:?[0-5]\d(?::?[0-5]\d(?:\.\d{1,6})?)?|(?-i:Z))"
_NAME = r"([a-z]+)"  # checked against MONTH_NAMES below (strptime's %b and %B, English)
MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
               "january", "february", "march", "april", "may", "june", "july", "august",
               "september", "october", "november", "december")


def _time(zone: bool, fraction: bool) -> str:
  """An optional time after the date: H:M[:S[.f]][zone] (group: the hour)."""
  seconds = f"(?::{_SEC}" + (r"(?:\.\d{1,6})?" if fraction else "") + ")?"
  return f"(?:(?:T|{_S}){_H}:{_MIN}{seconds}" + (f"{_ZONE}?" if zone else "") + ")?"


def _formats(month_first: bool):
  """(RE2 pattern, rewrite to 'year|month|day|hour') per format, in the order tried."""
  slash_time = f"(?:{_S}{_H}:{_MIN}(?::{_SEC})?)?"
  day_first = (f"{_D}/{_M}/{_Y}{slash_time}", r"\3|\2|\1|\4")
  month_first_ = (f"{_M}/{_D}/{_Y}{slash_time}", r"\3|\1|\2|\4")
  return [
      (f"{_Y}-{_M}-{_D}" + _time(zone=True, fraction=True), r"\1|\2|\3|\4"),
      (f"{_Y}/{_M}/{_D}" + f"(?:{_S}{_H}:{_MIN}(?::{_SEC})?)?", r"\1|\2|\3|\4"),
      *((month_first_, day_first) if month_first else (day_first, month_first_)),
      (f"{_D}\\.{_M}\\.{_Y}", r"\3|\2|\1|"),
      (f"{_D}{_S}{_NAME}{_S}{_Y}", r"\3|\2|\1|"),
      (f"{_NAME}{_S}{_D},{_S}{_Y}", r"\3|\1|\2|"),
      (f"{_D}-{_NAME}-{_Y}", r"\3|\2|\1|"),
  ]


def parse(values: tf.Tensor, present: tf.Tensor,
          order: str = "parts") -> Tuple[Dict[str, tf.Tensor], Dict[str, tf.Tensor]]:
  """The parts of `values` (string `[batch, 1]`) as float32 `[batch, 1]` each, and where each part
  is known: where `present` and the value is a date (the hour only where it has a time)."""
  if order not in ORDERS:
    raise ValueError(f"datetime is {order!r}; use one of {', '.join(ORDERS)}.")
  flat = tf.reshape(values, [-1])
  text = tf.strings.regex_replace(flat, f"^{_S}|{_S}$", "")
  short_enough = tf.strings.regex_full_match(text, ".{6,40}")
  matched = tf.zeros_like(short_enough)
  fields = tf.fill(tf.shape(text), "0|0|0|")
  for pattern, rewrite in reversed(_formats(order == "parts_month_first")):
    pattern = "(?i)" + pattern
    hit = tf.strings.regex_full_match(text, pattern)
    fields = tf.where(hit, tf.strings.regex_replace(text, "^" + pattern + "$", rewrite), fields)
    matched = tf.logical_or(matched, hit)
  columns = tf.strings.split(fields, "|").to_tensor(default_value="", shape=[None, 4])
  year, day = _number(columns[:, 0]), _number(columns[:, 2])
  month = tf.where(tf.strings.regex_full_match(columns[:, 1], r"\d+"), _number(columns[:, 1]),
                   _month_of_name(columns[:, 1]))
  has_time = tf.strings.regex_full_match(columns[:, 3], r"\d+")
  hour = _number(columns[:, 3])
  valid = (matched & short_enough & (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1)
           & (day <= _days_in_month(year, tf.clip_by_value(month, 1, 12))))
  is_date = tf.logical_and(tf.reshape(present, [-1]), valid)
  parts = {"year": year, "month": month, "day": day,
           "day_of_week": _weekday(year, tf.clip_by_value(month, 1, 12), day), "hour": hour}
  known = {name: is_date for name in parts}
  known["hour"] = tf.logical_and(is_date, has_time)
  column = lambda t: tf.reshape(t, [-1, 1])  # noqa: E731
  return ({k: column(tf.cast(v, tf.float32)) for k, v in parts.items()},
          {k: column(v) for k, v in known.items()})


def _number(field: tf.Tensor) -> tf.Tensor:
  """int64 of a field of ASCII digits (a leading space of strptime's `%d` allowed), else -1."""
  field = tf.strings.strip(field)
  digits = tf.strings.regex_full_match(field, r"\d{1,4}")
  return tf.where(digits, tf.strings.to_number(tf.where(digits, field, "0"), tf.int64),
                  tf.constant(-1, tf.int64))


def _month_of_name(field: tf.Tensor) -> tf.Tensor:
  names = tf.constant(MONTH_NAMES)[tf.newaxis, :]
  same = tf.equal(tf.strings.lower(field)[:, tf.newaxis], names)
  index = tf.argmax(tf.cast(same, tf.int64), axis=1) % 12 + 1
  return tf.where(tf.reduce_any(same, axis=1), index, tf.constant(-1, tf.int64))


def _days_in_month(year: tf.Tensor, month: tf.Tensor) -> tf.Tensor:
  leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
  days = tf.gather(tf.constant([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], tf.int64),
                   month - 1)
  return days + tf.cast(leap & (month == 2), tf.int64)


def _weekday(year: tf.Tensor, month: tf.Tensor, day: tf.Tensor) -> tf.Tensor:
  """Monday 0 … Sunday 6: days since 1970-01-01 (a Thursday), by Howard Hinnant's civil-date
  algorithm in integer arithmetic (floor division, so years before 1970 work too)."""
  y = year - tf.cast(month <= 2, tf.int64)
  era = tf.math.floordiv(y, 400)
  yoe = y - era * 400
  mp = (month + 9) % 12  # March 0 … February 11
  doy = (153 * mp + 2) // 5 + day - 1
  doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  days = era * 146097 + doe - 719468
  return tf.math.floormod(days + 3, 7)
