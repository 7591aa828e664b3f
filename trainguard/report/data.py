"""What the run report shows, as plain data: `ReportData` and the sections it holds.

`gathering.gather(summary)` fills it from a run (each section from a file a component wrote or
from ML Metadata, never from log text); `readers` and `evaluation` build the sections. A section
whose file is missing stays `None`; the report then says whether its component did not run or ran
without writing it.

Tests build `ReportData` directly; nothing here needs a TFX run.
"""
import dataclasses
import enum
from typing import Any, Dict, List, Optional


class StrEnum(str, enum.Enum):
  """A closed set of names that are also plain strings, so `==` against text, JSON and the
  template's comparisons keep working. Python 3.11's `enum.StrEnum`, which 3.10 lacks."""

  def __str__(self) -> str:
    return self.value  # Jinja renders str(): "COMPLETE", not "StepState.COMPLETE"


class StepState(StrEnum):
  """A step's last known state: ML Metadata's `Execution.State` names, as `results` reads them.

  A str, so `state == "COMPLETE"` and the template's `s.state in ('COMPLETE', 'CACHED')` hold."""
  UNKNOWN = "UNKNOWN"
  NEW = "NEW"
  RUNNING = "RUNNING"
  COMPLETE = "COMPLETE"
  CACHED = "CACHED"
  FAILED = "FAILED"
  CANCELED = "CANCELED"

  @property
  def done(self) -> bool:
    """Whether the step produced its outputs (it ran to the end, or ML Metadata reused them)."""
    return self in (StepState.COMPLETE, StepState.CACHED)


@dataclasses.dataclass
class StepTiming:
  node_id: str
  state: StepState  # a plain name such as "COMPLETE" is accepted and converted
  seconds: float

  def __post_init__(self):
    self.state = StepState(self.state)


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
  training_findings: Optional[Any] = None  # the training diagnosis (a FindingsReport)
  training_findings_source: str = ""
  training_record: Optional[Dict[str, Any]] = None  # TrainingMonitor's record
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
