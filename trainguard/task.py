"""Classification or regression: the one rule that decides it, from the data or from the schema.

The rule, from the label column the pre-flight profiled (`detect`):
- a label that is not numeric is a classification label;
- a numeric label is a regression label when it takes more than `MAX_CLASSES_OF_A_NUMBER` distinct
  values, or any non-integer value with more than `MAX_DECIMAL_CLASSES` distinct values (a price,
  a duration, a measurement); else classification (0/1, star ratings, class ids);
- `--task classification|regression` (or `task:` in policy.yaml) overrides the rule.
From a schema (`of_schema`, what DataGuard and the pipeline read): a label with a domain (string
values, or an integer domain with bounds) is classification; a numeric label without one is
regression. `schema init` writes the label that way, and the task into policy.yaml, so the two
always agree and a reviewer sees the decision.
TensorFlow-free.
"""
from typing import Optional

CLASSIFICATION = "classification"
REGRESSION = "regression"
AUTO = "auto"
TASKS = (CLASSIFICATION, REGRESSION)
MAX_CLASSES_OF_A_NUMBER = 100  # distinct integers a classification label may take
MAX_DECIMAL_CLASSES = 20       # distinct values of a label with decimals that still reads as classes
MIN_REGRESSION_VALUES = 10     # fewer distinct values: a regression cannot learn a continuous target


def detect(is_numeric: bool, is_integer: bool, distinct: Optional[int], overflow: bool) -> str:
  """The task the label's values call for (see the module docstring for the rule)."""
  if not is_numeric:
    return CLASSIFICATION
  many = overflow or (distinct or 0) > MAX_CLASSES_OF_A_NUMBER
  if many or (not is_integer and (distinct or 0) > MAX_DECIMAL_CLASSES):
    return REGRESSION
  return CLASSIFICATION


def of_schema(schema, label_key: str, statistics=None) -> str:
  """The task a schema's label declares: a domain means classes; a bare number, regression.

  With the train `statistics` (DataGuard has them), a bare INT label is read by `detect`'s rule:
  its values are integers, and when its range holds at most `MAX_CLASSES_OF_A_NUMBER` of them it
  takes at most that many distinct values, so it is a class id. Why: stock SchemaGen infers
  `species: INT` with no domain for the TFX penguin example's 0/1/2 label, and reading that as a
  regression target turned off the class checks (imbalance, conflicting labels) for it.
  """
  from tensorflow_metadata.proto.v0 import schema_pb2  # pylint: disable=g-import-not-at-top
  feature = next((f for f in schema.feature if f.name == label_key), None)
  if feature is None or feature.type not in (schema_pb2.INT, schema_pb2.FLOAT):
    return CLASSIFICATION
  has_domain = (feature.HasField("string_domain") or bool(feature.domain)
                or (feature.HasField("int_domain") and feature.int_domain.HasField("max")))
  if has_domain:
    return CLASSIFICATION
  if feature.type == schema_pb2.INT and statistics is not None:
    span = _integer_span(statistics, label_key)
    if span is not None and span <= MAX_CLASSES_OF_A_NUMBER:
      return CLASSIFICATION
  return REGRESSION


def _integer_span(statistics, name: str) -> Optional[int]:
  """How many integers lie between the feature's min and max in the statistics (None: no
  numeric statistics for it)."""
  for feature in statistics.datasets[0].features if statistics.datasets else ():
    if ".".join(feature.path.step) == name and feature.HasField("num_stats"):
      return int(feature.num_stats.max) - int(feature.num_stats.min) + 1
  return None
