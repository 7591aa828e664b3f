"""A schema review as data (`Review`) and as the markdown a pull request shows (`render`).

Why apart from the differ: `diff` renders one review, while `propose` renders it inside REVIEW.md,
a level deeper and with each feature's anomalies above its changes; keeping the data separate from
the markdown lets both share one renderer and lets `propose` attach the changes to anomalies.json.
"""
import dataclasses
from typing import Dict, List, Mapping, Optional

NO_CHANGES = "no changes"


@dataclasses.dataclass
class Review:
  """A structured schema review; `render` turns it into markdown."""
  schema_lines: List[str] = dataclasses.field(default_factory=list)
  features: Dict[str, List[str]] = dataclasses.field(default_factory=dict)  # name -> lines
  headings: Dict[str, str] = dataclasses.field(default_factory=dict)        # name -> "(BYTES)"
  policy_lines: List[str] = dataclasses.field(default_factory=list)
  added: List[str] = dataclasses.field(default_factory=list)
  removed: List[str] = dataclasses.field(default_factory=list)

  @property
  def empty(self) -> bool:
    return not (self.schema_lines or self.features or self.policy_lines)


def render(review: Review, old_name: str, new_name: str, level: int = 1,
           notes: Optional[Mapping[str, List[str]]] = None,
           note_headings: Optional[Mapping[str, str]] = None) -> str:
  """The review as markdown; `notes` (propose) add per-feature lines above the changes."""
  notes = notes or {}
  if review.empty and not notes:
    return NO_CHANGES
  h = "#" * level
  changed = len(review.features) - len(review.added) - len(review.removed)
  settings = sum(line.startswith("- ") for line in review.policy_lines)
  summary = (f"{changed} feature(s) changed, {len(review.added)} added, {len(review.removed)} "
             f"removed; {settings} policy-wide setting(s) changed.")
  every = review.schema_lines + review.policy_lines + [
      line for lines in review.features.values() for line in lines]
  relaxed = sum(l.startswith("  - allows ") and "(policy: block," in l for l in every)
  tightened = sum(l.startswith("  - blocks ") and "(policy: block," in l for l in every)
  verdict = (f"Checks that stop a run (policy: block): {relaxed} relaxed, {tightened} "
             "tightened.")
  out = [f"{h} Schema review: `{old_name}` → `{new_name}`", "", verdict, "", summary, "",
         "\"allows KIND\": TFDV no longer raises that anomaly in the case named; \"blocks KIND\": "
         "it now does. `(policy: …)` is what DataGuard then does (block stops the run) and the "
         "policy.yaml entry that decides it.", ""]
  if review.schema_lines:
    out += [f"{h}# Schema", ""] + review.schema_lines + [""]
  names = sorted(set(review.features) | set(notes))
  if names:
    out += [f"{h}# Features", ""]
    for name in names:
      heading = review.headings.get(name) or (note_headings or {}).get(name, "")
      out += [f"{h}## `{name}` {heading}".rstrip(), ""]
      if name in notes:
        out += ["Anomalies in the new data:", ""] + notes[name] + [""]
        if name in review.features:
          out += ["Proposed changes:", ""]
      out += review.features.get(name, []) + ([""] if name in review.features else [])
  if review.policy_lines:
    out += [f"{h}# Policy (policy.yaml)", ""] + review.policy_lines + [""]
  return "\n".join(out).rstrip() + "\n"
