"""The regression target's scale and its inversion at serving, and the R² metric's arithmetic."""
import numpy as np
import pytest
import tensorflow as tf

from trainguard.models import regression_metrics
from trainguard.models.keras_model import regression


def test_the_target_scale_is_the_train_labels_and_serving_inverts_it_with_the_log():
  labels = np.array([[10.0], [20.0], [30.0], [np.nan], [40.0]], np.float32)
  dataset = tf.data.Dataset.from_tensor_slices(({"x": labels}, labels)).batch(2)
  scale = regression.target_scale(dataset, "log")
  assert scale.mean == pytest.approx(25.0) and scale.std == pytest.approx(np.std([10, 20, 30, 40]))
  raw = tf.constant([[3.0], [0.5]])
  logged = tf.math.log1p(raw)  # what Transform feeds the Trainer under label_transform: log
  back = scale.to_label_units(scale.to_model(logged)).numpy()
  np.testing.assert_allclose(back, raw.numpy(), rtol=1e-5)


def test_r2_merges_bundles_exactly_and_equals_scikit_learns():
  from sklearn.metrics import r2_score  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  y = rng.normal(100, 20, 50)
  p = y + rng.normal(0, 10, 50)
  combiner = regression_metrics._R2Combiner(None, None, False)  # pylint: disable=protected-access
  parts = []
  for chunk in np.array_split(np.arange(50), 3):
    acc = combiner.create_accumulator()
    for i in chunk:
      acc += (1.0, y[i], y[i] ** 2, (y[i] - p[i]) ** 2)
    parts.append(acc)
  (value,) = combiner.extract_output(combiner.merge_accumulators(parts)).values()
  assert value == pytest.approx(r2_score(y, p), rel=1e-9)


def test_the_prediction_sample_is_bounded_seeded_and_in_label_units():
  import tf_keras as keras  # pylint: disable=g-import-not-at-top
  x = np.arange(5000, dtype=np.float32).reshape(-1, 1)
  labels = np.log1p(x * 2)  # Transform's log1p of a label 2x
  labels[::10] = np.nan  # rows without a label: left out
  inputs = {"x": keras.Input(shape=(1,), name="x")}
  model = keras.Model(inputs, keras.layers.Lambda(lambda t: t)(inputs["x"]))
  scale = regression.TargetScale(mean=0.0, std=1.0, label_transform="log")
  dataset = tf.data.Dataset.from_tensor_slices(({"x": np.log1p(x)}, labels)).batch(700)
  sample = regression.prediction_sample(model, dataset, scale, seed=7, limit=300)
  assert set(sample) == {"actual", "predicted", "rows_total", "rows_sampled"}
  assert (sample["rows_total"], sample["rows_sampled"]) == (4500, 300)
  assert len(sample["actual"]) == len(sample["predicted"]) == 300
  np.testing.assert_allclose(sample["actual"], 2 * np.array(sample["predicted"]), rtol=1e-3)
  assert regression.prediction_sample(model, dataset, scale, seed=7, limit=300) == sample
  other = regression.prediction_sample(model, dataset, scale, seed=8, limit=300)
  assert other["actual"] != sample["actual"]
  assert max(sample["predicted"]) > 2000 and min(sample["predicted"]) < 500  # drawn from all
  small = regression.prediction_sample(model, dataset.take(1), scale, seed=7)
  assert small["rows_total"] == small["rows_sampled"] == 630
