"""What the CLI prints is data as much as words: column names, category values and label classes
from the user's CSV. A value holding an escape sequence (`\\x1b[2J` clears the screen, `\\x1b]8;;`
makes a link), a carriage return (overwrites the line before it) or a right-to-left override
(`\\u202e` reverses what follows) would act on the terminal instead of being read. `printable`
writes every such character as its Python escape, so it shows as text; newlines and tabs stay.

`printable_output()` applies it to everything the CLI prints to stdout and stderr for the length
of a command. JSON output is unchanged by it (`json.dumps` already escapes control characters).
"""
import contextlib
import sys
import unicodedata
from typing import Dict, Iterator

# Bidirectional controls (embeddings, overrides, isolates, marks): invisible, they reorder text.
_BIDI = {0x200E, 0x200F, 0x061C, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}
_TABLE: Dict[int, str] = {}
for _code in (*range(0x00, 0x20), *range(0x7F, 0xA0), *_BIDI):
  if chr(_code) not in "\n\t":
    _TABLE[_code] = chr(_code).encode("unicode_escape").decode("ascii")


def printable(text: str) -> str:
  """`text` with terminal control characters written as escapes ("\\x1b", "\\r", "\\u202e")."""
  text = text.translate(_TABLE)
  if any(unicodedata.category(c) == "Cf" and ord(c) > 0x7F for c in text):
    text = "".join(f"\\u{ord(c):04x}" if unicodedata.category(c) == "Cf" and c not in "\u200d"
                   else c for c in text)
  return text


class _PrintableStream:
  """A text stream that writes through `printable`; everything else is the wrapped stream's."""

  def __init__(self, stream):
    self._stream = stream

  def write(self, text: str) -> int:
    self._stream.write(printable(text))
    return len(text)

  def __getattr__(self, name):
    return getattr(self._stream, name)


@contextlib.contextmanager
def printable_output() -> Iterator[None]:
  """stdout and stderr through `printable` for the block (the CLI's commands)."""
  out, err = sys.stdout, sys.stderr
  sys.stdout, sys.stderr = _PrintableStream(out), _PrintableStream(err)
  try:
    yield
  finally:
    sys.stdout, sys.stderr = out, err
