"""What the run report shows, as plain data: `ReportData`, gathered from a run by `gather(summary)`.

Every section comes from a file a component wrote or from ML Metadata, never from log text:

- findings, DataGuard counts: `findings.json` in `DataGuard.anomalies` (`RunSummary.findings`);
- Transform per feature: `transform_summary.json` in `Trainer.model_run` (else in
  `Transform.transform_graph`);
- rebalancing: `rebalance.json` at the root of the Rebalance output, else its custom properties
  `strategy`, `class_counts_before`, `class_counts_after`;
- training curves: `history.json` (Keras history) in `Trainer.model_run`;
- eval metrics, per-class metrics, confusion matrix, why not blessed: the TFMA artifact
  `Evaluator.evaluation` (`tfma.load_metrics`, `load_plots`, `load_validation_result`);
- blessed / pushed and where: `Evaluator.blessing`, `Pusher.pushed_model` (`RunSummary`);
- class names and label: `custom_config` of the Trainer / Transform / Rebalance executions in ML
  Metadata, else the curated schema (`ImportSchemaGen.schema`) and DataGuard's `label_key`;
- timings: the run's executions in ML Metadata (`RunSummary.executions`).

A section whose file is missing stays `None`; the report then says whether its component did not
run or ran without writing it. A file that exists but cannot be read adds a line to `notes` (shown
in the report) instead of failing the report: it is written after failed runs too.

Tests build `ReportData` directly; nothing here needs a TFX run.
"""
import dataclasses
import datetime
import json
import math
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence

HISTORY_FILE = "history.json"  # trainguard.models.keras_model.model.HISTORY_FILE
TRANSFORM_SUMMARY_FILE = "transform_summary.json"
REBALANCE_FILE = "rebalance.json"  # trainguard.components.rebalance.executor.REPORT_FILE
REBALANCE_NODE = "Rebalance"
# Where the Transform summary may be, in order.
TRANSFORM_SUMMARY_OUTPUTS = ("Trainer.model_run", "Transform.transform_graph")
# TFMA writes -1 as the predicted class of an example no class reached the threshold for.
NO_PREDICTED_CLASS_ID = -1


@dataclasses.dataclass
class StepTiming:
  node_id: str
  state: str  # NEW, RUNNING, COMPLETE, CACHED, FAILED, CANCELED
  seconds: float


@dataclasses.dataclass
class ClassCounts:
  """Rows per class of one split before and after Rebalance, keyed by class label."""
  split: str
  before: Dict[str, int]
  after: Dict[str, int]
  strategy: str = ""
  requested_strategy: str = ""
  resampled: Optional[bool] = None
  exact: Optional[bool] = None


@dataclasses.dataclass
class RebalanceInfo:
  strategy: str
  splits: List[ClassCounts]
  parameters: Dict[str, Any] = dataclasses.field(default_factory=dict)
  copied_splits: List[str] = dataclasses.field(default_factory=list)
  source: str = ""


@dataclasses.dataclass
class TransformFeature:
  """What Transform did to one feature; text fields are for display, "" when not recorded."""
  name: str
  kind: str = ""  # numeric, categorical
  imputation: str = ""
  scaling: str = ""  # scaling or encoding, with its parameters
  missing_fraction: Optional[float] = None
  dropped: bool = False
  notes: str = ""


@dataclasses.dataclass
class TransformInfo:
  features: List[TransformFeature]
  warnings: List[str] = dataclasses.field(default_factory=list)
  source: str = ""
  # Where missing fractions not in the summary came from, e.g. DataGuard's train-split findings.
  missing_source: str = ""


@dataclasses.dataclass
class MetricRow:
  name: str  # e.g. "recall (macro average)"
  value: Optional[float]
  baseline: Optional[float] = None
  change: Optional[float] = None  # candidate minus baseline, as TFMA computed it


@dataclasses.dataclass
class ConfusionMatrix:
  """counts[i][j]: examples of class actual[i] predicted as predicted[j]."""
  actual: List[str]
  predicted: List[str]
  counts: List[List[float]]
  threshold: Optional[float] = None


@dataclasses.dataclass
class Evaluation:
  overall: List[MetricRow] = dataclasses.field(default_factory=list)
  # class label -> metric name -> value; rows and columns in display order.
  per_class: Dict[str, Dict[str, float]] = dataclasses.field(default_factory=dict)
  confusion: Optional[ConfusionMatrix] = None
  validation_ok: Optional[bool] = None
  failures: List[str] = dataclasses.field(default_factory=list)  # why the model was not blessed
  source: str = ""

  @property
  def per_class_metrics(self) -> List[str]:
    names: Dict[str, None] = {}
    for by_metric in self.per_class.values():
      names.update(dict.fromkeys(by_metric))
    return list(names)


@dataclasses.dataclass
class ReportData:
  """Everything the report shows. Only the run's identity is required; a section left `None`
  is shown as not run / not available."""
  pipeline_name: str
  run_id: str
  steps: List[StepTiming] = dataclasses.field(default_factory=list)
  findings: Optional[Any] = None  # data_guard.findings.FindingsReport
  findings_source: str = ""
  transform: Optional[TransformInfo] = None
  rebalance: Optional[RebalanceInfo] = None
  history: Optional[Dict[str, List[float]]] = None
  history_source: str = ""
  evaluation: Optional[Evaluation] = None
  blessed: Optional[bool] = None
  blessing_source: str = ""
  pushed_model: Optional[str] = None
  model_uri: str = ""
  label_key: str = ""
  class_names: List[str] = dataclasses.field(default_factory=list)
  workdir: str = ""
  metadata_path: str = ""
  pipeline_root: str = ""
  notes: List[str] = dataclasses.field(default_factory=list)  # files found but not readable
  generated_at: str = ""

  def step(self, node_id: str) -> Optional[StepTiming]:
    return next((s for s in self.steps if s.node_id == node_id), None)

  def class_label(self, class_id: Any) -> str:
    """"Adelie" for class id 0 when the classes are known, else the id as text."""
    try:
      index = int(class_id)
    except (TypeError, ValueError):
      return str(class_id)
    if 0 <= index < len(self.class_names):
      return self.class_names[index]
    return str(class_id)


# ---------------------------------------------------------------------------------------------
# From a RunSummary
# ---------------------------------------------------------------------------------------------


def gather(summary) -> ReportData:
  """Collects what the report shows from a `results.RunSummary` (a finished, failed or blocked
  run) and the artifacts it names. Reads files and ML Metadata only; never raises for a missing
  or unreadable artifact (see `ReportData.notes`)."""
  data = ReportData(
      pipeline_name=summary.paths.pipeline_name,
      run_id=summary.run_id,
      steps=[StepTiming(r.node_id, r.state, r.seconds) for r in summary.executions.values()],
      findings=summary.findings,
      blessed=summary.blessed,
      pushed_model=summary.pushed_model,
      workdir=summary.paths.workdir,
      metadata_path=summary.paths.metadata_path,
      pipeline_root=summary.paths.pipeline_root,
      generated_at=datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z"))
  data.findings_source = _file_in(summary, "DataGuard.anomalies", "findings.json") or ""
  data.blessing_source = _uri(summary, "Evaluator.blessing") or ""
  data.model_uri = _uri(summary, "Trainer.model") or ""
  data.label_key, data.class_names = _label_and_classes(summary, data.notes)

  history_path = _file_in(summary, "Trainer.model_run", HISTORY_FILE)
  if history_path:
    data.history = _attempt(data.notes, history_path, lambda: read_history(history_path))
    data.history_source = history_path
  for output in TRANSFORM_SUMMARY_OUTPUTS:
    path = _file_in(summary, output, TRANSFORM_SUMMARY_FILE)
    if path:
      data.transform = _attempt(data.notes, path, lambda p=path: read_transform_summary(p))
      break
  if data.transform is not None:
    _add_missing_fractions(data.transform, data.findings)
  data.rebalance = _rebalance(summary, data)
  evaluation_uri = _uri(summary, "Evaluator.evaluation")
  if evaluation_uri:
    data.evaluation = _attempt(data.notes, evaluation_uri,
                               lambda: read_evaluation(evaluation_uri, data.class_label))
  return data


def _add_missing_fractions(transform: TransformInfo, findings) -> None:
  """Fills the missing fractions the summary lacks from DataGuard's train-split findings."""
  measured = missing_fractions_from_findings(findings)
  added = False
  for feature in transform.features:
    if feature.missing_fraction is None and feature.name in measured:
      feature.missing_fraction = measured[feature.name]
      added = True
  if added:
    transform.missing_source = "DataGuard's MISSING_VALUES findings on the train split"


def _uri(summary, key: str) -> Optional[str]:
  found = summary.artifacts.get(key)
  return found[-1].uri if found else None


def _file_in(summary, key: str, name: str) -> Optional[str]:
  uri = _uri(summary, key)
  if uri is None:
    return None
  path = os.path.join(uri, name)
  return path if _exists(path) else None


def _attempt(notes: List[str], what: str, read):
  try:
    return read()
  except Exception as e:  # pylint: disable=broad-except
    notes.append(f"could not read {what}: {type(e).__name__}: {e}")
    return None


def _is_remote(path: str) -> bool:
  return "://" in path


def _exists(path: str) -> bool:
  if _is_remote(path):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    return tf.io.gfile.exists(path)
  return os.path.exists(path)


def _read_json(path: str) -> Any:
  if _is_remote(path):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    with tf.io.gfile.GFile(path, "r") as f:
      return json.load(f)
  with open(path, encoding="utf-8") as f:
    return json.load(f)


def _label_and_classes(summary, notes: List[str]):
  """The label and its classes from the executions' custom_config, else from the schema."""
  label_key, classes = "", []
  configs = _execution_properties(summary, ("Trainer", "Transform", REBALANCE_NODE, "DataGuard"),
                                  notes)
  for node_id in ("Trainer", "Transform", REBALANCE_NODE):
    config = _json_or_none(configs.get(node_id, {}).get("custom_config"))
    if isinstance(config, dict) and config.get("label_classes"):
      return str(config.get("label_key", "")), [str(c) for c in config["label_classes"]]
    label_key = label_key or str(configs.get(node_id, {}).get("label_key", ""))
  label_key = label_key or str(configs.get("DataGuard", {}).get("label_key", ""))
  schema_uri = _uri(summary, "ImportSchemaGen.schema") or _uri(summary, "SchemaGen.schema")
  if label_key and schema_uri:
    path = os.path.join(schema_uri, "schema.pbtxt")
    if _exists(path):
      try:
        from trainguard.models import features  # pylint: disable=g-import-not-at-top
        from trainguard.pipeline import results  # pylint: disable=g-import-not-at-top
        classes = features.label_classes_from_schema(results.load_schema(path), label_key)
      except (ValueError, OSError):
        classes = []  # a label without a string domain: class ids are shown as numbers
  return label_key, classes


def _execution_properties(summary, node_ids: Sequence[str],
                          notes: List[str]) -> Dict[str, Dict[str, Any]]:
  ids = {node: summary.executions[node].execution_id for node in node_ids
         if node in summary.executions}
  if not ids or not os.path.isfile(summary.paths.metadata_path):
    return {}
  try:
    from trainguard.pipeline import results  # pylint: disable=g-import-not-at-top
    store = results.metadata_store(summary.paths.metadata_path)
    by_id = {e.id: e for e in store.get_executions_by_id(list(ids.values()))}
  except Exception as e:  # pylint: disable=broad-except
    notes.append(f"could not read executions from {summary.paths.metadata_path}: {e}")
    return {}
  properties = {}
  for node, execution_id in ids.items():
    execution = by_id.get(execution_id)
    if execution is not None:
      properties[node] = {k: _property_value(v) for k, v in execution.custom_properties.items()}
  return properties


def _property_value(value) -> Any:
  kind = value.WhichOneof("value")
  return getattr(value, kind) if kind else None


def _json_or_none(text: Any) -> Any:
  if not isinstance(text, str):
    return None
  try:
    return json.loads(text)
  except ValueError:
    return None


# ---------------------------------------------------------------------------------------------
# Training history
# ---------------------------------------------------------------------------------------------


def read_history(path: str) -> Dict[str, List[float]]:
  """Keras' `History.history` as the Trainer wrote it: metric name -> one value per epoch."""
  raw = _read_json(path)
  if not isinstance(raw, dict):
    raise ValueError(f"{path} holds {type(raw).__name__}, not a dict of metric -> values")
  return {str(k): [float(v) for v in values] for k, values in raw.items()
          if isinstance(values, list)}


# ---------------------------------------------------------------------------------------------
# Rebalance
# ---------------------------------------------------------------------------------------------


def _rebalance(summary, data: ReportData) -> Optional[RebalanceInfo]:
  keys = [k for k in summary.artifacts if k.split(".", 1)[0] == REBALANCE_NODE]
  for key in keys:
    uri = _uri(summary, key)
    path = os.path.join(uri, REBALANCE_FILE)
    if _exists(path):
      return _attempt(data.notes, path, lambda p=path: read_rebalance(p, data.class_label))
  for key in keys:  # no file: the custom properties carry the strategy and the counts
    artifact = summary.artifacts[key][-1]
    properties = {k: _property_value(v) for k, v in artifact.custom_properties.items()}
    if "class_counts_before" in properties and "class_counts_after" in properties:
      return _attempt(data.notes, f"custom properties of {key}", lambda p=properties, k=key: (
          rebalance_from_properties(p, data.class_label, f"custom properties of {k}")))
  return None


def read_rebalance(path: str, class_label=str) -> RebalanceInfo:
  """Rebalance's `rebalance.json`: {"strategy", "splits": {split: {"class_counts_before": {class
  id: rows}, "class_counts_after", "strategy", "requested_strategy", "resampled", "exact", ...}},
  "copied_splits", "parameters"}."""
  raw = _read_json(path)
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

# The keys looked for in each feature's entry of `transform_summary.json`, most specific first.
# Anything else in the entry is shown as it is, under "notes".
_IMPUTATION_KEYS = ("imputation", "impute", "imputed_value", "imputation_value", "fill_value")
_SCALING_KEYS = ("scaling", "scale", "scaling_parameters", "scaler")
_MISSING_KEYS = ("missing_fraction", "fraction_missing", "missing")
_VOCABULARY_KEYS = ("vocabulary_size", "top_values", "num_ids", "unseen_id")
# Bookkeeping of trainguard.models.preprocessing_summary that a reader does not need.
_HIDDEN_KEYS = ("name", "feature", "output", "policy")


def read_transform_summary(path: str) -> TransformInfo:
  """`transform_summary.json` (trainguard.models.preprocessing_summary, version 1): {"features":
  {raw name: {"kind", "imputation": {"method", "value"}, "scaling": {"method", ...parameters},
  "vocabulary_size", "top_values", "dropped", "reason", "missing_indicator", ...}}, "warnings"}.

  Read leniently, for summaries written before or after that version: the features may also be a
  list of {"name": ..., ...} or the top-level object itself; `impute` / `imputed_value`, `scale` /
  `scaling_parameters` and `missing_fraction` are recognised; anything else goes to `notes`."""
  raw = _read_json(path)
  entries = raw.get("features", raw) if isinstance(raw, dict) else raw
  if isinstance(entries, list):
    entries = {str(e.get("name") or e.get("feature")): e for e in entries if isinstance(e, dict)}
  if not isinstance(entries, dict):
    raise ValueError(f"{path}: expected per-feature entries, found {type(entries).__name__}")
  features = []
  for name, entry in entries.items():
    if not isinstance(entry, dict):
      features.append(TransformFeature(name=str(name), notes=describe_value(entry)))
      continue
    rest = {k: v for k, v in entry.items() if k not in _HIDDEN_KEYS}
    feature = TransformFeature(name=str(name), kind=str(rest.pop("kind", "") or ""))
    feature.imputation = _treatment(_pop_all(rest, _IMPUTATION_KEYS))
    feature.scaling = _treatment(_pop_all(rest, _SCALING_KEYS))
    vocabulary = _pop_all(rest, _VOCABULARY_KEYS)
    if vocabulary:
      text = _vocabulary_text(vocabulary)
      feature.scaling = f"{feature.scaling}; {text}" if feature.scaling else text
    missing = _pop_all(rest, _MISSING_KEYS)
    fraction = next(iter(missing.values()), None)
    feature.missing_fraction = float(fraction) if _is_number(fraction) else None
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
  warnings = raw.get("warnings", []) if isinstance(raw, dict) else []
  return TransformInfo(features=features, warnings=[str(w) for w in warnings], source=path)


def _pop_all(entry: Dict[str, Any], keys: Sequence[str]) -> Dict[str, Any]:
  return {key: entry.pop(key) for key in keys if key in entry}


def _treatment(found: Dict[str, Any]) -> str:
  """Display text of an imputation or a scaling: "mean: 43.92", "z_score: mean=43.92, std=5.46",
  "most_frequent: MALE (id 0)"; keys other than the first found are named."""
  parts = []
  for i, (key, value) in enumerate(found.items()):
    if isinstance(value, dict):
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
      text = f"{method}: {text}" if method and text else str(method or text)
    else:
      text = describe_value(value)
    parts.append(text if i == 0 else f"{key.replace('_', ' ')}: {text}")
  return "; ".join(p for p in parts if p)


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


def _is_number(value: Any) -> bool:
  return isinstance(value, (int, float)) and not isinstance(value, bool)


def missing_fractions_from_findings(findings, split: str = "train") -> Dict[str, float]:
  """The measured missing fraction per feature from DataGuard's MISSING_VALUES findings."""
  if findings is None:
    return {}
  return {f.feature: f.measured for f in findings.findings
          if f.kind == "MISSING_VALUES" and f.split == split and f.measured is not None}


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


def format_number(value: Optional[float]) -> str:
  if value is None:
    return ""
  if isinstance(value, float) and not math.isfinite(value):
    return str(value)
  if isinstance(value, int) or float(value).is_integer() and abs(value) < 1e15:
    return f"{int(value):,}"
  return f"{value:.4g}"


# ---------------------------------------------------------------------------------------------
# TFMA evaluation
# ---------------------------------------------------------------------------------------------


def read_evaluation(uri: str, class_label=str) -> Evaluation:
  """Metrics of the overall slice, per-class metrics (`sub_key.class_id`), the multi-class (or
  binary, at the threshold nearest 0.5) confusion matrix, and the validation failures, read with
  `tfma.load_metrics`, `tfma.load_plots` and `tfma.load_validation_result`."""
  import tensorflow_model_analysis as tfma  # pylint: disable=g-import-not-at-top
  baseline_names = _baseline_model_names(uri)
  metrics = [m for m in tfma.load_metrics(uri) if _is_overall(m.slice_key)]
  plots = [p for p in tfma.load_plots(uri) if _is_overall(p.slice_key)]
  try:
    validation = tfma.load_validation_result(uri)
  except Exception:  # pylint: disable=broad-except
    validation = None  # an evaluation without thresholds writes no validations file
  return evaluation_from_protos(metrics, plots, validation, class_label, baseline_names,
                                source=uri)


def _baseline_model_names(uri: str) -> List[str]:
  path = os.path.join(uri, "eval_config.json")
  if not _exists(path):
    return ["baseline"]
  try:
    raw = _read_json(path)
    config = raw.get("evalConfig", raw)
    names = [s.get("name", "") for s in config.get("modelSpecs", config.get("model_specs", []))
             if s.get("isBaseline") or s.get("is_baseline")]
  except (ValueError, AttributeError):
    names = []
  return names or ["baseline"]


def _is_overall(slice_key) -> bool:
  return not slice_key.single_slice_keys


def evaluation_from_protos(metrics_for_slices: Sequence[Any], plots_for_slices: Sequence[Any],
                           validation: Optional[Any], class_label=str,
                           baseline_names: Sequence[str] = ("baseline",),
                           source: str = "") -> Evaluation:
  """The overall slice of TFMA's MetricsForSlice / PlotsForSlice and a ValidationResult."""
  evaluation = Evaluation(source=source)
  overall: Dict[str, MetricRow] = {}
  per_class: Dict[Any, Dict[str, float]] = {}
  matrices = []
  for metrics in metrics_for_slices:
    for item in metrics.metric_keys_and_values:
      key, value = item.key, item.value
      kind = value.WhichOneof("type")
      if kind in ("confusion_matrix_at_thresholds", "multi_class_confusion_matrix_at_thresholds"):
        if key.model_name not in baseline_names and not key.is_diff:
          matrices.append((key, getattr(value, kind)))
        continue
      number = _scalar(value)
      if number is None:
        continue
      if key.sub_key.HasField("class_id") and not key.HasField("aggregation_type"):
        if key.model_name in baseline_names or key.is_diff:
          continue
        per_class.setdefault(key.sub_key.class_id.value, {})[_metric_label(key)] = number
        continue
      row = overall.setdefault(_metric_label(key), MetricRow(_metric_label(key), None))
      if key.is_diff:
        row.change = number
      elif key.model_name in baseline_names:
        row.baseline = number
      else:
        row.value = number
  for plots in plots_for_slices:
    for item in plots.plot_keys_and_values:
      if item.key.model_name in baseline_names:
        continue
      for kind in ("multi_class_confusion_matrix_at_thresholds", "confusion_matrix_at_thresholds"):
        if item.value.HasField(kind):
          matrices.append((item.key, getattr(item.value, kind)))
  evaluation.overall = [r for r in overall.values()
                        if r.value is not None or r.baseline is not None]
  evaluation.per_class = {class_label(c): per_class[c] for c in sorted(per_class)}
  evaluation.confusion = _confusion(matrices, class_label)
  if validation is not None:
    evaluation.validation_ok = bool(validation.validation_ok)
    evaluation.failures = _failures(validation, class_label)
  return evaluation


def _scalar(value) -> Optional[float]:
  kind = value.WhichOneof("type")
  if kind == "double_value":
    return value.double_value.value
  if kind == "bounded_value":
    return value.bounded_value.value.value
  if kind == "t_distribution_value":
    return value.t_distribution_value.unsampled_value.value
  if kind == "array_value" and len(value.array_value.float64_values) == 1:
    return value.array_value.float64_values[0]
  if kind == "array_value" and len(value.array_value.float32_values) == 1:
    return value.array_value.float32_values[0]
  return None


_AGGREGATIONS = {"micro_average": "micro average", "macro_average": "macro average",
                 "weighted_macro_average": "weighted macro average"}


def _metric_label(key, class_label=None) -> str:
  label = key.name
  extras = []
  if key.HasField("aggregation_type"):
    extras.append(_AGGREGATIONS.get(key.aggregation_type.WhichOneof("type"), "average"))
  if key.sub_key.HasField("k"):
    extras.append(f"k={key.sub_key.k.value}")
  if key.sub_key.HasField("top_k"):
    extras.append(f"top {key.sub_key.top_k.value}")
  if class_label is not None and key.sub_key.HasField("class_id"):
    extras.append(f"class {class_label(key.sub_key.class_id.value)}")
  if key.output_name:
    extras.append(f"output {key.output_name}")
  return f"{label} ({', '.join(extras)})" if extras else label


def _confusion(matrices, class_label) -> Optional[ConfusionMatrix]:
  """From (key, ConfusionMatrixAtThresholds or MultiClassConfusionMatrixAtThresholds) pairs."""
  multi = [m for _, m in matrices
           if m.DESCRIPTOR.name == "MultiClassConfusionMatrixAtThresholds" and m.matrices]
  if multi:
    # The argmax matrix (threshold 0) when TFMA computed several thresholds.
    matrix = min(multi[0].matrices, key=lambda m: abs(m.threshold))
    actual_ids = sorted({e.actual_class_id for e in matrix.entries})
    predicted_ids = sorted(({e.predicted_class_id for e in matrix.entries} | set(actual_ids))
                           - {NO_PREDICTED_CLASS_ID})
    if any(e.predicted_class_id == NO_PREDICTED_CLASS_ID for e in matrix.entries):
      predicted_ids.append(NO_PREDICTED_CLASS_ID)  # "no class" last
    counts = [[0.0] * len(predicted_ids) for _ in actual_ids]
    for entry in matrix.entries:
      counts[actual_ids.index(entry.actual_class_id)][predicted_ids.index(
          entry.predicted_class_id)] += entry.num_weighted_examples
    predicted = ["no class" if c == NO_PREDICTED_CLASS_ID else class_label(c)
                 for c in predicted_ids]
    return ConfusionMatrix(actual=[class_label(c) for c in actual_ids], predicted=predicted,
                           counts=counts, threshold=matrix.threshold)
  binary = [m for k, m in matrices
            if m.DESCRIPTOR.name == "ConfusionMatrixAtThresholds" and m.matrices
            and not k.sub_key.HasField("class_id")]
  if binary:
    matrix = min(binary[0].matrices, key=lambda m: abs(m.threshold - 0.5))
    labels = [class_label(0), class_label(1)]
    return ConfusionMatrix(
        actual=labels, predicted=labels, threshold=matrix.threshold,
        counts=[[matrix.true_negatives, matrix.false_positives],
                [matrix.false_negatives, matrix.true_positives]])
  return None


def _failures(validation, class_label) -> List[str]:
  reasons = []
  for per_slice in validation.metric_validations_per_slice:
    where = "" if _is_overall(per_slice.slice_key) else f" on slice {_slice_text(per_slice)}"
    for failure in per_slice.failures:
      reasons.append(_failure_text(failure, class_label) + where)
  if validation.missing_thresholds:
    reasons.append("the eval config declares thresholds that TFMA could not evaluate "
                   "(missing_thresholds)")
  for spec in validation.missing_slices:
    reasons.append(f"slice {str(spec).strip() or 'overall'} had no examples")
  if validation.rubber_stamp:
    reasons.append("no baseline model yet: change thresholds were not checked (rubber stamp)")
  return reasons


def _slice_text(per_slice) -> str:
  parts = []
  for key in per_slice.slice_key.single_slice_keys:
    kind = key.WhichOneof("kind")
    parts.append(f"{key.column}={getattr(key, kind) if kind else ''}")
  return ", ".join(parts) or "overall"


def _failure_text(failure, class_label) -> str:
  """E.g. "sparse_categorical_accuracy 0.55 is below the required minimum 0.6"."""
  key, threshold = failure.metric_key, failure.metric_threshold
  value = _scalar(failure.metric_value)
  name = _metric_label(key, class_label)
  reasons = []
  if threshold.HasField("value_threshold"):
    bounds = threshold.value_threshold
    if bounds.HasField("lower_bound") and (value is None or value < bounds.lower_bound.value):
      reasons.append(f"below the required minimum {format_number(bounds.lower_bound.value)}")
    if bounds.HasField("upper_bound") and (value is None or value > bounds.upper_bound.value):
      reasons.append(f"above the allowed maximum {format_number(bounds.upper_bound.value)}")
  if threshold.HasField("change_threshold"):
    change = threshold.change_threshold
    # MetricDirection: 1 = LOWER_IS_BETTER, 2 = HIGHER_IS_BETTER.
    word = {1: "at most", 2: "at least"}.get(change.direction, "within")
    for kind in ("absolute", "relative"):
      if change.HasField(kind):
        reasons.append(f"the change must be {word} {format_number(getattr(change, kind).value)} "
                       f"({kind})")
  if failure.message:
    reasons.append(failure.message)
  shown = format_number(value) if value is not None else "(not computed)"
  if key.is_diff:
    text = f"{name} changed by {shown} vs the latest blessed model"
    return text + ("; " + "; ".join(reasons) if reasons else "")
  if not reasons:
    return f"{name} {shown} failed its threshold"
  return f"{name} {shown} is " + " and ".join(reasons)
