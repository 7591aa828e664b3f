"""Which Beam runner every Beam-powered component gets, chosen by data size or by the user.

On 2 cores the TFX penguin example took about 108 s with the multi-process DirectRunner and 47 s
in-process: each worker process imports TensorFlow (~20 s, ~0.9 GB), which only pays once the data
takes longer to process than that. So small inputs run in-process and big ones get one worker
process per core. `--beam-arg` replaces the choice entirely; `--beam-endpoint` sends the work to a
portable Beam job service (scripts/beam_portable.py, docs/scale-out.md).

No TensorFlow or Beam import here: the CLI calls it before TF is imported.
"""
import os
from typing import List, Optional, Sequence

IN_PROCESS = ("--direct_running_mode=in_memory", "--direct_num_workers=1")

# Bytes of CSV input from which worker processes pay for their start-up on this kind of machine
# (re-measured by bench/, see docs/benchmarks.md).
MULTI_PROCESS_MIN_BYTES = 256 * 1024 * 1024


def multi_process(num_workers: Optional[int] = None) -> List[str]:
  workers = num_workers or os.cpu_count() or 1
  return ["--direct_running_mode=multi_processing", f"--direct_num_workers={workers}"]


def for_input_size(num_bytes: int) -> List[str]:
  """In-process below MULTI_PROCESS_MIN_BYTES (or on one core), one process per core above."""
  if num_bytes < MULTI_PROCESS_MIN_BYTES or (os.cpu_count() or 1) < 2:
    return list(IN_PROCESS)
  return multi_process()


def choose(input_paths: Sequence[str], explicit: Optional[Sequence[str]] = None) -> List[str]:
  """The user's --beam-arg values if any, else the choice by total size of the input files."""
  if explicit:
    return list(explicit)
  total = sum(os.path.getsize(p) for p in input_paths if p and os.path.isfile(p))
  return for_input_size(total)
