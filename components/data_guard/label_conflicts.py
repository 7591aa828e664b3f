"""Conflicting labels: train rows identical in every feature but labelled differently.

Why in the dataset pass, beside the duplicate rows: the same 128-bit content hash finds both. The
row hash is a sum of one term per feature (`row_hash.py`), so a row's hash without its label is
its full hash minus the hash of the label column alone; no second hashing of the row. Each train
bundle spills (features' hash: two uint64, label's hash: one uint64) in the same hash-prefix
buckets as the duplicates (`hash_buckets.py`), keyed on the features' hash, so rows with equal
features share a bucket and each bucket is counted on its own: memory stays one block per bundle
and one bucket at a time (24 more bytes per train row on disk), whatever the number of rows.

Per bucket, sorted by (features, label): a group is the rows sharing the features' hash; it
conflicts when it holds two labels or more. Counted: rows in conflicting groups, the groups, and
the rows no model can get right (a group's rows outside its most frequent label: the accuracy any
model can reach on train is capped at 1 minus their share). Examples: the largest `EXAMPLES`
conflicting groups, with their label counts (labels by their hash; the pass maps hashes to label
texts, which it counts anyway). A row without a label is not counted (the pre-flight drops them).

With `label.map` (`Policy.label_class`, passed in as `label_class`), a label is its class: the
spill's label hash is its class's (the hash of the class as text), so rows the map sends to one
class (`adelie`, `Adelie`) agree, as they do once Transform maps them, and the examples name
classes. The features' hash still takes out the raw label's hash, the part of the row hash it
holds. Only rows with one label value are mapped (as Transform reads one).

Example rows (so a user can look a group up): the hashes say which rows conflict only once a bucket
is counted, after the pass has read them. So the pass keeps, as it goes, the feature values of one
row of each of the `VALUE_GROUPS` (200) feature groups with the smallest features' hash (a bottom-k
sketch: `ValueSketch` per bundle, `merge_values` in the combiner; at most 200 rows of values cut to
`VALUE_CHARS` each, whatever the number of rows or their order), and the buckets also hand on the
conflicting groups with the smallest hashes. With at most 200 distinct feature groups every group's
values are known; beyond, a uniform sample of the groups is, and the finding shows up to three
groups with their values (the largest first), else the largest by label counts alone. Groups are
identical in every feature, so any row's values are the group's (text `" 1 "` and number 1 hash
alike: the shown spelling is one row's).
"""
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trainguard.components.data_guard import row_hash

SPILL = "labels/train"  # the spill's "split" tag in hash_buckets.Range
WIDTH = 3               # features' hash (first, second), label's hash
EXAMPLES = 5
VALUE_GROUPS = 200  # groups whose feature values the pass keeps (bottom-k of the features' hash)
VALUE_CHARS = 40    # a value's text is cut to this many characters
VALUE_FEATURES = 8  # features a finding names per group (then "+n more")

Example = Dict  # {"rows": n, "hash": features' hash (hex), "labels": {label hash (str): n}}
LabelClass = Optional[Callable[[str], str]]  # `Policy.label_class`: a raw label text's class


def _label_text(value) -> str:
  """A label value as text, as the label counts write it: UTF-8 for bytes, str() for numbers."""
  return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _class_hashes(column: pa.Array, label_key: str, raw: np.ndarray,
                  label_class: LabelClass) -> np.ndarray:
  """`raw` (the label's hash per row, first half) with each row of one value that `label_class`
  sends to another text hashed as that text instead: the rows of one class share a hash."""
  if label_class is None or pa.types.is_null(column.type):
    return raw
  offsets, lengths = row_hash.list_offsets(column)
  rows = np.flatnonzero(lengths == 1)
  if not len(rows):
    return raw
  encoded = pc.dictionary_encode(column.values.take(pa.array(offsets[rows], type=pa.int64())))
  texts = [_label_text(v) for v in encoded.dictionary.to_pylist()]
  classes = [label_class(t) for t in texts]
  changed = np.array([c != t for c, t in zip(classes, texts)], dtype=bool)
  if not changed.any():
    return raw
  mapped = [c for c, m in zip(classes, changed.tolist()) if m]
  code_hash = np.zeros(len(texts), dtype=np.uint64)
  code_hash[changed] = row_hash.row_hashes(pa.RecordBatch.from_arrays(
      [pa.array([[c] for c in mapped], type=pa.list_(pa.string()))], [label_key]))[0]
  codes = np.asarray(encoded.indices).astype(np.int64)
  hit = changed[codes]
  out = raw.copy()
  out[rows[hit]] = code_hash[codes[hit]]
  return out


def feature_and_label_hashes(batch: pa.RecordBatch, hashes: Sequence[np.ndarray], label_key: str,
                             sketch: Optional["ValueSketch"] = None,
                             label_class: LabelClass = None) -> Tuple[np.ndarray, ...]:
  """(features' first, second, label's hash) for the rows of `batch` that have a label; `hashes`
  are the rows' full content hashes (`row_hash.row_hashes(batch)`). With `label_class`
  (`Policy.label_class`), the label's hash is its class's. With a `sketch`, the batch's rows also
  go into it (its `new` then holds the values it kept)."""
  names = batch.schema.names
  if label_key not in names:
    return tuple(np.zeros(0, dtype=np.uint64) for _ in range(WIDTH))
  column = batch.column(names.index(label_key))
  label = row_hash.row_hashes(pa.RecordBatch.from_arrays([column], [label_key]))
  labelled = (label[0] != 0) | (label[1] != 0)  # a missing label adds nothing to a row's hash
  first = hashes[0][labelled] - label[0][labelled]  # the raw label's part of the row hash
  if sketch is not None:
    sketch.add(batch, np.flatnonzero(labelled), first, label_key)
  label_hash = _class_hashes(column, label_key, label[0], label_class)
  return (first, hashes[1][labelled] - label[1][labelled], label_hash[labelled])


def _text(value) -> str:
  if isinstance(value, bytes):
    value = value.decode("utf-8", "replace")
  elif isinstance(value, float):
    value = format(float(np.float32(value)), ".7g")  # as stored (float32), not its binary tail
  text = str(value)
  return text if len(text) <= VALUE_CHARS else text[:VALUE_CHARS - 1] + "…"


def row_values(batch: pa.RecordBatch, row: int, label_key: str) -> Dict[str, str]:
  """{feature: text} of one row of `batch`, the label and features without a value left out."""
  out = {}
  for name, column in zip(batch.schema.names, batch.columns):
    values = column[row].as_py() if name != label_key else None
    if values:
      out[name] = _text(values[0]) if len(values) == 1 else _text(
          "[" + ", ".join(_text(v) for v in values) + "]")
  return dict(sorted(out.items()))


class ValueSketch:
  """One bundle's bottom-k sketch: the features' hashes (first half) of the `VALUE_GROUPS`
  smallest groups it has seen; `add` puts the values of a batch's rows that enter it into `new`
  (emptied by the caller), and reads a row's values only for those (few, once it is full)."""

  def __init__(self):
    self._hashes = np.zeros(0, dtype=np.uint64)  # sorted, at most VALUE_GROUPS
    self.new: Dict[str, Dict[str, str]] = {}

  def add(self, batch: pa.RecordBatch, rows: np.ndarray, first: np.ndarray,
          label_key: str) -> None:
    unique, at = np.unique(first, return_index=True)
    fresh = ~np.isin(unique, self._hashes)
    if len(self._hashes) >= VALUE_GROUPS:
      fresh &= unique < self._hashes[-1]
    unique, at = unique[fresh], at[fresh]
    if not len(unique):
      return
    self._hashes = np.union1d(self._hashes, unique)[:VALUE_GROUPS]
    kept = unique <= self._hashes[-1]
    for h, a in zip(unique[kept].tolist(), at[kept].tolist()):
      self.new[f"{h:016x}"] = row_values(batch, int(rows[a]), label_key)


def merge_values(into: Dict[str, Dict[str, str]], other: Dict[str, Dict[str, str]]) -> None:
  """The combiner's merge of sketches: the `VALUE_GROUPS` smallest hashes of both (hex of one
  length: text order is number order)."""
  into.update(other)
  for key in sorted(into)[VALUE_GROUPS:]:
    del into[key]


def label_hash_names(batch: pa.RecordBatch, label_key: str,
                     label_class: LabelClass = None) -> Dict[Tuple[str, str], int]:
  """{(label hash, label text): rows} of `batch`: how the result names a label hash (the text as
  the label counts write it: UTF-8 for bytes, str() for numbers). With `label_class`, the hash
  and the text are the class's (`feature_and_label_hashes`)."""
  names = batch.schema.names
  if label_key not in names:
    return {}
  column = batch.column(names.index(label_key))
  label = row_hash.row_hashes(pa.RecordBatch.from_arrays([column], [label_key]))[0]
  rows = np.flatnonzero(label != 0)
  label = _class_hashes(column, label_key, label, label_class)
  unique, first, counts = np.unique(label[rows], return_index=True, return_counts=True)
  out: Dict[Tuple[str, str], int] = {}
  for h, row, n in zip(unique.tolist(), rows[first].tolist(), counts.tolist()):
    values = column[row].as_py()
    text = _label_text(values[0])
    if label_class is not None and len(values) == 1:
      text = label_class(text)
    out[(str(h), text)] = out.get((str(h), text), 0) + n
  return out


def count(parts: List[Tuple[np.ndarray, ...]]) -> Tuple[Dict[str, int], List[Example]]:
  """One bucket's conflict counts ({"conflicting_rows/train", "conflicting_groups/train",
  "conflict_errors/train"}, zeros left out) and its largest conflicting groups."""
  if not parts:
    return {}, []
  first, second, label = (np.concatenate([p[k] for p in parts]) for k in range(WIDTH))
  order = np.lexsort((label, second, first))
  first, second, label = first[order], second[order], label[order]
  del order
  n = len(first)
  starts = np.ones(n, dtype=bool)
  starts[1:] = (first[1:] != first[:-1]) | (second[1:] != second[:-1])
  group = np.cumsum(starts) - 1
  new_label = starts.copy()
  new_label[1:] |= label[1:] != label[:-1]
  labels_per_group = np.bincount(group, weights=new_label).astype(np.int64)
  conflicting = np.flatnonzero(labels_per_group >= 2)
  if not len(conflicting):
    return {}, []
  sizes = np.bincount(group)
  # Rows per (group, label) run: the largest run of each group is its majority label.
  run = np.cumsum(new_label) - 1
  run_sizes = np.bincount(run)
  run_group = group[new_label]
  majority = np.zeros(len(sizes), dtype=np.int64)
  np.maximum.at(majority, run_group, run_sizes)
  rows = int(sizes[conflicting].sum())
  counts = {"conflicting_rows/train": rows, "conflicting_groups/train": len(conflicting),
            "conflict_errors/train": int((sizes[conflicting] - majority[conflicting]).sum())}
  group_starts = np.flatnonzero(starts)
  chosen = conflicting[np.lexsort((first[group_starts[conflicting]],
                                   -sizes[conflicting]))][:EXAMPLES]
  by_hash = conflicting[np.argsort(first[group_starts[conflicting]], kind="stable")][:EXAMPLES]
  chosen = np.concatenate([chosen, by_hash[~np.isin(by_hash, chosen)]])  # those the sketch holds
  run_label = label[new_label]
  examples = []
  for g in chosen.tolist():
    at = np.flatnonzero(run_group == g)
    examples.append({"rows": int(sizes[g]), "hash": f"{int(first[group_starts[g]]):016x}",
                     "labels": {str(int(run_label[r])): int(run_sizes[r]) for r in at}})
  return counts, examples


def largest(examples: List[Example]) -> List[Example]:
  """The `EXAMPLES` largest groups (ties: the smaller hash), whatever bucket they came from, and
  the `EXAMPLES` with the smallest hashes (the groups the value sketch holds)."""
  unique = list({e["hash"]: e for e in examples}.values())
  big = sorted(unique, key=lambda e: (-e["rows"], e["hash"]))[:EXAMPLES]
  small = [e for e in sorted(unique, key=lambda e: e["hash"]) if e not in big][:EXAMPLES]
  return big + small


SHOWN = 3  # groups with their values a finding shows


def named(examples: List[Example], label_names: Dict[Tuple[str, str], int],
          values: Optional[Dict[str, Dict[str, str]]] = None) -> List[dict]:
  """The `EXAMPLES` largest groups with label texts for hashes, each as {"rows": n, "labels":
  {text: n}} plus {"values": {feature: text}} when the sketch kept its values; then, when fewer
  than `SHOWN` of them have values, smaller groups that have (largest first)."""
  text = {h: t for (h, t) in label_names}
  values = values or {}
  ranked = sorted(examples, key=lambda e: (-e["rows"], e["hash"]))
  chosen = ranked[:EXAMPLES]
  with_values = sum(e["hash"] in values for e in chosen)
  chosen += [e for e in ranked[EXAMPLES:] if e["hash"] in values][:max(0, SHOWN - with_values)]
  out = []
  for e in chosen:
    entry = {"rows": e["rows"], "labels": dict(sorted(
        (text.get(h, h), n) for h, n in e["labels"].items()))}
    if e["hash"] in values:
      entry["values"] = values[e["hash"]]
    out.append(entry)
  return out


def to_show(examples: List[dict]) -> List[dict]:
  """The `SHOWN` groups a finding names: those with values (largest first), then the largest."""
  with_values = [e for e in examples if "values" in e]
  return (with_values + [e for e in examples if "values" not in e])[:SHOWN]


def shown(example: dict) -> str:
  """`3 rows: 'p' ×2, 'q' ×1 where c=a, x=1` (at most `VALUE_FEATURES` features named)."""
  text = f"{example['rows']} rows: " + ", ".join(
      f"{label!r} ×{n}" for label, n in example["labels"].items())
  values = example.get("values")
  if values is None:
    return text
  named_ = [f"{k}={v}" for k, v in list(values.items())[:VALUE_FEATURES]]
  more = len(values) - VALUE_FEATURES
  return text + " where " + (", ".join(named_) or "no feature has a value") + (
      f", … (+{more} more)" if more > 0 else "")
