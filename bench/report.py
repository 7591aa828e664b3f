"""Benchmark results as a markdown table, printed and optionally appended to docs/benchmarks.md."""
from typing import Optional, Sequence


def emit(header: Sequence[str], rows: Sequence[Sequence[str]], out: Optional[str]) -> str:
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  lines += ["| " + " | ".join(row) + " |" for row in rows]
  text = "\n".join(lines)
  print(text)
  if out:
    with open(out, "a") as f:
      f.write(text + "\n")
  return text
