"""The real-world-defect fixes in the graph (issue 21), on one Beam run of their own data (the
`defect_fixes_run` fixture): `normalize` merges spellings before the vocabulary, `label.map` sends
a label's spellings to their class, `datetime: parts` expands a date column into numbers."""
import datetime

import pytest
import tensorflow as tf

from trainguard.components.data_guard import value_findings
from trainguard.models import datetime_parts
from trainguard.models import fixtures as data
from trainguard.models import preprocessing_summary
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


# --- datetime: parts ------------------------------------------------------------------------------

# strptime's reading (DataGuard's DATETIME_COLUMN) against the graph's, value by value.
_DATES = [
    "2021-03-04", "2021-3-4", "2024-02-29", "2023-02-29", "2021-03-04T05:06", "2021-03-04 05:06:07",
    "2021-03-04t05:06:07.890", "2021-03-04T05:06:07.890123+01:00", "2021-03-04T05:06Z",
    "2021-03-04T05:06z", "2021-03-04   23:59", "2021-03-04T24:00", "2021/03/04",
    "2021/03/04 05:06", "2021/3/4 5:6:7", "04/03/2021", "03/25/2021", "25/03/2021 10:30",
    "31/02/2021", "13/13/2021", "04.03.2021", "4.3.2021", "4 Mar 2021", "4 march 2021",
    "Mar 4, 2021", "MARCH 4, 2021", "04-Mar-2021", "4 Sept 2021", "4 Marc 2021", "0000-01-01",
    "1900-01-01", "1969-12-31", "2000-02-29", "2100-02-29", "2021", "20210304", "05:06", "hello",
    "", "2021-03-04 ", " 2021-03-04", "2021-03-04T05:06:07+0100", "2021-03-04T05:06:07+01",
    "2021-13-01", "1/ 3/2021", "2021-03-04\n05:06", "2021-03-04T05:06:07.1234567",
    "Mar  4,  2021", "2021-03-04T05:06:60", "2021-03-04T05:6", "2021-03-04T5:06"]


def _strptime_parts(value):
  """(year, month, day, day of week, hour or None) as DataGuard reads `value`, or None."""
  fmt = value_findings.datetime_format(value)
  if fmt is None:
    return None
  d = datetime.datetime.strptime(value.strip(), fmt)
  return d.year, d.month, d.day, d.weekday(), d.hour if "%H" in fmt else None


def test_the_graph_parses_what_datetime_column_recognises_as_strptime_does():
  values = tf.constant([[v] for v in _DATES])
  parts, known = datetime_parts.parse(values, tf.ones_like(values, dtype=tf.bool))
  got = []
  for i in range(len(_DATES)):
    if not known["year"][i, 0]:
      got.append(None)
      continue
    got.append(tuple(int(parts[p][i, 0]) for p in ("year", "month", "day", "day_of_week"))
               + ((int(parts["hour"][i, 0]) if known["hour"][i, 0] else None),))
  assert got == [_strptime_parts(v) for v in _DATES]
  assert got[_DATES.index("03/25/2021")] == (2021, 3, 25, 3, None)  # a Thursday


def test_month_first_reads_an_ambiguous_date_the_other_way():
  values = tf.constant([["04/03/2021"], ["25/03/2021"]])
  parts, known = datetime_parts.parse(values, tf.ones_like(values, dtype=tf.bool),
                                      "parts_month_first")
  assert parts["month"][:, 0].numpy().tolist() == [4, 3]  # 3 April; 25 cannot be a month
  assert parts["day"][:, 0].numpy().tolist() == [3, 25]


def test_date_parts_are_numbers_and_missing_dates_are_imputed(defect_fixes_run):
  rows = {r["row_id"]: r for r in defect_fixes_run.rows + defect_fixes_run.serving_rows}
  expected = {r["row_id"]: _strptime_parts(r["when"][0].decode()) for r in data.DEFECTS_ROWS}
  expected.update({300: (2024, 2, 29, 3, 8), 301: None, 302: None})
  assert [i for i, e in expected.items() if e is None] == [10, 11, 12, 301, 302]
  assert expected[2] == (2020, 2, 29, 5, 23) and expected[13] == (1969, 12, 31, 2, 12)
  train = [e for i, e in expected.items() if e is not None and i < 100]
  for k, part in enumerate(("year", "month", "day", "day_of_week", "hour")):
    known = [e[k] for e in train if e[k] is not None]
    mean = sum(known) / len(known)  # the imputed value: the train mean of the part's values
    for row_id, e in expected.items():
      want = mean if e is None or e[k] is None else e[k]
      assert rows[row_id][f"when_{part}_xf"] == pytest.approx(want, rel=1e-6), (row_id, part)
  indicator = {i: rows[i]["when_was_missing_xf"] for i in expected}
  assert indicator == {i: float(e is None) for i, e in expected.items()}
  assert "when_xf" not in rows[0]  # no vocabulary of dates


def test_the_transform_summary_names_the_date_parts(defect_fixes_run):
  summary = preprocessing_summary.summarize(defect_fixes_run.output, defect_fixes_run.config)
  when = summary["features"]["when"]
  assert when["datetime_parts"] == [f"when_{p}_xf" for p in datetime_parts.PARTS]
  assert "excluded" not in when and when["missing_indicator"] is True
  assert summary["label"]["classes"] == ["no", "yes"]
