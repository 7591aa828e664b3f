"""The plan is resolved in plain Python, from the schema's types and the policy, before Beam."""
import json

import pytest
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from trainguard import schemas
from trainguard.models import preprocessing_plan
from trainguard.policy import Policy

SCHEMA = text_format.Parse("""
feature { name: "x" type: FLOAT }
feature { name: "n" type: INT }
feature { name: "c" type: BYTES }
feature { name: "y" type: BYTES }
""", schema_pb2.Schema())


def _config(raw_policy=None, schema=SCHEMA):
  policy = Policy.from_dict(raw_policy or {}, source="policy.yaml", schema=schema)
  return preprocessing_plan.transform_config(policy, schema, "y", ["a", "b"])


def test_defaults_by_type_and_the_label_left_out():
  config = _config()
  assert config["label_key"] == "y" and config["label_classes"] == ["a", "b"]
  assert config["excluded_features"] == []
  assert config["features"] == {
      "c": {"kind": "categorical", "impute": "most_frequent", "encode": "vocabulary",
            "missing_indicator": False, "excluded": False},
      "n": {"kind": "numeric", "impute": "mean", "scale": "z_score", "missing_indicator": False,
            "excluded": False},
      "x": {"kind": "numeric", "impute": "mean", "scale": "z_score", "missing_indicator": False,
            "excluded": False},
  }


def test_per_feature_entries_override_the_type_defaults():
  config = _config({
      "preprocessing": {"numeric": {"scale": "min_max"}, "missing_indicators": True},
      "features": {
          "x": {"impute": "constant:-1.5", "scale": "bucketize:5", "missing_indicator": False},
          "c": {"impute": "constant:unknown", "exclude": True},
      },
  })
  features = config["features"]
  assert features["x"] == {"kind": "numeric", "impute": "constant", "impute_value": -1.5,
                           "scale": "bucketize", "num_buckets": 5, "missing_indicator": False,
                           "excluded": False}
  assert features["n"]["scale"] == "min_max" and features["n"]["missing_indicator"] is True
  assert features["c"]["impute_value"] == "unknown" and features["c"]["excluded"] is True
  assert config["excluded_features"] == ["c"]


def test_impute_none_turns_the_missing_indicator_on_unless_the_policy_says_no():
  config = _config({"features": {"x": {"impute": "none"},
                                 "n": {"impute": "none", "missing_indicator": False}}})
  features = config["features"]
  assert features["x"]["missing_indicator"] is True
  assert features["n"]["missing_indicator"] is False


def test_config_is_json_and_survives_a_round_trip():
  config = _config({"features": {"x": {"impute": "median", "scale": "bucketize:3"}}})
  assert json.loads(json.dumps(config)) == config
  preprocessing_plan.check_config(config)


def test_schema_may_be_given_as_a_path(tmp_path):
  path = tmp_path / "schema.pbtxt"
  path.write_text(text_format.MessageToString(SCHEMA))
  assert preprocessing_plan.transform_config(None, str(path), "y", ["a", "b"]) == _config()


def test_a_config_without_a_plan_gets_the_same_treatments_as_the_default_policy():
  legacy = preprocessing_plan.config_from_kinds(
      {"x": "numeric", "n": "numeric", "c": "categorical", "y": "categorical"}, "y", ["a", "b"],
      excluded_features=["n"])
  expected = _config({"features": {"n": {"exclude": True}}})
  assert legacy == expected


def test_unsupported_type_and_unknown_label_are_rejected_with_the_feature_named():
  schema = text_format.Parse('feature { name: "s" type: STRUCT } feature { name: "y" type: BYTES }',
                             schema_pb2.Schema())
  with pytest.raises(ValueError, match="'s' has type STRUCT"):
    preprocessing_plan.transform_config(None, schema, "y", ["a", "b"])
  with pytest.raises(ValueError, match="label 'z' is not a feature"):
    preprocessing_plan.transform_config(None, SCHEMA, "z", ["a", "b"])


def test_a_missing_indicator_that_would_shadow_a_feature_is_rejected():
  schema = text_format.Parse("""
  feature { name: "x" type: FLOAT }
  feature { name: "x_was_missing" type: FLOAT }
  feature { name: "y" type: BYTES }
  """, schema_pb2.Schema())
  with pytest.raises(ValueError, match="'x' asks for a missing indicator 'x_was_missing_xf'"):
    _config({"features": {"x": {"missing_indicator": True}}}, schema=schema)


@pytest.mark.parametrize("change, message", [
    ({"kind": "text"}, "kind 'text'"),
    ({"impute": "median", "kind": "categorical", "encode": "vocabulary"}, "impute is 'median'"),
    ({"scale": "log"}, "scale is 'log'"),
    ({"impute": "constant"}, "impute_value is missing"),
    ({"scale": "bucketize", "num_buckets": 1}, "num_buckets ≥ 2"),
    ({"missing_values": ["-"]}, "missing_values is ['-']"),
    ({"clip": [0.9, 0.1]}, "clip is [0.9, 0.1]"),
    ({"normalize": True}, "only a categorical feature takes normalize"),
    ({"datetime": {"order": "parts"}}, "datetime is {'order': 'parts'}"),
])
def test_check_config_names_the_feature_and_the_bad_key(change, message):
  config = _config()
  config["features"]["x"].update(change)
  with pytest.raises(ValueError, match="feature 'x'") as raised:
    preprocessing_plan.check_config(config)
  assert message in str(raised.value)


def test_penguins_plan_builds_without_tensorflow(without_heavy_imports):
  code = (
      "from trainguard import schemas; from trainguard.policy import Policy; "
      "from trainguard.models import preprocessing_plan; d = schemas.schema_dir('penguins'); "
      "c = preprocessing_plan.transform_config(Policy.load(d), d + '/schema.pbtxt', 'species', "
      "['Adelie', 'Chinstrap', 'Gentoo']); "
      "assert sorted(c['features']) == ['bill_depth_mm', 'bill_length_mm', 'body_mass_g', "
      "'flipper_length_mm', 'island', 'sex', 'year'], c")
  without_heavy_imports(code, heavy=("tensorflow",))
  assert schemas.schema_dir("penguins")


def test_missing_values_and_clip_reach_the_plan():
  config = _config({"features": {"x": {"missing_values": [-999, 9999], "clip": [0.01, 0.99]},
                                 "c": {"missing_values": ["unknown", "-"]}}})
  assert config["features"]["x"]["missing_values"] == [-999.0, 9999.0]
  assert config["features"]["x"]["clip"] == [0.01, 0.99]
  assert config["features"]["c"]["missing_values"] == ["unknown", "-"]
  assert "clip" not in config["features"]["n"] and "missing_values" not in config["features"]["n"]
  preprocessing_plan.check_config(json.loads(json.dumps(config)))


def test_normalize_reaches_the_plan_of_a_categorical_feature():
  config = _config({"features": {"c": {"normalize": True}}})
  assert config["features"]["c"]["normalize"] is True
  assert "normalize" not in config["features"]["x"]
  preprocessing_plan.check_config(json.loads(json.dumps(config)))


def test_label_map_reaches_the_plan_with_the_classes_a_model_learns():
  policy = Policy.from_dict({"label": {"map": {"A": "a", "a ": "a"}}}, schema=SCHEMA)
  config = preprocessing_plan.transform_config(policy, SCHEMA, "y", ["A", "a", "a ", "b"])
  assert config["label_classes"] == ["a", "b"]
  assert config["label_map"] == {"A": "a", "a ": "a"}
  preprocessing_plan.check_config(json.loads(json.dumps(config)))
  assert "label_map" not in _config()
  with pytest.raises(ValueError, match=r"label.map maps to 'c', which the schema's label domain "
                                       r"does not list \(its classes: a, b\)"):
    preprocessing_plan.transform_config(
        Policy.from_dict({"label": {"map": {"a": "c"}}}, schema=SCHEMA), SCHEMA, "y", ["a", "b"])
  config["label_map"] = {"A": "z"}
  with pytest.raises(ValueError, match="label_map is"):
    preprocessing_plan.check_config(config)


def test_label_map_on_a_regression_label_is_refused():
  schema = text_format.Parse('feature { name: "x" type: FLOAT } feature { name: "y" type: FLOAT }',
                             schema_pb2.Schema())
  policy = Policy.from_dict({"label": {"map": {"1": "2"}}}, schema=schema)
  with pytest.raises(ValueError, match="label.map maps spellings of classes, but the label 'y' is "
                                       "a number"):
    preprocessing_plan.transform_config(policy, schema, "y", [])


def test_datetime_parts_reach_the_plan_and_their_names_are_checked():
  config = _config({"features": {"c": {"datetime": "parts"}}})
  assert config["features"]["c"]["datetime"]["parts"] == ["year", "month", "day", "day_of_week",
                                                          "hour"]
  preprocessing_plan.check_config(json.loads(json.dumps(config)))
  schema = text_format.Parse('feature { name: "c" type: BYTES } feature { name: "c_year" '
                             'type: FLOAT } feature { name: "y" type: BYTES }', schema_pb2.Schema())
  with pytest.raises(ValueError, match="feature 'c'.s datetime part year is output as 'c_year_xf'"):
    _config({"features": {"c": {"datetime": "parts"}}}, schema=schema)
