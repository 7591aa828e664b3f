"""The policy file is validated on load, before TensorFlow or Beam start."""
import subprocess
import sys

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


def test_loading_a_policy_does_not_import_tensorflow():
  code = ("import sys; from trainguard import schemas; from trainguard.policy import Policy; "
          "Policy.load(schemas.schema_dir('penguins')); "
          "assert 'tensorflow' not in sys.modules, 'tensorflow imported'")
  subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
