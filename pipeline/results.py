"""Where a run writes, and what it produced, read back from ML Metadata and the artifacts."""
import dataclasses
import os
from typing import Any, Dict, List, Optional

from ml_metadata.proto import metadata_store_pb2

from trainguard import artifacts


# TFMA's name for the SparseCategoricalAccuracy metric the Evaluator computes.
ACCURACY = "sparse_categorical_accuracy"
# A regression's eval metrics as TFMA names them (pipeline.regression_eval_config), as printed.
REGRESSION_METRICS = (("MAE", "mean_absolute_error"), ("MSE", "mean_squared_error"),
                      ("R²", "r2"), ("mean label", "mean_label"),
                      ("mean prediction", "mean_prediction"))


@dataclasses.dataclass(frozen=True)
class RunPaths:
  """Every location a pipeline run uses, derived from one work directory."""
  workdir: str
  pipeline_name: str

  @property
  def pipeline_root(self) -> str:
    return os.path.join(self.workdir, "pipelines", self.pipeline_name)

  @property
  def metadata_path(self) -> str:
    return os.path.join(self.workdir, "metadata.sqlite")

  @property
  def serving_model_dir(self) -> str:
    return os.path.join(self.workdir, "serving_model", self.pipeline_name)


@dataclasses.dataclass
class ExecutionRecord:
  node_id: str
  state: str  # NEW, RUNNING, COMPLETE, CACHED, FAILED, CANCELED
  seconds: float
  execution_id: int
  # The component's execution properties as ML Metadata recorded them (protos as JSON text).
  properties: Dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class RunSummary:
  """One pipeline run as ML Metadata recorded it, plus what its last components produced."""
  paths: RunPaths
  run_id: str
  executions: Dict[str, ExecutionRecord]
  artifacts: Dict[str, List[metadata_store_pb2.Artifact]]  # "Node.output_key" → artifacts
  blessed: Optional[bool] = None
  pushed_model: Optional[str] = None
  eval_metrics: Dict[str, float] = dataclasses.field(default_factory=dict)
  findings: Optional[Any] = None  # DataGuard's FindingsReport, when DataGuard ran
  training_findings: Optional[Any] = None  # the Trainer's training diagnosis (a FindingsReport)
  not_blessed_reason: Optional[str] = None  # set by our Evaluator when it withheld the blessing

  @property
  def blocked(self) -> bool:
    return self.findings is not None and self.findings.blocked

  @property
  def complete(self) -> bool:
    return bool(self.executions) and all(
        e.state in ("COMPLETE", "CACHED") for e in self.executions.values())

  def artifact_uri(self, node_id: str, output_key: str) -> str:
    found = self.artifacts.get(f"{node_id}.{output_key}")
    if not found:
      raise KeyError(f"run {self.run_id} has no {output_key!r} output of {node_id}")
    return found[-1].uri

  def describe(self) -> str:
    lines = [f"pipeline run {self.run_id} of {self.paths.pipeline_name}:"]
    for node_id, record in self.executions.items():
      lines.append(f"  {node_id:<32} {record.state:<9} {record.seconds:6.1f} s")
    if ACCURACY in self.eval_metrics:
      lines.append(f"eval accuracy:   {self.eval_metrics[ACCURACY]:.4f}")
    regression = [(name, self.eval_metrics[key]) for name, key in REGRESSION_METRICS
                  if key in self.eval_metrics]
    if regression:
      lines.append("eval metrics:    " + ", ".join(f"{n} {v:.4g}" for n, v in regression))
    if self.blessed is not None:
      lines.append(f"model blessed:   {'yes' if self.blessed else 'no'}")
    if self.findings is not None:
      counts = self.findings.counts()
      verdict = "BLOCKED" if self.blocked else "passed"
      lines.append(f"data guard:      {verdict} ({counts['block']} blocking, {counts['warn']} "
                   f"warnings, {counts['info']} notes)")
    lines.append(f"pushed model:    {self.pushed_model or 'not pushed'}")
    lines.append(f"metadata store:  {self.paths.metadata_path}")
    lines.append(f"artifacts:       {self.paths.pipeline_root}")
    return "\n".join(lines)


def metadata_store(metadata_path: str):
  import ml_metadata as mlmd  # pylint: disable=g-import-not-at-top
  from trainguard.pipeline import metadata  # pylint: disable=g-import-not-at-top
  return mlmd.MetadataStore(metadata.connection_config(metadata_path, read_only=True))


_STATES = {v: k for k, v in metadata_store_pb2.Execution.State.items()}


def latest_run(paths: RunPaths) -> RunSummary:
  """Reads the newest run of `paths.pipeline_name` from ML Metadata."""
  store = metadata_store(paths.metadata_path)
  runs = _runs(store, paths)
  if not runs:
    raise LookupError(f"no run of pipeline {paths.pipeline_name!r} in {paths.metadata_path}")
  return _summary(store, paths, runs[-1])


def pipeline_names(metadata_path: str) -> List[str]:
  """Every pipeline with a run in the store, the one whose run is newest last."""
  store = metadata_store(metadata_path)
  runs = sorted(store.get_contexts_by_type("pipeline_run"),
                key=lambda c: (c.create_time_since_epoch, c.id))
  names = [_pipeline_of_run(store, run) for run in runs]
  return list(reversed(dict.fromkeys(n for n in reversed(names) if n)))


def run_ids(paths: RunPaths) -> List[str]:
  """The ids of every recorded run of `paths.pipeline_name`, oldest first."""
  return [run.name for run in _runs(metadata_store(paths.metadata_path), paths)]


def run_by_id(paths: RunPaths, run_id: str) -> RunSummary:
  """One recorded run of `paths.pipeline_name`, finished, failed or blocked."""
  store = metadata_store(paths.metadata_path)
  runs = _runs(store, paths)
  found = [run for run in runs if run.name == run_id]
  if not found:
    recent = ", ".join(run.name for run in runs[-5:]) or "none"
    raise LookupError(f"no run {run_id!r} of pipeline {paths.pipeline_name!r} in "
                      f"{paths.metadata_path} (latest runs: {recent})")
  return _summary(store, paths, found[0])


def previous_run(summary: RunSummary) -> Optional[RunSummary]:
  """The latest run of the same pipeline recorded before `summary`'s, or None on a first run."""
  store = metadata_store(summary.paths.metadata_path)
  runs = _runs(store, summary.paths)
  names = [run.name for run in runs]
  if summary.run_id not in names or names.index(summary.run_id) == 0:
    return None
  return _summary(store, summary.paths, runs[names.index(summary.run_id) - 1])


def _runs(store, paths: RunPaths) -> list:
  """The pipeline's run contexts, oldest first (by creation time, then id)."""
  runs = [c for c in store.get_contexts_by_type("pipeline_run")
          if _pipeline_of_run(store, c) == paths.pipeline_name]
  return sorted(runs, key=lambda c: (c.create_time_since_epoch, c.id))


def _summary(store, paths: RunPaths, run) -> RunSummary:
  executions = sorted(store.get_executions_by_context(run.id), key=lambda e: e.id)
  records, artifacts = {}, {}
  for execution in executions:
    node_id = _node_id(store, execution)
    records[node_id] = ExecutionRecord(
        node_id=node_id,
        state=_STATES.get(execution.last_known_state, str(execution.last_known_state)),
        seconds=(execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1e3,
        execution_id=execution.id,
        properties={k: getattr(v, v.WhichOneof("value")) if v.WhichOneof("value") else None
                    for k, v in execution.custom_properties.items()})
    for key, found in _outputs(store, execution.id).items():
      artifacts[f"{node_id}.{key}"] = found
  summary = RunSummary(paths=paths, run_id=run.name, executions=records, artifacts=artifacts)
  _read_outcome(summary)
  return summary


def _pipeline_of_run(store, run_context) -> str:
  # TFX links every pipeline_run context to its pipeline context through the run's executions;
  # the run id alone does not name the pipeline, so look at one execution's contexts.
  for execution in store.get_executions_by_context(run_context.id)[:1]:
    for context in store.get_contexts_by_execution(execution.id):
      if context.type == "pipeline":
        return context.name
  return ""


def _node_id(store, execution) -> str:
  for context in store.get_contexts_by_execution(execution.id):
    if context.type == "node":
      return context.name.split(".", 1)[1]
  return f"execution-{execution.id}"


def _outputs(store, execution_id: int) -> Dict[str, List[metadata_store_pb2.Artifact]]:
  outputs: Dict[str, List[metadata_store_pb2.Artifact]] = {}
  events = [e for e in store.get_events_by_execution_ids([execution_id])
            if e.type in (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)]
  by_id = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
  for event in events:
    key = event.path.steps[0].key if event.path.steps else "output"
    if event.artifact_id in by_id:
      outputs.setdefault(key, []).append(by_id[event.artifact_id])
  return outputs


def _read_outcome(summary: RunSummary) -> None:
  anomalies = summary.artifacts.get("DataGuard.anomalies")
  if anomalies:
    from trainguard.components.data_guard import findings  # pylint: disable=g-import-not-at-top
    path = os.path.join(anomalies[-1].uri, findings.FINDINGS_FILE)
    if os.path.isfile(path):
      summary.findings = findings.read(path)
  model_run = summary.artifacts.get("Trainer.model_run")
  if model_run:
    from trainguard.components.data_guard import findings  # pylint: disable=g-import-not-at-top
    path = os.path.join(model_run[-1].uri, artifacts.TRAINING_FINDINGS_FILE)
    if os.path.isfile(path):
      summary.training_findings = findings.read(path)
  blessing = summary.artifacts.get("Evaluator.blessing")
  if blessing:
    summary.blessed = bool(blessing[-1].custom_properties["blessed"].int_value)
    properties = blessing[-1].custom_properties
    if "not_blessed_reason" in properties:
      summary.not_blessed_reason = properties["not_blessed_reason"].string_value
  pushed = summary.artifacts.get("Pusher.pushed_model")
  if pushed and pushed[-1].custom_properties["pushed"].int_value:
    summary.pushed_model = pushed[-1].custom_properties["pushed_destination"].string_value
  evaluation = summary.artifacts.get("Evaluator.evaluation")
  if evaluation:
    summary.eval_metrics = overall_metrics(evaluation[-1].uri)


def overall_metrics(evaluation_uri: str) -> Dict[str, float]:
  """Scalar metrics of the overall slice from a TFMA evaluation artifact."""
  import tensorflow_model_analysis as tfma  # pylint: disable=g-import-not-at-top
  metrics: Dict[str, float] = {}
  for slice_key, by_output in tfma.load_eval_result(evaluation_uri).slicing_metrics:
    if slice_key:
      continue
    for by_sub_key in by_output.values():
      for sub_key, values in by_sub_key.items():
        if sub_key:
          continue  # per-class values (classId:N): see per_class_metrics
        for name, value in values.items():
          if isinstance(value, dict) and "doubleValue" in value:
            metrics[name] = float(value["doubleValue"])
  return metrics


def per_class_metrics(evaluation_uri: str) -> Dict[int, Dict[str, float]]:
  """One-vs-rest metrics per class id of the overall slice, from a TFMA evaluation artifact."""
  import tensorflow_model_analysis as tfma  # pylint: disable=g-import-not-at-top
  out: Dict[int, Dict[str, float]] = {}
  for slice_key, by_output in tfma.load_eval_result(evaluation_uri).slicing_metrics:
    if slice_key:
      continue
    for by_sub_key in by_output.values():
      for sub_key, values in by_sub_key.items():
        if sub_key.startswith("classId:"):
          out[int(sub_key.split(":")[1])] = {
              name: float(v["doubleValue"]) for name, v in values.items()
              if isinstance(v, dict) and "doubleValue" in v}
  return out
