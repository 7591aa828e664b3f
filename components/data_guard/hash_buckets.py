"""Row hashes spilled to disk in hash-prefix buckets, so that counting them never holds a split.

Duplicate and cross-split counts compare every row's 128-bit content hash with every other's. Equal
rows have equal hashes, so equal hashes share their first `BUCKET_BITS` bits: each bucket can be
counted on its own, and the counts add up. Holding every hash until the end (16 bytes a row, plus
about 40 a row of the split being sorted) made DataGuard's pass grow with the data (1M -> 5M rows:
0.91 -> 1.28 GB); now memory is one block of a bundle while spilling and one bucket while counting.

A bundle writes one spill file, in blocks of at most `BLOCK_ROWS` rows, each block sorted by bucket;
for each bucket a block holds, the bundle emits (bucket, `Range`). Grouping by bucket moves only
those small ranges (Beam's DirectRunner holds a GroupByKey's whole input in memory, so the hashes
themselves must not go through one). Files are little-endian uint64 rows: (first, second), 16 bytes
a row, or wider for a spill that carries more per row (the conflicting-labels spill adds the label's
hash: `HashSpill(width=3)`), the bucket always taken from the first column. Spill files stay until
whoever made the spill directory removes it (a retried bundle writes a new file under a new name and
its ranges replace the failed attempt's).
"""
import os
import uuid
from typing import Dict, Iterable, List, NamedTuple, Tuple

import numpy as np
from tfx.dsl.io import fileio

BUCKET_BITS = 8
BUCKETS = 1 << BUCKET_BITS
BLOCK_ROWS = 1 << 18  # 4 MB of hashes buffered per bundle before a block is written
_ROW = np.dtype("<u8")


class Range(NamedTuple):
  """`rows` hashes of `split` from row `start` of the spill file at `path`, all in one bucket."""
  split: str
  path: str
  start: int
  rows: int
  width: int = 2  # uint64 columns per row


def bucket_of(first: np.ndarray) -> np.ndarray:
  return (first >> np.uint64(64 - BUCKET_BITS)).astype(np.int64)


class HashSpill:
  """One bundle's row hashes of one split -> one spill file of bucket-sorted blocks."""

  def __init__(self, spill_dir: str, split: str, width: int = 2):
    self._split = split
    self._width = width
    self._path = os.path.join(spill_dir, f"{split.replace('/', '-')}-{uuid.uuid4().hex}")
    self._file = None
    self._parts: List[np.ndarray] = []
    self._buffered = 0
    self._written = 0
    self._ranges: List[Tuple[int, Range]] = []

  def add(self, *columns: np.ndarray) -> None:
    """One uint64 array per column (`width` of them), the bucket's hash first."""
    self._parts.append(np.stack(columns, axis=1))
    self._buffered += len(columns[0])
    if self._buffered >= BLOCK_ROWS:
      self._write_block()

  def _write_block(self) -> None:
    if not self._buffered:
      return
    block = np.concatenate(self._parts)
    self._parts, self._buffered = [], 0
    buckets = bucket_of(block[:, 0])
    block = block[np.argsort(buckets, kind="stable")]
    counts = np.bincount(buckets, minlength=BUCKETS)
    starts = self._written + np.cumsum(counts) - counts
    if self._file is None:
      self._file = fileio.open(self._path, "wb")
    self._file.write(block.astype(_ROW, copy=False).tobytes())
    self._written += len(block)
    for bucket in np.flatnonzero(counts).tolist():
      self._ranges.append(
          (bucket, Range(self._split, self._path, int(starts[bucket]), int(counts[bucket]),
                        self._width)))

  def close(self) -> List[Tuple[int, Range]]:
    """Writes what is buffered; every (bucket, Range) this bundle wrote."""
    self._write_block()
    if self._file is not None:
      self._file.close()
      self._file = None
    ranges, self._ranges = self._ranges, []
    return ranges


def read_bucket(ranges: Iterable[Range]) -> Dict[str, List[Tuple[np.ndarray, ...]]]:
  """One bucket's hashes, per split, as (first, second[, ...]) arrays, in a deterministic order."""
  out: Dict[str, List[Tuple[np.ndarray, ...]]] = {}
  by_path: Dict[str, List[Range]] = {}
  for r in ranges:
    by_path.setdefault(r.path, []).append(r)
  for path in sorted(by_path):
    with fileio.open(path, "rb") as f:
      for r in sorted(by_path[path], key=lambda r: r.start):
        row_bytes = 8 * r.width
        f.seek(r.start * row_bytes)
        data = f.read(r.rows * row_bytes)
        if len(data) != r.rows * row_bytes:
          raise IOError(f"spill file {path} is shorter than its ranges say: it was removed or "
                        "truncated while the pass ran; run the component again.")
        rows = np.frombuffer(data, dtype=_ROW).reshape(-1, r.width).astype(np.uint64)
        out.setdefault(r.split, []).append(tuple(rows[:, k] for k in range(r.width)))
  return out


# Counting one bucket: duplicates within a split, rows shared with train.

def _member(first: np.ndarray, second: np.ndarray, sorted_first: np.ndarray,
            sorted_second: np.ndarray) -> np.ndarray:
  """Which (first, second) hashes are among the sorted distinct ones."""
  low = np.searchsorted(sorted_first, first, side="left")
  high = np.searchsorted(sorted_first, first, side="right")
  found = np.zeros(len(first), dtype=bool)
  one = np.flatnonzero(high - low == 1)
  found[one] = sorted_second[low[one]] == second[one]
  for i in np.flatnonzero(high - low > 1):  # equal first halves: about never
    run = sorted_second[low[i]:high[i]]
    j = np.searchsorted(run, second[i])
    found[i] = j < len(run) and run[j] == second[i]
  return found


def row_counts(hashes: Dict[str, List[Tuple[np.ndarray, ...]]], multiplicities: bool = False
               ) -> Dict[str, int]:
  """{"duplicates/<split>": rows whose content an earlier row of the split had,
  "shared_with_train/<split>": rows of the split whose content is in train}; zeros left out. With
  `multiplicities`, also {"multiplicity/<split>/<k>": distinct rows seen exactly k times} (the
  frequencies of frequencies `repetition.py` judges duplicates with; summed over buckets, since a
  content's rows all fall in one bucket).
  Memory: one split's hashes at a time are gathered and sorted (about 40 bytes per row of that
  split), and train's distinct hashes are kept (16 bytes per distinct row) for the other splits;
  the pass calls it on one hash bucket at a time."""
  out: Dict[str, int] = {}
  train = None
  for split in sorted(hashes, key=lambda s: (s != "train", s)):
    first = np.concatenate([p[0] for p in hashes[split]])
    second = np.concatenate([p[1] for p in hashes[split]])
    rows = len(first)
    if train is not None:
      shared = int(np.count_nonzero(_member(first, second, *train)))
      if shared:
        out[f"shared_with_train/{split}"] = shared
    order = np.lexsort((second, first))
    first = first[order]
    second = second[order]
    del order
    new = np.ones(rows, dtype=bool)
    new[1:] = (first[1:] != first[:-1]) | (second[1:] != second[:-1])
    if multiplicities and rows:
      sizes, times = np.unique(np.diff(np.append(np.flatnonzero(new), rows)), return_counts=True)
      out.update({f"multiplicity/{split}/{k}": int(f) for k, f in zip(sizes, times)})
    first, second = first[new], second[new]  # distinct, sorted by (first, second)
    del new
    if rows > len(first):
      out[f"duplicates/{split}"] = rows - len(first)
    if split == "train":
      train = first, second
  return out
