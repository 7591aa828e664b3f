"""What the run report shows, gathered from a run: `gather(summary)` → `data.ReportData`.

Every section comes from a file a component wrote or from ML Metadata, never from log text:

- findings, DataGuard counts: `findings.json` in `DataGuard.anomalies` (`RunSummary.findings`);
- Transform per feature: `transform_summary.json` in `Trainer.model_run` (else in
  `Transform.transform_graph`);
- rebalancing: `rebalance.json` at the root of the Rebalance output, else its custom properties
  `strategy`, `class_counts_before`, `class_counts_after`;
- training curves: `history.json` (Keras history) in `Trainer.model_run`; the training diagnosis:
  `training_findings.json` (`RunSummary.training_findings`) and `training_record.json` beside it;
  a regression's predicted-vs-actual sample: `regression_predictions.json` beside them;
- eval metrics, per-class metrics, confusion matrix, why not blessed: the TFMA artifact
  `Evaluator.evaluation` (`tfma.load_metrics`, `load_plots`, `load_validation_result`);
- blessed / pushed and where: `Evaluator.blessing`, `Pusher.pushed_model` (`RunSummary`);
- class names and label: `custom_config` of the Trainer / Transform / Rebalance executions in ML
  Metadata, else the curated schema (`ImportSchemaGen.schema`) and DataGuard's `label_key`;
- timings: the run's executions in ML Metadata (`RunSummary.executions`);
- the Features section: the TFDV statistics of `StatisticsGen.statistics` (train, eval), of
  `serving_statistics_gen` and `previous_span_statistics_gen` when the pipeline has them, with
  every finding (DataGuard's and the training diagnosis') that names a feature.

A section whose file is missing stays `None`; the report then says whether its component did not
run or ran without writing it. A file that exists but cannot be read adds a line to `notes` (shown
in the report) instead of failing the report: it is written after failed runs too.

The file formats are read in `readers` (history, rebalance, Transform summary) and `evaluation`
(TFMA); here the run's artifacts and executions are looked up and each reader is tried.
"""
import datetime
import json
import os
from typing import Any, Dict, List, Optional, Sequence

from trainguard import artifacts, schema_folder
from trainguard.report import evaluation, features, readers
from trainguard.report.data import RebalanceInfo, ReportData, StepState, StepTiming, TransformInfo

REBALANCE_NODE = "Rebalance"
# Where the Transform summary may be, in order.
TRANSFORM_SUMMARY_OUTPUTS = ("Trainer.model_run", "Transform.transform_graph")
# The statistics the Features section shows: output key -> how its splits are named. The run's
# own splits keep their names; a serving sample is "serving" (or "serving-<split>" when it has
# several) and a previous span "previous span".
STATISTICS_OUTPUTS = (("StatisticsGen.statistics", ""),
                      ("serving_statistics_gen.statistics", "serving"),
                      ("previous_span_statistics_gen.statistics", "previous span"))
SCHEMA_OUTPUTS = ("ImportSchemaGen.schema", "SchemaGen.schema")


def gather(summary) -> ReportData:
  """Collects what the report shows from a `results.RunSummary` (a finished, failed or blocked
  run) and the artifacts it names. Reads files and ML Metadata only; never raises for a missing
  or unreadable artifact (see `ReportData.notes`)."""
  data = ReportData(
      pipeline_name=summary.paths.pipeline_name,
      run_id=summary.run_id,
      steps=[StepTiming(r.node_id, _state(r.state), r.seconds)
             for r in summary.executions.values()],
      findings=summary.findings,
      blessed=summary.blessed,
      pushed_model=summary.pushed_model,
      workdir=summary.paths.workdir,
      metadata_path=summary.paths.metadata_path,
      pipeline_root=summary.paths.pipeline_root,
      generated_at=datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z"))
  data.findings_source = _file_in(summary, "DataGuard.anomalies", artifacts.FINDINGS_FILE) or ""
  data.blessing_source = _uri(summary, "Evaluator.blessing") or ""
  data.model_uri = _uri(summary, "Trainer.model") or ""
  data.label_key, data.class_names = _label_and_classes(summary, data.notes)
  data.task = _task(summary, data.notes)

  history_path = _file_in(summary, "Trainer.model_run", artifacts.HISTORY_FILE)
  if history_path:
    data.history = _attempt(data.notes, history_path, lambda: readers.read_history(history_path))
    data.history_source = history_path
  data.training_findings = summary.training_findings
  data.training_findings_source = _file_in(summary, "Trainer.model_run",
                                           artifacts.TRAINING_FINDINGS_FILE) or ""
  predictions_path = _file_in(summary, "Trainer.model_run", artifacts.REGRESSION_PREDICTIONS_FILE)
  if predictions_path:
    data.regression_predictions = _attempt(
        data.notes, predictions_path, lambda: readers.read_regression_predictions(predictions_path))
  record_path = _file_in(summary, "Trainer.model_run", artifacts.TRAINING_RECORD_FILE)
  if record_path:
    data.training_record = _attempt(data.notes, record_path,
                                    lambda: readers.read_json(record_path))
  for output in TRANSFORM_SUMMARY_OUTPUTS:
    path = _file_in(summary, output, artifacts.TRANSFORM_SUMMARY_FILE)
    if path:
      data.transform = _attempt(data.notes, path, lambda p=path: readers.read_transform_summary(p))
      break
  if data.transform is not None:
    _add_missing_fractions(data.transform, data.findings)
  data.rebalance = _rebalance(summary, data)
  evaluation_uri = _uri(summary, "Evaluator.evaluation")
  if evaluation_uri:
    data.evaluation = _attempt(data.notes, evaluation_uri,
                               lambda: evaluation.read_evaluation(evaluation_uri,
                                                                  data.class_label))
  schema_uri = _schema_uri(summary)
  if schema_uri and readers.exists(schema_folder.schema_path(schema_uri)):
    data.schema_path = schema_folder.schema_path(schema_uri)
  _add_features(summary, data)
  return data


def _add_features(summary, data: ReportData) -> None:
  """The Features section from the run's statistics; `None` (shown as not run / not available)
  when StatisticsGen left none."""
  statistics, sources = {}, []
  for key, renamed in STATISTICS_OUTPUTS:
    uri = _uri(summary, key)
    if not uri:
      continue
    splits = _attempt(data.notes, uri, lambda u=uri: readers.read_statistics(u))
    if not splits:
      continue
    sources.append(uri)
    for split, stats in splits.items():
      name = split if not renamed else renamed if len(splits) == 1 else f"{renamed}-{split}"
      statistics[name] = stats
  if not statistics:
    return
  found = list(data.findings.findings) if data.findings is not None else []
  if data.training_findings is not None:
    found += data.training_findings.findings
  data.features = features.feature_cards(statistics, found, data.label_key)
  data.features_source = sources[0]


def _state(name: str) -> StepState:
  """ML Metadata's state name; a state this report does not know (a number `results` could not
  name) is shown as UNKNOWN rather than failing the report."""
  try:
    return StepState(name)
  except ValueError:
    return StepState.UNKNOWN


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


def missing_fractions_from_findings(findings, split: str = "train") -> Dict[str, float]:
  """The measured missing fraction per feature from DataGuard's MISSING_VALUES findings."""
  if findings is None:
    return {}
  return {f.feature: f.measured for f in findings.findings
          if f.kind == "MISSING_VALUES" and f.split == split and f.measured is not None}


def _rebalance(summary, data: ReportData) -> Optional[RebalanceInfo]:
  keys = [k for k in summary.artifacts if k.split(".", 1)[0] == REBALANCE_NODE]
  for key in keys:
    uri = _uri(summary, key)
    path = os.path.join(uri, artifacts.REBALANCE_FILE)
    if readers.exists(path):
      return _attempt(data.notes, path,
                      lambda p=path: readers.read_rebalance(p, data.class_label))
  for key in keys:  # no file: the custom properties carry the strategy and the counts
    artifact = summary.artifacts[key][-1]
    properties = {k: _property_value(v) for k, v in artifact.custom_properties.items()}
    if "class_counts_before" in properties and "class_counts_after" in properties:
      return _attempt(data.notes, f"custom properties of {key}", lambda p=properties, k=key: (
          readers.rebalance_from_properties(p, data.class_label, f"custom properties of {k}")))
  return None


def _uri(summary, key: str) -> Optional[str]:
  found = summary.artifacts.get(key)
  return found[-1].uri if found else None


def _file_in(summary, key: str, name: str) -> Optional[str]:
  uri = _uri(summary, key)
  if uri is None:
    return None
  path = os.path.join(uri, name)
  return path if readers.exists(path) else None


def _attempt(notes: List[str], what: str, read):
  try:
    return read()
  except Exception as e:  # pylint: disable=broad-except
    notes.append(f"could not read {what}: {type(e).__name__}: {e}")
    return None


def _schema_uri(summary) -> Optional[str]:
  """The schema the run validated against: the curated one (ImportSchemaGen), else SchemaGen's."""
  return next((_uri(summary, key) for key in SCHEMA_OUTPUTS if _uri(summary, key)), None)


def _task(summary, notes: List[str]) -> str:
  """"regression" or "classification" as the Trainer (else Transform) was configured; "" when
  neither ran."""
  configs = _execution_properties(summary, ("Trainer", "Transform"), notes)
  for node_id in ("Trainer", "Transform"):
    config = _json_or_none(configs.get(node_id, {}).get("custom_config"))
    if isinstance(config, dict) and config.get("task"):
      return str(config["task"])
  return ""


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
  schema_uri = _schema_uri(summary)
  if label_key and schema_uri:
    path = schema_folder.schema_path(schema_uri)
    if readers.exists(path):
      try:
        from trainguard.models import features as model_features  # pylint: disable=g-import-not-at-top
        classes = model_features.label_classes_from_schema(schema_folder.read_schema(path),
                                                           label_key)
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
