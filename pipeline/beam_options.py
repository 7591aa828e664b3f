"""Which Beam runner every Beam-powered component gets, chosen by data size or by the user.

On 2 cores the TFX penguin example took about 108 s with the multi-process DirectRunner and 47 s
in-process: each worker process imports TensorFlow (~20 s, ~0.9 GB), which only pays once the data
takes longer to process than that. So small inputs run in-process and big ones get one worker
process per core. `--beam-arg` replaces the choice entirely; `--beam-endpoint` sends the work to a
portable Beam job service (scripts/beam_portable.py, docs/scale-out.md).

No TensorFlow or Beam import here: the CLI calls it before TF is imported.
"""
import importlib.metadata
import os
import socket
import sys
from typing import List, Optional, Sequence, Tuple


def _beam_default_sdk_image() -> str:
  try:
    version = importlib.metadata.version("apache-beam")
  except importlib.metadata.PackageNotFoundError:
    version = "latest"
  return f"apache/beam_python{sys.version_info.major}.{sys.version_info.minor}_sdk:{version}"


# TFX's BaseBeamExecutor runs `python setup.py sdist` of TFX itself in every Beam component (about
# 2 s each, six per run: 12 of a penguins run's 85 s) to ship TFX to remote workers, unless the
# Beam arguments already provide dependencies (extra packages, a setup or requirements file, or a
# container image). The DirectRunner's workers, in-process or subprocesses, import this very
# environment and start no container, so its arguments name Beam's own default SDK image: TFX
# skips the build, and nothing else reads the flag on the DirectRunner.
DEPENDENCIES_PROVIDED = f"--sdk_container_image={_beam_default_sdk_image()}"

IN_PROCESS = ("--direct_running_mode=in_memory", "--direct_num_workers=1", DEPENDENCIES_PROVIDED)

# Bytes of CSV input from which worker processes pay for their start-up on this kind of machine.
# Measured on 2 cores (docs/benchmarks.md, "in-process or worker processes"): at 1M generated rows
# (145 MB) the data stages took 0.77x the in-process time with 2 worker processes (476 vs 615 s),
# at 1.8x the peak memory (3.34 vs 1.82 GB: each worker imports TensorFlow); at 200K rows (29 MB)
# 1.09x; the TFX penguin example (13 KB) 2.3x. Break-even is near 40 MB; 128 MiB (about 0.78x by
# interpolation) is where the saving is worth the memory and losing bit-identical Transform floats.
MULTI_PROCESS_MIN_BYTES = 128 * 1024 * 1024


def multi_process(num_workers: Optional[int] = None) -> List[str]:
  workers = num_workers or os.cpu_count() or 1
  return ["--direct_running_mode=multi_processing", f"--direct_num_workers={workers}",
          DEPENDENCIES_PROVIDED]


def for_input_size(num_bytes: int) -> List[str]:
  """In-process below MULTI_PROCESS_MIN_BYTES (or on one core), one process per core above."""
  if num_bytes < MULTI_PROCESS_MIN_BYTES or (os.cpu_count() or 1) < 2:
    return list(IN_PROCESS)
  return multi_process()


def describe(beam_args: Sequence[str]) -> str:
  """The runner these arguments pick, in words, for the line `trainguard run` prints."""
  flags = dict(a.split("=", 1) for a in beam_args if a.startswith("--") and "=" in a)
  if flags.get("--runner") == "PortableRunner":
    return f"Beam: portable runner at {flags.get('--job_endpoint', '?')}"
  mode = flags.get("--direct_running_mode")
  if mode == "multi_processing":
    return (f"Beam: {flags.get('--direct_num_workers', '?')} worker processes; Transform's learned "
            "means and variances can differ in the last float digits from run to run, pass "
            "--beam-arg=--direct_running_mode=in_memory --beam-arg=--direct_num_workers=1 for "
            "bit-identical reruns")
  if mode == "in_memory" and flags.get("--direct_num_workers") == "1":
    return "Beam: in-process"
  return "Beam: " + " ".join(beam_args)


def choose(input_paths: Sequence[str], explicit: Optional[Sequence[str]] = None,
           endpoint: Optional[str] = None, worker_pool: Optional[str] = None) -> List[str]:
  """With a job endpoint: the portable runner's arguments, then the user's --beam-arg values.
  Else the --beam-arg values if any, else the choice by total size of the input files."""
  if endpoint:
    return portable(endpoint, worker_pool) + list(explicit or [])
  if worker_pool:
    raise ValueError("--beam-worker-pool needs --beam-endpoint (the job service that starts the "
                     "workers).")
  if explicit:
    return list(explicit)
  total = sum(os.path.getsize(p) for p in input_paths if p and os.path.isfile(p))
  return for_input_size(total)


# ---------------------------------------------------------------------------------------------
# A portable Beam job service (Beam's local_job_service_main + worker_pool_main, started by
# scripts/beam_portable.py): the job runs in the job service, every DoFn in the pool's SDK workers.

DEFAULT_WORKER_POOL_PORT = 50000
# PortableRunner waits on the job's state and message streams with --job_server_timeout (Beam's
# default, 60 s, fails any job that runs longer with DEADLINE_EXCEEDED); a day instead.
JOB_SERVER_TIMEOUT_S = 24 * 3600


def parse_address(flag: str, value: str) -> Tuple[str, int]:
  """HOST:PORT (or [IPv6]:PORT) as (host, port); ValueError naming the flag when malformed."""
  text = (value or "").strip()
  host, sep, port = text.rpartition(":")
  if host.startswith("[") and host.endswith("]"):
    host = host[1:-1]
  problem = None
  if not sep or not host:
    problem = "no HOST:PORT"
  elif "://" in text or "/" in host:
    problem = "a URL, not HOST:PORT"
  elif not port.isdigit() or not 0 < int(port) < 65536:
    problem = f"port {port!r} is not a number from 1 to 65535"
  elif any(c.isspace() for c in host) or (":" in host and not value.strip().startswith("[")):
    problem = "the host is not a name or an address (an IPv6 address goes in brackets)"
  if problem:
    raise ValueError(f"{flag} expects HOST:PORT, e.g. localhost:8099, got {value!r}: {problem}.")
  return host, int(port)


def _join(host: str, port: int) -> str:
  return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def portable(job_endpoint: str, worker_pool: Optional[str] = None) -> List[str]:
  """Beam arguments that send every Beam-powered component to a portable job service whose SDK
  workers come from a worker pool (EXTERNAL environment). The pool defaults to port 50000 on the
  job service's host; it is reached from the job service, not from this process."""
  job_host, job_port = parse_address("--beam-endpoint", job_endpoint)
  if worker_pool:
    pool_host, pool_port = parse_address("--beam-worker-pool", worker_pool)
  else:
    pool_host, pool_port = job_host, DEFAULT_WORKER_POOL_PORT
  return ["--runner=PortableRunner",
          f"--job_endpoint={_join(job_host, job_port)}",
          f"--job_server_timeout={JOB_SERVER_TIMEOUT_S}",
          "--environment_type=EXTERNAL",
          f"--environment_config={_join(pool_host, pool_port)}"]


def check_job_service(job_endpoint: str, timeout: float = 3.0) -> None:
  """ValueError with what to do when nothing accepts connections at the job endpoint."""
  host, port = parse_address("--beam-endpoint", job_endpoint)
  try:
    with socket.create_connection((host, port), timeout=timeout):
      return
  except OSError as e:
    raise ValueError(
        f"--beam-endpoint {job_endpoint}: no Beam job service answers there ({e.strerror or e}). "
        "Start one with `.venv/bin/python scripts/beam_portable.py start` (it prints the flags "
        "to pass), or see docs/scale-out.md.") from e


# ---------------------------------------------------------------------------------------------
# Presets for managed and cluster runners (docs/scale-out.md). Not run here: they need a cloud
# project or a cluster. `image` is the SDK harness: the Dockerfile's `sdk-harness` target (the
# Kubeflow image plus Beam's boot entrypoint), so workers hold the locked stack and trainguard.


def dataflow(project: str, region: str, temp_location: str, image: str) -> List[str]:
  return ["--runner=DataflowRunner", f"--project={project}", f"--region={region}",
          f"--temp_location={temp_location}", f"--sdk_container_image={image}",
          "--sdk_location=container"]


def flink(flink_master: str, image: str, flink_version: str = "1.18") -> List[str]:
  """Beam's FlinkRunner: it starts the Flink job server from a jar (fetched from Maven Central
  unless --flink_job_server_jar names a local copy) and submits to the Flink cluster."""
  return ["--runner=FlinkRunner", f"--flink_master={flink_master}",
          f"--flink_version={flink_version}", "--environment_type=DOCKER",
          f"--environment_config={image}"]


def spark(spark_master_url: str, image: str) -> List[str]:
  """Beam's SparkRunner (Spark 3): the Spark job server from a jar, like FlinkRunner."""
  return ["--runner=SparkRunner", f"--spark_master_url={spark_master_url}", "--spark_version=3",
          "--environment_type=DOCKER", f"--environment_config={image}"]


def job_server(job_endpoint: str, image: str) -> List[str]:
  """A Flink or Spark job server already running (apache/beam_flink1.18_job_server:2.59.0,
  apache/beam_spark3_job_server:2.59.0): PortableRunner, SDK workers in Docker containers."""
  host, port = parse_address("job_endpoint", job_endpoint)
  return ["--runner=PortableRunner", f"--job_endpoint={_join(host, port)}",
          f"--job_server_timeout={JOB_SERVER_TIMEOUT_S}", "--environment_type=DOCKER",
          f"--environment_config={image}"]
