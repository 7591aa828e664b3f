"""Beam arguments by data size: the user's choice wins, small data stays in-process."""
from trainguard.pipeline import beam_options


def test_small_input_runs_in_process(tmp_path):
  csv = tmp_path / "small.csv"
  csv.write_text("a,b\n1,2\n")
  assert beam_options.choose([str(csv), None]) == list(beam_options.IN_PROCESS)


def test_big_input_gets_one_process_per_core(monkeypatch):
  monkeypatch.setattr(beam_options.os, "cpu_count", lambda: 4)
  assert beam_options.for_input_size(beam_options.MULTI_PROCESS_MIN_BYTES) == [
      "--direct_running_mode=multi_processing", "--direct_num_workers=4"]


def test_one_core_always_runs_in_process(monkeypatch):
  monkeypatch.setattr(beam_options.os, "cpu_count", lambda: 1)
  assert beam_options.for_input_size(10 * beam_options.MULTI_PROCESS_MIN_BYTES) == list(
      beam_options.IN_PROCESS)


def test_explicit_beam_args_replace_the_choice(tmp_path):
  assert beam_options.choose([], ["--runner=DirectRunner"]) == ["--runner=DirectRunner"]
