"""Value findings: each kind at its threshold boundary on generated frames; none on real data."""
import numpy as np
import palmerpenguins
import pandas as pd
import pytest
import yaml
import tensorflow_data_validation as tfdv
from sklearn import datasets

from trainguard.components.data_guard import dataset_findings, value_findings
from trainguard.components.data_guard import findings as findings_module
from trainguard.policy import Policy

NEW_KINDS = {"NEAR_CONSTANT_COLUMN", "HIGH_CARDINALITY_CATEGORICAL", "DATETIME_COLUMN",
             "CATEGORY_VARIANTS", "DISGUISED_MISSING_VALUES"}


def _findings(frame, label="y", policy_raw=None):
  stats = tfdv.generate_statistics_from_dataframe(frame)
  schema = tfdv.infer_schema(stats)
  policy = Policy.from_dict(policy_raw or {}, schema=schema)
  return value_findings.value_findings(stats, policy, label)


def _kind(findings, kind):
  return [f for f in findings if f.kind == kind]


def _column(*groups):
  """A list of values from (value, count) pairs."""
  return [v for v, n in groups for _ in range(n)]


# --- no false alarms on clean real data --------------------------------------------------------

def _real_frames():
  penguins = palmerpenguins.load_penguins()
  yield "penguins", penguins, "species"
  for name in ("breast_cancer", "wine", "iris", "digits"):
    bunch = getattr(datasets, f"load_{name}")(as_frame=True)
    frame = bunch.frame.copy()
    # The label as its class names: text, so the text-only kinds judge it too.
    frame["target"] = np.asarray(bunch.target_names)[bunch.target].astype(str)
    yield name, frame, "target"


@pytest.fixture(scope="module")
def real_findings():
  out = {}
  for name, frame, label in _real_frames():
    stats = tfdv.generate_statistics_from_dataframe(frame)
    schema = tfdv.infer_schema(stats)
    out[name] = dataset_findings.dataset_findings(
        {"rows": {}, "labels": {}, "cells": []}, {"train": stats}, schema,
        Policy.from_dict({}, schema=schema), label)
  return out


@pytest.mark.parametrize("name", ["penguins", "breast_cancer", "wine", "iris", "digits"])
def test_clean_real_data_gives_none_of_the_new_kinds(real_findings, name):
  assert [f.line() for f in real_findings[name] if f.kind in NEW_KINDS] == []


# --- NEAR_CONSTANT_COLUMN ------------------------------------------------------------------------

@pytest.mark.parametrize("rows, others, flagged", [
    (900, 9, True),     # 891/900 = 99% exactly, 9 other rows: both at the limit
    (800, 9, False),    # 98.9%: below the share
    (2000, 10, False),  # 99.5%, but 10 other rows are not a handful
    (2000, 0, False),   # constant: CONSTANT_COLUMN's, not this
])
def test_near_constant_boundary(rows, others, flagged):
  frame = pd.DataFrame({"c": _column(("a", rows - others), ("b", others)), "y": "p"})
  found = _kind(_findings(frame), "NEAR_CONSTANT_COLUMN")
  assert bool(found) is flagged
  if flagged:
    (finding,) = found
    assert (finding.feature, finding.split, finding.severity) == ("c", "train", "info")
    assert (finding.measured, finding.threshold) == (pytest.approx(0.99), 0.99)
    assert finding.found == "'a' in 891 of 900 rows (99.00%); 9 row(s) hold 1 other value(s)"
    assert "features.c.exclude: true" in finding.fix


def test_numeric_columns_are_not_judged_near_constant():
  frame = pd.DataFrame({"x": [0.0] * 995 + [1.0] * 5, "y": "p"})  # sparse, not degenerate
  assert _kind(_findings(frame), "NEAR_CONSTANT_COLUMN") == []


# --- HIGH_CARDINALITY_CATEGORICAL ----------------------------------------------------------------

def _names(distinct, rows):
  return [f"car {i % distinct}" for i in range(rows)]


@pytest.mark.parametrize("distinct, rows, flagged", [
    (311, 406, True),  # the car names: 77%
    (50, 100, True),   # 50%: at the threshold
    (49, 100, False),  # 49%: below it
    (96, 100, False),  # 96%: ID_LIKE_COLUMN's
    (15, 20, False),   # 20 rows: too few to tell
])
def test_high_cardinality_boundary(distinct, rows, flagged):
  frame = pd.DataFrame({"name": _names(distinct, rows), "y": "p"})
  found = _kind(_findings(frame), "HIGH_CARDINALITY_CATEGORICAL")
  assert bool(found) is flagged
  if flagged:
    (finding,) = found
    assert (finding.feature, finding.severity, finding.threshold) == ("name", "warn", 0.5)
    assert finding.measured == pytest.approx(distinct / rows)
    assert finding.found.startswith(f"{distinct} distinct values in {rows} rows")
    assert "features.name.exclude: true" in finding.fix
    assert "not yet a policy setting" in finding.fix


# --- DATETIME_COLUMN -----------------------------------------------------------------------------

@pytest.mark.parametrize("text, flagged", [(1, True), (2, False)])
def test_datetime_boundary(text, flagged):
  dates = [f"2021-03-{d:02d}" for d in range(1, 11 - text)]
  frame = pd.DataFrame({"when": dates + [f"note {i}" for i in range(text)], "y": "p"})
  found = _kind(_findings(frame), "DATETIME_COLUMN")
  assert bool(found) is flagged  # 9 of 10 rows dates: 90%, at the threshold; 8: below
  if flagged:
    (finding,) = found
    assert (finding.feature, finding.severity) == ("when", "warn")
    assert (finding.measured, finding.threshold) == (pytest.approx(0.9), 0.9)
    assert "ISO 8601 date" in finding.found
    assert "features.when.exclude: true" in finding.fix and "leaks the future" in finding.fix
    assert "set features.when.datetime: parts (Transform parses it into year" in finding.fix
    assert _kind(_findings(frame), "HIGH_CARDINALITY_CATEGORICAL") == []


def test_a_date_column_expanded_into_parts_still_warns_about_a_random_split():
  frame = pd.DataFrame({"when": [f"03/{d:02d}/2021" for d in range(13, 31)], "y": "p"})
  (finding,) = _kind(_findings(frame), "DATETIME_COLUMN")
  assert "set features.when.datetime: parts_month_first" in finding.fix  # 03/13: month first
  (finding,) = _kind(_findings(frame, policy_raw={"features": {"when": {
      "datetime": "parts_month_first"}}}), "DATETIME_COLUMN")
  assert finding.severity == "warn"
  assert finding.fix.startswith("Transform expands it into its parts (features.when.datetime: "
                                "parts_month_first), but if rows are ordered in time a random")


@pytest.mark.parametrize("value, parses", [
    ("2021-03-04", True), ("2021-03-04T05:06:07Z", True), ("2021-03-04 05:06", True),
    ("2021-03-04T05:06:07.123+01:00", True), ("2021/03/04", True), ("13/03/2021", True),
    ("03/13/2021 10:00", True), ("04.03.2021", True), ("4 Mar 2021", True),
    ("March 4, 2021", True), ("04-Mar-2021", True),
    ("2021", False), ("20210304", False), ("2021-13-04", False), ("3.14159", False),
    ("12:30", False), ("1,234.5678", False), ("v2021-03", False),
])
def test_datetime_formats(value, parses):
  assert (value_findings.datetime_format(value) is not None) is parses


# --- CATEGORY_VARIANTS ---------------------------------------------------------------------------

def test_category_variants_group_spellings_of_a_feature():
  frame = pd.DataFrame({
      "island": _column(("Biscoe", 20), ("biscoe", 3), ("Biscoe ", 2), ("Ｄｒｅａｍ", 1),
                        ("Dream", 10), ("Torgersen", 4)),
      "y": "p"})
  (finding,) = _kind(_findings(frame), "CATEGORY_VARIANTS")
  assert (finding.feature, finding.severity, finding.threshold) == ("island", "warn", None)
  assert finding.found == ("2 group(s) of spellings: 'Biscoe' (20) / 'biscoe' (3) / 'Biscoe ' (2); "
                           "'Dream' (10) / 'Ｄｒｅａｍ' (1)")
  assert finding.measured == pytest.approx(6 / 40)
  # The fix names the key for the group the graph merges, and what it cannot merge (NFKC).
  assert ("set features.island.normalize: true (Transform lower-cases, collapses white space and "
          "trims before the vocabulary, at serving too; it merges 1 of these 2 group(s))"
          in finding.fix)
  assert "Transform cannot merge 'Dream' / 'Ｄｒｅａｍ' (they differ by Unicode NFKC" in finding.fix


def test_normalize_true_leaves_only_the_groups_the_graph_cannot_merge():
  frame = pd.DataFrame({
      "island": _column(("Biscoe", 20), ("biscoe", 3), ("Biscoe ", 2), ("Ｄｒｅａｍ", 1),
                        ("Dream", 10), ("dream", 2), ("Torgersen", 4)),
      "y": "p"})
  (finding,) = _kind(_findings(frame, policy_raw={"features": {"island": {"normalize": True}}}),
                     "CATEGORY_VARIANTS")
  assert finding.found == "1 group(s) of spellings: 'Dream' (10) / 'dream' (2) / 'Ｄｒｅａｍ' (1)"
  assert "normalize: true" not in finding.fix  # set already; it merges Dream / dream
  assert "Transform cannot merge 'dream' / 'Ｄｒｅａｍ'" in finding.fix
  frame = frame[frame.island != "Ｄｒｅａｍ"]
  assert _kind(_findings(frame, policy_raw={"features": {"island": {"normalize": True}}}),
               "CATEGORY_VARIANTS") == []


def test_category_variants_on_the_label_block():
  frame = pd.DataFrame({"x": range(30), "species": _column(("Adelie", 20), ("adelie", 10))})
  (finding,) = _kind(_findings(frame, label="species"), "CATEGORY_VARIANTS")
  assert (finding.feature, finding.severity) == ("species", "block")
  assert "fake extra classes" in finding.fix


def test_label_variants_block_until_label_map_sends_them_to_their_class():
  frame = pd.DataFrame({"x": range(40), "species": _column(("Adelie", 20), ("adelie", 8),
                                                           ("Adelie ", 2), ("Gentoo", 10))})
  (finding,) = _kind(_findings(frame, label="species"), "CATEGORY_VARIANTS")
  assert finding.severity == "block"  # findings.label, the default
  assert 'label.map: {"adelie": "Adelie", "Adelie ": "Adelie"} in policy.yaml' in finding.fix
  # The suggested entry is a valid policy, and with it the finding is gone.
  entry = finding.fix.split("label.map: ")[1].split(" in policy.yaml")[0]
  raw = {"label": {"map": yaml.safe_load(entry)}}
  assert _kind(_findings(frame, label="species", policy_raw=raw), "CATEGORY_VARIANTS") == []
  partial = {"label": {"map": {"adelie": "Adelie"}}}
  (left,) = _kind(_findings(frame, label="species", policy_raw=partial), "CATEGORY_VARIANTS")
  assert left.severity == "block" and left.found == ("1 group(s) of spellings: 'Adelie' (20) / "
                                                     "'adelie' (8) / 'Adelie ' (2)")
  assert 'label.map: {"adelie": "Adelie", "Adelie ": "Adelie"} in' in left.fix  # the whole map


def test_values_that_differ_in_more_than_spelling_are_not_variants():
  frame = pd.DataFrame({"c": _column(("ab", 5), ("a b", 5), ("a-b", 5), ("abc", 5)), "y": "p"})
  assert _kind(_findings(frame), "CATEGORY_VARIANTS") == []


# --- DISGUISED_MISSING_VALUES --------------------------------------------------------------------

def test_placeholder_strings_are_disguised_missing_values():
  frame = pd.DataFrame({
      "sex": _column(("male", 40), ("female", 40), ("Unknown", 12), ("N/A", 5), (" ", 2),
                     ("?", 1)),
      "y": "p"})
  (finding,) = _kind(_findings(frame), "DISGUISED_MISSING_VALUES")
  assert (finding.feature, finding.severity, finding.threshold) == ("sex", "warn", None)
  assert finding.found == ("'Unknown' in 12 row(s), 'N/A' in 5 row(s), ' ' in 2 row(s), '?' in "
                           "1 row(s): 20 of 100 rows (20.0%)")
  assert finding.measured == pytest.approx(0.2)
  assert 'features.sex.missing_values: ["Unknown", "N/A", "?"]' in finding.fix
  assert "blank values are missing already" in finding.fix and "features.sex.info" in finding.fix
  assert _kind(_findings(frame), "CATEGORY_VARIANTS") == []  # placeholders are not variants


def test_the_suggested_missing_values_are_a_valid_policy_entry():
  frame = pd.DataFrame({"sex": _column(("male", 40), ("unknown", 10), ("-", 3)), "y": "p"})
  (finding,) = _kind(_findings(frame), "DISGUISED_MISSING_VALUES")
  entry = finding.fix.split("features.sex.missing_values: ")[1].split(" (")[0]
  stats = tfdv.generate_statistics_from_dataframe(frame)
  policy = Policy.from_dict({"features": {"sex": {"missing_values": yaml.safe_load(entry)}}},
                            schema=tfdv.infer_schema(stats))
  assert policy.treatment("sex", "categorical")["missing_values"] == ["unknown", "-"]


def test_placeholders_in_the_label_are_fixed_at_the_source():
  frame = pd.DataFrame({"x": _column(("a", 50), ("b", 50)),
                        "y": _column(("p", 60), ("q", 35), ("unknown", 5))})
  (finding,) = _kind(_findings(frame), "DISGUISED_MISSING_VALUES")
  assert finding.severity == "block" and "--na-values" in finding.fix
  assert "missing_values" not in finding.fix


def test_words_that_only_contain_a_placeholder_are_not_one():
  frame = pd.DataFrame({"c": _column(("unknowns", 5), ("not known", 5), ("n.a.", 5),
                                     ("none of these", 5)), "y": "p"})
  assert _kind(_findings(frame), "DISGUISED_MISSING_VALUES") == []


def test_excluded_features_are_not_judged_but_a_date_column_still_warns():
  frame = pd.DataFrame({"c": _column(("x", 5), ("unknown", 5)),
                        "when": [f"2021-03-{d:02d}" for d in range(1, 11)], "y": "p"})
  findings = _findings(frame, policy_raw={"features": {"c": {"exclude": True},
                                                       "when": {"exclude": True}}})
  assert [(f.kind, f.feature) for f in findings] == [("DATETIME_COLUMN", "when")]
  assert findings[0].fix.startswith("it is excluded from the model (policy), but if rows")


def test_diagnose_ranks_split_categories_before_wasted_columns():
  frame = pd.DataFrame({"c": _column(("a", 995), ("b", 5)), "d": _column(("x", 500), ("X", 500)),
                        "y": "p"})
  report = findings_module.FindingsReport(_findings(frame, policy_raw={
      "findings": {"warn": ["NEAR_CONSTANT_COLUMN", "CATEGORY_VARIANTS"]}}))
  ranked = findings_module.format_ranked(report)
  assert ranked.index("CATEGORY_VARIANTS") < ranked.index("NEAR_CONSTANT_COLUMN")


def test_judging_values_imports_no_tensorflow(without_heavy_imports):
  without_heavy_imports(
      "from tensorflow_metadata.proto.v0 import statistics_pb2\n"
      "from trainguard.components.data_guard import value_findings\n"
      "from trainguard.policy import Policy\n"
      "s = statistics_pb2.DatasetFeatureStatisticsList()\n"
      "f = s.datasets.add(num_examples=30).features.add(type=statistics_pb2.FeatureNameStatistics"
      ".STRING)\n"
      "f.path.step.append('c')\n"
      "f.string_stats.unique = 2\n"
      "f.string_stats.common_stats.tot_num_values = 30\n"
      "for v, n in (('a', 20), ('A', 10)):\n"
      "  f.string_stats.rank_histogram.buckets.add(label=v, sample_count=n)\n"
      "(found,) = value_findings.value_findings(s, Policy.from_dict({}), 'y')\n"
      "assert found.kind == 'CATEGORY_VARIANTS', found\n")


def test_placeholders_the_policy_lists_as_missing_values_are_not_reported_again():
  frame = pd.DataFrame({"sex": _column(("male", 40), ("unknown", 10), ("-", 3)), "y": "p"})
  (finding,) = _kind(_findings(frame, policy_raw={"features": {"sex": {"missing_values": [
      "unknown"]}}}), "DISGUISED_MISSING_VALUES")
  assert finding.found.startswith("'-' in 3 row(s)")
  assert _kind(_findings(frame, policy_raw={"features": {"sex": {"missing_values": [
      "unknown", "-"]}}}), "DISGUISED_MISSING_VALUES") == []



def test_a_normalized_feature_matches_its_missing_values_normalised_as_transform_does():
  frame = pd.DataFrame({"sex": _column(("male", 40), ("Unknown", 10), ("UNKNOWN", 3)), "y": "p"})
  (finding,) = _kind(_findings(frame, policy_raw={"features": {"sex": {"missing_values": [
      "unknown"]}}}), "DISGUISED_MISSING_VALUES")  # case-sensitive without normalize
  assert finding.found.startswith("'Unknown' in 10 row(s), 'UNKNOWN' in 3 row(s)")
  assert _kind(_findings(frame, policy_raw={"features": {"sex": {
      "missing_values": ["unknown"], "normalize": True}}}), "DISGUISED_MISSING_VALUES") == []
