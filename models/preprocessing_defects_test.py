"""The real-world-defect fixes in the graph (issue 21), on one Beam run of their own data (the
`defect_fixes_run` fixture): `normalize` merges spellings before the vocabulary."""
import pytest
import tensorflow as tf

from trainguard.models import fixtures as data
from trainguard.models import text_normalization

_SPELLINGS = ["Adelie", "adelie", "ADELIE ", " Adelie\t", "Adélie", "ÄDELIE", "Straße",
              "STRASSE", "a\u00a0 b", "a\u2003b", "a\u3000\u3000b", "ＡＢ", "ǅ", "İ", "Σ", "ς",
              "x\x1cy", "x\x85y", "", "   ", "light  blue\n"]


def test_the_python_twin_of_normalize_is_what_the_graph_computes():
  # DataGuard asks graph_key which groups `normalize: true` merges: it must be the graph's result.
  graph = text_normalization.normalize(tf.constant(_SPELLINGS)).numpy()
  assert [v.decode() for v in graph] == [text_normalization.graph_key(v) for v in _SPELLINGS]
  assert text_normalization.graph_key(" Adelie\t") == "adelie"
  assert text_normalization.graph_key("STRASSE") != text_normalization.graph_key("Straße")


def _ids(run, name):
  return {row["row_id"]: int(row[name + "_xf"]) for row in run.rows + run.serving_rows}


def test_normalized_variants_share_one_vocabulary_id(defect_fixes_run):
  vocabulary = defect_fixes_run.output.vocabulary_by_name("island")
  assert vocabulary == [b"biscoe", b"dream", b"torgersen"]  # "unknown" is a missing value
  ids = _ids(defect_fixes_run, "island")
  by_spelling = {}
  for row in data.DEFECTS_ROWS:
    by_spelling.setdefault(text_normalization.graph_key(row["island"][0].decode()),
                           set()).add(ids[row["row_id"]])
  assert by_spelling == {"biscoe": {0}, "dream": {1}, "torgersen": {2}, "unknown": {0}}


def test_serving_spells_the_same_categories_the_same_way(defect_fixes_run):
  ids, colours = _ids(defect_fixes_run, "island"), _ids(defect_fixes_run, "colour")
  colour_vocabulary = defect_fixes_run.output.vocabulary_by_name("colour")
  assert sorted(colour_vocabulary) == [b"blue", b"light blue", b"other", b"red"]
  assert ids[300] == 0  # bIsCoE
  assert ids[301] == 3  # a full-width Ｄ: no NFKC in the graph, the out-of-vocabulary id
  assert ids[302] == 0  # Unknown: a missing value, imputed with the most frequent
  assert colours[300] == colour_vocabulary.index(b"light blue")  # LIGHT<tab>BLUE
  assert colours[301] == colour_vocabulary.index(b"other")  # absent: the constant, normalised
  assert colours[302] == colour_vocabulary.index(b"red")
  train_colours = {r["row_id"]: r["colour"][0] for r in data.DEFECTS_ROWS}
  for row_id, value in train_colours.items():
    expected = text_normalization.graph_key(value.decode()) or "other"
    assert colour_vocabulary[colours[row_id]] == expected.encode(), value


@pytest.mark.parametrize("name", ["island", "colour"])
def test_no_spelling_of_a_normalized_feature_reaches_the_vocabulary(defect_fixes_run, name):
  for entry in defect_fixes_run.output.vocabulary_by_name(name):
    assert entry == text_normalization.graph_key(entry.decode()).encode()


# --- label.map: spellings of a class → the class, before the class id ---------------------------

def test_label_spellings_take_their_class_id(defect_fixes_run):
  config = defect_fixes_run.config
  assert config["label_classes"] == ["no", "yes"]  # the domain's five spellings, mapped
  assert config["label_map"] == {"No ": "no", "YES": "yes", "Yes": "yes"}
  mapping = config["label_map"]
  expected = [config["label_classes"].index(mapping.get(v, v)) for v in
              (r[data.LABEL][0].decode() for r in data.DEFECTS_ROWS)]
  assert [int(r["label_xf"]) for r in defect_fixes_run.rows] == expected
  assert sorted(set(expected)) == [0, 1]
  # A listed spelling maps at evaluation time too; one the map does not list is no class (-1).
  assert [int(r["label_xf"]) for r in defect_fixes_run.serving_rows] == [1, -1, -1]
