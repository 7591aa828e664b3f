"""The embedded default dataset: the raw Palmer penguins CSV, shipped in this package as a file.

It is used as published (344 rows; missing cells written as `NA`, which the CLI's pre-flight reads
as missing), so the default run exercises the same path as a user's own CSV. The file is
`pipeline/penguins.csv`, copied once from the `palmerpenguins` package (data by Horst, Hill and
Gorman, CC0), so an install no longer needs that data package at run time for one file.
"""
from importlib import resources


def penguins_source_csv() -> str:
  """Path of the raw Palmer penguins CSV shipped with trainguard (installed or in the checkout)."""
  return str(resources.files("trainguard.pipeline") / "penguins.csv")
