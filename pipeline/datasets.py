"""The embedded default dataset, staged as a CSV that CsvExampleGen reads without surprises.

Why staging at all: the `palmerpenguins` package writes missing cells as the token `NA`. CsvExampleGen
would then type every numeric column with a gap as text, and no missing value would ever be seen.
Staging streams the packaged file row by row, turns missing-value tokens into empty cells (what
CsvExampleGen reads as "absent"), and rewrites the staged copy only when its bytes would change, so
ExampleGen's input fingerprint (paths, sizes, mtimes) stays put and a second run hits the cache.
"""
import csv
import io
import os
from importlib import resources

# Cell values that mean "missing" in CSVs as people write them. Matched after stripping spaces.
MISSING_TOKENS = frozenset({"", "NA", "N/A", "n/a", "na", "NaN", "nan", "null", "NULL", "None", "?"})

PENGUINS = "penguins"
PENGUINS_LABEL = "species"


def penguins_source_csv() -> str:
  """Path of the raw Palmer penguins CSV inside the installed `palmerpenguins` package."""
  return str(resources.files("palmerpenguins") / "data" / "penguins.csv")


def normalize_missing_tokens(source: str, destination: str) -> bool:
  """Copies `source` CSV to `destination` with missing-value tokens as empty cells.

  Streams row by row (any file size). Returns True when the destination was (re)written, False when
  it already held exactly these bytes and was left alone (so its mtime, and TFX's cache, survive).
  """
  buffer = io.StringIO()
  writer = csv.writer(buffer, lineterminator="\n")
  with open(source, newline="", encoding="utf-8") as f:
    for row in csv.reader(f):
      writer.writerow(["" if cell.strip() in MISSING_TOKENS else cell for cell in row])
  data = buffer.getvalue().encode("utf-8")
  if os.path.isfile(destination):
    with open(destination, "rb") as f:
      if f.read() == data:
        return False
  os.makedirs(os.path.dirname(destination), exist_ok=True)
  tmp = destination + ".tmp"
  with open(tmp, "wb") as f:
    f.write(data)
  os.replace(tmp, destination)
  return True


def stage_penguins(data_root: str) -> str:
  """Writes the raw penguins data (344 rows, real gaps) under `data_root`; returns the folder."""
  folder = os.path.join(data_root, PENGUINS)
  normalize_missing_tokens(penguins_source_csv(), os.path.join(folder, "penguins.csv"))
  return folder
