"""Curated schemas (`<name>/schema.pbtxt`) shipped with the package, reviewed in pull requests."""
import os

SCHEMAS_DIR = os.path.dirname(os.path.abspath(__file__))


def schema_dir(name: str) -> str:
  """The folder holding `schema.pbtxt` (and later `policy.yaml`) for the dataset `name`."""
  path = os.path.join(SCHEMAS_DIR, name)
  if not os.path.isfile(os.path.join(path, "schema.pbtxt")):
    known = sorted(d for d in os.listdir(SCHEMAS_DIR)
                   if os.path.isfile(os.path.join(SCHEMAS_DIR, d, "schema.pbtxt")))
    raise FileNotFoundError(
        f"no curated schema named {name!r} in {SCHEMAS_DIR}; known: {', '.join(known)}. "
        "Write one with `tfdv.infer_schema` and review it, or pass --schema PATH.")
  return path
