"""Names shared by the Transform graph, the Trainer and the Evaluator.

Nothing here lists the dataset's features: they come from the curated schema, so the same code
serves penguins and any CSV a user brings. What lives here is the naming contract between stages.
"""
from typing import List, Optional, Sequence

# Transformed features carry a suffix so that a raw feature and its transformed twin never share a
# name (TFMA merges both into one feature dict when it runs the `transform_features` signature).
TRANSFORMED_SUFFIX = "_xf"

# One out-of-vocabulary bucket per categorical feature: an unseen category at serving time gets it.
NUM_OOV_BUCKETS = 1
# A curated int_domain larger than this is a mistake, not classes: building its class list would
# exhaust memory (found by fuzzing: an int_domain up to 2**63 - 1).
MAX_INTEGER_CLASSES = 10_000

# A feature's optional missing indicator, `<feature>_was_missing_xf`: float 1.0 where the raw value
# was absent, NaN, ±inf or an empty string, else 0.0.
MISSING_INDICATOR_SUFFIX = "_was_missing"


def transformed_name(key: str) -> str:
  return key + TRANSFORMED_SUFFIX


def raw_name(transformed: str) -> str:
  if not transformed.endswith(TRANSFORMED_SUFFIX):
    raise ValueError(f"{transformed!r} is not a transformed feature name")
  return transformed[: -len(TRANSFORMED_SUFFIX)]


def missing_indicator_name(key: str) -> str:
  """The transformed name of `key`'s missing indicator."""
  return transformed_name(key + MISSING_INDICATOR_SUFFIX)


def num_ids(transformed_schema, transformed: str) -> Optional[int]:
  """How many ids an int64 transformed feature takes (`0 … n-1`), from the transformed schema.

  Every integer the preprocessing_fn outputs, except the label, is a category id or a bucket id,
  and carries `int_domain { min: 0 max: n-1 }` in the transformed schema (tf.Transform fills in the
  max once the vocabulary or the buckets are known). None when the feature has no such domain (a
  transform graph written before this contract): the caller falls back to the vocabulary size.
  """
  for feature in transformed_schema.feature:
    if feature.name == transformed:
      if feature.HasField("int_domain") and feature.int_domain.HasField("max"):
        return int(feature.int_domain.max) + 1
      return None
  raise ValueError(f"{transformed!r} is not a feature of the transformed schema")


def vocabulary_name(key: str) -> str:
  """The tf.Transform vocabulary file of a categorical feature (read back by the Trainer)."""
  return key


def label_classes_from_schema(schema, label_key: str) -> List[str]:
  """The label's classes in the order of its curated string domain: class id i is entry i.

  Taking the order from the schema (not from frequencies in this span's data) keeps class ids stable
  across runs, spans and retrained models.
  """
  features = {f.name: f for f in schema.feature}
  if label_key not in features:
    raise ValueError(
        f"label {label_key!r} is not a feature of the schema (features: "
        f"{', '.join(sorted(features))}); add it to schema.pbtxt or pass the right --label.")
  feature = features[label_key]
  if feature.HasField("int_domain") and feature.int_domain.HasField("max"):
    # Integer classes: every id from min to max (the label's text form is the class name).
    span = feature.int_domain.max - feature.int_domain.min + 1
    if not 0 < span <= MAX_INTEGER_CLASSES:
      raise ValueError(
          f"label {label_key!r}: int_domain from {feature.int_domain.min} to "
          f"{feature.int_domain.max} declares {span} classes (at most {MAX_INTEGER_CLASSES}); "
          "recode the label's class ids as 0..K-1 and set int_domain { min: 0 max: K-1 } in "
          "schema.pbtxt.")
    values = [str(i) for i in range(feature.int_domain.min, feature.int_domain.max + 1)]
  elif feature.HasField("string_domain"):
    values: Sequence[str] = feature.string_domain.value
  elif feature.domain:
    domains = {d.name: d for d in schema.string_domain}
    if feature.domain not in domains:
      raise ValueError(f"label {label_key!r} names string_domain {feature.domain!r}, which the "
                       "schema does not define.")
    values = domains[feature.domain].value
  else:
    raise ValueError(
        f"label {label_key!r} has no domain in the schema, so its classes are unknown; declare "
        "them (string_domain { value: ... }, or int_domain { min: 0 max: K }) in schema.pbtxt.")
  classes = list(values)
  if len(classes) < 2:
    raise ValueError(f"label {label_key!r} has {len(classes)} class(es) in the schema; a "
                     "classifier needs at least 2.")
  return classes
