"""The schema TFDV validates against, made from the curated one for each check: the serving
environment a stock schema lacks, the policy's default comparators, and the label spellings
`label.map` sends to a class. Each returns a copy where it changes anything: the curated schema
itself (ImportSchemaGen's artifact) is never edited.
"""
import copy
import logging
from typing import Mapping

from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from trainguard.policy import Policy

TRAINING, SERVING = "TRAINING", "SERVING"

Statistics = statistics_pb2.DatasetFeatureStatisticsList


def serving_schema(schema: schema_pb2.Schema, label_key: str,
                    serving: Mapping[str, Statistics]) -> schema_pb2.Schema:
  """The schema the serving sample is validated against. A schema without a SERVING environment
  (what stock SchemaGen infers) would report the label every serving sample lacks as a missing
  column and block: the label is then left out of the serving check, as the environment would
  (and only the label: any other missing column still blocks)."""
  if not serving or SERVING in schema.default_environment:
    return schema
  if all(_has_feature(stats, label_key) for stats in serving.values()):
    return schema
  logging.info("DataGuard: the schema has no SERVING environment; the serving sample is "
               "validated without the label %r (declare environments in the schema to say so).",
               label_key)
  schema = copy.deepcopy(schema)
  if not schema.default_environment:
    schema.default_environment.extend([TRAINING, SERVING])
  else:
    schema.default_environment.append(SERVING)
  for feature in schema.feature:
    if feature.name == label_key:
      feature.not_in_environment.append(SERVING)
    elif feature.in_environment and SERVING not in feature.in_environment:
      feature.in_environment.append(SERVING)
  return schema


def _has_feature(stats: Statistics, name: str) -> bool:
  return bool(stats.datasets) and any(
      ".".join(f.path.step) == name for f in stats.datasets[0].features)


def with_default_comparators(schema: schema_pb2.Schema, policy: Policy,
                             label_key: str) -> schema_pb2.Schema:
  """A copy of the schema where every categorical feature without a skew/drift comparator gets the
  policy's (numeric ones: `drift_findings.py`)."""
  schema = copy.deepcopy(schema)
  for feature in schema.feature:
    numeric = feature.type in (schema_pb2.INT, schema_pb2.FLOAT)
    for comparison, field in (("skew", "skew_comparator"), ("drift", "drift_comparator")):
      if comparison == "skew" and feature.name == label_key:
        continue  # the label is absent at serving time
      comparator = getattr(feature, field)
      if comparator.HasField("infinity_norm") or comparator.HasField("jensen_shannon_divergence"):
        continue
      if not numeric:  # a numeric feature's shift: drift_findings.py (JS cannot tell it from noise)
        comparator.infinity_norm.threshold = policy.threshold(comparison, feature.name, False)
  return schema


def with_mapped_label_spellings(schema: schema_pb2.Schema, policy: Policy,
                                label_key: str) -> schema_pb2.Schema:
  """`schema` with the label's string domain extended by each spelling `label.map` sends to a
  class of that domain (`Policy.label_class`): Transform maps those to their class, so TFDV
  expects them, and a curated domain may list the classes alone. A spelling outside the map, or
  mapped to a class the domain lacks, stays unexpected (ENUM_TYPE_UNEXPECTED_STRING_VALUES)."""
  feature = next((f for f in schema.feature if f.name == label_key), None)
  if feature is None or not policy.label_map:
    return schema
  if feature.HasField("string_domain"):
    domain = list(feature.string_domain.value)
  else:
    domain = next((list(d.value) for d in schema.string_domain if d.name == feature.domain), None)
  if domain is None:
    return schema  # no domain (a regression label, or none declared): nothing to extend
  extra = [v for v in policy.label_map
           if v not in domain and policy.label_class(v) in domain]
  if not extra:
    return schema
  schema = copy.deepcopy(schema)
  feature = next(f for f in schema.feature if f.name == label_key)
  own = feature.HasField("string_domain")  # else its own copy: a shared global domain stays
  feature.string_domain.value.extend(extra if own else domain + extra)
  return schema
