"""The policy file is validated on load, before TensorFlow or Beam start."""

import pytest
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from trainguard import schemas
from trainguard.policy import Policy, PolicyError

SCHEMA = text_format.Parse("""
feature { name: "x" type: FLOAT }
feature { name: "c" type: BYTES }
feature { name: "y" type: BYTES }
""", schema_pb2.Schema())


def _load(raw):
  return Policy.from_dict(raw, source="policy.yaml", schema=SCHEMA)


def test_defaults_block_type_changes_and_warn_on_low_presence():
  policy = _load({})
  assert policy.severity("UNEXPECTED_DATA_TYPE", "x") == "block"
  assert policy.severity("STRING_TYPE_NOW_FLOAT", "x") == "block"  # glob
  assert policy.severity("FEATURE_TYPE_LOW_FRACTION_PRESENT", "x") == "warn"
  assert policy.severity("FEATURE_TYPE_LOW_FRACTION_PRESENT", "y", is_label=True) == "block"
  assert policy.severity("MISSING_VALUES", "x") == "info"
  assert policy.severity("SOMETHING_NEW", "x") == "warn"
  assert policy.threshold("skew", "c", numeric=False) == 0.15
  assert policy.threshold("drift", "x", numeric=True) == 0.4


def test_per_feature_settings_override_the_global_ones():
  policy = _load({"features": {"x": {"skew": 0.1, "info": ["UNEXPECTED_DATA_TYPE"],
                                     "exclude": True}},
                  "findings": {"default": "block"}})
  assert policy.threshold("skew", "x", numeric=True) == 0.1
  assert policy.severity("UNEXPECTED_DATA_TYPE", "x") == "info"
  assert policy.severity("SOMETHING_NEW", "c") == "block"
  assert policy.excluded_features() == ["x"]


def test_missing_indicators_default_off_and_can_be_set_globally_or_per_feature():
  assert _load({}).data["preprocessing"]["missing_indicators"] is False
  policy = _load({"preprocessing": {"missing_indicators": True},
                  "features": {"x": {"missing_indicator": False, "impute": "constant:0"},
                               "c": {"impute": "constant:unknown"}}})
  assert policy.data["preprocessing"]["missing_indicators"] is True
  assert policy.data["features"]["x"]["missing_indicator"] is False


def test_json_round_trip_keeps_everything():
  policy = _load({"features": {"x": {"impute": "median"}}})
  again = Policy.from_json(policy.to_json())
  assert again.data == policy.data and again.source == "policy.yaml"


@pytest.mark.parametrize("raw, message", [
    ({"blokc": {}}, "unknown key blokc"),
    ({"findings": {"block": "UNEXPECTED_DATA_TYPE"}}, "findings.block must be a list"),
    ({"findings": {"default": "stop"}}, "findings.default is 'stop'"),
    ({"thresholds": {"skew": {"categorical": 3}}}, "thresholds.skew.categorical is 3"),
    ({"features": {"z": {"impute": "mean"}}}, "features.z names a feature the schema does not"),
    ({"features": {"c": {"impute": "median"}}}, "features.c.impute is 'median', which needs numbers"),
    ({"features": {"c": {"scale": "z_score"}}}, "scaling applies to numeric features only"),
    ({"features": {"x": {"impute": "avg"}}}, "features.x.impute is 'avg'"),
    ({"features": {"x": {"impute": "constant:abc"}}}, "the constant must be a number"),
    ({"features": {"x": {"scale": "bucketize:1"}}}, "bucketize:<n> with n ≥ 2"),
    ({"features": {"x": {"colour": 1}}}, "unknown key features.x.colour"),
    ({"features": {"x": {"exclude": "yes"}}}, "features.x.exclude is 'yes'"),
    ({"features": {"x": {"missing_indicator": 1}}}, "features.x.missing_indicator is 1"),
    ({"features": {"x": {"impute": "constant:nan"}}}, "the constant must be a finite number"),
    ({"features": {"c": {"impute": "constant: "}}}, "a categorical constant must be a non-empty"),
    ({"preprocessing": {"missing_indicators": "no"}}, "preprocessing.missing_indicators is 'no'"),
    ({"preprocessing": {"numeric": {"scal": "none"}}}, "unknown key preprocessing.numeric.scal"),
    ({"preprocessing": {"categorical": "vocabulary"}}, "preprocessing.categorical must be a"),
    ({"rebalance": {"strategy": "smoote"}}, "rebalance.strategy is 'smoote'"),
    ({"rebalance": {"k_neighbors": 0}}, "rebalance.k_neighbors is 0"),
    ({"rebalance": {"sampling_strategy": 2.0}}, "must be in (0, 1]"),
    ({"version": 2}, "version 2 is not supported"),
    ({"features": {"x": {"missing_values": ["unknown"]}}}, "features.x.missing_values"),
    ({"features": {"c": {"missing_values": [-999]}}}, "features.c.missing_values"),
    ({"features": {"x": {"missing_values": []}}}, "non-empty list"),
    ({"features": {"x": {"missing_values": [1, "a"]}}}, "all numbers"),
    ({"features": {"x": {"missing_values": [float("inf")]}}}, "finite numbers only"),
    ({"features": {"c": {"missing_values": ["  "]}}}, "counts as missing already"),
    ({"features": {"x": {"clip": [0.01]}}}, "features.x.clip"),
    ({"features": {"x": {"clip": [0.5, 0.2]}}}, "0 < q_low < q_high < 1"),
    ({"features": {"x": {"clip": [0.0, 0.99]}}}, "0 < q_low < q_high < 1"),
    ({"features": {"x": {"clip": [0.0125, 0.99]}}}, "multiple of 0.001"),
    ({"features": {"c": {"clip": [0.01, 0.99]}}}, "categorical"),
    ({"features": {"c": {"normalize": "yes"}}}, "features.c.normalize is 'yes'; use true or"),
    ({"features": {"x": {"normalize": True}}}, "features.x.normalize is true, but the feature is "
                                               "numeric"),
    ({"features": {"c": {"datetime": True}}}, "features.c.datetime is True; use parts"),
    ({"features": {"x": {"datetime": "parts"}}}, "features.x.datetime is set, but the feature is "
                                                 "numeric"),
    ({"features": {"c": {"datetime": "parts", "impute": "most_frequent"}}},
     "features.c.impute does not apply with datetime"),
    ({"features": {"c": {"datetime": "parts", "normalize": True}}},
     "features.c.normalize does not apply with datetime"),
    ({"label": {"map": {"adelie": 1}}}, "spellings and classes are text: quote them"),
    ({"label": {"map": {True: "yes"}}}, "quote them (YAML reads yes/no/true/1"),
    ({"label": {"map": ["adelie", "Adelie"]}}, "label.map is ['adelie', 'Adelie']; map each"),
    ({"label": {"map": {"a": "a"}}}, "to another, non-empty class"),
    ({"label": {"map": {" ": "a"}}}, "map a non-empty spelling"),
    ({"label": {"map": {"a": "b", "b": "c"}}}, "maps 'a' to 'b', which it maps again (to 'c')"),
])
def test_bad_policies_are_rejected_with_the_key_and_the_fix(raw, message):
  with pytest.raises(PolicyError) as raised:
    _load(raw)
  assert message in str(raised.value)
  assert str(raised.value).startswith("policy.yaml: ")


def test_yaml_syntax_error_names_the_file(tmp_path):
  (tmp_path / "policy.yaml").write_text("findings: [unclosed\n")
  with pytest.raises(PolicyError, match=r"policy.yaml, line 2, column 1: not valid YAML"):
    Policy.load(str(tmp_path), SCHEMA)


def test_folder_without_a_policy_gets_the_defaults(tmp_path):
  assert Policy.load(str(tmp_path), SCHEMA).source == "<default policy>"


def test_shipped_penguins_policy_is_valid_and_loads_without_tensorflow():
  folder = schemas.schema_dir("penguins")
  with open(f"{folder}/schema.pbtxt") as f:
    schema = text_format.Parse(f.read(), schema_pb2.Schema())
  policy = Policy.load(folder, schema)
  assert policy.source.endswith("schemas/penguins/policy.yaml")


def test_loading_a_policy_does_not_import_tensorflow(without_heavy_imports):
  without_heavy_imports("from trainguard import schemas\nfrom trainguard.policy import Policy\n"
                        "Policy.load(schemas.schema_dir('penguins'))\n")


def test_accessors_say_which_key_decided():
  policy = _load({"features": {"x": {"skew": 0.1, "warn": ["UNEXPECTED_DATA_TYPE"],
                                     "scale": "min_max"}}})
  assert policy.severity_with_source("UNEXPECTED_DATA_TYPE", "x") == ("warn", "features.x.warn")
  assert policy.severity_with_source("UNEXPECTED_DATA_TYPE", "c") == ("block", "findings.block")
  assert policy.severity_with_source("ANYTHING", "y", is_label=True) == ("block", "findings.label")
  assert policy.severity_with_source("SOMETHING_NEW") == ("warn", "findings.default")
  assert policy.threshold_with_source("skew", "x", True) == (0.1, "features.x.skew")
  assert policy.threshold_with_source("drift", "c", False) == (0.15, "thresholds.drift.categorical")
  assert policy.treatment_with_source("x", "numeric") == [
      ("impute", "mean", "preprocessing.numeric.impute"), ("scale", "min_max", "features.x.scale")]
  assert policy.dataset_threshold("imbalance_ratio") == 1.5


def test_id_like_follows_the_policy_threshold_and_needs_enough_rows():
  policy = _load({"thresholds": {"dataset": {"id_like_fraction": 0.5}}})
  assert policy.is_id_like(60, 100) and not policy.is_id_like(40, 100)
  assert not policy.is_id_like(20, 20)  # too few rows to tell an identifier
  assert not _load({}).is_id_like(60, 100)


def test_with_overrides_returns_a_new_policy_and_keeps_a_reviewers_exclude_false():
  policy = _load({"features": {"c": {"exclude": False}}})
  changed = policy.with_overrides(strategy="smote", class_weights=True, exclude=["x", "c"])
  assert changed.rebalance.strategy == "smote" and changed.rebalance.class_weights
  assert changed.excluded_features() == ["x"]
  assert policy.rebalance.strategy == "auto" and policy.excluded_features() == []
  with pytest.raises(PolicyError, match="not one of"):
    policy.with_overrides(strategy="smoot")


def test_treatment_resolves_constants_and_buckets():
  policy = _load({"features": {"x": {"impute": "constant:0", "scale": "bucketize:4"},
                               "c": {"exclude": True}}})
  assert policy.treatment("x", "numeric") == {
      "kind": "numeric", "impute": "constant", "impute_value": 0.0, "scale": "bucketize",
      "num_buckets": 4, "missing_indicator": False, "excluded": False}
  assert policy.treatment("c", "categorical")["excluded"] is True
  assert policy.treatment_with_source("c", "categorical") == [("exclude", True,
                                                               "features.c.exclude")]


def test_missing_values_and_clip_resolve_per_kind():
  policy = _load({"features": {"x": {"missing_values": [-999, 9999.5], "clip": [0.01, 0.99]},
                               "c": {"missing_values": ["unknown", "-"]}}})
  x = policy.treatment("x", "numeric")
  assert x["missing_values"] == [-999.0, 9999.5] and x["clip"] == [0.01, 0.99]
  assert policy.treatment("c", "categorical")["missing_values"] == ["unknown", "-"]
  assert "clip" not in policy.treatment("c", "categorical")


def test_label_map_gives_the_classes_a_model_learns():
  policy = _load({"label": {"map": {"adelie": "Adelie", "Adelie ": "Adelie"}}})
  assert policy.label_map == {"adelie": "Adelie", "Adelie ": "Adelie"}
  assert policy.label_classes(["Adelie", "Adelie ", "Gentoo", "adelie"]) == ["Adelie", "Gentoo"]
  assert policy.label_classes(["adelie", "Gentoo", "Adelie"]) == ["Adelie", "Gentoo"]
  assert Policy.default().label_classes(["b", "a"]) == ["b", "a"]
  assert Policy.from_json(policy.to_json()).label_map == policy.label_map
  assert [policy.label_class(v) for v in ("adelie", "Adelie ", "Gentoo", "gentoo")] == [
      "Adelie", "Adelie", "Gentoo", "gentoo"]  # an unmapped spelling stays its own value


def test_datetime_parts_take_the_numeric_defaults():
  policy = _load({"features": {"c": {"datetime": "parts_month_first"}},
                  "preprocessing": {"numeric": {"impute": "none", "scale": "min_max"}}})
  dates = policy.treatment("c", "categorical")["datetime"]
  assert dates == {"order": "parts_month_first",
                   "parts": ["year", "month", "day", "day_of_week", "hour"],
                   "treatment": {"kind": "numeric", "impute": "none", "scale": "min_max"}}
  assert policy.treatment("c", "categorical")["missing_indicator"] is True  # impute none


def test_normalize_reaches_the_categorical_treatment_only_when_set():
  policy = _load({"features": {"c": {"normalize": True}}})
  assert policy.treatment("c", "categorical")["normalize"] is True
  assert "normalize" not in _load({"features": {"c": {"normalize": False}}}).treatment(
      "c", "categorical")


# --- loading fails loudly ------------------------------------------------------------------------


def test_a_missing_folder_is_an_error_naming_it(tmp_path):
  with pytest.raises(PolicyError) as raised:
    Policy.load(str(tmp_path / "no" / "such"))
  assert str(raised.value).startswith(f"{tmp_path / 'no' / 'such'}: no such folder")
  assert "Policy.default()" in str(raised.value)


def test_the_policy_file_itself_is_an_error_naming_its_folder(tmp_path):
  (tmp_path / "policy.yaml").write_text("version: 1\n")
  with pytest.raises(PolicyError, match=rf"a file, not a folder; .*pass its folder, "
                                        rf"'{tmp_path}'"):
    Policy.load(tmp_path / "policy.yaml")  # os.PathLike too
  assert Policy.load(tmp_path).source == str(tmp_path / "policy.yaml")


def test_a_misnamed_policy_file_is_not_silently_ignored(tmp_path):
  (tmp_path / "policy.yml").write_text("findings: {default: block}\n")
  with pytest.raises(PolicyError, match=r"policy.yml: trainguard reads policy.yaml only"):
    Policy.load(str(tmp_path))


@pytest.mark.parametrize("raw, message", [
    ({"findings": {"block": ["UNEXPECTD_DATA_TYPE"]}},
     "findings.block names 'UNEXPECTD_DATA_TYPE', which is no finding kind; did you mean "
     "UNEXPECTED_DATA_TYPE?"),
    ({"findings": {"warn": ["class_imbalance"]}}, "did you mean CLASS_IMBALANCE?"),
    ({"findings": {"info": ["STRING_TYPE_WAS_*"]}},
     "the pattern 'STRING_TYPE_WAS_*', which matches no finding kind"),
    ({"features": {"x": {"warn": ["OUTLIER"]}}},
     "features.x.warn names 'OUTLIER', which is no finding kind; did you mean OUTLIERS?"),
    ({"findings": {"blok": []}}, "unknown key findings.blok; did you mean block?"),
    ({"finding": {}}, "unknown key finding; did you mean findings?"),
    ({"thresholds": {"dataset": {"imbalance_ration": 2}}},
     "unknown key thresholds.dataset.imbalance_ration; did you mean imbalance_ratio?"),
    ({"features": {"X": {"impute": "mean"}}},
     "features.X names a feature the schema does not have; did you mean x?"),
    ({"findings": {"replace": "yes"}}, "findings.replace is 'yes'; use true or false"),
    ({"label": {"mapping": {}}}, "unknown key label.mapping; did you mean map?"),
    ({"lable": {}}, "unknown key lable; did you mean label?"),
    ({"features": {"c": {"normalise": True}}},
     "unknown key features.c.normalise; did you mean normalize?"),
    ({"findings": {"block": ["LABEL_LEAKAGE"], "warn": ["LABEL_LEAKAGE"]}},
     "'LABEL_LEAKAGE' is in both findings.block and findings.warn; keep it in one"),
])
def test_unknown_names_are_errors_with_the_closest_valid_name(raw, message):
  with pytest.raises(PolicyError) as raised:
    _load(raw)
  assert message in str(raised.value)


def test_a_feature_unknown_to_a_schema_given_later_is_caught_then():
  policy = Policy.from_dict({"features": {"speces": {"exclude": True}}})  # no schema yet
  with pytest.raises(PolicyError, match="features.speces names a feature the schema does not "
                                        "have; did you mean"):
    policy.check_against(text_format.Parse('feature { name: "species" type: BYTES }',
                                           schema_pb2.Schema()))
  assert _load({"features": {"x": {"exclude": True}}}).check_against(SCHEMA).is_excluded("x")


# --- lists extend the defaults -------------------------------------------------------------------


def test_a_short_block_list_adds_to_the_default_blocking_kinds():
  policy = _load({"findings": {"block": ["CLASS_IMBALANCE"]}})
  for kind in ("CLASS_IMBALANCE", "UNEXPECTED_DATA_TYPE", "SCHEMA_MISSING_COLUMN",
               "COMPARATOR_L_INFTY_HIGH", "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH",
               "LABEL_LEAKAGE", "STRING_TYPE_NOW_FLOAT"):
    assert policy.severity(kind, "x") == "block", kind
  assert policy.severity("MISSING_VALUES", "x") == "info"  # the other default lists stay too


def test_the_users_list_wins_over_the_defaults_for_a_kind_in_two_lists():
  policy = _load({"findings": {"warn": ["LABEL_LEAKAGE", "STRING_TYPE_NOW_INT"],
                               "info": ["FLOAT_TYPE_*"]}})
  assert policy.severity_with_source("LABEL_LEAKAGE", "x") == ("warn", "findings.warn")
  assert "LABEL_LEAKAGE" not in policy.data["findings"]["block"]
  # Part of a default pattern moved: the rest of it still blocks.
  assert policy.severity("STRING_TYPE_NOW_INT", "x") == "warn"
  assert policy.severity("STRING_TYPE_NOW_FLOAT", "x") == "block"
  # A pattern of the user's over default kinds of another list.
  assert policy.severity("FLOAT_TYPE_NOT_FLOAT", "x") == "info"
  assert policy.severity("FLOAT_TYPE_HAS_NAN", "x") == "info"


def test_an_exact_kind_beats_a_pattern_in_the_users_own_lists():
  policy = _load({"findings": {"block": ["FEATURE_TYPE_*"],
                               "warn": ["FEATURE_TYPE_LOW_FRACTION_PRESENT"]}})
  assert policy.severity("FEATURE_TYPE_LOW_FRACTION_PRESENT", "x") == "warn"
  assert policy.severity("FEATURE_TYPE_LOW_NUMBER_PRESENT", "x") == "block"


def test_replace_true_makes_the_lists_the_whole_story():
  policy = _load({"findings": {"replace": True, "block": ["CLASS_IMBALANCE"]}})
  assert policy.data["findings"]["block"] == ["CLASS_IMBALANCE"]
  assert policy.data["findings"]["warn"] == [] and policy.data["findings"]["info"] == []
  assert policy.severity("UNEXPECTED_DATA_TYPE", "x") == "warn"  # findings.default
  assert policy.severity("CLASS_IMBALANCE", "x") == "block"
  assert "replace" not in policy.data["findings"]  # it decides the merge; the data is the result
