"""Peak memory of a whole process tree, and which pipeline component it belongs to.

Why a tree and not one process: Beam's multi-process DirectRunner, TFX's executors and our
benchmarks' children all run in processes of their own; the memory a user must provision is the sum
over all of them at the worst moment. `TreeSampler` sums the resident set size (RSS) of a root
process and all its descendants every `interval` seconds in a background thread. RSS counts pages
shared between processes once per process, so for forked workers the sum is an upper bound.

Why ML Metadata for attribution: every TFX execution records when it was created (the launcher
registers it just before the executor runs) and last updated (when its outputs are published).
`attribute` takes the peak of the samples inside each execution's window, so a component's number is
the memory of the whole tree while it ran, TensorFlow import and orchestrator included.
"""
import dataclasses
import json
import os
import threading
import time
from typing import Dict, List, Optional, Sequence, Tuple

try:
  import psutil
except ImportError:  # /proc fallback below
  psutil = None

GB = 1024 ** 3


def _children_proc(pid: int) -> List[int]:
  out = []
  try:
    for tid in os.listdir(f"/proc/{pid}/task"):
      with open(f"/proc/{pid}/task/{tid}/children") as f:
        out += [int(c) for c in f.read().split()]
  except OSError:
    pass
  return out


def _rss_proc(pid: int) -> int:
  try:
    with open(f"/proc/{pid}/statm") as f:
      return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
  except (OSError, IndexError, ValueError):
    return 0


def tree_rss(pid: int) -> Tuple[int, int]:
  """(sum of RSS over `pid` and its descendants in bytes, number of processes)."""
  if psutil is not None:
    try:
      root = psutil.Process(pid)
      procs = [root] + root.children(recursive=True)
    except psutil.Error:
      return 0, 0
    total = 0
    for proc in procs:
      try:
        total += proc.memory_info().rss
      except psutil.Error:
        pass
    return total, len(procs)
  pids, seen = [pid], []
  while pids:
    current = pids.pop()
    seen.append(current)
    pids += _children_proc(current)
  return sum(_rss_proc(p) for p in seen), len(seen)


class TreeSampler:
  """Samples a process tree's RSS in a thread: `with TreeSampler(pid) as s: ...; s.peak`."""

  def __init__(self, pid: Optional[int] = None, interval: float = 0.2):
    self.pid = pid or os.getpid()
    self.interval = interval
    self.samples: List[Tuple[float, int, int]] = []  # (unix time, bytes, processes)
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._run, daemon=True)

  def _run(self):
    while not self._stop.is_set():
      total, count = tree_rss(self.pid)
      if count:
        self.samples.append((time.time(), total, count))
      self._stop.wait(self.interval)

  def start(self) -> "TreeSampler":
    self._thread.start()
    return self

  def stop(self) -> None:
    self._stop.set()
    self._thread.join()

  def __enter__(self):
    return self.start()

  def __exit__(self, *exc):
    self.stop()

  @property
  def peak(self) -> int:
    return max((b for _, b, _ in self.samples), default=0)

  def peak_between(self, start: float, end: float) -> int:
    return max((b for t, b, _ in self.samples if start <= t <= end), default=0)

  def timeline(self, every: float = 5.0) -> List[Tuple[float, float]]:
    """(seconds since the first sample, peak GB in that `every`-second window): for plots/logs."""
    if not self.samples:
      return []
    t0 = self.samples[0][0]
    windows: Dict[int, int] = {}
    for t, b, _ in self.samples:
      key = int((t - t0) // every)
      windows[key] = max(windows.get(key, 0), b)
    return [(k * every, v / GB) for k, v in sorted(windows.items())]


@dataclasses.dataclass
class Execution:
  node_id: str
  state: str
  start: float  # unix seconds
  end: float

  @property
  def seconds(self) -> float:
    return self.end - self.start


def executions(metadata_path: str) -> List[Execution]:
  """Every execution in an ML Metadata SQLite file, in start order (one run per store here)."""
  from ml_metadata.proto import metadata_store_pb2  # pylint: disable=g-import-not-at-top
  from trainguard.pipeline import results  # pylint: disable=g-import-not-at-top
  store = results.metadata_store(metadata_path)
  states = {v: k for k, v in metadata_store_pb2.Execution.State.items()}
  out = []
  for execution in store.get_executions():
    node_id = f"execution-{execution.id}"
    for context in store.get_contexts_by_execution(execution.id):
      if context.type == "node":
        node_id = context.name.split(".", 1)[1]
    out.append(Execution(node_id, states.get(execution.last_known_state, "?"),
                         execution.create_time_since_epoch / 1e3,
                         execution.last_update_time_since_epoch / 1e3))
  return sorted(out, key=lambda e: e.start)


def attribute(sampler: TreeSampler, runs: Sequence[Execution]) -> Dict[str, int]:
  """Per component: the tree's peak RSS (bytes) while that execution ran."""
  return {e.node_id: sampler.peak_between(e.start, e.end) for e in runs}


def gb(num_bytes: float) -> str:
  return f"{num_bytes / GB:.2f}"


def run_sampled(command: Sequence[str], log_path: str, env: Optional[dict] = None,
                interval: float = 0.2) -> Tuple[int, float, TreeSampler]:
  """Runs `command` as a child, sampling its tree's memory; returns (exit code, wall s, sampler).

  The child sees the repository on PYTHONPATH, so `python -m bench.<target> --child` imports the
  `bench` package from any working directory."""
  import subprocess  # pylint: disable=g-import-not-at-top
  if env is None:
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  started = time.time()
  with open(log_path, "w") as log:
    proc = subprocess.Popen(list(command), stdout=log, stderr=subprocess.STDOUT, env=env)
    with TreeSampler(proc.pid, interval) as sampler:
      code = proc.wait()
  return code, time.time() - started, sampler


def save(sampler: TreeSampler, path: str) -> None:
  """The samples as JSON lines (unix time, bytes, processes): tables can be rebuilt later."""
  with open(path, "w") as f:
    for sample in sampler.samples:
      f.write(json.dumps(sample) + "\n")


def load(path: str) -> TreeSampler:
  """A sampler holding the samples `save` or `python -m bench.memory` wrote (not started)."""
  sampler = TreeSampler(pid=-1)
  with open(path) as f:
    sampler.samples = [tuple(json.loads(line)) for line in f if line.strip()]
  return sampler


def main(argv=None) -> int:
  """Attach to a running process tree: `python -m bench.memory --pid P --out samples.jsonl`.

  For a run started without the sampler (or whose benchmark parent died): appends a sample per
  `--interval` seconds, flushed, until the process exits.
  """
  import argparse  # pylint: disable=g-import-not-at-top
  parser = argparse.ArgumentParser(description=main.__doc__.split("\n")[0])
  parser.add_argument("--pid", type=int, required=True)
  parser.add_argument("--out", required=True)
  parser.add_argument("--interval", type=float, default=0.2)
  args = parser.parse_args(argv)
  with open(args.out, "a") as f:
    while True:
      total, count = tree_rss(args.pid)
      if not count:
        return 0
      f.write(json.dumps((time.time(), total, count)) + "\n")
      f.flush()
      time.sleep(args.interval)


if __name__ == "__main__":
  import sys  # pylint: disable=g-import-not-at-top
  sys.exit(main())
