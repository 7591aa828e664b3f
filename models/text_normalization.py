"""`normalize: true` of a categorical feature: one spelling per category, in the graph.

Why in the Transform graph and not at the source or in the pre-flight: the vocabulary is learned
on the normalised values and the same ops run in the serving signature, so `Adelie`, `adelie`,
`ADELIE` and `Adelie ` share one vocabulary id at training *and* at serving, where a request
spelled another way would otherwise get the out-of-vocabulary id.

What the graph does, in this order: lower-case (`tf.strings.lower(..., encoding="utf-8")`, Unicode
lower-casing, the same mapping as Python's `str.lower`), every run of white space (`SPACES`: ASCII
and Unicode spaces, the characters `str.split()` splits on) becomes one space, and the ends are
trimmed. What it cannot do: Unicode NFKC normalisation (full-width `Ａdelie`, a decomposed `é`
against a composed one, ligatures) and full case-folding (`Straße` / `STRASSE`): TensorFlow core
has no such op (tensorflow-text's `normalize_utf8` has, and it is not in the locked stack).
DataGuard's `CATEGORY_VARIANTS` groups by NFKC and case-folding; it asks `graph_key` — this
module's Python twin of the graph's ops — which of its groups `normalize: true` merges, offers the
key for those, and says which spellings stay apart (`components/data_guard/value_findings.py`).
TensorFlow is imported only by `normalize`, so DataGuard's statistics path stays TF-free.
"""
import re

# White space as Python's str.isspace() has it (what `str.split()` splits on): ASCII controls
# 9-13 and 28-31, the space, U+0085, and the Unicode space, line and paragraph separators.
SPACE_CHARACTERS = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
                    + "".join(chr(c) for c in range(0x2000, 0x200b))
                    + "\u2028\u2029\u202f\u205f\u3000")
# One regex, read by Python's re and by RE2 (tf.strings.regex_replace) alike: literal characters.
SPACES = "[" + SPACE_CHARACTERS + "]+"
_SPACES = re.compile(SPACES)


def graph_key(value: str) -> str:
  """What `normalize` makes of `value` (its Python twin: the tests hold them equal)."""
  return _SPACES.sub(" ", value.lower()).strip(" ")


def normalize(values):
  """`values` (a string tensor) lower-cased, white space collapsed to one space and trimmed."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  lowered = tf.strings.lower(values, encoding="utf-8")
  collapsed = tf.strings.regex_replace(lowered, SPACES, " ")
  return tf.strings.regex_replace(collapsed, "^ | $", "")
