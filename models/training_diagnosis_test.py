"""Each training rule at its threshold, on hand-written records (TensorFlow-free)."""
import pytest

from trainguard.models import training_diagnosis
from trainguard.policy import Policy


def _record(**changes):
  """A healthy three-class run of six epochs."""
  epochs = []
  for i, (loss, val) in enumerate([(1.0, 0.9), (0.6, 0.55), (0.4, 0.4), (0.3, 0.33), (0.25, 0.3),
                                   (0.22, 0.29)]):
    epochs.append({"epoch": i + 1, "loss": loss, "val_loss": val, "grad_norm": 2.0 / (i + 1),
                   "layer_grad_norms": {"dense": 0.5, "dense_1": 0.4, "probabilities": 1.0},
                   "dead_fraction": {"dense": 0.1, "dense_1": 0.2},
                   "max_abs_input": {"feature": "x_xf", "value": 3.2},
                   "val_recall": {"a": 0.9, "b": 0.85, "c": 0.9},
                   "val_predicted_share": {"a": 0.4, "b": 0.3, "c": 0.3}})
  record = {"classes": ["a", "b", "c"], "validation_rows": 300, "probe_rows": 64,
            "validation_class_share": {"a": 0.4, "b": 0.3, "c": 0.3},
            "baseline_loss": 1.09, "layers": ["dense", "dense_1", "probabilities"],
            "relu_layers": ["dense", "dense_1"], "start": {"grad_norm": 3.0},
            "epochs": epochs, "non_finite": None, "settings": {"learning_rate": 0.01}}
  record.update(changes)
  return record


def _kinds(record, policy=None, **kwargs):
  return {f.kind: f for f in training_diagnosis.diagnose(record, policy or Policy.from_dict({}),
                                                         **kwargs)}


def test_a_healthy_record_gives_nothing():
  assert _kinds(_record()) == {}


@pytest.mark.parametrize("norm,fires", [(1000.0, False), (1000.5, True)])
def test_exploding_gradients_start_above_the_threshold(norm, fires):
  assert ("EXPLODING_GRADIENTS" in _kinds(_record(start={"grad_norm": norm}))) is fires


def test_the_policy_moves_a_threshold():
  policy = Policy.from_dict({"thresholds": {"training": {"exploding_gradient_norm": 2.5}}})
  found = _kinds(_record(), policy)
  assert found["EXPLODING_GRADIENTS"].threshold == 2.5 and found["EXPLODING_GRADIENTS"].measured == 3


@pytest.mark.parametrize("dead,fires", [(0.59, False), (0.6, True)])
def test_dead_units_at_the_threshold(dead, fires):
  record = _record()
  record["epochs"][-1]["dead_fraction"] = {"dense": dead}
  assert ("DEAD_UNITS" in _kinds(record)) is fires


@pytest.mark.parametrize("share,actual,fires", [(0.94, 0.4, False), (0.95, 0.4, True),
                                                (0.97, 0.95, False)])
def test_majority_collapse_needs_a_class_predicted_more_than_it_occurs(share, actual, fires):
  rest = (1 - share) / 2
  record = _record(final={"val_predicted_share": {"a": share, "b": rest, "c": rest}},
                   validation_class_share={"a": actual, "b": (1 - actual) / 2,
                                           "c": (1 - actual) / 2})
  assert ("MAJORITY_COLLAPSE" in _kinds(record)) is fires


def test_not_learning_needs_both_the_loss_and_the_recall_at_chance():
  record = _record()
  for e in record["epochs"]:
    e["val_loss"], e["val_recall"] = 1.08, {"a": 0.4, "b": 0.3, "c": 0.35}
  found = _kinds(record)
  assert found["NOT_LEARNING"].severity == "block"
  for e in record["epochs"]:
    e["val_recall"] = {"a": 0.8, "b": 0.7, "c": 0.75}  # miscalibrated but learning
  assert "NOT_LEARNING" not in _kinds(record)


def test_plateau_and_oscillation():
  record = _record()
  for e, loss in zip(record["epochs"], [1.0, 0.999, 0.998, 0.997, 0.996, 0.995]):
    e["loss"] = loss
  assert "PLATEAU" in _kinds(record) and "OSCILLATING_LOSS" not in _kinds(record)
  for e, loss in zip(record["epochs"], [1.0, 0.7, 0.9, 0.6, 0.8, 0.5]):
    e["loss"] = loss
  found = _kinds(record)
  assert found["OSCILLATING_LOSS"].measured == pytest.approx(0.4) and "PLATEAU" not in found


def test_overfitting_when_validation_worsens_as_training_improves():
  record = _record()
  for e, val in zip(record["epochs"], [0.9, 0.5, 0.4, 0.45, 0.5, 0.6]):
    e["val_loss"] = val
  found = _kinds(record)
  assert found["OVERFITTING"].measured == pytest.approx(1.5)
  assert "epoch 3's" in found["OVERFITTING"].fix


def test_loss_not_finite_names_the_unscaled_feature_from_the_transform_summary():
  record = _record(non_finite={"epoch": 1, "batch": 4, "loss": float("nan"), "layer": "dense",
                               "feature": "income_xf", "feature_max_abs": 2.0e6})
  summary = {"features": {"income": {"kind": "numeric", "scaling": {"method": "none"}}}}
  found = _kinds(record, transform_summary=summary)["LOSS_NOT_FINITE"]
  assert found.feature == "income" and "features.income.scale: z_score" in found.fix
  assert "epoch 1, batch 4" in found.found and "dense" in found.found


def test_baseline_gap_at_the_threshold():
  base = {"validation_rows": 300, "train_rows": 900}
  assert "BASELINE_GAP" not in _kinds(_record(), baseline={**base, "trees_score": 0.849,
                                                            "network_score": 0.8})
  found = _kinds(_record(), baseline={**base, "trees_score": 0.86, "network_score": 0.8})
  assert found["BASELINE_GAP"].severity == "warn"
  # The second model family is the fix when trees lead (trainguard/cli_model_test.py parses it).
  assert "--model gradient_boosted_trees" in found["BASELINE_GAP"].fix


def test_training_thresholds_are_validated_on_load():
  from trainguard.errors import PolicyError  # pylint: disable=g-import-not-at-top
  with pytest.raises(PolicyError, match="thresholds.training.dead_unit_fraction"):
    Policy.from_dict({"thresholds": {"training": {"dead_unit_fraction": -1}}})
  with pytest.raises(PolicyError, match="unknown key thresholds.training.nope"):
    Policy.from_dict({"thresholds": {"training": {"nope": 1}}})
