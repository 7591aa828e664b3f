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
  assert policy.threshold("skew", "c", numeric=False) == 0.3


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
  assert policy.threshold_with_source("drift", "c", False) == (0.3, "thresholds.drift.categorical")
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
