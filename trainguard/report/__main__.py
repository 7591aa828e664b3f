"""Writes the report of the newest run: `python -m trainguard.report --workdir DIR`.

Prints the report's absolute path. Exit status 0 when the report was written, whatever the run's
outcome; 2 when no run of the pipeline is recorded under the work directory.
"""
import argparse
import os
import sys
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
  from trainguard.pipeline import configs  # pylint: disable=g-import-not-at-top
  parser = argparse.ArgumentParser(
      prog="python -m trainguard.report",
      description="Write the HTML report of the newest run of a trainguard pipeline.")
  parser.add_argument("--workdir", default=configs.DEFAULT_WORKDIR,
                      help="the run's work directory (default: %(default)s)")
  parser.add_argument("--pipeline-name", default=configs.PIPELINE_NAME)
  parser.add_argument("--out", help="where to write the report (default: "
                      "<workdir>/reports/<pipeline>-<run id>.html)")
  args = parser.parse_args(argv)
  workdir = os.path.abspath(os.path.expanduser(args.workdir))
  from trainguard.report import report  # pylint: disable=g-import-not-at-top
  try:
    path = report.write_latest_report(workdir, args.pipeline_name, args.out)
  except LookupError as e:
    print(f"no report written: {e}", file=sys.stderr)
    return 2
  print(path)
  return 0


if __name__ == "__main__":
  sys.exit(main())
