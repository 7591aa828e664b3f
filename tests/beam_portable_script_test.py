"""scripts/beam_portable.py: start, status and stop, and stop leaves no process behind — not the
services, not the SDK workers the pool started. No pipeline runs here (see
tests/beam_portable_netns_e2e_test.py for that)."""
import json
import os
import socket
import subprocess
import sys
import time

import pytest

from conftest import REPO

SCRIPT = os.path.join(REPO, "scripts", "beam_portable.py")
sys.path.insert(0, os.path.dirname(SCRIPT))
import beam_portable  # pylint: disable=g-import-not-at-top,wrong-import-position


def _free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _script(*args, timeout=180):
  return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                        timeout=timeout)


@pytest.fixture(scope="module")
def started(tmp_path_factory):
  """One start for the module (each start imports Beam twice, ~15 s); the last test stops it."""
  state = str(tmp_path_factory.mktemp("beam-portable") / "state")
  job_port, pool_port = _free_port(), _free_port()
  out = _script("start", "--state-dir", state, "--job-port", str(job_port), "--worker-port",
                str(pool_port), "--timeout", "120")
  pids = {n: beam_portable._read_pid(state, n) for n in beam_portable.SERVICES}
  try:
    assert out.returncode == 0, out.stdout + out.stderr
    yield state, job_port, pool_port, pids
  finally:
    _script("stop", "--state-dir", state)
    for pid in pids.values():
      if pid and beam_portable.group_members(pid):
        os.killpg(pid, 9)


def _start_a_worker(pool_port):
  """Asks the pool for an SDK worker, as the job service does; with no job service behind the
  control endpoint the worker process waits for it (up to 60 s)."""
  import grpc
  from apache_beam.portability.api import beam_fn_api_pb2, beam_fn_api_pb2_grpc, endpoints_pb2
  with grpc.insecure_channel(f"localhost:{pool_port}") as channel:
    response = beam_fn_api_pb2_grpc.BeamFnExternalWorkerPoolStub(channel).StartWorker(
        beam_fn_api_pb2.StartWorkerRequest(
            worker_id="test-worker",
            control_endpoint=endpoints_pb2.ApiServiceDescriptor(url=f"localhost:{_free_port()}")),
        timeout=60)
  assert not response.error


def test_second_start_is_refused_while_running(started):
  state, job_port, pool_port, _ = started
  again = _script("start", "--state-dir", state, "--job-port", str(job_port), "--worker-port",
                  str(pool_port))
  assert again.returncode == 1 and "already running" in again.stderr


def test_start_status_stop_leaves_no_process(started):
  state, job_port, pool_port, pids = started
  for port in (job_port, pool_port):
    socket.create_connection(("localhost", port), timeout=5).close()
  with open(os.path.join(state, "endpoints.json")) as f:
    endpoints = json.load(f)
  assert endpoints["trainguard_flags"] == (f"--beam-endpoint localhost:{job_port} "
                                           f"--beam-worker-pool localhost:{pool_port}")
  status = _script("status", "--state-dir", state)
  assert status.returncode == 0 and "job-service: running" in status.stdout
  assert f"flags: --beam-endpoint localhost:{job_port}" in status.stdout

  _start_a_worker(pool_port)
  deadline = time.monotonic() + 30
  while len(beam_portable.group_members(pids["worker-pool"])) < 2 and time.monotonic() < deadline:
    time.sleep(0.2)
  workers = set(beam_portable.group_members(pids["worker-pool"])) - {pids["worker-pool"]}
  assert workers, "the pool started no SDK worker process"
  with open(f"/proc/{min(workers)}/cmdline", "rb") as f:
    # The worker is the first `python` on the PATH the script gave the pool: this venv's.
    assert b"SdkHarness" in f.read()
  with open(f"/proc/{min(workers)}/environ", "rb") as f:
    path = dict(v.split(b"=", 1) for v in f.read().split(b"\0") if b"=" in v)[b"PATH"]
  assert path.decode().split(os.pathsep)[0] == os.path.dirname(os.path.abspath(sys.executable))

  stop = _script("stop", "--state-dir", state)
  assert stop.returncode == 0, stop.stderr
  assert "worker-pool" in stop.stdout and "job-service" in stop.stdout
  for pid in pids.values():
    assert beam_portable.group_members(pid) == []
  assert not any(name.endswith(".pid") for name in os.listdir(state))
  status = _script("status", "--state-dir", state)
  assert status.returncode == 1 and "job-service: not running" in status.stdout
  assert "nothing was running" in _script("stop", "--state-dir", state).stdout


def test_a_job_service_that_cannot_start_fails_start_with_its_log_and_leaves_nothing(tmp_path):
  state = str(tmp_path / "state")
  out = _script("start", "--state-dir", state, "--job-host", "256.0.0.1", "--job-port",
                str(_free_port()), "--worker-port", str(_free_port()), "--timeout", "120")
  assert out.returncode != 0
  assert "job-service exited with code" in out.stderr, out.stderr
  assert "256.0.0.1" in out.stderr  # the end of its log says what went wrong
  assert not any(name.endswith(".pid") for name in os.listdir(state))
