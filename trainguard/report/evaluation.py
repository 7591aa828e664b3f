"""The TFMA evaluation as the report shows it: overall metrics (candidate, baseline, change),
per-class metrics, the confusion matrix and why the model was not blessed.

Read from the `Evaluator.evaluation` artifact with `tfma.load_metrics`, `load_plots` and
`load_validation_result`; `evaluation_from_protos` does the work on the protos, so tests can hand
them in. TFMA (and with it TensorFlow) is imported only by `read_evaluation`.
"""
import os
from typing import Any, Dict, List, Optional, Sequence

from trainguard.report import readers
from trainguard.report.data import ConfusionMatrix, Evaluation, MetricRow
from trainguard.report.format import format_number

# TFMA writes -1 as the predicted class of an example no class reached the threshold for.
NO_PREDICTED_CLASS_ID = -1


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
  if not readers.exists(path):
    return ["baseline"]
  try:
    raw = readers.read_json(path)
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
