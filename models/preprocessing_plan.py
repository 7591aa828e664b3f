"""The preprocessing plan: each schema feature's treatment, resolved from the policy, as plain JSON.

`transform_config(policy, schema, label_key, label_classes)` is what the pipeline passes to
Transform as `custom_config`; `preprocessing.preprocessing_fn` builds its graph from it. Resolving
here, in plain Python and without TensorFlow, keeps every decision readable (the run report can
print the plan as it is) and testable in milliseconds, and makes the preprocessing_fn a mechanical
translation.

The config (version 1):

  {
    "version": 1,
    "label_key": "species",
    "label_classes": ["Adelie", "Chinstrap", "Gentoo"],
    "label_map": {"adelie": "Adelie", "Adelie ": "Adelie"},   # only with the policy's label.map
    "excluded_features": ["year"],               # kept for configs written before the plan existed
    "features": {
      "<numeric feature>": {"kind": "numeric", "impute": "mean" | "median" | "most_frequent" |
                            "constant" | "none", "impute_value": <float, only for constant>,
                            "scale": "z_score" | "min_max" | "none" | "bucketize",
                            "num_buckets": <int ≥ 2, only for bucketize>,
                            "missing_indicator": bool, "excluded": bool,
                            "missing_values": [<float>, ...] (optional: treated as missing),
                            "clip": [q_low, q_high] (optional: train quantiles, before scaling)},
      "<categorical feature>": {"kind": "categorical", "impute": "most_frequent" | "constant" |
                                "none", "impute_value": <str, only for constant>,
                                "encode": "vocabulary", "missing_indicator": bool,
                                "excluded": bool, "missing_values": [<str>, ...] (optional),
                                "normalize": true (optional: lower-case, collapse white space
                                and trim before the vocabulary; models/text_normalization.py),
                                "datetime": {"order": "parts" | "parts_month_first",
                                             "parts": ["year", "month", "day", "day_of_week",
                                                       "hour"],
                                             "treatment": {<a numeric feature's impute/scale>}}
                                (optional: the text parsed as a date, output as one numeric
                                feature per part, `<name>_<part>_xf`, each imputed and scaled as
                                `preprocessing.numeric` says; no vocabulary;
                                models/datetime_parts.py)},
    }
  }

Kinds come from the schema's types (INT and FLOAT are numeric, BYTES categorical); treatments from
the policy's per-feature entry, else its `preprocessing.numeric` / `preprocessing.categorical`
defaults. The label is not in `features`: it is mapped to its class id by `label_classes`.
With the policy's `label.map` (spellings of a class → the class: `adelie`, `Adelie ` → `Adelie`),
`label_classes` is the schema domain's with each mapped spelling replaced by its class
(`Policy.label_classes`), and `label_map` goes to the graph, which maps a label before its class id:
the one place the Trainer, Rebalance (both read Transform's `label_xf`) and the Evaluator (the
exported transform on raw eval examples) all take the label from. A class it maps to must be in the
domain (a misspelt target would train a class of its own).
`impute: none` turns the missing indicator on unless the policy sets `missing_indicator: false`
for that feature, because without it a missing cell and a real value can look the same to the model.
"""
import os
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence, Union

from trainguard import policy as policy_lib
from trainguard import policy_format
from trainguard import schema_folder
from trainguard import task as task_lib
from trainguard.models import features as features_lib

PLAN_VERSION = 1
NUMERIC = policy_lib.NUMERIC
CATEGORICAL = policy_lib.CATEGORICAL

_KINDS_BY_SCHEMA_TYPE = {"INT": NUMERIC, "FLOAT": NUMERIC, "BYTES": CATEGORICAL}


def transform_config(policy: Optional[policy_lib.Policy], schema, label_key: str,
                     label_classes: Sequence[str]) -> Dict[str, Any]:
  """The Transform `custom_config` for `schema` under `policy` (defaults when `policy` is None).

  Args:
    policy: a validated `trainguard.policy.Policy` (its per-feature entries and type defaults).
    schema: a `schema_pb2.Schema`, or the path of a `schema.pbtxt`.
    label_key: the label column; it gets no treatment, only class ids (a regression label, one
      the schema gives no domain, stays a number: `task`, `label_transform` in the config).
    label_classes: the label's classes in class-id order (from the schema's string domain).

  Returns:
    A JSON-serializable dict (see the module docstring).

  Raises:
    ValueError: the label is not in the schema, a feature has a type that cannot be preprocessed,
      or a missing-indicator name would collide with a schema feature.
  """
  schema = _as_schema(schema)
  kinds = {}
  for feature in schema.feature:
    if feature.name == label_key:
      continue
    type_name = _schema_type_name(feature.type)
    if type_name not in _KINDS_BY_SCHEMA_TYPE:
      raise ValueError(
          f"schema feature {feature.name!r} has type {type_name}; Transform handles INT, FLOAT "
          "(numeric) and BYTES (categorical). Change its type in schema.pbtxt or remove it.")
    kinds[feature.name] = _KINDS_BY_SCHEMA_TYPE[type_name]
  if label_key not in {f.name for f in schema.feature}:
    raise ValueError(f"label {label_key!r} is not a feature of the schema (features: "
                     f"{', '.join(sorted(kinds))}); add it to schema.pbtxt or pass the right "
                     "label.")
  data = policy.data if policy is not None else policy_lib.defaults()
  config = _config(data, kinds, label_key, label_classes)
  label_map = policy.label_map if policy is not None else {}
  if label_map:
    _map_label(config, policy, label_map, label_classes, task_lib.of_schema(schema, label_key))
  if task_lib.of_schema(schema, label_key) == task_lib.REGRESSION:
    # A numeric label stays a number (no class ids); `log` is applied in the graph, inverted at
    # serving (models/keras_model/model.py).
    config["task"] = task_lib.REGRESSION
    config["label_transform"] = data["regression"]["label_transform"]
  return config


def _map_label(config: Dict[str, Any], policy: policy_lib.Policy, label_map: Mapping[str, str],
               schema_classes: Sequence[str], task: str) -> None:
  """`label.map` into the plan: the classes a model learns, and the map the graph applies."""
  if task == task_lib.REGRESSION:
    raise ValueError(f"{policy.source}: label.map maps spellings of classes, but the label "
                     f"{config['label_key']!r} is a number (regression); remove label.map.")
  unknown = sorted(set(label_map.values()) - {str(c) for c in schema_classes})
  if unknown:
    raise ValueError(
        f"{policy.source}: label.map maps to {', '.join(map(repr, unknown))}, which the schema's "
        f"label domain does not list (its classes: {', '.join(map(str, schema_classes))}); map "
        "to a class of the domain, or add the class to it in a reviewed schema change.")
  config["label_classes"] = policy.label_classes(schema_classes)
  config["label_map"] = dict(label_map)


def config_from_kinds(kinds: Mapping[str, str], label_key: str, label_classes: Sequence[str],
                      excluded_features: Iterable[str] = ()) -> Dict[str, Any]:
  """The plan with the default policy, for a custom_config that carries no `features`.

  Transform configs written before the plan existed (`label_key`, `label_classes`,
  `excluded_features` only) keep working: the preprocessing_fn tells the kinds from the input
  dtypes and calls this.
  """
  data = policy_lib.defaults()
  data["features"] = {name: {"exclude": True} for name in excluded_features}
  return _config(data, {k: v for k, v in kinds.items() if k != label_key}, label_key,
                 label_classes)


def treatment(policy_data: Mapping[str, Any], name: str, kind: str) -> Dict[str, Any]:
  """One feature's resolved treatment: `Policy.treatment`, which holds the rule."""
  return policy_lib.Policy(policy_data).treatment(name, kind)


def check_config(config: Mapping[str, Any]) -> None:
  """Raises ValueError, naming the feature and the key, if `config` is not a usable plan."""
  for key in ("label_key", "label_classes", "features"):
    if key not in config:
      raise ValueError(f"Transform custom_config has no {key!r}; build it with "
                       "trainguard.models.preprocessing_plan.transform_config().")
  label_map = config.get("label_map", {})
  if not isinstance(label_map, Mapping) or not all(
      isinstance(k, str) and v in config["label_classes"] for k, v in label_map.items()):
    raise ValueError(f"Transform custom_config label_map is {label_map!r}; it maps spellings to "
                     "label_classes (build it with preprocessing_plan.transform_config()).")
  if config.get("version", PLAN_VERSION) != PLAN_VERSION:
    raise ValueError(f"Transform custom_config version {config['version']!r} is not supported "
                     f"(this code reads version {PLAN_VERSION}).")
  allowed = {
      NUMERIC: {"impute": ("mean", "median", "most_frequent", "constant", "none"),
                "scale": ("z_score", "min_max", "none", "bucketize")},
      CATEGORICAL: {"impute": ("most_frequent", "constant", "none"), "encode": ("vocabulary",)},
  }
  for name, spec in config["features"].items():
    kind = spec.get("kind")
    if kind not in allowed:
      raise ValueError(f"feature {name!r}: kind {kind!r} is not one of {', '.join(allowed)}.")
    for key, values in allowed[kind].items():
      if spec.get(key) not in values:
        raise ValueError(f"feature {name!r} ({kind}): {key} is {spec.get(key)!r}; use one of "
                         f"{', '.join(values)}.")
    if spec["impute"] == "constant" and "impute_value" not in spec:
      raise ValueError(f"feature {name!r}: impute is 'constant' but impute_value is missing.")
    if spec.get("scale") == "bucketize" and int(spec.get("num_buckets", 0)) < 2:
      raise ValueError(f"feature {name!r}: bucketize needs num_buckets ≥ 2, got "
                       f"{spec.get('num_buckets')!r}.")
    _check_values(name, kind, spec)


def _check_values(name: str, kind: str, spec: Mapping[str, Any]) -> None:
  """`missing_values`, `normalize`, `datetime` and `clip` of one feature's plan, when present."""
  missing = spec.get("missing_values")
  if missing is not None:
    wanted = str if kind == CATEGORICAL else (int, float)
    if not isinstance(missing, list) or not all(isinstance(v, wanted) for v in missing):
      raise ValueError(f"feature {name!r} ({kind}): missing_values is {missing!r}; use a list of "
                       f"{'text' if kind == CATEGORICAL else 'numbers'}.")
  if spec.get("normalize") is not None and (kind != CATEGORICAL or spec["normalize"] is not True):
    raise ValueError(f"feature {name!r} ({kind}): normalize is {spec['normalize']!r}; only a "
                     "categorical feature takes normalize: true.")
  dates = spec.get("datetime")
  if dates is not None:
    ok = (kind == CATEGORICAL and isinstance(dates, Mapping)
          and dates.get("order") in policy_format.DATETIME_ORDERS
          and set(dates.get("parts", ())) <= set(policy_format.DATETIME_PARTS)
          and isinstance(dates.get("treatment"), Mapping))
    if not ok:
      raise ValueError(f"feature {name!r} ({kind}): datetime is {dates!r}; build it with "
                       "transform_config() from a policy's features.<name>.datetime.")
    check_config({"label_key": "", "label_classes": [],
                  "features": {f"{name}_{p}": dict(dates["treatment"], kind=NUMERIC)
                               for p in dates["parts"]}})
  clip = spec.get("clip")
  if clip is not None:
    if kind != NUMERIC or not (isinstance(clip, list) and len(clip) == 2
                               and 0 < clip[0] < clip[1] < 1):
      raise ValueError(f"feature {name!r} ({kind}): clip is {clip!r}; use [q_low, q_high] with "
                       "0 < q_low < q_high < 1 on a numeric feature.")


def _config(policy_data: Mapping[str, Any], kinds: Mapping[str, str], label_key: str,
            label_classes: Sequence[str]) -> Dict[str, Any]:
  features = {name: treatment(policy_data, name, kinds[name]) for name in sorted(kinds)}
  taken = {features_lib.transformed_name(n) for n in (*kinds, label_key)}
  for name, spec in features.items():
    for part in (spec.get("datetime") or {}).get("parts", ()) if not spec["excluded"] else ():
      output = features_lib.transformed_name(f"{name}_{part}")
      if output in taken:
        raise ValueError(f"feature {name!r}'s datetime part {part} is output as {output!r}, "
                         "which another feature is transformed to; rename one of them.")
      taken.add(output)
  for name, spec in features.items():
    indicator = features_lib.missing_indicator_name(name)
    if spec["missing_indicator"] and not spec["excluded"] and indicator in taken:
      raise ValueError(
          f"feature {name!r} asks for a missing indicator {indicator!r}, but another schema "
          f"feature is transformed to that name; rename one of them or set missing_indicator: "
          f"false for {name!r} in policy.yaml.")
  return {
      "version": PLAN_VERSION,
      "label_key": label_key,
      "label_classes": list(label_classes),
      "excluded_features": sorted(n for n, s in features.items() if s["excluded"]),
      "features": features,
  }


def _as_schema(schema: Union[str, os.PathLike, Any]):
  if isinstance(schema, (str, os.PathLike)):
    return schema_folder.read_schema(os.fspath(schema))
  return schema


def _schema_type_name(type_value: int) -> str:
  from tensorflow_metadata.proto.v0 import schema_pb2  # pylint: disable=g-import-not-at-top
  return schema_pb2.FeatureType.Name(type_value)
