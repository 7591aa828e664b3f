"""The work directory's state checked before a run: the ML Metadata store, and what it says exists.

Why before: a damaged store fails deep inside TFX with a message about something else (a truncated
`metadata.sqlite` is "database disk image is malformed" from a CREATE TABLE, a locked one waits
out every retry and then reports "a subset of tables in MLMD instance"), after TensorFlow has
taken 20 s to start, and as a traceback. Here both are named, with the path and what to do, in
milliseconds and without TensorFlow (only `sqlite3`, and ML Metadata for the artifact check).

And why the artifacts: TFX 1.16 takes an execution from the cache only if its outputs are LIVE in
ML Metadata and each output's folder exists (`cache_utils.get_cached_outputs`,
`artifact_utils.verify_artifacts`). A deleted folder is therefore re-executed, but the artifact
stays LIVE, so the latest-blessed-model resolver can still hand a deleted model to the Evaluator;
and an Examples folder that lost a split still exists, so TFX takes it from the cache as if whole.
`forget_missing_artifacts` marks such artifacts DELETED (ML Metadata's own state for "payload
removed"): TFX neither takes them from the cache nor resolves them, and the component that made
them runs again.
"""
import os
import sqlite3
import struct
from typing import List, Tuple

from trainguard.errors import StoreDamagedError, StoreLockedError

# How long another process may hold the store's write lock before the run gives up. A second
# pipeline of the same work directory holds it for milliseconds per write (docs/reliability.md),
# so this is only reached by a lock nobody releases: a sqlite3 shell or a database browser with
# an open transaction, a run stopped with SIGSTOP.
LOCK_WAIT_SECONDS = 10.0
# `PRAGMA quick_check` reads every page; above this size the run relies on the header check.
QUICK_CHECK_MAX_BYTES = 256 << 20
_HEADER = b"SQLite format 3\x00"


def check_store(path: str) -> None:
  """Raises StoreLockedError or StoreDamagedError unless `path` (a metadata.sqlite) is absent,
  empty (SQLite and ML Metadata start a new store in it) or a whole SQLite file whose write lock
  this process can take."""
  if not os.path.isfile(path) or os.path.getsize(path) == 0:
    return
  journal = f"{path}-journal"
  if not (os.path.isfile(journal) and os.path.getsize(journal)):
    # The header first, for the exact reason (SQLite would only say "malformed"); with a hot
    # journal a killed writer left, only after taking the lock has rolled the journal back.
    problem = _header_problem(path)
    if problem:
      raise StoreDamagedError(path, problem)
  _check_lock(path)
  problem = _header_problem(path) or _quick_check_problem(path)
  if problem:
    raise StoreDamagedError(path, problem)


def _check_lock(path: str) -> None:
  """Takes and releases the write lock (BEGIN IMMEDIATE), waiting up to LOCK_WAIT_SECONDS. Taking
  it also rolls back a hot journal a killed writer left, as ML Metadata's first write would."""
  try:
    connection = sqlite3.connect(path, timeout=LOCK_WAIT_SECONDS, isolation_level=None)
  except sqlite3.Error as e:
    raise StoreDamagedError(path, str(e)) from e
  try:
    connection.execute("BEGIN IMMEDIATE")
    connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    connection.execute("ROLLBACK")
  except sqlite3.OperationalError as e:
    if "locked" in str(e) or "busy" in str(e):
      raise StoreLockedError(path, LOCK_WAIT_SECONDS) from e
    raise StoreDamagedError(path, str(e)) from e
  except sqlite3.DatabaseError as e:
    raise StoreDamagedError(path, str(e)) from e
  finally:
    connection.close()


def _header_problem(path: str) -> str:
  """A file shorter than its header's page count says is truncated (exact and O(1); SQLite itself
  only notices when it reads a missing page)."""
  size = os.path.getsize(path)
  with open(path, "rb") as f:
    header = f.read(100)
  if len(header) < 100:
    return f"truncated inside its 100-byte header: the file has {size} bytes"
  if not header.startswith(_HEADER):
    return "not an SQLite file: it does not start with 'SQLite format 3'"
  page_size = struct.unpack(">H", header[16:18])[0]
  page_size = 65536 if page_size == 1 else page_size
  change_counter, pages = struct.unpack(">II", header[24:32])
  valid_for = struct.unpack(">I", header[92:96])[0]
  if pages and change_counter == valid_for and size < pages * page_size:
    return (f"truncated: its header says {pages} pages of {page_size} bytes "
            f"({pages * page_size} bytes), the file has {size}")
  return ""


def _quick_check_problem(path: str) -> str:
  if os.path.getsize(path) > QUICK_CHECK_MAX_BYTES:
    return ""
  try:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=LOCK_WAIT_SECONDS)
    try:
      result = [row[0] for row in connection.execute("PRAGMA quick_check(3)")]
    finally:
      connection.close()
  except sqlite3.DatabaseError as e:
    return str(e)
  return "" if result == ["ok"] else "; ".join(result)


def forget_missing_artifacts(path: str, pipeline_name: str) -> List[Tuple[str, str]]:
  """Marks DELETED every LIVE artifact of `pipeline_name` whose local folder is gone, or an
  Examples artifact without one of its splits' folders; returns (node, uri) of each."""
  if not os.path.isfile(path) or os.path.getsize(path) == 0:
    return []
  import ml_metadata as mlmd  # pylint: disable=g-import-not-at-top
  from ml_metadata.proto import metadata_store_pb2  # pylint: disable=g-import-not-at-top
  from trainguard.pipeline import metadata  # pylint: disable=g-import-not-at-top
  store = mlmd.MetadataStore(metadata.connection_config(path))
  pipeline = store.get_context_by_type_and_name("pipeline", pipeline_name)
  if pipeline is None:
    return []
  missing = [a for a in store.get_artifacts_by_context(pipeline.id)
             if a.state == metadata_store_pb2.Artifact.LIVE and _missing(a)]
  for artifact in missing:
    artifact.state = metadata_store_pb2.Artifact.DELETED
  if missing:
    store.put_artifacts(missing)
  return [(_producer(a.uri, path, pipeline_name), a.uri) for a in missing]


def _missing(artifact) -> bool:
  uri = artifact.uri
  if not uri or "://" in uri:
    return False  # a remote filesystem: not ours to check without its client
  if not os.path.exists(uri):
    return True
  splits = artifact.properties.get("split_names")
  if splits is not None and splits.string_value:
    import json  # pylint: disable=g-import-not-at-top
    try:
      names = json.loads(splits.string_value)
    except ValueError:
      return False
    return any(not os.path.isdir(os.path.join(uri, f"Split-{name}")) for name in names)
  return False


def _producer(uri: str, store_path: str, pipeline_name: str) -> str:
  """The node that wrote `uri`: its first folder under the pipeline root, as TFX lays outputs out
  (<root>/<Node>/<key>/<execution id>)."""
  root = os.path.join(os.path.dirname(store_path), "pipelines", pipeline_name)
  relative = os.path.relpath(uri, root)
  return relative.split(os.sep)[0] if not relative.startswith("..") else "an earlier run"
