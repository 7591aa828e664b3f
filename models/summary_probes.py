"""Probing the serving transform layer: raw examples in, outputs as numpy, and the searches over
raw values that `preprocessing_summary` inverts the graph with.

Why apart from the summary: the summary decides what to report per treatment; this is how any
value is read back out of the graph (`TFTransformOutput` exposes no scalar analyzer result), the
same machinery for bucket boundaries and clip bounds. Float searches run over the ordered float32
bit patterns, so a found value is an exact float32.
"""
from typing import Any, Dict, List, Mapping, Optional

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from trainguard.models import features

FLOAT32_MAX = float(np.finfo(np.float32).max)
INT_SEARCH_LIMIT = 2**62


class Prober:
  """Runs raw examples through the serving transform layer; each output as a 1-D numpy array."""

  def __init__(self, transform_output: tft.TFTransformOutput, raw_spec):
    self._layer = transform_output.transform_features_layer()
    self._spec = raw_spec

  def run(self, rows: List[Mapping[str, Any]]) -> Dict[str, np.ndarray]:
    serialized = [self._example(row).SerializeToString() for row in rows]
    parsed = tf.io.parse_example(tf.constant(serialized), self._spec)
    outputs = self._layer(parsed)
    return {name: np.asarray(value).reshape(len(rows), -1)[:, 0]
            for name, value in outputs.items() if isinstance(value, tf.Tensor)}

  def _example(self, row: Mapping[str, Any]) -> tf.train.Example:
    example = tf.train.Example()
    for name, spec in self._spec.items():
      value = row.get(name)
      if value is None:
        if not isinstance(spec, tf.io.FixedLenFeature) or spec.default_value is not None:
          continue  # absent: what a missing value looks like at serving
        value = "" if spec.dtype == tf.string else 0  # a required feature cannot be absent
      feature = example.features.feature[name]
      if spec.dtype == tf.string:
        feature.bytes_list.value.append(str(value).encode("utf-8"))
      elif spec.dtype == tf.int64:
        feature.int64_list.value.append(int(value))
      else:
        feature.float_list.value.append(float(value))
    return example


def probe_value(spec, value):
  return int(round(value)) if spec.dtype == tf.int64 else float(value)


def as_graph_sees_it(spec, value) -> float:
  """The probe value after the preprocessing_fn's cast to float32."""
  return float(np.float32(probe_value(spec, value)))


def bisect_first(names, raw_spec, probe, past) -> Dict[str, float]:
  """Per feature: the smallest raw value whose output satisfies `past(name, output)`."""
  state = {}
  for name in names:
    state[name] = ([-INT_SEARCH_LIMIT, INT_SEARCH_LIMIT] if raw_spec[name].dtype == tf.int64
                   else [float_key(-FLOAT32_MAX), float_key(FLOAT32_MAX)])
  while any(lo < hi for lo, hi in state.values()):
    row = {}
    for name, (lo, hi) in state.items():
      if lo < hi:
        mid = (lo + hi) // 2
        row[name] = mid if raw_spec[name].dtype == tf.int64 else float(key_float(mid))
    outs = probe.run([row])
    for name, bounds in state.items():
      lo, hi = bounds
      if lo >= hi:
        continue
      mid = (lo + hi) // 2
      if past(name, float(outs[features.transformed_name(name)][0])):
        bounds[1] = mid
      else:
        bounds[0] = mid + 1
  return {name: (lo if raw_spec[name].dtype == tf.int64 else float(key_float(lo)))
          for name, (lo, _) in state.items()}


def bisect_boundaries(searches, raw_spec, probe) -> Dict[str, List[Optional[float]]]:
  """Boundary k of a feature is the smallest raw value whose bucket id is ≥ k (tft.apply_buckets:
  bucket i holds boundaries[i-1] <= x < boundaries[i]). Floats are searched over their ordered
  float32 bit patterns, so the result is the exact float32 boundary."""
  state = {}
  for name, ks in searches.items():
    is_int = raw_spec[name].dtype == tf.int64
    lo, hi = ((-INT_SEARCH_LIMIT, INT_SEARCH_LIMIT) if is_int else
              (float_key(-FLOAT32_MAX), float_key(FLOAT32_MAX)))
    state[name] = [[k, lo, hi, reachable] for k, reachable in ks]
  width = max((len(v) for v in state.values()), default=0)
  while any(lo < hi for v in state.values() for _, lo, hi, ok in v if ok):
    rows = [dict() for _ in range(width)]
    for name, searches_of_name in state.items():
      is_int = raw_spec[name].dtype == tf.int64
      for row, (_, lo, hi, ok) in zip(rows, searches_of_name):
        if ok and lo < hi:
          mid = (lo + hi) // 2
          row[name] = mid if is_int else float(key_float(mid))
    outs = probe.run(rows)
    for name, searches_of_name in state.items():
      output = features.transformed_name(name)
      for i, search in enumerate(searches_of_name):
        k, lo, hi, ok = search
        if not ok or lo >= hi:
          continue
        mid = (lo + hi) // 2
        if int(outs[output][i]) >= k:
          search[2] = mid
        else:
          search[1] = mid + 1
  result = {}
  for name, searches_of_name in state.items():
    is_int = raw_spec[name].dtype == tf.int64
    result[name] = [
        (None if not ok else int(lo) if is_int else float(f"{float(key_float(lo)):.7g}"))
        for _, lo, _, ok in searches_of_name
    ]
  return result


def float_key(value: float) -> int:
  """An integer that orders like the float32 `value` (sign-magnitude bits made monotonic)."""
  bits = int(np.array(value, np.float32).view(np.uint32))
  return bits ^ 0xFFFFFFFF if bits & 0x80000000 else bits | 0x80000000


def key_float(key: int) -> np.float32:
  bits = key & 0x7FFFFFFF if key & 0x80000000 else key ^ 0xFFFFFFFF
  return np.array(bits, np.uint32).view(np.float32)


def lowest(spec):
  return -INT_SEARCH_LIMIT if spec.dtype == tf.int64 else -FLOAT32_MAX


def highest(spec):
  return INT_SEARCH_LIMIT if spec.dtype == tf.int64 else FLOAT32_MAX
