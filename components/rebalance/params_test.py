"""Rebalance's parameters are checked before any data is read, each error naming the parameter."""
import pytest

from trainguard import errors, policy
from trainguard.components.rebalance import params, spec

LABEL = "label_xf"


@pytest.mark.parametrize("properties,message", [
    ({spec.SAMPLING_STRATEGY_KEY: "most"}, r"sampling_strategy='most' is not understood"),
    ({spec.SAMPLING_STRATEGY_KEY: "1.5"}, r"sampling_strategy='1.5' is a ratio outside \(0, 1\]"),
    ({spec.SAMPLING_STRATEGY_KEY: '{"a": 3}'}, r"has key 'a', which is not a class id"),
    ({spec.SAMPLING_STRATEGY_KEY: "majority"}, r"'majority' cannot be used with strategy='auto'"),
    ({spec.K_NEIGHBORS_KEY: 0}, r"k_neighbors=0 is below 1"),
    ({spec.CHUNK_SIZE_KEY: 5}, r"chunk_size=5 is below 12; a chunk must hold"),
    ({spec.SPLITS_TO_RESAMPLE_KEY: "train"}, r"splits_to_resample='train': give a non-empty JSON"),
])
def test_parameters_are_checked_before_any_data_is_read(properties, message):
  with pytest.raises(ValueError, match=message):
    params.parse_params({spec.LABEL_KEY: LABEL, **properties})


@pytest.mark.parametrize("value,message", [
    (0.0, r"min_imbalance=0.0 must be above 0; strategy 'auto' resamples when"),
    (-2, r"min_imbalance=-2 must be above 0"),
    (float("nan"), r"min_imbalance=nan must be above 0"),
    ("2", r"min_imbalance='2' must be a number"),
    (True, r"min_imbalance=True must be a number"),
])
def test_min_imbalance_must_be_a_positive_number(value, message):
  with pytest.raises(spec.RebalanceError, match=message):
    params.parse_params({spec.LABEL_KEY: LABEL, spec.MIN_IMBALANCE_KEY: value})


def test_min_imbalance_defaults_to_the_policys_default_ratio_and_is_recorded():
  assert params.parse_params({spec.LABEL_KEY: LABEL}).min_imbalance == 1.5
  assert spec.DEFAULT_MIN_IMBALANCE == policy.DATASET_THRESHOLDS["imbalance_ratio"]
  parsed = params.parse_params({spec.LABEL_KEY: LABEL, spec.MIN_IMBALANCE_KEY: 3})
  assert parsed.min_imbalance == 3.0 and isinstance(parsed.min_imbalance, float)
  assert parsed.as_dict()[spec.MIN_IMBALANCE_KEY] == 3.0


def test_rebalance_errors_are_user_errors_with_the_usage_exit_code():
  assert issubclass(spec.RebalanceError, errors.UserError)
  assert spec.RebalanceError.exit_code == errors.EXIT_USAGE
