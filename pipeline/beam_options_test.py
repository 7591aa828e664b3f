"""Beam arguments by data size: the user's choice wins, small data stays in-process; a portable
job service when one is named, and the presets for cluster runners."""
import socket
import subprocess
import sys

import pytest

from trainguard.pipeline import beam_options


def test_small_input_runs_in_process(tmp_path):
  csv = tmp_path / "small.csv"
  csv.write_text("a,b\n1,2\n")
  assert beam_options.choose([str(csv), None]) == list(beam_options.IN_PROCESS)


def test_big_input_gets_one_process_per_core(monkeypatch):
  monkeypatch.setattr(beam_options.os, "cpu_count", lambda: 4)
  assert beam_options.for_input_size(beam_options.MULTI_PROCESS_MIN_BYTES) == [
      "--direct_running_mode=multi_processing", "--direct_num_workers=4",
      beam_options.DEPENDENCIES_PROVIDED]


def test_the_run_line_says_which_runner_and_what_worker_processes_cost():
  assert beam_options.describe(beam_options.IN_PROCESS) == "Beam: in-process"
  multi = beam_options.describe(beam_options.multi_process(2))
  assert multi.startswith("Beam: 2 worker processes;") and "bit-identical reruns" in multi
  assert beam_options.describe(beam_options.portable("localhost:8099")) == (
      "Beam: portable runner at localhost:8099")
  assert beam_options.describe(["--runner=DirectRunner"]) == "Beam: --runner=DirectRunner"


def test_direct_runner_args_keep_tfx_from_building_its_own_package():
  """TFX's BaseBeamExecutor builds an sdist of TFX (~2 s a component) unless one of these flags is
  set; the DirectRunner ignores the image, which is Beam's own default."""
  from tfx.utils import dependency_utils  # pylint: disable=g-import-not-at-top
  import apache_beam  # pylint: disable=g-import-not-at-top
  assert beam_options.DEPENDENCIES_PROVIDED == (
      f"--sdk_container_image=apache/beam_python{sys.version_info.major}."
      f"{sys.version_info.minor}_sdk:{apache_beam.__version__}")
  for args in (list(beam_options.IN_PROCESS), beam_options.multi_process(2)):
    assert dependency_utils.make_beam_dependency_flags(args) == args


def test_one_core_always_runs_in_process(monkeypatch):
  monkeypatch.setattr(beam_options.os, "cpu_count", lambda: 1)
  assert beam_options.for_input_size(10 * beam_options.MULTI_PROCESS_MIN_BYTES) == list(
      beam_options.IN_PROCESS)


def test_explicit_beam_args_replace_the_choice(tmp_path):
  assert beam_options.choose([], ["--runner=DirectRunner"]) == ["--runner=DirectRunner"]


# A portable job service (scripts/beam_portable.py): its arguments replace the choice by size.

def test_endpoint_sends_every_component_to_the_portable_runner(tmp_path):
  csv = tmp_path / "small.csv"
  csv.write_text("a,b\n1,2\n")
  assert beam_options.choose([str(csv)], None, "localhost:8099") == [
      "--runner=PortableRunner", "--job_endpoint=localhost:8099",
      f"--job_server_timeout={beam_options.JOB_SERVER_TIMEOUT_S}",
      "--environment_type=EXTERNAL", "--environment_config=localhost:50000"]


def test_worker_pool_and_extra_beam_args_come_with_the_endpoint():
  args = beam_options.choose([], ["--experiments=foo"], "10.0.0.1:8099", "10.0.0.2:7000")
  assert "--environment_config=10.0.0.2:7000" in args
  assert args[-1] == "--experiments=foo"
  assert beam_options.portable("[::1]:8099")[1:5:3] == ["--job_endpoint=[::1]:8099",
                                                        "--environment_config=[::1]:50000"]


def test_worker_pool_without_endpoint_is_refused():
  with pytest.raises(ValueError, match="--beam-worker-pool needs --beam-endpoint"):
    beam_options.choose([], None, None, "localhost:50000")


@pytest.mark.parametrize("value, problem", [
    ("localhost", "no HOST:PORT"), (":8099", "no HOST:PORT"), ("", "no HOST:PORT"),
    ("localhost:http", "port 'http' is not a number"), ("localhost:0", "port '0'"),
    ("localhost:70000", "port '70000'"), ("http://localhost:8099", "a URL"),
    ("::1:8099", "IPv6 address goes in brackets"), ("my host:8099", "not a name or an address"),
])
def test_malformed_addresses_name_the_flag_and_the_problem(value, problem):
  with pytest.raises(ValueError) as e:
    beam_options.portable(value)
  assert str(e.value).startswith(f"--beam-endpoint expects HOST:PORT, e.g. localhost:8099, got "
                                 f"{value!r}")
  assert problem in str(e.value)


def test_check_job_service_says_what_to_start_when_nothing_listens():
  with socket.socket() as s:  # a port that was free a moment ago
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  with pytest.raises(ValueError, match="scripts/beam_portable.py start"):
    beam_options.check_job_service(f"127.0.0.1:{port}", timeout=1)
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    s.listen()
    beam_options.check_job_service(f"127.0.0.1:{s.getsockname()[1]}", timeout=1)


def test_presets_name_the_runner_and_the_sdk_harness_image():
  image = "ghcr.io/you/trainguard-sdk:0.1.0"
  assert beam_options.dataflow("p", "europe-west1", "gs://b/tmp", image) == [
      "--runner=DataflowRunner", "--project=p", "--region=europe-west1",
      "--temp_location=gs://b/tmp", f"--sdk_container_image={image}", "--sdk_location=container"]
  for args in (beam_options.flink("flink-jm:8081", image),
               beam_options.spark("spark://m:7077", image),
               beam_options.job_server("flink-js:8099", image)):
    assert "--environment_type=DOCKER" in args and f"--environment_config={image}" in args
  assert beam_options.flink("flink-jm:8081", image)[0] == "--runner=FlinkRunner"
  assert beam_options.spark("spark://m:7077", image)[0] == "--runner=SparkRunner"


def test_no_tensorflow_or_beam_import():
  code = ("import sys; from trainguard.pipeline import beam_options; "
          "print(sorted(m for m in ('tensorflow', 'apache_beam') if m in sys.modules))")
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
  assert out.stdout.strip() == "[]"
