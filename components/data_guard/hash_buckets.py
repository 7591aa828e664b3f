"""Row hashes spilled to disk in hash-prefix buckets, so that counting them never holds a split.

Duplicate and cross-split counts compare every row's 128-bit content hash with every other's. Equal
rows have equal hashes, so equal hashes share their first `BUCKET_BITS` bits: each bucket can be
counted on its own, and the counts add up. Holding every hash until the end (16 bytes a row, plus
about 40 a row of the split being sorted) made DataGuard's pass grow with the data (1M -> 5M rows:
0.91 -> 1.28 GB); now memory is one block of a bundle while spilling and one bucket while counting.

A bundle writes one spill file, in blocks of at most `BLOCK_ROWS` rows, each block sorted by bucket;
for each bucket a block holds, the bundle emits (bucket, `Range`). Grouping by bucket moves only
those small ranges (Beam's DirectRunner holds a GroupByKey's whole input in memory, so the hashes
themselves must not go through one). Files are little-endian uint64 pairs (first, second), 16 bytes
a row. Spill files stay until whoever made the spill directory removes it (a retried bundle writes
a new file under a new name and its ranges replace the failed attempt's).
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
_ROW_BYTES = 16


class Range(NamedTuple):
  """`rows` hashes of `split` from row `start` of the spill file at `path`, all in one bucket."""
  split: str
  path: str
  start: int
  rows: int


def bucket_of(first: np.ndarray) -> np.ndarray:
  return (first >> np.uint64(64 - BUCKET_BITS)).astype(np.int64)


class HashSpill:
  """One bundle's row hashes of one split -> one spill file of bucket-sorted blocks."""

  def __init__(self, spill_dir: str, split: str):
    self._split = split
    self._path = os.path.join(spill_dir, f"{split}-{uuid.uuid4().hex}")
    self._file = None
    self._parts: List[np.ndarray] = []
    self._buffered = 0
    self._written = 0
    self._ranges: List[Tuple[int, Range]] = []

  def add(self, first: np.ndarray, second: np.ndarray) -> None:
    self._parts.append(np.stack([first, second], axis=1))
    self._buffered += len(first)
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
          (bucket, Range(self._split, self._path, int(starts[bucket]), int(counts[bucket]))))

  def close(self) -> List[Tuple[int, Range]]:
    """Writes what is buffered; every (bucket, Range) this bundle wrote."""
    self._write_block()
    if self._file is not None:
      self._file.close()
      self._file = None
    ranges, self._ranges = self._ranges, []
    return ranges


def read_bucket(ranges: Iterable[Range]) -> Dict[str, List[Tuple[np.ndarray, np.ndarray]]]:
  """One bucket's hashes, per split, as (first, second) arrays, in a deterministic order."""
  out: Dict[str, List[Tuple[np.ndarray, np.ndarray]]] = {}
  by_path: Dict[str, List[Range]] = {}
  for r in ranges:
    by_path.setdefault(r.path, []).append(r)
  for path in sorted(by_path):
    with fileio.open(path, "rb") as f:
      for r in sorted(by_path[path], key=lambda r: r.start):
        f.seek(r.start * _ROW_BYTES)
        data = f.read(r.rows * _ROW_BYTES)
        if len(data) != r.rows * _ROW_BYTES:
          raise IOError(f"spill file {path} is shorter than its ranges say: it was removed or "
                        "truncated while the pass ran; run the component again.")
        rows = np.frombuffer(data, dtype=_ROW).reshape(-1, 2).astype(np.uint64)
        out.setdefault(r.split, []).append((rows[:, 0], rows[:, 1]))
  return out
