"""End to end: every Beam-powered component runs in SDK workers on a second host, through Beam's
portable job service, and produces the same artifacts as an in-process run.

The second host is a network namespace joined to this one by a veth pair on private test
addresses (10.213.N.1 here, 10.213.N.2 there), made and removed by this module (root only; skipped
with the reason otherwise). scripts/beam_portable.py starts the job service here and the worker
pool inside the namespace; the pipeline gets `--beam-endpoint` and `--beam-worker-pool`. The
filesystem is shared (only the network is separate), so the workers read and write the same
pipeline root. Two pipeline runs of 172 rows, one epoch: through the namespace, then in-process.
"""
import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest

from conftest import REPO, run_local_runner

SCRIPT = os.path.join(REPO, "scripts", "beam_portable.py")
BEAM_COMPONENTS = ("CsvExampleGen", "StatisticsGen", "DataGuard", "Transform", "Rebalance",
                   "Evaluator")
TICKS = os.sysconf("SC_CLK_TCK")


def _ip(*args, check=True):
  return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


class NetnsHost:
  """A network namespace with a veth pair to this host; removed by close() whatever happened."""

  def __init__(self):
    tag = os.getpid() % 100000
    self.name = f"tg-beam-{tag}"
    self.host_if, self.ns_if = f"tgb{tag}h", f"tgb{tag}n"
    subnet = 10 + os.getpid() % 240
    self.host_address, self.ns_address = f"10.213.{subnet}.1", f"10.213.{subnet}.2"

  def open(self):
    _ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
    _ip("link", "set", self.ns_if, "netns", self.name)
    _ip("addr", "add", f"{self.host_address}/30", "dev", self.host_if)
    _ip("link", "set", self.host_if, "up")
    for command in (["addr", "add", f"{self.ns_address}/30", "dev", self.ns_if],
                    ["link", "set", self.ns_if, "up"], ["link", "set", "lo", "up"]):
      _ip("netns", "exec", self.name, "ip", *command)

  def pids(self):
    out = _ip("netns", "pids", self.name, check=False).stdout
    return [int(p) for p in out.split()]

  def close(self):
    for pid in self.pids():
      try:
        os.kill(pid, 9)
      except ProcessLookupError:
        pass
    _ip("link", "del", self.host_if, check=False)  # removes the peer too
    _ip("netns", "del", self.name, check=False)


class NetnsProcessAccounting:
  """Samples every process inside the namespace twice a second: command line and CPU seconds
  (user + system), the highest seen, so short-lived SDK workers are counted too."""

  def __init__(self, netns: NetnsHost):
    self._inode = f"net:[{os.stat(f'/run/netns/{netns.name}').st_ino}]"
    self.seen = {}  # pid -> [cmdline, cpu seconds]
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._loop, daemon=True)

  def _loop(self):
    while not self._stop.is_set():
      for entry in os.listdir("/proc"):
        if not entry.isdigit():
          continue
        try:
          if os.readlink(f"/proc/{entry}/ns/net") != self._inode:
            continue
          with open(f"/proc/{entry}/cmdline", "rb") as f:
            cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
          with open(f"/proc/{entry}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
          continue
        cpu = (int(fields[11]) + int(fields[12])) / TICKS
        record = self.seen.setdefault(int(entry), [cmdline, 0.0])
        record[1] = max(record[1], cpu)
      self._stop.wait(0.5)

  def __enter__(self):
    self._thread.start()
    return self

  def __exit__(self, *unused):
    self._stop.set()
    self._thread.join()

  def sdk_workers(self):
    return {pid: cpu for pid, (cmdline, cpu) in self.seen.items() if "SdkHarness" in cmdline}


@pytest.fixture(scope="module")
def netns():
  if shutil.which("ip") is None:
    pytest.skip("needs iproute2's `ip` to make a network namespace")
  host = NetnsHost()
  made = _ip("netns", "add", host.name, check=False)
  if made.returncode != 0:
    pytest.skip(f"needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) to make a network namespace: "
                f"`ip netns add` said: {made.stderr.strip()}")
  try:
    host.open()
    yield host
  finally:
    host.close()


def _free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


@pytest.fixture(scope="module")
def services(netns, tmp_path_factory):
  """Job service here (bound on localhost, SDK workers told to reach it at the veth address),
  worker pool in the namespace; stopped by the script, then anything left is killed."""
  state = str(tmp_path_factory.mktemp("beam-portable"))
  job_port, pool_port = _free_port(), 50000
  common = ["--state-dir", state, "--timeout", "120"]
  started = subprocess.run(
      [sys.executable, SCRIPT, "start", *common, "--job-port", str(job_port),
       "--worker-host", netns.ns_address, "--worker-port", str(pool_port),
       "--advertise-host", netns.host_address, "--netns", netns.name],
      capture_output=True, text=True, timeout=300)
  try:
    assert started.returncode == 0, started.stdout + started.stderr
    yield {"state": state, "job_endpoint": f"localhost:{job_port}",
           "worker_pool": f"{netns.ns_address}:{pool_port}", "start_output": started.stdout}
  finally:
    stopped = subprocess.run([sys.executable, SCRIPT, "stop", *common], capture_output=True,
                             text=True, timeout=300)
    print(stopped.stdout, stopped.stderr)


def _data(workdir):
  """Every other raw penguins row: 172 rows, all three species, the real gaps."""
  from trainguard.pipeline import datasets
  path = os.path.join(workdir, "penguins.csv")
  with open(datasets.penguins_source_csv()) as f, open(path, "w") as out:
    lines = f.readlines()
    out.writelines([lines[0]] + lines[1::2])
  return path


def _args(data):
  from trainguard import schemas
  return ["--data", data, "--label", "species", "--schema", schemas.schema_dir("penguins"),
          "--epochs", "1"]


@pytest.fixture(scope="module")
def portable(netns, services, tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("portable"))
  with NetnsProcessAccounting(netns) as accounting:
    start = time.monotonic()
    run = run_local_runner(workdir, *_args(_data(workdir)), "--beam-endpoint",
                           services["job_endpoint"], "--beam-worker-pool",
                           services["worker_pool"])
    run.seconds = time.monotonic() - start
  assert run.returncode == 0, run.output[-5000:]
  run.accounting = accounting
  print(f"portable run: {run.seconds:.0f} s")
  return run


@pytest.fixture(scope="module")
def in_process(portable, tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("in-process"))
  start = time.monotonic()
  run = run_local_runner(workdir, *_args(_data(workdir)))
  run.seconds = time.monotonic() - start
  assert run.returncode == 0, run.output[-5000:]
  print(f"in-process run: {run.seconds:.0f} s")
  return run


def _summary(run):
  from trainguard.pipeline import results
  return results.latest_run(run.paths)


def _pipeline_log(run):
  line = next(l for l in run.output.splitlines() if l.startswith("log:"))
  with open(line.split(":", 1)[1].strip(), errors="replace") as f:
    return f.read()


def _read(path):
  with open(path, errors="replace") as f:
    return f.read()


# ---------------------------------------------------------------------------------------------
# The work ran in the namespace's SDK workers


def test_every_beam_job_ran_on_the_worker_pool_in_the_namespace(portable, services, netns):
  job_log = _read(os.path.join(services["state"], "job-service.log"))
  pool_log = _read(os.path.join(services["state"], "worker-pool.log"))
  requested = re.findall(r"Requesting worker at (\S+)", job_log)
  assert requested and set(requested) == {services["worker_pool"]}, job_log[-3000:]
  done = re.findall(r"Completed job in [\d.]+ seconds with state (\w+)", job_log)
  assert done == ["DONE"] * len(requested)
  # One Beam job per Beam-powered component at least (Rebalance runs two).
  assert len(requested) >= len(BEAM_COMPONENTS)
  started = re.findall(r"Starting worker with command .*SdkHarness\(\"([^\"]+)\"", pool_log)
  assert len(started) == len(requested), pool_log[-3000:]
  assert {endpoint.rsplit(":", 1)[0] for endpoint in started} == {netns.host_address}
  # The pipeline process only submitted them: PortableRunner saw each job finish.
  assert len(re.findall(r"Job state changed to DONE", _pipeline_log(portable))) == len(requested)


def test_sdk_workers_inside_the_namespace_did_the_processing(portable):
  workers = portable.accounting.sdk_workers()
  print(f"SDK workers seen in the namespace: {len(workers)}, CPU seconds "
        f"{sum(workers.values()):.1f}: {sorted(round(c, 1) for c in workers.values())}")
  assert len(workers) >= len(BEAM_COMPONENTS)
  # Each imports TensorFlow and runs the DoFns of its job: seconds of CPU, not an idle process.
  assert sum(workers.values()) >= 10 * len(BEAM_COMPONENTS) / 2


def test_every_component_completed(portable):
  summary = _summary(portable)
  assert summary.complete
  assert set(BEAM_COMPONENTS) <= set(summary.executions)


def test_stop_leaves_no_process_in_the_namespace(netns, services):
  state = services["state"]
  stopped = subprocess.run([sys.executable, SCRIPT, "stop", "--state-dir", state],
                           capture_output=True, text=True, timeout=300)
  assert stopped.returncode == 0, stopped.stderr
  assert "worker-pool" in stopped.stdout and "job-service" in stopped.stdout
  assert netns.pids() == []
  assert not glob.glob(os.path.join(state, "*.pid"))


# ---------------------------------------------------------------------------------------------
# The same artifacts as in-process


def _records(uri, split):
  """The split's tf.Examples, each re-serialized deterministically, sorted. tf.Example features are
  a protobuf map, whose entries a process serializes in an order of its own: the same example
  from the pipeline process and from an SDK worker can differ in bytes, not in content."""
  import tensorflow as tf
  files = sorted(glob.glob(os.path.join(uri, f"Split-{split}", "*")))
  assert files, f"no Split-{split} files under {uri}"
  return sorted(tf.train.Example.FromString(r.numpy()).SerializeToString(deterministic=True)
                for r in tf.data.TFRecordDataset(files, compression_type="GZIP"))


@pytest.mark.parametrize("component, output", [("CsvExampleGen", "examples"),
                                               ("Transform", "transformed_examples"),
                                               ("Rebalance", "rebalanced_examples")])
def test_examples_are_the_same_records(portable, in_process, component, output):
  ours, theirs = _summary(portable), _summary(in_process)
  for split in ("train", "eval"):
    mine = _records(ours.artifact_uri(component, output), split)
    assert mine and mine == _records(theirs.artifact_uri(component, output), split), (
        component, split)


def _files(uri):
  return {os.path.relpath(p, uri): open(p, "rb").read()
          for p in glob.glob(os.path.join(uri, "**", "*"), recursive=True) if os.path.isfile(p)}


def test_rebalanced_train_split_is_byte_identical_and_eval_a_byte_copy(portable, in_process):
  """Rebalance writes the train split itself, deterministically: the same bytes from either
  runner. It copies Transform's eval split byte for byte (whose map order is the writer's)."""
  ours, theirs = _summary(portable), _summary(in_process)
  train = [{k: v for k, v in _files(s.artifact_uri("Rebalance", "rebalanced_examples")).items()
            if k.startswith("Split-train")} for s in (ours, theirs)]
  assert train[0] and train[0] == train[1]
  for summary in (ours, theirs):
    copied = {k: v for k, v in _files(summary.artifact_uri("Rebalance", "rebalanced_examples"))
              .items() if k.startswith("Split-eval")}
    assert copied and copied == {
        k: v for k, v in _files(summary.artifact_uri("Transform", "transformed_examples")).items()
        if k.startswith("Split-eval")}


def test_data_guard_findings_are_the_same(portable, in_process):
  def findings(run):
    return json.loads(json.dumps(_summary(run).findings.to_dict(), sort_keys=True))
  assert findings(portable) == findings(in_process)


def _statistics(run):
  """Per split and feature: (counts and string histograms, numeric moments and ranges)."""
  from tensorflow_metadata.proto.v0 import statistics_pb2
  uri = _summary(run).artifact_uri("StatisticsGen", "statistics")
  out = {}
  for path in glob.glob(os.path.join(uri, "Split-*", "FeatureStats.pb")):
    split = os.path.basename(os.path.dirname(path))
    stats = statistics_pb2.DatasetFeatureStatisticsList()
    with open(path, "rb") as f:
      stats.ParseFromString(f.read())
    for dataset in stats.datasets:
      out[(split, "")] = ((dataset.num_examples,), [])
      for feature in dataset.features:
        name = feature.path.step[0]
        if feature.HasField("num_stats"):
          n = feature.num_stats
          out[(split, name)] = ((n.common_stats.num_non_missing, n.common_stats.num_missing,
                                 n.num_zeros), [n.mean, n.std_dev, n.min, n.max, n.median])
        else:
          s = feature.string_stats
          out[(split, name)] = ((s.common_stats.num_non_missing, s.common_stats.num_missing,
                                 s.unique, tuple(sorted((b.label, b.sample_count)
                                                        for b in s.rank_histogram.buckets))), [])
  return out


def test_statistics_are_the_same(portable, in_process):
  """Counts and histograms exactly; means, deviations, ranges and medians to 1e-9 relative (a
  different bundling may sum floats in another order)."""
  ours, theirs = _statistics(portable), _statistics(in_process)
  assert ours and ours.keys() == theirs.keys()
  for key, (counts, numbers) in ours.items():
    assert theirs[key][0] == counts, key
    assert theirs[key][1] == pytest.approx(numbers, rel=1e-9), key


def test_evaluator_metrics_and_blessing_are_the_same(portable, in_process):
  """The Trainer runs in the pipeline process either way; the Evaluator's TFMA job ran in the
  namespace's workers for one run, in-process for the other."""
  ours, theirs = _summary(portable), _summary(in_process)
  assert ours.eval_metrics and ours.eval_metrics.keys() == theirs.eval_metrics.keys()
  # TFMA sums float32 values in its runner's bundle order: the loss differed by 1.5e-7 relative.
  assert ours.eval_metrics == pytest.approx(theirs.eval_metrics, rel=1e-6, nan_ok=True)
  assert ours.blessed == theirs.blessed
