"""The schema half of a schema review: per feature, what changed and which anomalies it now allows
or blocks, with the policy's severity for each; `compare` and `diff` for two schema files or
folders.

Why one class for all the feature aspects (type, lifecycle, presence, value counts, domain, bounds,
environments, skew/drift): each needs both sides, both labels and both policies, and each writes
its lines in the order a reviewer reads them. The policy-wide settings are `diff_policy.py`, what a
feature means on one side is `side.py`, the markdown is `review.py`. Pure proto/dict comparison:
no TensorFlow, any schema size.
"""
import json
import re
from typing import List, Optional, Tuple

from trainguard.schema_folder import label_features
from trainguard.schema_review import diff_policy
from trainguard.schema_review.flatten import (added_removed, flatten_proto, fmt_added_removed,
                                              fmt_int_range, fmt_number, fmt_optional,
                                              fmt_percent, leaf_changes, name_list, quoted_values)
from trainguard.schema_review.review import Review, render
from trainguard.schema_review.side import (MEASURE, Feature, ReviewSide, effective_comparators,
                                           features_of, label_of, load_side, severity_note,
                                           treatment_text)

# Flattened feature fields that get their own wording; every other field is compared generically.
_HANDLED = re.compile(
    r"^(name|type|domain|string_domain\.(name|value)|int_domain\.(min|max)|"
    r"float_domain\.(min|max|disallow_nan|disallow_inf)|presence\.(min_fraction|min_count)|"
    r"value_count\.(min|max)|skew_comparator(\..*)?|drift_comparator(\..*)?|in_environment|"
    r"not_in_environment|lifecycle_stage|deprecated)$")
_SCHEMA_HANDLED = re.compile(r"^(feature|string_domain|default_environment)(\[.*|\..*)?$")


def compare(old: str, new: str) -> Review:
  """The structured review of two schema files or folders."""
  return review_sides(load_side(old), load_side(new))


def review_sides(old: ReviewSide, new: ReviewSide) -> Review:
  """The structured review of two loaded sides (`propose` builds its own, before writing)."""
  return _Differ(old, new).run()


def diff(old: str, new: str, old_name: Optional[str] = None, new_name: Optional[str] = None,
         level: int = 1) -> str:
  """A markdown review of the change from `old` to `new` (schema files or schema folders; folders
  include policy.yaml). Exactly "no changes" when they mean the same (reordered features or
  non-label domain values, comments and policy defaults written out do not count). `level` is the
  markdown level of the review's own heading (its sections are one deeper)."""
  return render(compare(old, new), old_name or old, new_name or new, level=level)


class _Differ:
  """Compares two sides; every line is plain markdown ("- what: old → new" and indented
  "  - allows/blocks KIND ... (policy: severity, entry)")."""

  def __init__(self, old: ReviewSide, new: ReviewSide):
    self.old, self.new = old, new
    self.old_features, self.new_features = features_of(old.schema), features_of(new.schema)
    self.old_label, self.new_label = label_of(old.schema), label_of(new.schema)
    self.review = Review()

  # consequences ------------------------------------------------------------------------------

  def _effect(self, verb: str, kind: str, name: str, case: str) -> str:
    """`  - allows KIND case (policy: …)`, with the severity the new policy gives the kind."""
    case = f" {case}" if case else ""
    policy = self.new.policy
    return f"  - {verb} {kind}{case} {severity_note(policy, kind, name, name == self.new_label)}"

  def run(self) -> Review:
    self._schema_level()
    for name in sorted(set(self.old_features) | set(self.new_features)):
      old, new = self.old_features.get(name), self.new_features.get(name)
      if old is None:
        lines, heading = self._added(new), f"({new.type_name}, added)"
        self.review.added.append(name)
      elif new is None:
        lines, heading = self._removed(old), f"({old.type_name}, removed)"
        self.review.removed.append(name)
      else:
        lines = self._changed(old, new)
        heading = (f"({new.type_name})" if old.type_name == new.type_name
                   else f"({old.type_name} → {new.type_name})")
      if lines:
        if name == self.new_label or (new is None and name == self.old_label):
          heading = heading[:-1] + ", label)"
        self.review.features[name] = lines
        self.review.headings[name] = heading
    if self.old.has_policy or self.new.has_policy:
      self.review.policy_lines.extend(diff_policy.policy_lines(
          self.old, self.new, self.new_features, self.new_label,
          set(self.old_features) | set(self.new_features)))
    return self.review

  # schema level ------------------------------------------------------------------------------

  def _schema_level(self) -> None:
    lines = self.review.schema_lines
    added, removed = added_removed(list(self.old.schema.default_environment),
                                   list(self.new.schema.default_environment))
    if added:
      lines.append(f"- default_environment: added {quoted_values(added)}")
    if removed:
      lines.append(f"- default_environment: removed {quoted_values(removed)}")
      users = sorted(f.name for f in self.new.schema.feature
                     if set(removed) & (set(f.in_environment) | set(f.not_in_environment)))
      if users:
        lines.append(f"  - features that still name it ({', '.join(users)}) fail "
                     "`trainguard schema check`")
    old_labels, new_labels = label_features(self.old.schema), label_features(self.new.schema)
    if old_labels != new_labels:
      lines.append(f"- label (not_in_environment: \"SERVING\"): {name_list(old_labels)} → "
                   f"{name_list(new_labels)}")
      lines.append("  - the model learns another target: class ids, rebalancing and the "
                   "evaluation follow the new label; retrain")
    old_domains = {d.name: list(d.value) for d in self.old.schema.string_domain}
    new_domains = {d.name: list(d.value) for d in self.new.schema.string_domain}
    referenced = {f.domain for f in list(self.old.schema.feature) + list(self.new.schema.feature)}
    for name in sorted(set(old_domains) | set(new_domains)):
      if name not in old_domains:
        lines.append(f"- string_domain {json.dumps(name)}: added ({len(new_domains[name])} "
                     "values)")
      elif name not in new_domains:
        lines.append(f"- string_domain {json.dumps(name)}: removed")
      elif name not in referenced and set(old_domains[name]) != set(new_domains[name]):
        plus = sorted(set(new_domains[name]) - set(old_domains[name]))
        minus = sorted(set(old_domains[name]) - set(new_domains[name]))
        lines.append(f"- string_domain {json.dumps(name)} (used by no feature): "
                     f"{fmt_added_removed(plus, minus)}")
    old_flat, new_flat = ({k: v for k, v in flatten_proto(side.schema).items()
                           if not _SCHEMA_HANDLED.match(k)} for side in (self.old, self.new))
    lines.extend(leaf_changes(old_flat, new_flat))

  # one feature -------------------------------------------------------------------------------

  def _added(self, new: Feature) -> List[str]:
    name = new.proto.name
    summary = new.settings_summary()
    if new.values is not None:
      summary.append(f"domain: {len(new.values)} values ({quoted_values(new.values, 10)})")
    lines = [f"- added: {'; '.join(summary)}",
             self._effect("allows", "SCHEMA_NEW_COLUMN", name, "for this column"),
             self._effect("blocks", "SCHEMA_MISSING_COLUMN", name, "when the data lacks it")]
    if name != self.new_label:
      lines.append(f"- policy: {treatment_text(self.new.policy, new)}")
    checks = []
    for comparison in ("skew", "drift"):
      for kind, (threshold, where) in sorted(effective_comparators(
          new, comparison, self.new.policy, name == self.new_label).items()):
        checks.append(f"{comparison} {MEASURE[kind]} ≤ {fmt_number(threshold)} "
                      f"({where.replace('policy ', '')})")
    if checks:
      lines.append(f"- policy thresholds: {', '.join(checks)}")
    return lines

  def _removed(self, old: Feature) -> List[str]:
    name = old.proto.name
    summary = old.settings_summary()
    lines = [f"- removed (was: {'; '.join(summary)})",
             self._effect("blocks", "SCHEMA_NEW_COLUMN", name,
                          "while the data still has the column"),
             "  - allows SCHEMA_MISSING_COLUMN and every other anomaly on it (no longer checked)"]
    if name in self.new.policy.data["features"]:
      lines.append(f"- policy features.{name}: names a feature the schema no longer has; remove "
                   "the entry (`trainguard schema check` fails until then)")
    return lines

  def _changed(self, old: Feature, new: Feature) -> List[str]:
    name = new.proto.name
    lines: List[str] = []
    self._type(old, new, lines)
    self._lifecycle(old, new, lines)
    self._presence(old, new, lines)
    self._value_count(old, new, lines)
    self._domain(old, new, lines)
    self._bounds(old, new, lines)
    self._environments(old, new, lines)
    for comparison in ("skew", "drift"):
      self._comparators(old, new, comparison, lines)
    old_rest = {k: v for k, v in old.flat.items() if not _HANDLED.match(k)}
    new_rest = {k: v for k, v in new.flat.items() if not _HANDLED.match(k)}
    lines.extend(leaf_changes(old_rest, new_rest))
    lines.extend(diff_policy.feature_entry_lines(self.old, self.new, name))
    return lines

  def _type(self, old: Feature, new: Feature, lines: List[str]) -> None:
    if old.type_name == new.type_name:
      return
    name = new.proto.name
    lines.append(f"- type: {old.type_name} → {new.type_name}")
    lines.append(self._effect("allows", "UNEXPECTED_DATA_TYPE", name, f"for {new.type_name} data"))
    lines.append(self._effect("blocks", "UNEXPECTED_DATA_TYPE", name, f"for {old.type_name} data"))
    if old.numeric != new.numeric and name != self.new_label:
      lines.append(f"- policy: now {treatment_text(self.new.policy, new)}; was "
                   f"{treatment_text(self.old.policy, old)}")

  def _lifecycle(self, old: Feature, new: Feature, lines: List[str]) -> None:
    for key in ("lifecycle_stage", "deprecated"):
      before, after = old.leaf_text(key), new.leaf_text(key)
      if before != after:
        lines.append(f"- {key}: {before} → {after}")
    if not old.inactive and new.inactive:
      lines.append("  - allows every anomaly kind on this feature (TFDV does not validate a "
                   "deprecated feature)")
    elif old.inactive and not new.inactive:
      lines.append("  - blocks every anomaly kind on this feature again (TFDV validates it)")

  def _presence(self, old: Feature, new: Feature, lines: List[str]) -> None:
    verb = self._minimum(
        old, new, lines, "presence.min_fraction", "FEATURE_TYPE_LOW_FRACTION_PRESENT",
        lambda low, high: (
            f"when fewer than {fmt_percent(high)} of examples have it" if low == 0 else
            f"when {fmt_percent(low)} to under {fmt_percent(high)} of examples have it"))
    if verb == "allows":
      self._imputed(new, lines)
    self._minimum(
        old, new, lines, "presence.min_count", "FEATURE_TYPE_LOW_NUMBER_PRESENT",
        lambda low, high: (f"when fewer than {high} examples have it" if low == 0 else
                           f"when {fmt_int_range(low, high - 1)} examples have it"))

  def _minimum(self, old: Feature, new: Feature, lines: List[str], key: str, kind: str,
               case_of) -> Optional[str]:
    """One minimum (presence, value count) that moved: the line, and which examples it now
    allows or blocks. Returns the verb ('allows'/'blocks'), or None when it did not really move."""
    before, after = old.leaf_value(key), new.leaf_value(key)
    if before == after:
      return None
    lines.append(f"- {key}: {old.leaf_text(key)} → {new.leaf_text(key)}")
    low, high = sorted((before or 0, after or 0))
    if low == high:
      return None
    verb = "allows" if (after or 0) < (before or 0) else "blocks"
    lines.append(self._effect(verb, kind, new.proto.name, case_of(low, high)))
    return verb

  def _imputed(self, new: Feature, lines: List[str]) -> None:
    name = new.proto.name
    if name == self.new_label:
      lines.append("- policy: rows without a label cannot train; they are dropped before "
                   "training")
      return
    treatment = self.new.policy.treatment_with_source(name, new.kind)
    if treatment[0][0] == "exclude":
      return
    _, how, where = treatment[0]
    lines.append(f"- policy: more rows without a value, imputed with {how} ({where})")

  def _value_count(self, old: Feature, new: Feature, lines: List[str]) -> None:
    name = new.proto.name
    verb = self._minimum(
        old, new, lines, "value_count.min", "FEATURE_TYPE_LOW_NUMBER_VALUES",
        lambda low, high: f"for examples with {fmt_int_range(low, high - 1)} value(s)")
    if verb == "allows" and not new.leaf_value("value_count.min"):
      self._imputed(new, lines)  # examples without a value are now let through
    before, after = old.leaf_value("value_count.max"), new.leaf_value("value_count.max")
    if before != after:
      lines.append(f"- value_count.max: {old.leaf_text('value_count.max')} → "
                   f"{new.leaf_text('value_count.max')}")
      verb, case = _upper_bound_change(before, after, "examples with more than", "values")
      lines.append(self._effect(verb, "FEATURE_TYPE_HIGH_NUMBER_VALUES", name, case))

  def _domain(self, old: Feature, new: Feature, lines: List[str]) -> None:
    name = new.proto.name
    kind = "ENUM_TYPE_UNEXPECTED_STRING_VALUES"
    if old.domain_ref != new.domain_ref and old.values is not None and new.values is not None:
      lines.append(f"- domain: string_domain {json.dumps(old.domain_ref or '(inline)')} → "
                   f"{json.dumps(new.domain_ref or '(inline)')}")
    if old.values is None and new.values is None:
      return
    if old.values is None:
      lines.append(f"- domain: added with {len(new.values)} values: {quoted_values(new.values)}")
      lines.append(self._effect("blocks", kind, name, "for any other value"))
      return
    if new.values is None:
      lines.append(f"- domain: removed (was {len(old.values)} values: {quoted_values(old.values)})")
      lines.append(self._effect("allows", kind, name, "for any value"))
      return
    added = sorted(set(new.values) - set(old.values))
    removed = sorted(set(old.values) - set(new.values))
    is_label = name == self.new_label
    if added:
      lines.append(f"- domain: added {quoted_values(added)}")
      lines.append(self._effect("allows", kind, name, f"for {quoted_values(added)}"))
      if is_label:
        lines.append("  - new label class(es): the model's outputs change; retrain")
    if removed:
      lines.append(f"- domain: removed {quoted_values(removed)}")
      lines.append(self._effect("blocks", kind, name, f"for {quoted_values(removed)}"))
    if is_label:
      common = set(old.values) & set(new.values)
      old_order = [v for v in old.values if v in common]
      new_order = [v for v in new.values if v in common]
      if old_order != new_order:
        lines.append(f"- label class order: {', '.join(old_order)} → {', '.join(new_order)}")
        lines.append("  - class ids follow this order: retrain, and do not compare with models "
                     "trained on the old order")
      if added or removed:
        strategy = self.new.policy.rebalance.strategy
        lines.append(f"- policy rebalance (strategy {strategy}): balances the classes "
                     f"{', '.join(new.values)}")

  def _bounds(self, old: Feature, new: Feature, lines: List[str]) -> None:
    name = new.proto.name
    for domain, big, small in (("int_domain", "INT_TYPE_BIG_INT", "INT_TYPE_SMALL_INT"),
                               ("float_domain", "FLOAT_TYPE_BIG_FLOAT", "FLOAT_TYPE_SMALL_FLOAT")):
      old_d, new_d = getattr(old, domain), getattr(new, domain)
      for bound in ("max", "min"):
        before = getattr(old_d, bound) if old_d is not None and old_d.HasField(bound) else None
        after = getattr(new_d, bound) if new_d is not None and new_d.HasField(bound) else None
        if before == after:
          continue
        lines.append(f"- {domain}.{bound}: {fmt_optional(before)} → {fmt_optional(after)}")
        if bound == "max":
          verb, case = _upper_bound_change(before, after, "values above")
          lines.append(self._effect(verb, big, name, case))
        else:
          verb, case = _lower_bound_change(before, after)
          lines.append(self._effect(verb, small, name, case))
      if domain == "float_domain":
        for flag, kind in (("disallow_nan", "FLOAT_TYPE_HAS_NAN"),
                           ("disallow_inf", "FLOAT_TYPE_HAS_INF")):
          before = bool(old_d is not None and getattr(old_d, flag))
          after = bool(new_d is not None and getattr(new_d, flag))
          if before != after:
            lines.append(f"- float_domain.{flag}: {fmt_number(before)} → {fmt_number(after)}")
            lines.append(self._effect("blocks" if after else "allows", kind, name, ""))

  def _environments(self, old: Feature, new: Feature, lines: List[str]) -> None:
    name = new.proto.name
    changed = False
    for key in ("in_environment", "not_in_environment"):
      added, removed = added_removed(list(getattr(old.proto, key)), list(getattr(new.proto, key)))
      if added:
        lines.append(f"- {key}: added {quoted_values(added)}")
      if removed:
        lines.append(f"- {key}: removed {quoted_values(removed)}")
      changed = changed or bool(added or removed)
    if not changed:
      return
    common = [e for e in self.new.schema.default_environment
              if e in self.old.schema.default_environment]
    for env in common:
      if env in old.expected_in and env not in new.expected_in:
        lines.append(self._effect("allows", "SCHEMA_MISSING_COLUMN", name,
                                  f"in {env} data (the column may be absent there)"))
      elif env in new.expected_in and env not in old.expected_in:
        lines.append(self._effect("blocks", "SCHEMA_MISSING_COLUMN", name,
                                  f"in {env} data without the column"))

  def _comparators(self, old: Feature, new: Feature, comparison: str, lines: List[str]) -> None:
    name = new.proto.name
    before = effective_comparators(old, comparison, self.old.policy, name == self.old_label)
    after = effective_comparators(new, comparison, self.new.policy, name == self.new_label)
    for kind in sorted(set(before) | set(after)):
      b, a = before.get(kind), after.get(kind)
      if b == a:
        continue
      if b and a and b[1] == a[1] and b[1].startswith("policy thresholds."):
        continue  # a change of the policy-wide default: reported once, under Policy
      measure = f"- {comparison} ({MEASURE[kind]})"
      if b is None:
        lines.append(f"{measure}: not checked → {fmt_number(a[0])} ({a[1]})")
        lines.append(self._effect("blocks", kind, name, f"for distances above {fmt_number(a[0])}"))
        if kind == "COMPARATOR_L_INFTY_HIGH" and new.numeric:
          lines.append("  - note: TFDV's L-infinity distance of a numeric feature always reads 0; "
                       "use jensen_shannon_divergence for numeric features")
      elif a is None:
        lines.append(f"{measure}: {fmt_number(b[0])} ({b[1]}) → not checked")
        lines.append(self._effect("allows", kind, name, "for any distance"))
      else:
        lines.append(f"{measure}: {fmt_number(b[0])} ({b[1]}) → {fmt_number(a[0])} ({a[1]})")
        if a[0] != b[0]:
          low, high = sorted((a[0], b[0]))
          verb = "allows" if a[0] > b[0] else "blocks"
          lines.append(self._effect(verb, kind, name, f"for distances above "
                                    f"{fmt_number(low)} up to {fmt_number(high)}"))


def _upper_bound_change(before, after, what: str, unit: str = "") -> Tuple[str, str]:
  """A maximum that moved: (allows/blocks, the case), e.g. 'for values above 50 up to 59'."""
  unit = f" {unit}" if unit else ""
  if after is None or (before is not None and after > before):
    upto = f" up to {fmt_number(after)}" if after is not None else ""
    return "allows", f"for {what} {fmt_number(before)}{upto}{unit}"
  upto = f" up to {fmt_number(before)}" if before is not None else ""
  return "blocks", f"for {what} {fmt_number(after)}{upto}{unit}"


def _lower_bound_change(before, after) -> Tuple[str, str]:
  if after is None or (before is not None and after < before):
    down = f" down to {fmt_number(after)}" if after is not None else ""
    return "allows", f"for values below {fmt_number(before)}{down}"
  down = f" down to {fmt_number(before)}" if before is not None else ""
  return "blocks", f"for values below {fmt_number(after)}{down}"
