"""The longer search of the pre-flight's properties (docs/reliability.md, "Fuzzing the pre-flight").

    .venv/bin/python scripts/fuzz_preflight.py [--examples N] [--seed S] [--only cli,paths,pipeline]

The suite runs the same three properties of `trainguard/preflight/fuzz_test.py` with a fixed
example set of a few hundred (CI's budget, ~45 s); this runs N examples of each from a seed, not
derandomized, so each seed searches new files. The properties:
- cli: `trainguard diagnose` / `schema init` exit 0, 1 or 2 and never print a traceback;
- paths: the pyarrow block path and the row-by-row path give the same profile and the same staged
  bytes, at block sizes from 1 byte to 8 MiB;
- pipeline: every column the pre-flight calls numeric is numeric to our CsvExampleGen and in the
  statistics TFDV computes from the staged file, and the reverse.
The first long run found a label of 0, 1, 2 and 2**63 - 1 whose schema declared 2**63 classes and
filled the machine's memory: the process now limits its address space (`--max-memory-gb`), so such a
case fails as a MemoryError with its example. A failing property prints hypothesis' shrunk example; the summary line (JSON) gives per property
the examples tried, the seconds and the failure, and the exit code is 1 when any failed.
"""
import argparse
import json
import os
import resource
import sys
import time
import traceback

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

# pylint: disable=g-import-not-at-top,wrong-import-position
from hypothesis import HealthCheck, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from trainguard.preflight import fuzz_test  # noqa: E402

PROPERTIES = ("cli", "paths", "pipeline")


def _settings(examples: int):
  return settings(max_examples=examples, derandomize=False, deadline=None, database=None,
                  print_blob=True,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.filter_too_much])


def _property(name: str, tried: list):
  """The property `name` as a hypothesis test function that counts its examples in `tried`."""
  if name == "cli":
    @given(fuzz_test.csv_files(), st.sampled_from(["diagnose"] * 4 + ["schema-init"]),
           st.sampled_from([None] * 4 + ["eval", "serving", "previous", "classification",
                                         "regression"]))
    def check(csv_file, command, extra):
      tried.append(1)
      fuzz_test.check_cli(csv_file, command, extra)
  elif name == "paths":
    @given(fuzz_test.csv_files(), st.lists(st.sampled_from(fuzz_test.BLOCK_SIZES), min_size=2,
                                           max_size=3, unique=True))
    def check(csv_file, blocks):
      tried.append(1)
      fuzz_test.check_paths(csv_file, blocks)
  else:
    view = fuzz_test.PipelineView()

    @given(fuzz_test.csv_files(rows=st.integers(10, 40)))
    def check(csv_file):
      tried.append(1)
      fuzz_test.check_pipeline_types(view, csv_file)
  return check


def run(name: str, examples: int, random_seed: int) -> dict:
  tried: list = []
  check = seed(random_seed)(_settings(examples)(_property(name, tried)))
  start = time.monotonic()
  failure = None
  try:
    check()
  except Exception:  # pylint: disable=broad-except
    failure = traceback.format_exc(limit=3)
    print(failure, file=sys.stderr)
  return {"property": name, "examples": examples, "calls": len(tried),
          "seconds": round(time.monotonic() - start, 1), "failed": failure is not None,
          "failure": failure.strip().splitlines()[-1] if failure else None}


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--examples", type=int, default=1000, help="examples per property")
  parser.add_argument("--seed", type=int, default=20261203)
  parser.add_argument("--only", default=",".join(PROPERTIES),
                      help="comma-separated properties: " + ", ".join(PROPERTIES))
  parser.add_argument("--max-memory-gb", type=float, default=10.0,
                      help="address-space limit of this process (a runaway allocation fails the "
                           "property with MemoryError instead of the machine's OOM killer)")
  args = parser.parse_args(argv)
  limit = int(args.max_memory_gb * (1 << 30))
  resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
  names = [n for n in args.only.split(",") if n]
  unknown = sorted(set(names) - set(PROPERTIES))
  if unknown:
    parser.error(f"unknown properties {unknown}; choose from {', '.join(PROPERTIES)}")
  results = []
  for name in names:
    result = run(name, args.examples, args.seed)
    print(json.dumps(result), flush=True)
    results.append(result)
  print(json.dumps({"seed": args.seed, "examples_per_property": args.examples,
                    "calls": sum(r["calls"] for r in results),
                    "seconds": round(sum(r["seconds"] for r in results), 1),
                    "failed": [r["property"] for r in results if r["failed"]]}))
  return 1 if any(r["failed"] for r in results) else 0


if __name__ == "__main__":
  sys.exit(main())
