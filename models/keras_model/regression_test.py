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
