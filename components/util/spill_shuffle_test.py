"""The spill shuffle on small in-memory data with Beam's in-process runner."""
import os

import apache_beam as beam
import numpy as np
import tensorflow as tf
from apache_beam.options.pipeline_options import PipelineOptions

from trainguard.components.util import spill_shuffle

BEAM_ARGS = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]


def _shuffle(tmp_path, name, records, num_shards, bundles=1):
  """Runs ShuffleToTFRecords over `records` given as `bundles` separate inputs."""
  directory, spill_dir = tmp_path / name / "out", tmp_path / name / "spill"
  directory.mkdir(parents=True)
  spill_dir.mkdir(parents=True)
  with beam.Pipeline(options=PipelineOptions(BEAM_ARGS)) as pipeline:
    parts = [pipeline | f"Part{i}" >> beam.Create(records[i::bundles]) for i in range(bundles)]
    _ = (parts | beam.Flatten()
         | spill_shuffle.ShuffleToTFRecords(str(directory), "data_tfrecord", num_shards,
                                            str(spill_dir), seed=7))
  files = sorted(os.listdir(directory))
  contents = {f: list(tf.data.TFRecordDataset(str(directory / f), compression_type="GZIP")
                      .as_numpy_iterator()) for f in files}
  return files, contents, sorted(os.listdir(spill_dir))


def test_every_record_once_in_a_seeded_order_that_does_not_depend_on_bundles(tmp_path):
  records = [b"row-%05d" % i for i in range(3000)] + [b"duplicate"] * 3
  files, contents, spills = _shuffle(tmp_path, "one", records, num_shards=4)
  assert files == [f"data_tfrecord-{i:05d}-of-00004.gz" for i in range(4)]
  written = [r for f in files for r in contents[f]]
  assert sorted(written) == sorted(records)
  assert all(200 < len(c) < 1300 for c in contents.values())  # spread over the shards
  assert written != sorted(written)  # not the input order
  # Each shard's records are in the order of their keyed hash.
  for records_ in contents.values():
    keys = spill_shuffle.row_hashes(7, records_, "shuffle")
    assert (np.diff(keys.astype(np.float64)) >= 0).all()
  # Other bundles, input order reversed: the same files, byte for byte.
  _, again, _ = _shuffle(tmp_path, "three", records[::-1], num_shards=4, bundles=3)
  assert again == contents
  # Spill files stay for a retried bundle to find; the caller removes the folder.
  assert spills


def test_a_shard_no_record_reaches_still_gets_its_empty_file(tmp_path):
  files, contents, _ = _shuffle(tmp_path, "few", [b"a", b"b"], num_shards=5)
  assert len(files) == 5
  assert sorted(r for c in contents.values() for r in c) == [b"a", b"b"]
  assert sum(1 for c in contents.values() if not c) >= 3
  files, contents, _ = _shuffle(tmp_path, "none", [], num_shards=2)
  assert files == ["data_tfrecord-00000-of-00002.gz", "data_tfrecord-00001-of-00002.gz"]
  assert contents == {f: [] for f in files}


def test_spill_buffers_hold_about_one_block_across_all_shards(tmp_path, monkeypatch):
  monkeypatch.setattr(spill_shuffle.Spiller, "BLOCK_BYTES", 1000)
  spiller = spill_shuffle.Spiller(str(tmp_path), num_shards=50)
  records = [b"r%03d" % i + b"x" * 10 for i in range(400)]
  for start in range(0, 400, 40):
    batch = records[start:start + 40]
    spiller.add(spill_shuffle.row_hashes(1, batch, "s"), batch)
    assert spiller._buffered < 1000 + 40 * 26  # pylint: disable=protected-access
  closed = spiller.close()
  assert len({shard for shard, _ in closed}) > 10
  written = sorted(r for _, path in closed for _, r in spill_shuffle.read_frames(path))
  assert written == sorted(records)


def test_spill_root_is_the_execution_tmp_dir_else_a_hidden_folder(tmp_path):
  from tfx.dsl.components.base import base_executor  # pylint: disable=g-import-not-at-top

  class _Executor(base_executor.BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):
      pass

  context = base_executor.BaseExecutor.Context(tmp_dir=str(tmp_path / "tmp"), unique_id="7")
  with_context = _Executor(context)
  assert spill_shuffle.spill_root(with_context, str(tmp_path / "out"), "x").startswith(
      str(tmp_path / "tmp"))
  without = _Executor()
  assert spill_shuffle.spill_root(without, str(tmp_path / "out"), "x") == str(
      tmp_path / "out" / ".x-work")
