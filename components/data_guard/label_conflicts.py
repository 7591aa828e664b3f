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
"""
from typing import Dict, List, Sequence, Tuple

import numpy as np
import pyarrow as pa

from trainguard.components.data_guard import row_hash

SPILL = "labels/train"  # the spill's "split" tag in hash_buckets.Range
WIDTH = 3               # features' hash (first, second), label's hash
EXAMPLES = 5

Example = Dict  # {"rows": n, "hash": features' hash (hex), "labels": {label hash (str): n}}


def feature_and_label_hashes(batch: pa.RecordBatch, hashes: Sequence[np.ndarray], label_key: str
                             ) -> Tuple[np.ndarray, ...]:
  """(features' first, second, label's hash) for the rows of `batch` that have a label; `hashes`
  are the rows' full content hashes (`row_hash.row_hashes(batch)`)."""
  names = batch.schema.names
  if label_key not in names:
    return tuple(np.zeros(0, dtype=np.uint64) for _ in range(WIDTH))
  label = row_hash.row_hashes(pa.RecordBatch.from_arrays(
      [batch.column(names.index(label_key))], [label_key]))
  labelled = (label[0] != 0) | (label[1] != 0)  # a missing label adds nothing to a row's hash
  return (hashes[0][labelled] - label[0][labelled], hashes[1][labelled] - label[1][labelled],
          label[0][labelled])


def label_hash_names(batch: pa.RecordBatch, label_key: str) -> Dict[Tuple[str, str], int]:
  """{(label hash, label text): rows} of `batch`: how the result names a label hash (the text as
  the label counts write it: UTF-8 for bytes, str() for numbers)."""
  names = batch.schema.names
  if label_key not in names:
    return {}
  column = batch.column(names.index(label_key))
  label = row_hash.row_hashes(pa.RecordBatch.from_arrays([column], [label_key]))[0]
  rows = np.flatnonzero(label != 0)
  unique, first, counts = np.unique(label[rows], return_index=True, return_counts=True)
  out: Dict[Tuple[str, str], int] = {}
  for h, row, n in zip(unique.tolist(), rows[first].tolist(), counts.tolist()):
    value = column[row].as_py()[0]
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
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
  run_label = label[new_label]
  examples = []
  for g in chosen.tolist():
    at = np.flatnonzero(run_group == g)
    examples.append({"rows": int(sizes[g]), "hash": f"{int(first[group_starts[g]]):016x}",
                     "labels": {str(int(run_label[r])): int(run_sizes[r]) for r in at}})
  return counts, examples


def largest(examples: List[Example]) -> List[Example]:
  """The `EXAMPLES` largest groups (ties: the smaller hash), whatever bucket they came from."""
  return sorted(examples, key=lambda e: (-e["rows"], e["hash"]))[:EXAMPLES]


def named(examples: List[Example], label_names: Dict[Tuple[str, str], int]) -> List[dict]:
  """The examples with label texts for hashes, each as {"rows": n, "labels": {text: n}}."""
  text = {h: t for (h, t) in label_names}
  return [{"rows": e["rows"], "labels": dict(sorted(
      (text.get(h, h), n) for h, n in e["labels"].items()))} for e in examples]
