"""Runs the trainguard pipeline with LocalDagRunner: `python -m trainguard.pipeline.local_runner`.

A thin entry point over `trainguard run` (trainguard/cli.py) with the embedded default filled in:
with no arguments it runs on the raw Palmer penguins data (`pipeline/penguins.csv`, shipped in
the package: 344 rows with real gaps) against the curated `schemas/penguins`, and prints each
component's state, the eval accuracy, and where the pushed model, the metadata store and the
artifacts are. Any `trainguard
run` option passes through (`--workdir`, `--epochs`, `--beam-arg`, `--serving-data`, ...);
`--data FILE.csv` with `--label` and `--schema` points it at other data.

It imports `trainguard.cli`, the one layering inversion in `pipeline/` (a runner above the CLI):
deliberate, so that `make run` and `trainguard run` share one pre-flight, one output and one set of
exit codes instead of this runner repeating them.
"""
import argparse
import sys
from typing import List, Optional

from trainguard import cli, schemas
from trainguard.pipeline import configs, datasets


def main(argv: Optional[List[str]] = None) -> int:
  parser = argparse.ArgumentParser(add_help=False)
  parser.add_argument("--data")
  parser.add_argument("--label")
  parser.add_argument("--schema")
  known, rest = parser.parse_known_args(argv)
  if known.data:
    csv_file, label, schema = known.data, known.label, known.schema
  else:
    csv_file = datasets.penguins_source_csv()
    label = known.label or configs.LABEL_KEY
    schema = known.schema or schemas.schema_dir(configs.DATASET)
  if "--help" in rest or "-h" in rest:
    return cli.main(["run", "--help"])
  command = ["run", csv_file]
  if label:
    command += ["--label", label]
  if schema:
    command += ["--schema", schema]
  return cli.main(command + rest)


if __name__ == "__main__":
  sys.exit(main())
