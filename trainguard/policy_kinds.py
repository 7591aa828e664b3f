"""The policy's finding lists: which kinds a policy may name, and how its lists meet the defaults.

Apart from `policy_format.py` because these rules are about *names*, not values: a kind a policy
names must exist (a misspelt kind used to load, and the real kind kept its default severity), and a
policy's `findings.block/warn/info` lists *extend* the built-in ones unless `findings.replace: true`
(a short `block: [CLASS_IMBALANCE]` used to replace the whole default list, so dtype,
missing-column, skew/drift and leakage findings silently stopped blocking). A kind the policy puts
in one list is taken out of the defaults' other lists: the user's list wins, so moving a
default-blocking kind to `warn` works. TensorFlow-free (TFDV's anomaly names come from
tensorflow_metadata's protos).
"""
import difflib
import fnmatch
from typing import Collection, Dict, Iterable, List, Mapping, Optional, Sequence

from trainguard.errors import PolicyError

SEVERITIES = ("block", "warn", "info")


def is_pattern(entry: str) -> bool:
  return any(c in entry for c in "*?[")


def tfdv_kinds() -> List[str]:
  """TFDV's anomaly types (`AnomalyInfo.Type`), the kinds DataGuard's TFDV findings carry."""
  from tensorflow_metadata.proto.v0 import anomalies_pb2  # pylint: disable=g-import-not-at-top
  return list(anomalies_pb2.AnomalyInfo.Type.keys())


def known_kinds(defaults: Mapping[str, Sequence[str]]) -> List[str]:
  """Every kind a policy may name: TFDV's and trainguard's own (each trainguard kind is in one of
  the default lists, which is also where a new kind gets its name and its default severity)."""
  own = {k for entries in defaults.values() for k in entries if not is_pattern(k)}
  return sorted(own | set(tfdv_kinds()))


def suggestion(name: str, candidates: Iterable[str]) -> str:
  """'; did you mean X?' for the closest candidate (case first, then difflib), or ''."""
  candidates = list(candidates)
  same_case = [c for c in candidates if c.lower() == str(name).lower()]
  close = same_case or difflib.get_close_matches(str(name), candidates, n=1, cutoff=0.6)
  return f"; did you mean {close[0]}?" if close else ""


def check_kind_list(value, known: Collection[str], source: str, where: str) -> List[str]:
  """`value` as a list of kinds, each a known kind or a glob matching one; raises otherwise."""
  if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
    raise PolicyError(f"{source}: {where} must be a list of finding kinds (e.g. "
                      f"[UNEXPECTED_DATA_TYPE]), got {value!r}.")
  for entry in value:
    if is_pattern(entry):
      if not any(fnmatch.fnmatchcase(k, entry) for k in known):
        raise PolicyError(f"{source}: {where} has the pattern {entry!r}, which matches no finding "
                          "kind; fix it or remove it (the kinds: docs/policy.md, \"Finding "
                          "kinds\", and TFDV's anomaly types).")
    elif entry not in known:
      raise PolicyError(f"{source}: {where} names {entry!r}, which is no finding kind"
                        f"{suggestion(entry, known)} (the kinds: docs/policy.md, \"Finding "
                        "kinds\", and TFDV's anomaly types).")
  return list(value)


def check_lists(section: Mapping[str, object], known: Collection[str], source: str,
                prefix: str) -> Dict[str, List[str]]:
  """The block/warn/info lists `section` gives (absent ones empty), checked; an entry in two of
  them is a contradiction, not a precedence question, so it is refused."""
  lists = {s: check_kind_list(section[s], known, source, f"{prefix}{s}") if s in section else []
           for s in SEVERITIES}
  for i, first in enumerate(SEVERITIES):
    for second in SEVERITIES[i + 1:]:
      both = sorted(set(lists[first]) & set(lists[second]))
      if both:
        raise PolicyError(f"{source}: {both[0]!r} is in both {prefix}{first} and "
                          f"{prefix}{second}; keep it in one.")
  return lists


def merge(own: Mapping[str, Sequence[str]], defaults: Mapping[str, Sequence[str]],
          known: Collection[str], replace: bool) -> Dict[str, List[str]]:
  """The effective block/warn/info lists: the policy's own entries, then (unless `replace`) each
  default entry that no entry of the policy's *other* lists covers. A default pattern that the
  policy covers in part (`warn: [STRING_TYPE_NOW_INT]` against the default `STRING_TYPE_NOW_*`
  in block) is replaced by the kinds it matches that the policy does not claim."""
  merged = {s: list(own.get(s, ())) for s in SEVERITIES}
  if replace:
    return merged
  for severity in SEVERITIES:
    others = [p for s in SEVERITIES if s != severity for p in own.get(s, ())]
    out = merged[severity]

    def claimed(kind: str) -> bool:
      return any(fnmatch.fnmatchcase(kind, p) for p in others)  # pylint: disable=cell-var-from-loop

    for entry in defaults.get(severity, ()):
      if entry in out or entry in others:
        continue
      if not is_pattern(entry):
        if not claimed(entry):
          out.append(entry)
        continue
      matched = [k for k in sorted(known) if fnmatch.fnmatchcase(k, entry)]
      if not any(claimed(k) for k in matched):
        out.append(entry)
      else:
        out.extend(k for k in matched if not claimed(k) and k not in out)
  return merged


def decide(kind: str, lists: Mapping[str, Sequence[str]]) -> Optional[str]:
  """The severity whose list names `kind`: an exact name anywhere beats a pattern (so `block:
  ["FLOAT_TYPE_*"]` with `warn: [FLOAT_TYPE_HAS_NAN]` warns on NaNs), then patterns in block,
  warn, info order; None when no list matches."""
  for severity in SEVERITIES:
    if kind in (lists.get(severity) or ()):
      return severity
  for severity in SEVERITIES:
    if any(fnmatch.fnmatchcase(kind, p) for p in lists.get(severity) or () if is_pattern(p)):
      return severity
  return None
