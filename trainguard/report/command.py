"""`trainguard report` (and `python -m trainguard.report`): write, or rewrite, the report of any
recorded run — finished, failed or blocked — and print its path.

    trainguard report [--workdir W] [--pipeline-name P] [--run ID] [--previous ID|none] [--out F]

Exit 0 when the report was written, whatever the run's outcome; 2 when the work directory has no
metadata store, or the pipeline or run id is not recorded in it (the message lists the recorded
pipelines or the latest run ids). These are checked before TensorFlow is imported.
"""
import argparse
import os
import sys

NO_PREVIOUS = "none"


def add_arguments(parser: argparse.ArgumentParser) -> None:
  from trainguard.pipeline import configs  # pylint: disable=g-import-not-at-top
  parser.add_argument("--workdir", default=configs.DEFAULT_WORKDIR,
                      help="the run's work directory (default: %(default)s)")
  parser.add_argument("--pipeline-name",
                      help="the pipeline whose run to report (default: the pipeline of the "
                           f"newest run in the store; `trainguard run` names it "
                           f"trainguard-<CSV name>, `make run` {configs.PIPELINE_NAME})")
  parser.add_argument("--run", dest="run_id", metavar="ID",
                      help="the run id (ML Metadata's pipeline_run name, as the report's header "
                           "shows it; default: the newest run)")
  parser.add_argument("--previous", metavar="ID",
                      help="the run to compare with in 'Since the previous run' (default: the "
                           f"latest earlier run; '{NO_PREVIOUS}' to leave it out)")
  parser.add_argument("--out", help="where to write the report (default: "
                      "<workdir>/reports/<pipeline>-<run id>.html)")


def run(args) -> int:
  """Writes the report the arguments name; prints its path (stdout) or the error (stderr)."""
  workdir = os.path.abspath(os.path.expanduser(args.workdir))
  store = os.path.join(workdir, "metadata.sqlite")
  if not os.path.isfile(store):
    print(f"trainguard: error: {workdir}: no metadata store (metadata.sqlite) here, so no "
          "recorded run; pass the --workdir of a run", file=sys.stderr)
    return 2
  from trainguard.pipeline import results  # pylint: disable=g-import-not-at-top
  from trainguard.report import changes, report  # pylint: disable=g-import-not-at-top
  try:
    recorded = results.pipeline_names(store)
    pipeline = args.pipeline_name or (recorded[-1] if recorded else "")
    if pipeline not in recorded:
      raise LookupError(f"no run of pipeline {pipeline!r} in {store} (pipelines: "
                        f"{', '.join(recorded) or 'none'})")
    paths = results.RunPaths(workdir, pipeline)
    summary = results.run_by_id(paths, args.run_id) if args.run_id else results.latest_run(paths)
    if args.previous == NO_PREVIOUS:
      previous = None
    elif args.previous:
      previous = results.run_by_id(paths, args.previous)
    else:
      previous = changes.EARLIER
  except LookupError as e:
    print(f"trainguard: error: {e.args[0] if e.args else e}; pass one of these", file=sys.stderr)
    return 2
  print(report.write_report(summary, args.out, previous=previous))
  return 0


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(
      prog="python -m trainguard.report",
      description="Write the HTML report of a recorded run of a trainguard pipeline.")
  add_arguments(parser)
  return run(parser.parse_args(argv))
