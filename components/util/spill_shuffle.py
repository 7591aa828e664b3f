"""Shuffle a split's records into GZIP TFRecord files through spill files, in bounded memory.

Why not `beam.Reshuffle` or a GroupByKey of the records themselves: Beam's DirectRunner
(in-process and multi-process alike) holds a GroupByKey's whole input in the launcher's memory,
which here is the whole split (the base ExampleGen executor's `WriteSplit` reshuffles that way, and
at 1M generated rows it alone was the pipeline's 2.5 GB peak). Here each bundle appends its records
to one spill file per output shard (a few MB buffered at a time), only the spill files' names are
grouped, and each output shard is read, sorted and written on its own: memory is one shard.

The order is a seeded pseudo-random permutation: a record's shard and its place within the shard
come from a keyed 64-bit hash of its bytes, so the files are byte-identical from run to run and
across runners, whatever the bundles were, and identical records (the only ones whose order is not
decided by the key, bar a 2**-64 collision) are interchangeable.

A spill frame is the record's 8-byte big-endian key, its 4-byte length and the record, so sorting
frames' (key, record) pairs sorts records by (key, record).
"""
import hashlib
import os
import struct
import uuid
from typing import Iterable, Iterator, List, Sequence, Tuple

import apache_beam as beam
from apache_beam.transforms import window
from apache_beam.utils import windowed_value
import numpy as np
import tensorflow as tf
from tfx.dsl.io import fileio

_FRAME = struct.Struct(">QI")
_HASH_BATCH = 1024  # records hashed with one numpy conversion
_NO_FILE = ""  # a shard's placeholder, so that a shard no bundle wrote still gets its file


def row_hashes(seed: int, records: Sequence[bytes], salt: str) -> np.ndarray:
  """A 64-bit keyed BLAKE2b hash of every record, as uint64."""
  key = f"{seed}:{salt}".encode()
  digests = b"".join([hashlib.blake2b(r, digest_size=8, key=key).digest() for r in records])
  return np.frombuffer(digests, dtype=">u8").astype(np.uint64)


class Spiller:
  """Keyed records to spill files, one per (bundle, output shard), written in blocks."""
  BLOCK_BYTES = 4 << 20  # all shards' unwritten frames together

  def __init__(self, spill_dir: str, num_shards: int):
    self._spill_dir = spill_dir
    self._num_shards = num_shards
    self._files = {}  # shard -> (path, file)
    self._blocks = {}  # shard -> [frames] not written yet
    self._buffered = 0  # their bytes

  def add(self, keys: np.ndarray, records: Sequence[bytes]) -> None:
    shards = (keys % np.uint64(self._num_shards)).astype(np.int64)
    pack = _FRAME.pack
    for record, key, shard in zip(records, keys.tolist(), shards.tolist()):
      self._blocks.setdefault(shard, []).append(pack(key, len(record)) + record)
      self._buffered += _FRAME.size + len(record)
    if self._buffered >= self.BLOCK_BYTES:
      self._flush()

  def _flush(self) -> None:
    for shard, frames in sorted(self._blocks.items()):
      if shard not in self._files:
        path = os.path.join(self._spill_dir, f"shard-{shard:05d}-{uuid.uuid4().hex}")
        self._files[shard] = (path, fileio.open(path, "wb"))
      self._files[shard][1].write(b"".join(frames))
    self._blocks = {}
    self._buffered = 0

  def close(self) -> List[Tuple[int, str]]:
    """Writes what is buffered; the (shard, spill file) of every file this spiller wrote."""
    self._flush()
    closed = []
    for shard, (path, f) in sorted(self._files.items()):
      f.close()
      closed.append((shard, path))
    self._files = {}
    return closed


def read_frames(path: str) -> List[Tuple[int, bytes]]:
  with fileio.open(path, "rb") as f:
    data = f.read()
  frames, offset = [], 0
  while offset < len(data):
    key, length = _FRAME.unpack_from(data, offset)
    offset += _FRAME.size
    frames.append((key, data[offset:offset + length]))
    offset += length
  return frames


def spill_root(executor, fallback_dir: str, name: str) -> str:
  """Where a Beam executor's spill files go: `name` in the execution's temporary folder (under the
  pipeline root, so every worker reaches it), else the hidden folder `.<name>-work` in
  `fallback_dir` (an executor run outside an orchestrator has no temporary folder)."""
  try:
    return os.path.join(executor._get_tmp_dir(), name)  # pylint: disable=protected-access
  except (AttributeError, RuntimeError):  # no context, or a context without a temporary folder
    return os.path.join(fallback_dir, f".{name}-work")


def shard_path(directory: str, prefix: str, shard: int, num_shards: int) -> str:
  return os.path.join(directory, f"{prefix}-{shard:05d}-of-{num_shards:05d}.gz")


class WriteShardFn(beam.DoFn):
  """(shard, spill files) -> one GZIP TFRecord file of the shard's records in key order.

  Spill files are left in place, so a runner that retries the bundle finds them again; whoever
  made the spill directory removes it once the pipeline has finished.
  """

  def __init__(self, directory: str, prefix: str, num_shards: int):
    self._directory = directory
    self._prefix = prefix
    self._num_shards = num_shards

  def process(self, element: Tuple[int, Iterable[str]]) -> Iterator[str]:
    shard, spill_files = element
    entries = []
    for spill in sorted(spill_files):
      if spill == _NO_FILE:
        continue
      entries.extend(read_frames(spill))
    entries.sort()
    path = shard_path(self._directory, self._prefix, shard, self._num_shards)
    with tf.io.TFRecordWriter(path, tf.io.TFRecordOptions(compression_type="GZIP")) as writer:
      for _, record in entries:
        writer.write(record)
    yield path


class SpillingFn(beam.DoFn):
  """A DoFn that writes records to spill files through one `Spiller` a bundle, and emits the
  (shard, spill file) names that spiller wrote when the bundle ends. Subclasses add the records
  (`self._spiller.add`) and may make another spiller (`new_spiller`)."""

  def __init__(self, spill_dir: str, num_shards: int):
    self._spill_dir = spill_dir
    self._num_shards = num_shards
    self._spiller = None

  def new_spiller(self) -> Spiller:
    return Spiller(self._spill_dir, self._num_shards)

  def start_bundle(self):
    self._spiller = self.new_spiller()

  def finish_bundle(self):
    for shard_file in self._spiller.close():
      yield windowed_value.WindowedValue(shard_file, window.GlobalWindow().max_timestamp(),
                                         (window.GlobalWindow(),))
    self._spiller = None


class _SpillFn(SpillingFn):
  """Records -> spill files; per bundle, the (shard, spill file) names it wrote."""

  def __init__(self, spill_dir: str, num_shards: int, seed: int, salt: str):
    super().__init__(spill_dir, num_shards)
    self._seed = seed
    self._salt = salt
    self._pending = []

  def start_bundle(self):
    super().start_bundle()
    self._pending = []

  def process(self, record: bytes):
    self._pending.append(record)
    if len(self._pending) >= _HASH_BATCH:
      self._spill()

  def _spill(self):
    self._spiller.add(row_hashes(self._seed, self._pending, self._salt), self._pending)
    self._pending = []

  def finish_bundle(self):
    if self._pending:
      self._spill()
    yield from super().finish_bundle()


@beam.ptransform_fn
@beam.typehints.with_input_types(bytes)
@beam.typehints.with_output_types(str)
def ShuffleToTFRecords(  # pylint: disable=invalid-name
    records: beam.pvalue.PCollection, directory: str, prefix: str, num_shards: int,
    spill_dir: str, seed: int = 0, salt: str = "shuffle") -> beam.pvalue.PCollection:
  """Writes `records` to `num_shards` GZIP TFRecord files `<directory>/<prefix>-SSSSS-of-NNNNN.gz`
  in a seeded pseudo-random order and returns their paths. Every shard's file is written, empty or
  not, so a split always has its files. `spill_dir` must exist, be reachable from every worker, and
  be removed by the caller once the pipeline has run."""
  spills = records | "Spill" >> beam.ParDo(_SpillFn(spill_dir, num_shards, seed, salt))
  every_shard = records.pipeline | "Shards" >> beam.Create(
      [(shard, _NO_FILE) for shard in range(num_shards)])
  return ((spills, every_shard)
          | "AllShards" >> beam.Flatten()
          | "GroupShards" >> beam.GroupByKey()
          | "Write" >> beam.ParDo(WriteShardFn(directory, prefix, num_shards)))
