"""Writing the files a user keeps (schemas, policies, staged CSVs, reports) so none is half-written.

One writer for all of them: before, `schema init` wrote through a temporary file while `schema
propose --write` opened the target directly, so a full disk could leave half a `schema.pbtxt` where
a reviewed one had been.
"""
import contextlib
import os

from trainguard.errors import WriteError


@contextlib.contextmanager
def atomic_write(path: str, mode: str = "w", **kwargs):
  """Writes `path` through a temporary file that replaces it only when every byte is written, so a
  full disk or a crash never leaves a half-written file where a good one is expected."""
  tmp = f"{path}.tmp"
  try:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(tmp, mode, **kwargs) as out:
      yield out
    os.replace(tmp, path)
  except OSError as e:
    if os.path.lexists(tmp):
      os.remove(tmp)
    if isinstance(e, WriteError):
      raise
    raise WriteError(path, e) from e
  except BaseException:
    if os.path.lexists(tmp):
      os.remove(tmp)
    raise


def write_if_changed(path: str, text: str) -> bool:
  """Writes `text` to `path` atomically unless the file already holds exactly it (so a rerun leaves
  a checked-in file's timestamp alone); returns whether it wrote."""
  if os.path.isfile(path):
    with open(path, encoding="utf-8") as f:
      if f.read() == text:
        return False
  with atomic_write(path, encoding="utf-8") as f:
    f.write(text)
  return True
