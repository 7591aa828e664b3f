"""Crash and resume, every component: SIGKILL `trainguard run` in the middle of each component,
rerun, and check that the rerun takes the finished upstream from the cache and equals an
uninterrupted run.

    .venv/bin/python scripts/crash_every_component.py [--components Trainer,Evaluator] [--keep]

CI runs one such case (Transform, tests/reliability_e2e_test.py); each case here is one and a bit
pipeline runs, too slow for the suite, so this script runs the rest by hand (docs/reliability.md,
"Crash and resume, every component"). It uses the test's own helpers (tests/crash_helpers.py), so
the checks are the same: 172 penguins rows, one epoch, seed 7.

Where to kill: one uninterrupted reference run first, which prints how long each component took
("X done in N s"); each case then kills the process group `--fraction` (default 0.5) of that time
after the line "X …". If X finished first, the case retries once at a quarter of the time. A kill
counts only if ML Metadata then shows X's execution registered and not COMPLETE: between TFX
registering the execution and publishing its outputs, which is the executor's run.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import traceback

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))

# pylint: disable-next=g-import-not-at-top,wrong-import-position
import crash_helpers as helpers  # noqa: E402

# Transform is the suite's case; it is here too for a run of every component (--components).
DEFAULT_COMPONENTS = ("CsvExampleGen", "StatisticsGen", "DataGuard", "Rebalance", "Trainer",
                      "Evaluator")


def durations(output: str) -> dict:
  """Component → seconds, from the progress lines `X done in N s` of a run's output."""
  out = {}
  for line in output.splitlines():
    parts = line.split()
    if len(parts) == 5 and parts[1:3] == ["done", "in"] and parts[4] == "s":
      out[parts[0]] = float(parts[3])
  return out


def partial_files(workdir: str, pipeline_name: str, node: str) -> int:
  """Files the killed component left under its folder of the pipeline root."""
  root = os.path.join(workdir, "pipelines", pipeline_name, node)
  return sum(len(names) for _, _, names in os.walk(root))


def run_case(base: str, node: str, seconds: float, reference) -> dict:
  """Kill during `node`, check the store, rerun, compare with `reference`; one result row."""
  from trainguard.pipeline import results  # pylint: disable=g-import-not-at-top
  workdir = os.path.join(base, node)
  csv_path = helpers.penguins_rows(os.path.join(workdir, "input", "a.csv"))
  row = {"component": node, "problems": []}
  started = time.time()
  killed = None
  for delay in (seconds, seconds / 4):
    killed = helpers.kill_during(csv_path, workdir, node, delay)
    row["kill_after_s"] = round(delay, 2)
    if killed is not None:
      break
    shutil.rmtree(workdir)
    csv_path = helpers.penguins_rows(os.path.join(workdir, "input", "a.csv"))
  if killed is None:
    row["problems"].append(f"{node} finished before every kill")
    return row
  row["partial_files"] = partial_files(workdir, killed.pipeline_name, node)
  row["problems"] += helpers.killed_run_problems(killed, node)
  row["killed_s"] = round(time.time() - started, 1)
  rerun_started = time.time()
  resumed = helpers.finish(helpers.start(csv_path, workdir), workdir, killed.pipeline_name)
  row["rerun_s"] = round(time.time() - rerun_started, 1)
  row["problems"] += helpers.resumed_run_problems(resumed, node)
  if not row["problems"]:
    try:
      after = results.latest_run(resumed.paths)
      helpers.assert_same_outputs(after, reference)
      differences = helpers.metric_differences(after.eval_metrics, reference.eval_metrics)
      if differences:
        row["problems"].append(f"eval metrics differ: {differences}")
      row["cached"] = sorted(n for n, e in after.executions.items() if e.state == "CACHED")
    except AssertionError as e:
      row["problems"].append(f"outputs differ: {traceback.format_exception_only(type(e), e)}")
  row["passed"] = not row["problems"]
  return row


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--components", default=",".join(DEFAULT_COMPONENTS))
  parser.add_argument("--fraction", type=float, default=0.5,
                      help="kill this fraction of the component's reference duration after its "
                           "progress line (default: %(default)s)")
  parser.add_argument("--workdir", help="where the runs go (default: a temporary folder)")
  parser.add_argument("--keep", action="store_true", help="keep the work directories")
  parser.add_argument("--json", help="write the results here as JSON")
  args = parser.parse_args(argv)
  from trainguard.pipeline import results  # pylint: disable=g-import-not-at-top
  base = os.path.abspath(args.workdir or tempfile.mkdtemp(prefix="crash-every-"))
  began = time.time()
  ref_dir = os.path.join(base, "reference")
  ref_csv = helpers.penguins_rows(os.path.join(ref_dir, "input", "a.csv"))
  ref = helpers.finish(helpers.start(ref_csv, ref_dir), ref_dir, "trainguard-a")
  if ref.returncode != 0:
    print(ref.output[-4000:], file=sys.stderr)
    return 1
  took = durations(ref.output)
  reference = results.latest_run(ref.paths)
  print(f"reference run: {time.time() - began:.0f} s; component seconds: {took}", flush=True)
  rows = []
  for node in args.components.split(","):
    if node not in took:
      rows.append({"component": node, "passed": False, "problems": ["not in the reference run"]})
      continue
    row = run_case(base, node, args.fraction * took[node], reference)
    row["reference_s"] = took[node]
    rows.append(row)
    print(json.dumps(row), flush=True)
  total = time.time() - began
  print("\n| component | its time (reference) | killed after | partial files left | kill run + "
        "rerun | result |\n|---|---|---|---|---|---|")
  for row in rows:
    print(f"| {row['component']} | {row.get('reference_s', '?')} s | "
          f"{row.get('kill_after_s', '?')} s | {row.get('partial_files', '?')} | "
          f"{row.get('killed_s', '?')} + {row.get('rerun_s', '?')} s | "
          f"{'passed' if row.get('passed') else '; '.join(row['problems'])} |")
  passed = sum(1 for r in rows if r.get("passed"))
  print(f"\n{passed} of {len(rows)} cases passed in {total:.0f} s (work directories: {base})")
  if args.json:
    with open(args.json, "w") as f:
      json.dump({"rows": rows, "seconds": round(total), "reference": took}, f, indent=1)
  if not args.keep and not args.workdir:
    shutil.rmtree(base, ignore_errors=True)
  return 0 if passed == len(rows) else 1


if __name__ == "__main__":
  sys.exit(main())
