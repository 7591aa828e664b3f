"""What Transform learned, written down for people: per feature, the imputed value, the scaling
parameters, the bucket boundaries or the vocabulary.

`tft.TFTransformOutput` exposes vocabularies and the transformed schema but no scalar analyzer
result (no mean, no median, no boundaries). They are recovered by probing: hand-made raw examples go
through `transform_features_layer()`, the very graph serving uses (`summary_probes.py`: the probe
and the bisections), and the outputs are inverted:
- a numeric feature scaled with z_score, min_max or none is affine in its raw value,
  `output = (x - center) / divisor`: two probes give center and divisor (refined with a second pair
  near the data for float32 precision), and the all-missing probe gives the imputed value;
- a bucketized feature is a step function: each boundary is found by bisection on the raw value
  (exact for floats: the bisection runs over the float32 values themselves; for integer features it
  is the first integer of the bucket);
- a categorical feature: the vocabulary file (size, top values), the id the all-missing probe takes
  (the imputed category) and the id of a category never seen (the out-of-vocabulary id).
- a clipped numeric feature (the plan's `clip`) is affine between its bounds and flat beyond:
  the outputs at the extreme raw values are the clipped ones, each bound is found by bisection
  (the raw value where the output leaves the flat part) and the line runs through the two bounds;
  the summary reports the bounds with the quantiles they were learned at.
The plan's `missing_values` are reported as they are (they are constants of the graph).
A feature whose output is the same for every probe has no variation in the train split (every value
missing, or a single value; see preprocessing.py): it is marked `dropped`, with a warning, and the
Trainer leaves it out of the model.

The names of the treatments (mean or median, z_score or min_max) are not in the graph: give the
Transform `custom_config` (the plan) to get them; without it the summary reports what the graph does
(`"method": "affine"` with center and divisor, the imputed value without its method).
"""
import json
import os
from typing import Any, Dict, Mapping, Optional, Tuple, Union

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tensorflow_transform import analyzers as tft_analyzers

from trainguard import artifacts
from trainguard.models import features
from trainguard.models import summary_probes as probes

SUMMARY_FILE = artifacts.TRANSFORM_SUMMARY_FILE
SUMMARY_VERSION = 1
TOP_VALUES = 10

# Probe values for the first, rough fit of an affine output; a category that no vocabulary holds.
_ROUGH_PROBES = (0, 1_000_000, 1_000_000_000_000)
_UNSEEN_CATEGORY = "\x00trainguard-unseen-category-probe"
_INT_PROBE_LIMIT = 2**60
_NO_VARIATION = ("no variation in the train split (missing on every row, or a single value): its "
                 "output is a constant 0, so the Trainer leaves it out of the model")
_NO_VALUE = ("no value in the train split (missing on every row): its vocabulary is empty, so the "
             "Trainer leaves it out of the model")


def summarize(transform_output: Union[str, tft.TFTransformOutput],
              transform_config: Optional[Mapping[str, Any]] = None,
              label_key: Optional[str] = None) -> Dict[str, Any]:
  """A JSON-serializable summary of what the transform graph learned, per raw feature.

  Args:
    transform_output: the Transform `transform_graph` URI, or a `TFTransformOutput`.
    transform_config: optional, the Transform `custom_config` (the plan from
      `preprocessing_plan.transform_config`): adds the treatments' names (mean/std or min/max rather
      than center/divisor, the imputation method).
    label_key: the label column (taken from `transform_config` when not given); it is summarized
      as its classes, not probed.

  Returns:
    {"version": 1, "features": {raw name: {...}}, "dropped": [raw names], "warnings": [str]}. Each
    feature has "kind" (numeric/categorical), "output" (transformed name or None when excluded),
    "missing_indicator" (bool), "dropped" (bool), and by kind "imputation", "scaling" or
    "vocabulary_size", "top_values", "num_ids", "unseen_id".
  """
  if not isinstance(transform_output, tft.TFTransformOutput):
    transform_output = tft.TFTransformOutput(transform_output)
  config = dict(transform_config or {})
  plan = config.get("features", {})
  label_key = label_key or config.get("label_key")
  raw_spec = transform_output.raw_feature_spec()
  transformed_spec = transform_output.transformed_feature_spec()
  schema = transform_output.transformed_metadata.schema
  probe = probes.Prober(transform_output, raw_spec)

  summary: Dict[str, Dict[str, Any]] = {}
  affine, steps, categorical = [], [], []
  for name in sorted(raw_spec):
    if name == label_key:
      continue
    dtype = raw_spec[name].dtype
    entry: Dict[str, Any] = {
        "kind": "categorical" if dtype == tf.string else "numeric",
        "output": None,
        "missing_indicator": features.missing_indicator_name(name) in transformed_spec,
        "dropped": False,
    }
    summary[name] = entry
    output = features.transformed_name(name)
    dates = plan.get(name, {}).get("datetime")
    if output not in transformed_spec and dates and not plan[name].get("excluded"):
      # `datetime: parts`: numbers of their own, one output per part (not probed here).
      entry["datetime_parts"] = [features.transformed_name(f"{name}_{p}") for p in dates["parts"]]
      continue
    if output not in transformed_spec:
      entry["excluded"] = True
      continue
    entry["output"] = output
    if dtype == tf.string:
      categorical.append(name)
    elif transformed_spec[output].dtype == tf.int64:
      steps.append(name)
    else:
      affine.append(name)

  missing = probe.run([{}])
  clipped = [n for n in affine if plan.get(n, {}).get("clip")]
  affine = [n for n in affine if n not in clipped]
  _summarize_affine(affine, raw_spec, probe, missing, plan, summary)
  _summarize_clipped(clipped, raw_spec, probe, missing, plan, summary)
  for name, entry in summary.items():
    if plan.get(name, {}).get("missing_values") and not entry.get("excluded"):
      entry["missing_values"] = list(plan[name]["missing_values"])
  _summarize_buckets(steps, raw_spec, schema, probe, missing, plan, summary)
  _summarize_categorical(categorical, transform_output, schema, probe, missing, plan, summary)

  dropped = sorted(n for n, e in summary.items() if e["dropped"])
  result = {
      "version": SUMMARY_VERSION,
      "features": summary,
      "dropped": dropped,
      "warnings": [f"{name}: {summary[name]['reason']}." for name in dropped],
  }
  if label_key and features.transformed_name(label_key) in transformed_spec:
    result["label"] = {"key": label_key, "output": features.transformed_name(label_key)}
    if "label_classes" in config:
      result["label"]["classes"] = list(config["label_classes"])
  return result


def write(summary: Mapping[str, Any], directory: str) -> str:
  """Writes `summary` as `transform_summary.json` into `directory`; returns the file's path."""
  tf.io.gfile.makedirs(directory)
  path = os.path.join(directory, SUMMARY_FILE)
  with tf.io.gfile.GFile(path, "w") as f:
    json.dump(summary, f, indent=1, sort_keys=True)
  return path


# --- numeric, affine outputs (z_score, min_max, none) ---------------------------------------------


def _summarize_affine(names, raw_spec, probe, missing, plan, summary) -> None:
  if not names:
    return
  # Pass 1, far-apart probes: is the output constant, and roughly which line is it?
  rough = probe.run([{n: probes.probe_value(raw_spec[n], v) for n in names} for v in _ROUGH_PROBES])
  fits: Dict[str, Optional[Tuple[float, float, float, float]]] = {}
  for name in names:
    outs = [float(o) for o in rough[features.transformed_name(name)]]
    if len(set(outs)) == 1:  # every present value gives the same output
      fits[name] = None
      continue
    x = [probes.as_graph_sees_it(raw_spec[name], v) for v in _ROUGH_PROBES]
    j = 1 if outs[1] != outs[0] else 2  # the closest pair that moved the output
    fits[name] = (x[0], x[j], outs[0], outs[j])
  # Pass 2, a pair one divisor apart around the center, where float32 outputs keep their digits.
  pairs = {}
  for name, fit in fits.items():
    if fit is not None:
      center, divisor = _line(*fit)
      if np.isfinite(center) and np.isfinite(divisor):
        pairs[name] = _near_pair(raw_spec[name], center, divisor)
  refined = probe.run([{n: p[0] for n, p in pairs.items()}, {n: p[1] for n, p in pairs.items()}])
  for name in names:
    entry, output = summary[name], features.transformed_name(name)
    treatment = plan.get(name, {})
    if fits[name] is None:
      _mark_dropped(entry, treatment)
      continue
    fit = fits[name]
    if name in pairs:
      o_low, o_high = float(refined[output][0]), float(refined[output][1])
      if o_low != o_high:
        fit = (probes.as_graph_sees_it(raw_spec[name], pairs[name][0]),
               probes.as_graph_sees_it(raw_spec[name], pairs[name][1]), o_low, o_high)
    center, divisor = _line(*fit)
    missing_output = float(missing[output][0])
    entry["imputation"] = _imputation(treatment, center + missing_output * divisor, missing_output)
    entry["scaling"] = _scaling(treatment.get("scale"), center, divisor)


def _summarize_clipped(names, raw_spec, probe, missing, plan, summary) -> None:
  if not names:
    return
  extremes = probe.run([{n: probes.lowest(raw_spec[n]) for n in names},
                        {n: probes.highest(raw_spec[n]) for n in names}])
  flat = {}
  for name in names:
    output = features.transformed_name(name)
    o_low, o_high = float(extremes[output][0]), float(extremes[output][1])
    if o_low == o_high:
      _mark_dropped(summary[name], plan.get(name, {}))
    else:
      flat[name] = (o_low, o_high)
  # The low bound: the largest raw value still output as o_low; the high: the smallest output as
  # o_high (both searched as the first value past the flat part, as probes.bisect_boundaries does).
  low = probes.bisect_first(flat, raw_spec, probe, lambda name, out: out > flat[name][0])
  high = probes.bisect_first(flat, raw_spec, probe, lambda name, out: out >= flat[name][1])
  # The line through two probes well inside the bounds; the bounds are where it meets the flats
  # (the bisection itself overshoots by the few float32 steps whose outputs round alike).
  inside = {}
  for name in flat:
    a, b = low[name], high[name]
    inside[name] = [probes.probe_value(raw_spec[name], a + (b - a) * t) for t in (0.25, 0.75)]
  outs = probe.run([{n: p[0] for n, p in inside.items()}, {n: p[1] for n, p in inside.items()}])
  for name, (o_low, o_high) in flat.items():
    entry, treatment = summary[name], plan.get(name, {})
    output = features.transformed_name(name)
    x = [probes.as_graph_sees_it(raw_spec[name], v) for v in inside[name]]
    if float(outs[output][0]) != float(outs[output][1]):
      center, divisor = _line(x[0], x[1], float(outs[output][0]), float(outs[output][1]))
    else:  # bounds a step apart: through the bisection's points
      center, divisor = _line(low[name], high[name], o_low, o_high)
    x_low, x_high = center + o_low * divisor, center + o_high * divisor
    missing_output = float(missing[features.transformed_name(name)][0])
    entry["imputation"] = _imputation(treatment, center + missing_output * divisor, missing_output)
    entry["scaling"] = _scaling(treatment.get("scale"), center, divisor)
    # Six digits: the outputs' float32 rounding, through the line, blurs the seventh.
    entry["clip"] = {"quantiles": list(treatment["clip"]), "low": _six(x_low),
                     "high": _six(x_high), "note": "train quantiles; values beyond are clipped"}
    for part in (entry["scaling"], entry["imputation"]):
      for key, value in part.items():
        if key != "missing_output" and isinstance(value, float):
          part[key] = _six(value)


def _six(value: float) -> float:
  return float(f"{value:.6g}")


def _line(x_low: float, x_high: float, o_low: float, o_high: float) -> Tuple[float, float]:
  """Center and divisor of `output = (x - center) / divisor` through two probe points."""
  divisor = (x_high - x_low) / (o_high - o_low)
  return x_low - o_low * divisor, divisor


def _scaling(method: Optional[str], center: float, divisor: float) -> Dict[str, Any]:
  if method == "z_score":
    return {"method": method, "mean": _round(center), "std": _round(divisor)}
  if method == "min_max":
    return {"method": method, "min": _round(center), "max": _round(center + divisor)}
  if method == "none":
    return {"method": method}
  return {"method": "affine", "center": _round(center), "divisor": _round(divisor),
          "formula": "(x - center) / divisor"}


def _near_pair(spec, center: float, divisor: float):
  """Two probe values about one divisor apart around the center, where float32 outputs are exact."""
  if spec.dtype == tf.int64:
    low = int(np.clip(np.round(center), -_INT_PROBE_LIMIT, _INT_PROBE_LIMIT))
    return low, low + max(1, int(min(abs(divisor), _INT_PROBE_LIMIT)))
  low = float(np.float32(np.clip(center, -probes.FLOAT32_MAX / 4, probes.FLOAT32_MAX / 4)))
  high = float(np.float32(low + min(abs(divisor), probes.FLOAT32_MAX / 4)))
  if high == low:
    high = float(np.nextafter(np.float32(low), np.float32(np.inf)))
  return low, high


def _imputation(treatment, value: float, missing_output: float) -> Dict[str, Any]:
  method = treatment.get("impute")
  if method == "none":
    return {"method": method, "value": None, "missing_output": _round(missing_output),
            "note": "a missing value is output as 0 after scaling"}
  return {"method": method, "value": _round(value)}


# --- numeric, bucketized outputs ------------------------------------------------------------------


def _summarize_buckets(names, raw_spec, schema, probe, missing, plan, summary) -> None:
  if not names:
    return
  extremes = probe.run([{n: probes.lowest(raw_spec[n]) for n in names},
                        {n: probes.highest(raw_spec[n]) for n in names}])
  searches = {}
  for name in names:
    entry, output = summary[name], features.transformed_name(name)
    treatment = plan.get(name, {})
    ids = {int(missing[output][0]), int(extremes[output][0]), int(extremes[output][1])}
    if len(ids) == 1:
      _mark_dropped(entry, treatment)
      continue
    num_buckets = features.num_ids(schema, output) or int(extremes[output][1]) + 1
    entry["imputation"] = {"method": treatment.get("impute"), "bucket": int(missing[output][0])}
    entry["scaling"] = {"method": "bucketize", "num_buckets": num_buckets}
    top = int(extremes[output][1])
    searches[name] = [(k, k <= top) for k in range(1, num_buckets)]
  boundaries = probes.bisect_boundaries(searches, raw_spec, probe)
  for name, found in boundaries.items():
    summary[name]["scaling"]["boundaries"] = found
    if raw_spec[name].dtype == tf.int64:
      summary[name]["scaling"]["note"] = ("integer feature: each boundary is its bucket's first "
                                          "integer")


# --- categorical ----------------------------------------------------------------------------------


def _summarize_categorical(names, transform_output, schema, probe, missing, plan, summary) -> None:
  if not names:
    return
  unseen = probe.run([{n: _UNSEEN_CATEGORY for n in names}])
  dummy = tft_analyzers.get_empy_vocabulary_dummy_value(tf.string)[1]
  for name in names:
    entry, output = summary[name], features.transformed_name(name)
    treatment = plan.get(name, {})
    size, head = _vocabulary_head(
        transform_output.vocabulary_file_by_name(features.vocabulary_name(name)),
        max(TOP_VALUES, int(missing[output][0]) + 1))
    if size == 1 and head == [dummy]:
      # tf.Transform writes this placeholder when no value was seen.
      _mark_dropped(entry, treatment, _NO_VALUE)
      continue
    values = [v.decode("utf-8", errors="replace") for v in head]
    imputed_id = int(missing[output][0])
    entry["vocabulary_size"] = size
    entry["top_values"] = values[:TOP_VALUES]
    entry["num_ids"] = features.num_ids(schema, output) or size + features.NUM_OOV_BUCKETS
    entry["unseen_id"] = int(unseen[output][0])
    entry["imputation"] = {
        "method": treatment.get("impute"),
        "id": imputed_id,
        "value": values[imputed_id] if imputed_id < size else None,
    }
    if imputed_id >= size:
      entry["imputation"]["note"] = "a missing value takes the out-of-vocabulary id"


def _vocabulary_head(path: str, count: int):
  """The number of entries of a text vocabulary file and its first `count` entries (bytes)."""
  size, head = 0, []
  with tf.io.gfile.GFile(path, "rb") as f:
    for line in f:
      if size < count:
        head.append(line.rstrip(b"\n"))
      size += 1
  return size, head


def _mark_dropped(entry: Dict[str, Any], treatment: Mapping[str, Any],
                  reason: str = _NO_VARIATION) -> None:
  entry["dropped"] = True
  entry["reason"] = reason
  for key in ("impute", "scale"):
    if key in treatment:
      entry.setdefault("policy", {})[key] = treatment[key]


def _round(value: float) -> float:
  """Seven significant digits: what float32 analyzer outputs carry."""
  return float(f"{value:.7g}")
