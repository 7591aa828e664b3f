"""Several processes open one new metadata store at the same moment, then write to it at once."""
import os
import sqlite3
import subprocess
import sys
import time

WRITER = r"""
import sys, time
from ml_metadata.proto import metadata_store_pb2
import ml_metadata as mlmd
from trainguard.pipeline import metadata
path, start, name = sys.argv[1], float(sys.argv[2]), sys.argv[3]
while time.time() < start:
  pass
store = mlmd.MetadataStore(metadata.ensure_store(path))
type_id = store.put_execution_type(metadata_store_pb2.ExecutionType(name="Step"))
for _ in range(40):
  store.put_executions([metadata_store_pb2.Execution(type_id=type_id, name=None)])
context_type = store.put_context_type(metadata_store_pb2.ContextType(name="pipeline"))
store.put_contexts([metadata_store_pb2.Context(type_id=context_type, name=name)])
"""


def test_six_processes_create_and_write_one_store_at_the_same_moment(tmp_path):
  path = str(tmp_path / "metadata.sqlite")
  start = time.time() + 4  # after every process has imported ml_metadata
  procs = [subprocess.Popen([sys.executable, "-c", WRITER, path, str(start), f"p{i}"],
                            stderr=subprocess.PIPE, text=True) for i in range(6)]
  errors = [p.communicate(timeout=300)[1] for p in procs]
  assert [p.returncode for p in procs] == [0] * 6, "\n".join(errors)
  with sqlite3.connect(path) as db:
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert db.execute("SELECT COUNT(*) FROM Execution").fetchone() == (240,)
    assert db.execute("SELECT COUNT(*) FROM Context").fetchone() == (6,)
  assert os.path.exists(path + ".lock")
