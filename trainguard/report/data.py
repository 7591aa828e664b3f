"""What the run report shows, as plain data: `ReportData` and the sections it holds.

`gathering.gather(summary)` fills it from a run (each section from a file a component wrote or
from ML Metadata, never from log text); `readers` and `evaluation` build the sections. A section
whose file is missing stays `None`; the report then says whether its component did not run or ran
without writing it.

Tests build `ReportData` directly; nothing here needs a TFX run.
"""
import dataclasses
import enum
from typing import Any, Dict, List, Optional, Tuple


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
class Bucket:
  low: float
  high: float
  count: float


@dataclasses.dataclass
class SplitProfile:
  """One feature in one split, as TFDV's statistics describe it (no pass over the data)."""
  split: str  # train, eval, serving, previous span
  rows: int  # examples in the split
  missing: Optional[float] = None  # share of rows without a value
  nan: int = 0  # values that are NaN (TFDV counts them as present)
  mean: Optional[float] = None
  std: Optional[float] = None
  min: Optional[float] = None
  median: Optional[float] = None
  max: Optional[float] = None
  histogram: List[Bucket] = dataclasses.field(default_factory=list)  # TFDV's STANDARD buckets
  unique: Optional[int] = None
  top_values: List[Tuple[str, float]] = dataclasses.field(default_factory=list)  # value, rows
  # Share of this split's values that the train split never has; None when unknown, with
  # `unseen_lower_bound` when the split lists only its most frequent values.
  unseen: Optional[float] = None
  unseen_lower_bound: bool = False


@dataclasses.dataclass
class FeatureCard:
  """What the report shows of one feature: a profile per split and the findings about it."""
  name: str
  kind: str  # numeric, categorical, other
  profiles: List[SplitProfile]
  findings: List[Any] = dataclasses.field(default_factory=list)  # Finding, worst first
  is_label: bool = False

  @property
  def severity(self) -> str:
    """The worst severity among its findings ("block", "warn", "info"), "" with none."""
    for level in ("block", "warn", "info"):
      if any(f.severity == level for f in self.findings):
        return level
    return ""


@dataclasses.dataclass
class FindingChange:
  kind: str
  feature: str
  split: str
  before: str  # severity in the previous run, "" when it had no such finding
  after: str  # severity now, "" when resolved
  found: str  # what the newer side found (the previous run's for a resolved finding)


@dataclasses.dataclass
class MetricChange:
  name: str
  before: Optional[float]
  after: Optional[float]

  @property
  def change(self) -> Optional[float]:
    if self.before is None or self.after is None:
      return None
    return self.after - self.before


@dataclasses.dataclass
class ClassCountChange:
  label: str
  before: Optional[int]
  after: Optional[int]


@dataclasses.dataclass
class RunChanges:
  """This run against the latest earlier run of the same pipeline (or one the caller named)."""
  previous_run_id: str
  previous_headline: str  # the previous run's verdict, e.g. "trained, blessed and pushed"
  previous_blessed: Optional[bool] = None
  findings: List[FindingChange] = dataclasses.field(default_factory=list)
  metrics: List[MetricChange] = dataclasses.field(default_factory=list)
  class_counts: List[ClassCountChange] = dataclasses.field(default_factory=list)
  class_counts_source: str = ""
  schema_diff: Optional[str] = None  # markdown from the schema review; None when not compared
  schema_note: str = ""  # why the schemas were not compared, or that they are the same artifact

  @property
  def new_findings(self) -> List[FindingChange]:
    return [c for c in self.findings if not c.before]

  @property
  def resolved_findings(self) -> List[FindingChange]:
    return [c for c in self.findings if not c.after]

  @property
  def changed_findings(self) -> List[FindingChange]:
    return [c for c in self.findings if c.before and c.after]


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
  task: str = ""  # "classification" or "regression", as the Trainer was configured
  # A regression's eval predictions sample (readers.read_regression_predictions), label units.
  regression_predictions: Optional[Dict[str, Any]] = None
  workdir: str = ""
  metadata_path: str = ""
  pipeline_root: str = ""
  notes: List[str] = dataclasses.field(default_factory=list)  # files found but not readable
  generated_at: str = ""
  features: Optional[List[FeatureCard]] = None  # from the run's TFDV statistics
  features_source: str = ""
  schema_path: str = ""  # the schema the run validated against (ImportSchemaGen or SchemaGen)
  # Since the previous run: None when not compared; `first_run` says there was nothing earlier.
  changes: Optional[RunChanges] = None
  first_run: bool = False

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
