"""The embedded default dataset: the raw Palmer penguins CSV shipped in the `palmerpenguins` package.

It is used as published (344 rows; missing cells written as `NA`, which the CLI's pre-flight reads
as missing), so the default run exercises the same path as a user's own CSV.
"""
from importlib import resources


def penguins_source_csv() -> str:
  """Path of the raw Palmer penguins CSV inside the installed `palmerpenguins` package."""
  return str(resources.files("palmerpenguins") / "data" / "penguins.csv")
