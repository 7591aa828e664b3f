"""policy.yaml text with new feature entries added in place, so the reviewer's comments survive.

Why text surgery rather than load and dump: a curated policy carries comments that explain its
decisions (`# counts are skewed`), and `yaml.safe_dump` drops every one of them. The entries are
inserted as lines at the end of `features:`; the result is loaded back and compared with the
intended mapping, and only when the two differ is the file rewritten (with a line saying the
comments could not be kept). The result is validated against the proposed schema either way.
"""
import copy
import os
import re
from typing import Any, List, Mapping, Optional

import yaml
from tensorflow_metadata.proto.v0 import schema_pb2

from trainguard.policy import Policy


def with_new_entries(policy_path: str, entries: Mapping[str, Mapping[str, Any]],
                     schema: schema_pb2.Schema, source: str) -> Optional[str]:
  """The curated policy.yaml text with `entries` added under `features:`, comments kept. None when
  there is no policy file and nothing to add."""
  text = ""
  if os.path.isfile(policy_path):
    with open(policy_path, encoding="utf-8") as f:
      text = f.read()
  if not entries:
    return text or None
  raw = (yaml.safe_load(text) or {}) if text else {"version": 1}
  expected = copy.deepcopy(raw)
  expected.setdefault("features", {})
  expected["features"] = dict(expected["features"] or {})
  expected["features"].update({k: dict(v) for k, v in entries.items()})
  comment = f"  # new in {source}: review (trainguard schema propose)"
  new_text = _insert_entries(text or "version: 1\n", entries, comment)
  if new_text is None or yaml.safe_load(new_text) != expected:
    new_text = ("# Rewritten by trainguard schema propose (comments could not be kept).\n"
                + yaml.safe_dump(expected, sort_keys=False))
  Policy.from_dict(yaml.safe_load(new_text), source=policy_path, schema=schema)
  return new_text


def _insert_entries(text: str, entries: Mapping[str, Mapping[str, Any]],
                    comment: str) -> Optional[str]:
  """`text` with one flow-style line per entry at the end of its `features:` block (added if
  missing); None when that block is a non-empty flow mapping, which cannot take lines."""
  lines = text.splitlines()
  at = next((i for i, l in enumerate(lines) if re.match(r"^features:", l)), None)
  def entry_lines(indent: str) -> List[str]:
    return [f"{indent}{name}: "
            f"{yaml.safe_dump(dict(value), default_flow_style=True, sort_keys=False).strip()}"
            f"{comment}" for name, value in entries.items()]
  if at is None:
    return text.rstrip("\n") + "\n\nfeatures:\n" + "\n".join(entry_lines("  ")) + "\n"
  rest = lines[at][len("features:"):].split("#", 1)[0].strip()
  if rest in ("{}", "null", "~"):
    lines[at:at + 1] = ["features:"] + entry_lines("  ")
    return "\n".join(lines) + "\n"
  if rest:
    return None  # a non-empty flow mapping: rewrite instead
  end, indent = at, None
  for i in range(at + 1, len(lines)):
    line = lines[i]
    if not line.strip() or line.lstrip().startswith("#"):
      continue
    if not line[0].isspace():
      break
    if indent is None:
      indent = line[:len(line) - len(line.lstrip())]
    end = i
  lines[end + 1:end + 1] = entry_lines(indent or "  ")
  return "\n".join(lines) + "\n"
