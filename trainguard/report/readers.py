"""Readers of the files components write for the report: the Keras history, Rebalance's
`rebalance.json` (or its custom properties) and the Transform summary.

Each reader takes a path (local, or remote through `tf.io.gfile`) and returns a section of
`data.ReportData`; it raises on a file it cannot read, and `gathering` turns that into a line of
`ReportData.notes`. TensorFlow is imported only for a remote path.
"""
import json
import os
from typing import Any, Dict, List, Mapping

from tensorflow_metadata.proto.v0 import statistics_pb2

from trainguard.report.data import ClassCounts, RebalanceInfo, TransformFeature, TransformInfo


def _is_remote(path: str) -> bool:
  return "://" in path


def exists(path: str) -> bool:
  """A local path, or a remote one (`gs://...`) through `tf.io.gfile`, imported only then."""
  if _is_remote(path):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    return tf.io.gfile.exists(path)
  return os.path.exists(path)


def read_json(path: str) -> Any:
  """The JSON value in a local or remote file."""
  if _is_remote(path):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    with tf.io.gfile.GFile(path, "r") as f:
      return json.load(f)
  with open(path, encoding="utf-8") as f:
    return json.load(f)

def list_dir(path: str) -> List[str]:
  """The names in a local or remote folder."""
  if _is_remote(path):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    return [n.rstrip("/") for n in tf.io.gfile.listdir(path)]
  return os.listdir(path)


def read_bytes(path: str) -> bytes:
  if _is_remote(path):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    with tf.io.gfile.GFile(path, "rb") as f:
      return f.read()
  with open(path, "rb") as f:
    return f.read()

# ---------------------------------------------------------------------------------------------
# TFDV statistics
# ---------------------------------------------------------------------------------------------

# StatisticsGen's file per split (TFX 1.16 `stats_artifact_utils.BINARY_PB_BASENAME`).
STATISTICS_FILE = "FeatureStats.pb"


def read_statistics(uri: str) -> Dict[str, statistics_pb2.DatasetFeatureStatistics]:
  """Every split of a StatisticsGen artifact: split name -> its dataset statistics, read from
  `Split-<name>/FeatureStats.pb` (a binary `DatasetFeatureStatisticsList`)."""
  found = {}
  for entry in sorted(list_dir(uri)):
    if not entry.startswith("Split-"):
      continue
    path = os.path.join(uri, entry, STATISTICS_FILE)
    if not exists(path):
      continue
    statistics = statistics_pb2.DatasetFeatureStatisticsList.FromString(read_bytes(path))
    if statistics.datasets:
      found[entry[len("Split-"):]] = statistics.datasets[0]
  if not found:
    raise ValueError(f"no Split-*/{STATISTICS_FILE} in {uri}")
  return found

# ---------------------------------------------------------------------------------------------
# Training history
# ---------------------------------------------------------------------------------------------


def read_history(path: str) -> Dict[str, List[float]]:
  """Keras' `History.history` as the Trainer wrote it: metric name -> one value per epoch."""
  raw = read_json(path)
  if not isinstance(raw, dict):
    raise ValueError(f"{path} holds {type(raw).__name__}, not a dict of metric -> values")
  return {str(k): [float(v) for v in values] for k, values in raw.items()
          if isinstance(values, list)}

def read_regression_predictions(path: str) -> Dict[str, Any]:
  """The Trainer's sample of a regression's eval predictions: {"actual": [...], "predicted":
  [...], "rows_total": n, "rows_sampled": n}, label units; pairs with a non-finite side dropped."""
  raw = read_json(path)
  actual, predicted = raw.get("actual"), raw.get("predicted")
  if not isinstance(actual, list) or not isinstance(predicted, list) or len(actual) != len(
      predicted):
    raise ValueError(f"{path}: 'actual' and 'predicted' must be lists of the same length")
  pairs = [(float(a), float(p)) for a, p in zip(actual, predicted)
           if a is not None and p is not None]
  pairs = [(a, p) for a, p in pairs if a == a and p == p and abs(a) != float("inf")
           and abs(p) != float("inf")]
  return {"actual": [a for a, _ in pairs], "predicted": [p for _, p in pairs],
          "rows_total": int(raw.get("rows_total", len(actual))),
          "rows_sampled": int(raw.get("rows_sampled", len(actual)))}

# ---------------------------------------------------------------------------------------------
# Rebalance
# ---------------------------------------------------------------------------------------------


def read_rebalance(path: str, class_label=str) -> RebalanceInfo:
  """Rebalance's `rebalance.json`: {"strategy", "splits": {split: {"class_counts_before": {class
  id: rows}, "class_counts_after", "strategy", "requested_strategy", "resampled", "exact", ...}},
  "copied_splits", "parameters"}."""
  raw = read_json(path)
  splits = []
  for split, info in sorted(raw.get("splits", {}).items()):
    splits.append(ClassCounts(
        split=split,
        before=_counts(info.get("class_counts_before", {}), class_label),
        after=_counts(info.get("class_counts_after", {}), class_label),
        strategy=str(info.get("strategy", "")),
        requested_strategy=str(info.get("requested_strategy", "")),
        resampled=info.get("resampled"),
        exact=info.get("exact")))
  return RebalanceInfo(
      strategy=str(raw.get("strategy", "")),
      splits=splits,
      parameters=dict(raw.get("parameters", {})),
      copied_splits=list(raw.get("copied_splits", [])),
      source=path)


def rebalance_from_properties(properties: Mapping[str, Any], class_label=str,
                              source: str = "") -> RebalanceInfo:
  """From the custom properties `strategy`, `class_counts_before` and `class_counts_after`
  (JSON: split -> class id -> rows)."""
  before = json.loads(properties["class_counts_before"])
  after = json.loads(properties["class_counts_after"])
  strategy = str(properties.get("strategy", ""))
  splits = [ClassCounts(split=s, before=_counts(before[s], class_label),
                        after=_counts(after.get(s, {}), class_label), strategy=strategy)
            for s in sorted(before)]
  return RebalanceInfo(strategy=strategy, splits=splits, source=source)


def _counts(raw: Mapping[Any, Any], class_label) -> Dict[str, int]:
  ordered = sorted(raw.items(), key=lambda kv: _sort_key(kv[0]))
  return {class_label(k): int(v) for k, v in ordered}


def _sort_key(class_id: Any):
  try:
    return (0, int(class_id), "")
  except (TypeError, ValueError):
    return (1, 0, str(class_id))


# ---------------------------------------------------------------------------------------------
# Transform summary
# ---------------------------------------------------------------------------------------------

# Bookkeeping of trainguard.models.preprocessing_summary that a reader does not need.
_HIDDEN_KEYS = ("output", "policy")
# What an entry says about a categorical feature's vocabulary, shown after its scaling.
_VOCABULARY_KEYS = ("vocabulary_size", "top_values", "num_ids", "unseen_id")


def read_transform_summary(path: str) -> TransformInfo:
  """`transform_summary.json` (trainguard.models.preprocessing_summary, version 1): {"features":
  {raw name: {"kind", "imputation": {"method", "value"}, "scaling": {"method", ...parameters},
  "vocabulary_size", "top_values", "dropped", "reason", "missing_indicator", ...}}, "warnings"}.

  Read as that module writes it, its only writer: "imputation", "scaling" and the vocabulary keys
  get their own column; any other key of an entry is shown as written, under `notes`. The missing
  fraction is not in the summary: `gathering` takes it from DataGuard's findings."""
  raw = read_json(path)
  entries = raw.get("features") if isinstance(raw, dict) else raw
  if not isinstance(raw, dict) or not isinstance(entries, dict):
    raise ValueError(f'{path}: expected per-feature entries under "features", found '
                     f"{type(entries).__name__}")
  features = []
  for name, entry in entries.items():
    if not isinstance(entry, dict):
      features.append(TransformFeature(name=str(name), notes=describe_value(entry)))
      continue
    rest = {k: v for k, v in entry.items() if k not in _HIDDEN_KEYS}
    feature = TransformFeature(name=str(name), kind=str(rest.pop("kind", "") or ""))
    feature.imputation = _treatment(rest.pop("imputation", None))
    feature.scaling = _treatment(rest.pop("scaling", None))
    vocabulary = {key: rest.pop(key) for key in _VOCABULARY_KEYS if key in rest}
    if vocabulary:
      text = _vocabulary_text(vocabulary)
      feature.scaling = f"{feature.scaling}; {text}" if feature.scaling else text
    notes = []
    reason = rest.pop("reason", None)
    if rest.pop("dropped", False):
      feature.dropped = True
      notes.append(f"dropped: {reason}" if reason else "dropped")
    elif reason:
      notes.append(str(reason))
    if rest.pop("excluded", False):
      notes.append("excluded from the model")
    if rest.pop("missing_indicator", False):
      notes.append("adds a missing-value indicator")
    if rest:
      notes.append(describe_value(rest))
    feature.notes = "; ".join(notes)
    features.append(feature)
  warnings = raw.get("warnings", [])
  return TransformInfo(features=features, warnings=[str(w) for w in warnings], source=path)


def _treatment(value: Any) -> str:
  """Display text of an imputation or a scaling: "mean: 43.92", "z_score: mean=43.92, std=5.46",
  "most_frequent: MALE (id 0)"."""
  if not isinstance(value, dict):
    return describe_value(value)
  value = dict(value)
  method = value.pop("method", None)
  if "value" in value and "id" in value:
    text = f"{describe_value(value.pop('value'))} (id {describe_value(value.pop('id'))})"
  elif "value" in value:
    text = describe_value(value.pop("value"))
  else:
    text = ""
  rest = describe_value(value) if value else ""
  text = ", ".join(t for t in (text, rest) if t)
  return f"{method}: {text}" if method and text else str(method or text)


def _vocabulary_text(found: Dict[str, Any]) -> str:
  parts = []
  if "vocabulary_size" in found:
    parts.append(f"vocabulary of {describe_value(found.pop('vocabulary_size'))}")
  top = found.pop("top_values", None)
  if top:
    shown = ", ".join(str(v) for v in top[:5]) + (", …" if len(top) > 5 else "")
    parts.append(f"top: {shown}")
  if found:
    parts.append(describe_value(found))
  return "; ".join(parts)


def describe_value(value: Any) -> str:
  """Compact display text for a JSON value: floats to 6 significant digits, dicts as k=v."""
  if value is None:
    return ""
  if isinstance(value, bool):
    return "yes" if value else "no"
  if isinstance(value, float):
    return f"{value:.6g}"
  if isinstance(value, dict):
    return ", ".join(f"{k}={describe_value(v)}" for k, v in value.items())
  if isinstance(value, (list, tuple)):
    return "[" + ", ".join(describe_value(v) for v in value) + "]"
  return str(value)
