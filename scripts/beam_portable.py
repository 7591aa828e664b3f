#!/usr/bin/env python
"""Starts and stops a local Beam portable runner: a job service and a worker pool (docs/scale-out.md).

    .venv/bin/python scripts/beam_portable.py start             # job service :8099, worker pool :50000
    trainguard run data.csv --label y --beam-endpoint localhost:8099
    .venv/bin/python scripts/beam_portable.py status
    .venv/bin/python scripts/beam_portable.py stop              # both, and every SDK worker they started

The job service is Beam's `local_job_service_main` (it runs each job with Beam's FnApiRunner); the
worker pool is Beam's `worker_pool_main`, which starts one SDK worker process per job and stage
with the `python` first on its PATH: this script puts the directory of the Python that runs it (the
project's .venv) first, so workers import the same locked stack and the editable trainguard.

The SDK workers connect back to the job service's control, data, state and logging servers at the
host name Beam takes from `socket.getfqdn()`; where that does not reach this host from the workers
(it is `localhost` on many machines), pass `--advertise-host` with an address that does.
`--netns NS` starts the worker pool inside a network namespace (`ip netns exec`, as root), which is
how tests/beam_portable_netns_e2e_test.py puts the workers on a second host.

Each process gets its own session; `stop` sends SIGTERM to the whole process group (the worker pool
and its SDK workers), then SIGKILL after --timeout seconds. Pid files, logs and endpoints.json are in
--state-dir (default ~/.trainguard/beam-portable).
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time

DEFAULT_STATE_DIR = os.path.join(os.path.expanduser("~"), ".trainguard", "beam-portable")
DEFAULT_JOB_PORT = 8099
DEFAULT_WORKER_PORT = 50000
SERVICES = ("job-service", "worker-pool")


def _pid_file(state_dir, name):
  return os.path.join(state_dir, f"{name}.pid")


def _log_file(state_dir, name):
  return os.path.join(state_dir, f"{name}.log")


def _read_pid(state_dir, name):
  try:
    with open(_pid_file(state_dir, name)) as f:
      return int(f.read().strip())
  except (FileNotFoundError, ValueError):
    return None


def _alive(pid):
  """True while the process exists and is not a zombie."""
  try:
    with open(f"/proc/{pid}/stat") as f:
      return f.read().rsplit(")", 1)[1].split()[0] != "Z"
  except (FileNotFoundError, ProcessLookupError, IndexError):
    return False


def group_members(pgid):
  """Pids of live processes in the process group (the service and every worker it started)."""
  members = []
  for entry in os.listdir("/proc"):
    if not entry.isdigit():
      continue
    try:
      with open(f"/proc/{entry}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
      continue
    if fields[0] != "Z" and int(fields[2]) == pgid:
      members.append(int(entry))
  return members


def _wait_for_port(host, port, proc, timeout, log):
  deadline = time.monotonic() + timeout
  while time.monotonic() < deadline:
    if proc.poll() is not None:
      raise SystemExit(f"beam_portable: {os.path.basename(log)[:-4]} exited with code "
                       f"{proc.returncode} while starting; its log ({log}) ends:\n{_tail(log)}")
    try:
      with socket.create_connection((host, port), timeout=1):
        return
    except OSError:
      time.sleep(0.2)
  raise SystemExit(f"beam_portable: nothing listens on {host}:{port} after {timeout} s; see {log}")


def _tail(path, lines=20):
  try:
    with open(path, errors="replace") as f:
      return "".join(f.readlines()[-lines:])
  except FileNotFoundError:
    return "(no log)"


def _spawn(command, log, env=None):
  with open(log, "w") as out:
    return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=env, start_new_session=True)


def start(args) -> int:
  os.makedirs(args.state_dir, exist_ok=True)
  running = [n for n in SERVICES if _read_pid(args.state_dir, n) and _alive(
      _read_pid(args.state_dir, n))]
  if running:
    print(f"beam_portable: already running in {args.state_dir} ({', '.join(running)}); "
          "run `stop` first", file=sys.stderr)
    return 1
  python = os.path.abspath(args.python)
  env = dict(os.environ)
  # The worker pool starts SDK workers as `python -c ...`: the first `python` on PATH must be ours.
  env["PATH"] = os.path.dirname(python) + os.pathsep + env.get("PATH", "")
  env["PYTHONUNBUFFERED"] = "1"

  job_log = _log_file(args.state_dir, "job-service")
  job_command = [python, os.path.abspath(__file__), "job-service", "--port", str(args.job_port),
                 "--bind-host", args.job_host]
  if args.advertise_host:
    job_command += ["--advertise-host", args.advertise_host]
  job = _spawn(job_command, job_log, env)
  _write_pid(args.state_dir, "job-service", job.pid)
  try:
    _wait_for_port("localhost" if args.job_host in ("0.0.0.0", "[::]") else args.job_host,
                   args.job_port, job, args.timeout, job_log)

    pool_log = _log_file(args.state_dir, "worker-pool")
    pool_command = [python, "-m", "apache_beam.runners.worker.worker_pool_main",
                    f"--service_port={args.worker_port}"]
    if args.netns:
      pool_command = ["ip", "netns", "exec", args.netns, "env", f"PATH={env['PATH']}"] + pool_command
    pool = _spawn(pool_command, pool_log, env)
    _write_pid(args.state_dir, "worker-pool", pool.pid)
    _wait_for_port(args.worker_host, args.worker_port, pool, args.timeout, pool_log)
  except SystemExit:
    stop(args)
    raise
  endpoints = {
      "job_endpoint": f"{args.job_host if args.job_host not in ('0.0.0.0', '[::]') else 'localhost'}"
                      f":{args.job_port}",
      "worker_pool": f"{args.worker_host}:{args.worker_port}",
      "netns": args.netns,
      "advertise_host": args.advertise_host,
  }
  endpoints["trainguard_flags"] = (f"--beam-endpoint {endpoints['job_endpoint']} "
                                   f"--beam-worker-pool {endpoints['worker_pool']}")
  with open(os.path.join(args.state_dir, "endpoints.json"), "w") as f:
    json.dump(endpoints, f, indent=1)
  print(f"job service: {endpoints['job_endpoint']} (pid {job.pid}, log {job_log})")
  print(f"worker pool: {endpoints['worker_pool']} (pid {pool.pid}, log {pool_log}"
        + (f", network namespace {args.netns}" if args.netns else "") + ")")
  print(f"run with:    trainguard run DATA.csv --label LABEL {endpoints['trainguard_flags']}")
  return 0


def _write_pid(state_dir, name, pid):
  with open(_pid_file(state_dir, name), "w") as f:
    f.write(f"{pid}\n")


def stop(args) -> int:
  """SIGTERM to each service's process group, SIGKILL to what is left after --timeout seconds."""
  stopped = []
  for name in reversed(SERVICES):  # the worker pool first: its workers hold job service channels
    pid = _read_pid(args.state_dir, name)
    if pid is None:
      continue
    members = group_members(pid)
    for sig in (signal.SIGTERM, signal.SIGKILL):
      if not members:
        break
      try:
        os.killpg(pid, sig)
      except ProcessLookupError:
        break
      deadline = time.monotonic() + args.timeout
      while time.monotonic() < deadline and group_members(pid):
        time.sleep(0.1)
      members = group_members(pid)
    if members:
      print(f"beam_portable: {name} (pid {pid}) still has processes {members}", file=sys.stderr)
      return 1
    os.unlink(_pid_file(args.state_dir, name))
    stopped.append(f"{name} (pid {pid})")
  print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
  endpoints = os.path.join(args.state_dir, "endpoints.json")
  if os.path.exists(endpoints):
    os.unlink(endpoints)
  return 0


def status(args) -> int:
  """Exit 0 when both services run, 1 otherwise; prints each service's pid and worker count."""
  up = 0
  for name in SERVICES:
    pid = _read_pid(args.state_dir, name)
    if pid and _alive(pid):
      up += 1
      children = len(group_members(pid)) - 1
      extra = f", {children} SDK worker(s)" if name == "worker-pool" else ""
      print(f"{name}: running (pid {pid}{extra})")
    else:
      print(f"{name}: not running" + (f" (stale pid file: {pid})" if pid else ""))
  endpoints = os.path.join(args.state_dir, "endpoints.json")
  if up == len(SERVICES) and os.path.exists(endpoints):
    with open(endpoints) as f:
      print("flags: " + json.load(f)["trainguard_flags"])
  return 0 if up == len(SERVICES) else 1


def job_service(args) -> int:
  """Beam's local job service, with the addresses SDK workers and clients are told to use set."""
  import logging  # pylint: disable=g-import-not-at-top
  from apache_beam.runners.portability import local_job_service  # pylint: disable=g-import-not-at-top
  from apache_beam.runners.portability import local_job_service_main  # pylint: disable=g-import-not-at-top
  from apache_beam.runners.portability.fn_api_runner import worker_handlers  # pylint: disable=g-import-not-at-top

  bind_host, advertise_host = args.bind_host, args.advertise_host
  # The job API and artifact staging: bound where asked; clients are sent to stage artifacts at the
  # bind address (at the advertised host, or Beam's, when bound on every interface).
  wildcard = bind_host in ("0.0.0.0", "[::]", "::")
  local_job_service.LocalJobServicer.get_bind_address = lambda self: bind_host
  local_job_service.LocalJobServicer.get_service_address = (
      lambda self: (advertise_host or socket.getfqdn()) if wildcard else bind_host)
  if advertise_host:
    # Beam's FnApiRunner binds its control/data/state/logging servers on every interface and tells
    # EXTERNAL workers to connect to socket.getfqdn(); tell them this address instead.
    worker_handlers.ExternalWorkerHandler.host_from_worker = lambda self: advertise_host
  signal.signal(signal.SIGTERM, lambda *unused: sys.exit(0))
  logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
  logging.getLogger().setLevel(logging.INFO)
  logging.getLogger(__name__).info("job service: bind %s, workers reach it at %s", bind_host,
                                   advertise_host or socket.getfqdn())
  local_job_service_main.run(["--port", str(args.port)])
  return 0


def build_parser():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  commands = parser.add_subparsers(dest="command", required=True)

  def common(p):
    p.add_argument("--state-dir", default=DEFAULT_STATE_DIR,
                   help="pid files, logs and endpoints.json (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="seconds to wait for a service to listen, or to exit on stop")

  start_p = commands.add_parser("start", help="start the job service and the worker pool")
  common(start_p)
  start_p.add_argument("--job-port", type=int, default=DEFAULT_JOB_PORT)
  start_p.add_argument("--job-host", default="localhost",
                       help="address the job service binds (default: %(default)s; 0.0.0.0 for "
                            "clients on other hosts)")
  start_p.add_argument("--worker-port", type=int, default=DEFAULT_WORKER_PORT)
  start_p.add_argument("--worker-host", default="localhost",
                       help="address at which the job service reaches the worker pool (with "
                            "--netns: the namespace's address)")
  start_p.add_argument("--advertise-host",
                       help="address at which SDK workers reach the job service (default: Beam's, "
                            "socket.getfqdn())")
  start_p.add_argument("--netns", help="start the worker pool in this network namespace (root)")
  start_p.add_argument("--python", default=sys.executable,
                       help="the Python whose directory goes first on the workers' PATH "
                            "(default: this one, %(default)s)")
  start_p.set_defaults(func=start)

  stop_p = commands.add_parser("stop", help="stop both services and their SDK workers")
  common(stop_p)
  stop_p.set_defaults(func=stop)

  status_p = commands.add_parser("status", help="exit 0 when both services run")
  common(status_p)
  status_p.set_defaults(func=status)

  job_p = commands.add_parser("job-service", help="(internal) run the job service in the foreground")
  job_p.add_argument("--port", type=int, default=DEFAULT_JOB_PORT)
  job_p.add_argument("--bind-host", default="localhost")
  job_p.add_argument("--advertise-host")
  job_p.set_defaults(func=job_service)
  return parser


def main(argv=None) -> int:
  args = build_parser().parse_args(argv)
  return args.func(args)


if __name__ == "__main__":
  sys.exit(main())
