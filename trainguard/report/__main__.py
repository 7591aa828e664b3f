"""Writes the report of a recorded run: `python -m trainguard.report --workdir DIR [--run ID]`.

The same as `trainguard report` (command.py): prints the report's absolute path; exit 0 when it
was written, whatever the run's outcome, 2 when no such run is recorded under the work directory.
"""
import sys

from trainguard.report.command import main

if __name__ == "__main__":
  sys.exit(main())
