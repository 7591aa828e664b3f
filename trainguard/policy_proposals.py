"""The policy entries `schema init` proposes for what the pre-flight saw in the data, commented out.

Why: the fixes of `CATEGORY_VARIANTS`, `DATETIME_COLUMN` and `DISGUISED_MISSING_VALUES` are policy
entries (`normalize: true`, `datetime: parts`, `missing_values`, the label's `label.map`), and a
reviewer accepts one by adding it to policy.yaml. `schema init` has read every value of each text
column already (the pre-flight's counts, up to `MAX_TRACKED_VALUES` distinct ones), so it writes
those entries into the policy it proposes — commented out, each with the finding it answers, so
nothing changes until a reviewer uncomments a line in the pull request, and the line is then valid
YAML in the right section (the test uncomments all of them and loads the policy against the
schema).

The entries are the fixes' own words: DataGuard's judgement (`value_findings.judge`) runs on the
pre-flight's counts, and each entry is read from the fix it writes, so the proposal and the later
finding cannot disagree. Only text columns are judged (a numeric column's outliers need quantiles,
which the pre-flight does not keep: `clip` comes from DataGuard's `OUTLIERS` fix).
"""
import dataclasses
import json
import re
from typing import Any, Dict, List

import yaml

from trainguard.components.data_guard import value_findings
from trainguard.policy import Policy

_KINDS = ("CATEGORY_VARIANTS", "DATETIME_COLUMN", "DISGUISED_MISSING_VALUES")


@dataclasses.dataclass(frozen=True)
class Proposal:
  section: str    # "features" or "label"
  feature: str    # the feature (for "label": the label column)
  entry: Dict[str, Any]
  reason: str     # the finding it answers, one line


def proposals(profile) -> List[Proposal]:
  """What the pre-flight `profile` of a CSV calls for, per text column, in column order."""
  recorded = {}
  for column in profile.kept_columns:
    if column.type_name != "BYTES" or not column.values:
      continue
    counts = tuple(sorted(column.values.items(), key=lambda kv: (-kv[1], kv[0])))
    recorded[column.name] = value_findings.RecordedValues(
        True, column.present, len(counts) + (1 if column.overflow else 0), counts)
  found = value_findings.judge(recorded, Policy.default(), profile.label)
  out: Dict[str, Proposal] = {}
  for finding in (f for f in found if f.kind in _KINDS):
    entry = _entry(finding)
    if not entry:
      continue
    section = "label" if "label.map" in entry else "features"
    key = (section, finding.feature)
    reason = f"{finding.kind}: {finding.found}"
    if key in out:
      merged = dict(out[key].entry, **entry)
      entry, reason = merged, out[key].reason + "; " + reason
    out[key] = Proposal(section, finding.feature, entry, reason)
  result = list(out.values())
  for p in result:  # datetime parses the text itself: normalize does not apply with it
    if "datetime" in p.entry:
      p.entry.pop("normalize", None)
  order = [c.name for c in profile.columns]
  return sorted(result, key=lambda p: (p.section, order.index(p.feature)))


def _entry(finding) -> Dict[str, Any]:
  """The policy entry a fix names (features.<f>.<key>: <value>, or label.map: {...})."""
  fix, name = finding.fix, re.escape(finding.feature)
  entry: Dict[str, Any] = {}
  if finding.kind == "CATEGORY_VARIANTS":
    mapped = re.search(r"label\.map: (\{.*?\}) in policy\.yaml", fix)
    if mapped:
      return {"label.map": yaml.safe_load(mapped.group(1))}
    if re.search(rf"features\.{name}\.normalize: true", fix):
      entry["normalize"] = True
  elif finding.kind == "DATETIME_COLUMN":
    order = re.search(rf"set features\.{name}\.datetime: (\w+)", fix)
    if order:
      entry["datetime"] = order.group(1)
  else:
    codes = re.search(rf"features\.{name}\.missing_values: (\[.*?\])(?= \()", fix)
    if codes:
      entry["missing_values"] = yaml.safe_load(codes.group(1))
  return entry


def policy_text(policy_data: Dict[str, Any], found: List[Proposal], header: str) -> str:
  """policy.yaml: `policy_data` with the proposals as commented-out lines under `features:` and
  `label:` (a section whose entries are all proposals is left empty: null, which loads as none)."""
  if not found:
    return header + yaml.safe_dump(policy_data, sort_keys=False)
  data = dict(policy_data)
  sections = {name: data.pop(name, None) or {} for name in ("features", "label")}
  lines = [header + yaml.safe_dump(data, sort_keys=False).rstrip("\n")]
  intro = ("  # Proposed by trainguard from the data: uncomment a line to accept it "
           "(docs/policy.md).")
  for name in ("features", "label"):
    mine = [p for p in found if p.section == name]
    if not mine or (name == "label" and sections["label"].get("map")):
      lines.append(yaml.safe_dump({name: sections[name]}, sort_keys=False).rstrip("\n"))
      continue
    own = {k: v for k, v in sections[name].items() if k != "map" or v}
    lines.append(yaml.safe_dump({name: own}, sort_keys=False).rstrip("\n") if own
                 else f"{name}:")
    lines.append(intro)
    for p in mine:
      key, value = ("map", p.entry["label.map"]) if name == "label" else (p.feature, p.entry)
      lines.append(f"  # {key}: {_flow(value)}  # {_one_line(p.reason)}")
  return "\n".join(lines) + "\n"


def _flow(value: Any) -> str:
  """One line of YAML, text quoted as JSON (valid YAML) so spaces and case survive."""
  if isinstance(value, dict):
    return "{" + ", ".join(f"{json.dumps(k)}: {_flow(v)}" for k, v in value.items()) + "}"
  if isinstance(value, list):
    return "[" + ", ".join(_flow(v) for v in value) + "]"
  return json.dumps(value)


def _one_line(text: str) -> str:
  text = " ".join(str(text).split())
  return text if len(text) <= 160 else text[:157] + "..."
