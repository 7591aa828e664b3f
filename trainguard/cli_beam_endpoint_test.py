"""`--beam-endpoint` / `--beam-worker-pool`: checked before TensorFlow, exit 2 with what to do.

The run through a real job service and a worker pool on a second host is in
tests/beam_portable_netns_e2e_test.py."""
import socket
import subprocess
import sys

import pytest

from trainguard import cli
from trainguard.pipeline import beam_options


def _good(tmp_path):
  rows = ["x,c,y"] + [f"{i},{'r' if i % 2 else 's'},{'a' if i % 3 else 'b'}" for i in range(30)]
  path = tmp_path / "data.csv"
  path.write_text("\n".join(rows) + "\n")
  return str(path)


def _free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


@pytest.mark.parametrize("flags, message", [
    (["--beam-endpoint", "localhost"], "--beam-endpoint expects HOST:PORT, e.g. localhost:8099, "
                                       "got 'localhost': no HOST:PORT"),
    (["--beam-endpoint", "localhost:99999"], "port '99999' is not a number from 1 to 65535"),
    (["--beam-endpoint", "grpc://localhost:8099"], "a URL, not HOST:PORT"),
    (["--beam-endpoint", "localhost:8099", "--beam-worker-pool", "pool"],
     "--beam-worker-pool expects HOST:PORT"),
    (["--beam-worker-pool", "localhost:50000"], "--beam-worker-pool needs --beam-endpoint"),
    (["--beam-endpoint", "127.0.0.1:{free}"], "no Beam job service answers there"),
])
@pytest.mark.parametrize("command", ["run", "diagnose"])
def test_bad_endpoint_flags_exit_2_with_a_message(tmp_path, capsys, command, flags, message):
  flags = [f.format(free=_free_port()) for f in flags]
  code = cli.main([command, _good(tmp_path), "--label", "y", "--workdir", str(tmp_path / "w")]
                  + flags)
  assert code == cli.EXIT_USAGE
  err = capsys.readouterr().err
  assert err.startswith("trainguard: error: ") and message in err
  assert "Traceback" not in err
  assert not (tmp_path / "w").exists()  # checked before anything is staged


def test_no_job_service_names_the_script_and_tensorflow_is_never_imported(tmp_path):
  code = ("import sys; from trainguard import cli; "
          f"rc = cli.main(['run', {_good(tmp_path)!r}, '--label', 'y', '--workdir', "
          f"{str(tmp_path / 'w')!r}, '--beam-endpoint', '127.0.0.1:{_free_port()}']); "
          "print('rc', rc, 'tensorflow' in sys.modules, 'apache_beam' in sys.modules)")
  proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
  assert proc.stdout.strip().splitlines()[-1] == "rc 2 False False", proc.stderr[-2000:]
  assert "scripts/beam_portable.py start" in proc.stderr


def test_a_listening_job_service_reaches_the_pipeline_as_portable_runner_args(tmp_path,
                                                                              monkeypatch):
  seen = {}

  def fake_run_pipeline(plan, options, include_training):
    seen["beam_args"] = beam_options.choose([options.csv], list(options.beam_args) or None,
                                            options.beam_endpoint, options.beam_worker_pool)
    raise KeyboardInterrupt  # stop here: what TFX would get is recorded

  monkeypatch.setattr(cli, "run_pipeline", fake_run_pipeline)
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    s.listen()
    port = s.getsockname()[1]
    assert cli.main(["diagnose", _good(tmp_path), "--label", "y", "--workdir",
                     str(tmp_path / "w"), "--beam-endpoint", f"127.0.0.1:{port}",
                     "--beam-worker-pool", "10.213.0.2:50000",
                     "--beam-arg=--experiments=x"]) == 130
  assert seen["beam_args"] == beam_options.portable(f"127.0.0.1:{port}", "10.213.0.2:50000") + [
      "--experiments=x"]
  assert "--runner=PortableRunner" in seen["beam_args"]
