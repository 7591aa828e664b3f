"""Findings: what DataGuard found, as data with a stable schema (`findings.json`, version 1).

The run report, the CLI and the runner read this file; nothing parses log text. A finding is one
problem on one feature of one split (or of the serving sample / the previous span):

  {"kind": "UNEXPECTED_DATA_TYPE", "feature": "bill_length_mm", "split": "train",
   "severity": "block" | "warn" | "info",
   "source": "tfdv" | "statistics" | "preflight" | "dataset",
   "measured": 0.12 | null, "threshold": 0.3 | null,
   "expected": "FLOAT values", "found": "STRING values", "fix": "one line in plain words"}

The file: {"version": 1, "blocked": bool, "policy": path, "counts": {"block": n, "warn": n,
"info": n}, "findings": [finding, ...]}, findings sorted by severity, then split, feature, kind.
"""
import dataclasses
import json
from typing import Any, Dict, List, Optional

# Its readers (the runner, tests) import the name from here too; it is spelled in artifacts.py.
from trainguard.artifacts import FINDINGS_FILE  # noqa: F401  pylint: disable=unused-import

VERSION = 1
_ORDER = {"block": 0, "warn": 1, "info": 2}


@dataclasses.dataclass(frozen=True)
class Finding:
  kind: str
  feature: str
  split: str
  severity: str
  expected: str
  found: str
  fix: str
  source: str = "tfdv"
  measured: Optional[float] = None
  threshold: Optional[float] = None
  # A training finding's repair: `trainguard run` flag → new value (models/training_repairs.py),
  # what `--repair` retrains with; None for every other finding (and then not written).
  repair: Optional[Dict[str, Any]] = dataclasses.field(default=None, hash=False)

  def line(self) -> str:
    where = f"{self.split} / {self.feature}" if self.feature else self.split
    return (f"{where}: {self.kind}: expected {self.expected}; found {self.found}. "
            f"Fix: {self.fix}")


@dataclasses.dataclass
class FindingsReport:
  findings: List[Finding]
  policy_source: str = ""

  def __post_init__(self):
    self.findings = sorted(
        self.findings, key=lambda f: (_ORDER.get(f.severity, 3), f.split, f.feature, f.kind))

  @property
  def blocking(self) -> List[Finding]:
    return [f for f in self.findings if f.severity == "block"]

  @property
  def blocked(self) -> bool:
    return bool(self.blocking)

  def counts(self) -> Dict[str, int]:
    return {s: sum(f.severity == s for f in self.findings) for s in _ORDER}

  def to_dict(self) -> Dict[str, Any]:
    return {
        "version": VERSION,
        "blocked": self.blocked,
        "policy": self.policy_source,
        "counts": self.counts(),
        "findings": [{k: v for k, v in dataclasses.asdict(f).items()
                      if k != "repair" or v is not None} for f in self.findings],
    }

  def to_json(self) -> str:
    return json.dumps(self.to_dict(), indent=1, sort_keys=True)

  @classmethod
  def from_dict(cls, data: Dict[str, Any]) -> "FindingsReport":
    if data.get("version") != VERSION:
      raise ValueError(f"findings version {data.get('version')!r} is not {VERSION}")
    return cls([Finding(**f) for f in data["findings"]], data.get("policy", ""))

  def _repr_html_(self) -> str:
    """Jupyter shows a findings report as the run report's findings table."""
    from trainguard.report import tables  # pylint: disable=g-import-not-at-top
    return tables.findings_html(self)

  def block_message(self) -> str:
    lines = [f"DataGuard blocked the run: {len(self.blocking)} blocking finding(s) "
             f"(policy: {self.policy_source})"]
    lines += [f"  - {f.line()}" for f in self.blocking]
    return "\n".join(lines)


def read(path: str) -> FindingsReport:
  with open(path, encoding="utf-8") as f:
    return FindingsReport.from_dict(json.load(f))


# Rank of a finding kind by how much it stops training, after severity: first what breaks the data
# outright, then what silently biases a model.
# Variants split one category (or class) into several; placeholders are missing values that train
# as a category; a date column leaks the future through the split; high-cardinality and
# near-constant columns only waste capacity. Conflicting labels cap the accuracy outright;
# outliers dominate a z-score's mean and spread, so they rank with the missing values they skew.
_KIND_RANK = [
    "NUMERIC_COLUMN_WITH_TEXT", "INFINITE_VALUES", "UNEXPECTED_DATA_TYPE", "SCHEMA_MISSING_COLUMN",
    "ENUM_TYPE_UNEXPECTED_STRING_VALUES", "CATEGORY_VARIANTS", "MIXED_NUMBER_TEXT",
    "CONFLICTING_LABELS",
    "FEATURE_TYPE_LOW_FRACTION_PRESENT",
    "COMPARATOR_L_INFTY_HIGH", "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH", "NUMERIC_SKEW",
    "NUMERIC_DRIFT",
    "DISGUISED_MISSING_VALUES", "LABEL_OUTLIERS", "LABEL_DRIFT", "OUTLIERS", "MISSING_VALUES",
    "NAN_VALUES", "ALL_VALUES_MISSING",
    "LABEL_MISSING_ROWS_DROPPED", "DATETIME_COLUMN", "HIGH_CARDINALITY_CATEGORICAL",
    "NEAR_CONSTANT_COLUMN", "SKEWED_LABEL",
]


def format_ranked(report: FindingsReport) -> str:
  """Findings ranked by how much they stop training, one entry per kind and feature, with the fix."""
  if not report.findings:
    return "No findings: the data can train."
  groups = {}
  for finding in report.findings:
    groups.setdefault((finding.severity, finding.kind, finding.feature), []).append(finding)
  ranked = sorted(groups.items(), key=lambda item: (
      _ORDER.get(item[0][0], 3),
      _KIND_RANK.index(item[0][1]) if item[0][1] in _KIND_RANK else len(_KIND_RANK), item[0][2]))
  counts = report.counts()
  verdict = (f"BLOCKED: {counts['block']} finding(s) stop training" if report.blocked
             else "The data can train")
  lines = [f"{verdict} ({counts['warn']} warning(s), {counts['info']} note(s)):"]
  for (severity, kind, feature), found in ranked:
    lines.append(f"{severity.upper():5} {feature or '(dataset)'}: {kind}")
    lines.append(f"      expected {found[0].expected}")
    for finding in found:
      lines.append(f"      found [{finding.split}] {finding.found}")
    lines.append(f"      fix: {found[0].fix}")
  return "\n".join(lines)
