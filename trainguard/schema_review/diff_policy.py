"""The policy half of a schema review: policy.yaml settings that changed, and what they change.

Why apart from the schema differ (`diff.py`): a policy-wide setting is not a feature's change; it is
listed once, with the features that use it (`(used by: a, b)`) and, for a skew/drift default or a
finding list, the checks it relaxes or tightens. The rules themselves (which key decides a
severity, a threshold, a treatment) are the policy's own `*_with_source` answers.
"""
import re
from typing import Collection, List, Mapping, Optional, Tuple

from trainguard.schema_review.flatten import (added_removed, dict_changes, flatten_dict,
                                              fmt_added_removed, fmt_number, fmt_yaml_value,
                                              name_list)
from trainguard.schema_review.side import (NUMERIC_KINDS, Feature, ReviewSide,
                                           effective_comparators, severity_note)

_FINDING_LISTS = ("findings.block", "findings.warn", "findings.info")
_SECTIONS = ("version", "findings", "thresholds", "preprocessing", "rebalance")


def feature_entry_lines(old: ReviewSide, new: ReviewSide, name: str) -> List[str]:
  """`- policy features.<name>.<key>: was → now` for the feature's own entry (skew and drift
  excepted: they are shown with the feature's effective checks)."""
  if not (old.has_policy or new.has_policy):
    return []
  entries = []
  for side in (old, new):
    entry = {k: v for k, v in (side.policy.data["features"].get(name) or {}).items()
             if k not in ("skew", "drift")}
    entries.append(flatten_dict(entry) if entry else {})
  return dict_changes(entries[0], entries[1], f"policy features.{name}.")


def policy_lines(old: ReviewSide, new: ReviewSide, new_features: Mapping[str, Feature],
                 new_label: Optional[str], known: Collection[str]) -> List[str]:
  """Every policy-wide setting that changed (`features:` entries are per feature), then entries
  naming a feature that neither schema (`known`) has."""
  old_flat = flatten_dict({k: v for k, v in old.policy.data.items() if k != "features"})
  new_flat = flatten_dict({k: v for k, v in new.policy.data.items() if k != "features"})
  lines = []
  for key in sorted(set(old_flat) | set(new_flat), key=_policy_order):
    before, after = old_flat.get(key), new_flat.get(key)
    if before == after:
      continue
    if key in _FINDING_LISTS:
      added, removed = added_removed(before, after)
      if added or removed:
        lines.append(f"- {key}: {fmt_added_removed(added, removed)}")
        for kind in sorted(set(added) | set(removed)):
          if not any(c in kind for c in "*?["):
            was, now = old.policy.severity(kind), new.policy.severity(kind)
            if was != now:
              lines.append(f"  - {kind}: {was} → {now}")
      continue
    users = _default_users(key, new, new_features, new_label)
    lines.append(f"- {key}: {fmt_yaml_value(before)} → {fmt_yaml_value(after)}{users}")
    match = re.match(r"^thresholds\.(skew|drift)\.(numeric|categorical)$", key)
    if match and isinstance(before, (int, float)) and isinstance(after, (int, float)):
      kind = (NUMERIC_KINDS[match.group(1)] if match.group(2) == "numeric"
              else "COMPARATOR_L_INFTY_HIGH")
      low, high = sorted((float(before), float(after)))
      severity = severity_note(new.policy, kind, "", False)
      lines.append(f"  - {'allows' if after > before else 'blocks'} {kind} for distances above "
                   f"{fmt_number(low)} up to {fmt_number(high)} {severity}")
  for name in sorted(set(new.policy.data["features"]) - set(known)):
    lines.append(f"- features.{name}: names a feature neither schema has; fix the name or "
                 "remove the entry")
  return lines


def _default_users(key: str, new: ReviewSide, features: Mapping[str, Feature],
                   label: Optional[str]) -> str:
  """` (used by: a, b)`: the features a policy-wide default applies to, in the new schema."""
  match = re.match(r"^(thresholds\.(skew|drift)|preprocessing)\.(numeric|categorical)"
                   r"(?:\.(\w+))?$", key)
  if not match:
    return ""
  group, comparison, kind, setting = match.groups()
  users = []
  for name, feature in sorted(features.items()):
    if feature.numeric != (kind == "numeric"):
      continue
    is_label = name == label
    if group == "preprocessing":
      wheres = [] if is_label else [
          w for _, _, w in new.policy.treatment_with_source(name, feature.kind)]
      if f"preprocessing.{kind}.{setting}" not in wheres:
        continue
    else:
      wheres = [w for _, w in effective_comparators(feature, comparison, new.policy,
                                                    is_label).values()]
      if f"policy thresholds.{comparison}.{kind}" not in wheres:
        continue
    users.append(name)
  return f" (used by: {name_list(users, backticks=False) if users else 'no feature'})"


def _policy_order(key: str) -> Tuple[int, str]:
  head = key.split(".", 1)[0]
  return (_SECTIONS.index(head) if head in _SECTIONS else len(_SECTIONS), key)
