"""Protos and policies flattened into comparable leaves, and the text of a leaf in a review line.

Why flatten: a review compares two schemas field by field, and a raw protobuf text diff hides what
matters (a reordered feature list looks like a change). Flattened, every set leaf is one key
(`presence.min_fraction`, `feature["size"].int_domain.max`) with its value and its text; repeated
messages with a name are keyed by it, so reordering them is no change. No TensorFlow: protobuf's
descriptors only.
"""
import json
from typing import Any, Dict, Iterable, List, Mapping, Sequence, Tuple

from google.protobuf import descriptor as _descriptor

LIST_LIMIT = 20  # values listed per line before "… (+N more)"

Leaves = Dict[str, Tuple[Any, str]]  # path -> (value, text)


def fmt_number(value) -> str:
  """A number as a review shows it: booleans as true/false, floats to 7 significant digits."""
  if isinstance(value, bool):
    return "true" if value else "false"
  if isinstance(value, float):
    return format(value, ".7g")
  return str(value)


def fmt_optional(value) -> str:
  return "(none)" if value is None else fmt_number(value)


def fmt_percent(fraction: float) -> str:
  return f"{fraction * 100:.4g}%"


def fmt_int_range(low: int, high: int) -> str:
  return str(low) if low == high else f"{low} to {high}"


def fmt_yaml_value(value: Any) -> str:
  """A policy value as a review shows it: scalars plain, lists and mappings as JSON."""
  if value is None:
    return "(none)"
  if isinstance(value, (bool, int, float)):
    return fmt_number(value)
  if isinstance(value, str):
    return value
  return json.dumps(value, sort_keys=True, ensure_ascii=False)


def quoted_values(values: Iterable[str], limit: int = LIST_LIMIT) -> str:
  """`"a", "b", … (+N more)`: values JSON-quoted (so spaces and empty strings show), at most
  `limit`."""
  values = list(values)
  shown = ", ".join(json.dumps(v, ensure_ascii=False) for v in values[:limit])
  return shown + (f", … (+{len(values) - limit} more)" if len(values) > limit else "")


def name_list(names: Sequence[str], backticks: bool = True) -> str:
  """Feature names for a review line, in backticks unless `backticks` is off; "(none)" if none."""
  if not names:
    return "(none)"
  shown = [f"`{n}`" if backticks else n for n in names[:LIST_LIMIT]]
  more = f", … (+{len(names) - LIST_LIMIT} more)" if len(names) > LIST_LIMIT else ""
  return ", ".join(shown) + more


def scalar_text(field, value) -> str:
  """One proto scalar as text: enums by name, strings JSON-quoted, bytes as repr."""
  if field.type == _descriptor.FieldDescriptor.TYPE_ENUM:
    known = field.enum_type.values_by_number
    return known[value].name if value in known else str(value)
  if field.type == _descriptor.FieldDescriptor.TYPE_STRING:
    return json.dumps(value, ensure_ascii=False)
  if field.type == _descriptor.FieldDescriptor.TYPE_BYTES:
    return repr(value)
  return fmt_number(value)


def flatten_proto(message, prefix: str = "") -> Leaves:
  """Every set leaf of a proto as `path -> (value, text)`. Repeated messages with a name are keyed
  by it (so reordering them is no change); an empty sub-message is a leaf of its own."""
  out: Leaves = {}
  for field, value in message.ListFields():
    path = prefix + field.name
    if field.label == _descriptor.FieldDescriptor.LABEL_REPEATED:
      if field.type == _descriptor.FieldDescriptor.TYPE_MESSAGE:
        named = "name" in field.message_type.fields_by_name
        for i, item in enumerate(value):
          key = json.dumps(item.name) if named and item.name else str(i)
          out.update(flatten_proto(item, f"{path}[{key}]."))
      else:
        items = tuple(value)
        out[path] = (items, ", ".join(scalar_text(field, v) for v in items))
    elif field.type == _descriptor.FieldDescriptor.TYPE_MESSAGE:
      inner = flatten_proto(value, path + ".")
      out.update(inner if inner else {path: ("{}", "{}")})
    else:
      out[path] = (value, scalar_text(field, value))
  return {k.rstrip("."): v for k, v in out.items()}


def flatten_dict(data: Any, prefix: str = "") -> Dict[str, Any]:
  """Nested mappings (a policy) as `dotted.key -> value`; lists and empty mappings are leaves."""
  if isinstance(data, Mapping) and data:
    out = {}
    for key in data:
      out.update(flatten_dict(data[key], f"{prefix}{key}."))
    return out
  return {prefix.rstrip("."): data}


def leaf_changes(old: Mapping[str, Tuple[Any, str]],
                 new: Mapping[str, Tuple[Any, str]]) -> List[str]:
  """`- key: was → now` for every flattened proto leaf that differs (the fields without wording
  of their own)."""
  lines = []
  for key in sorted(set(old) | set(new)):
    before, after = old.get(key), new.get(key)
    if before is not None and after is not None and before[0] == after[0]:
      continue
    was, now = (before[1] if before else "(none)"), (after[1] if after else "(none)")
    lines.append(f"- {key}: {was} → {now}")
  return lines


def added_removed(before, after) -> Tuple[list, list]:
  """The items of list `after` not in `before`, and of `before` not in `after` (either may be
  None), in their lists' order."""
  added = [p for p in after or [] if p not in (before or [])]
  removed = [p for p in before or [] if p not in (after or [])]
  return added, removed


def fmt_added_removed(added: Sequence[str], removed: Sequence[str]) -> str:
  """`added "x"; removed "y"`, either part left out when empty."""
  return "; ".join(p for p in (added and f"added {quoted_values(added)}",
                               removed and f"removed {quoted_values(removed)}") if p)


def dict_changes(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str) -> List[str]:
  """`- <prefix>key: was → now` for every flattened policy key that differs; lists as added and
  removed items."""
  lines = []
  for key in sorted(set(old) | set(new)):
    before, after = old.get(key), new.get(key)
    if before == after:
      continue
    if isinstance(before, list) or isinstance(after, list):
      what = fmt_added_removed(*added_removed(before, after))
      lines.append(f"- {prefix}{key}: {what}")
    else:
      lines.append(f"- {prefix}{key}: {fmt_yaml_value(before)} → {fmt_yaml_value(after)}")
  return lines
