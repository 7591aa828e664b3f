"""The ML Metadata store of a work directory: one SQLite file that several pipelines share.

SQLite lets one writer in at a time. ML Metadata retries a write that finds the file locked
(`retry_options`, 5 times by default, about 2 s apart on average) but not the creation of its
tables: two processes that open a new store at the same moment can both start creating them, and
one fails ("Concurrent writes aborted after max number of retries"; seen in 2 of 36 processes,
six at a time, on this machine). So the store is created under an exclusive file lock, once, before
a pipeline runs, and writers get more retries: two pipelines of one work directory can run at the
same time (tests/reliability_e2e_test.py, docs/reliability.md).
"""
import fcntl
import os

from ml_metadata.proto import metadata_store_pb2

# Enough for a writer to wait out another pipeline's longest write burst (a component publishing
# its outputs) on a slow disk; each retry waits ~2 s on average.
MAX_NUM_RETRIES = 30


def connection_config(path: str, read_only: bool = False) -> metadata_store_pb2.ConnectionConfig:
  config = metadata_store_pb2.ConnectionConfig()
  config.sqlite.filename_uri = path
  config.sqlite.connection_mode = (
      metadata_store_pb2.SqliteMetadataSourceConfig.READONLY if read_only else
      metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE)
  config.retry_options.max_num_retries = MAX_NUM_RETRIES
  return config


def ensure_store(path: str) -> metadata_store_pb2.ConnectionConfig:
  """Creates the store's tables if needed, one process at a time; returns the writer's config."""
  import ml_metadata as mlmd  # pylint: disable=g-import-not-at-top
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  config = connection_config(path)
  with open(path + ".lock", "a") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
      mlmd.MetadataStore(config)
    finally:
      fcntl.flock(lock, fcntl.LOCK_UN)
  return config
