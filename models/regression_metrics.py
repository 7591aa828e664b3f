"""R² as a TFMA metric: the coefficient of determination of a regression on the eval split.

Why our own: TFMA 0.47 has MAE and MSE but no R², and Keras' `R2Score` cannot be wrapped by TFMA's
Keras-metric adapter (its state is built on first use, which the adapter's `set_weights` rejects:
"expecting 1 weights" — seen on the diabetes data). R² = 1 − Σw(y − ŷ)² / Σw(y − ȳ)², ȳ the
weighted eval mean: 0 is exactly the squared error of predicting the eval mean for every row, the
baseline the blessing gate compares against (`regression.min_r2` in policy.yaml). One pass, four
sums per slice, so it merges across Beam bundles exactly.

Used by name in the eval config: `MetricConfig(class_name="R2",
module="trainguard.models.regression_metrics")`.
"""
import math
from typing import Dict, Iterable, List, Optional

import apache_beam as beam
import numpy as np
from tensorflow_model_analysis.metrics import metric_types, metric_util
from tensorflow_model_analysis.proto import config_pb2

R2_NAME = "r2"


class R2(metric_types.Metric):
  """1 − squared error / squared error of predicting the (weighted) eval mean."""

  def __init__(self, name: str = R2_NAME, **kwargs):
    super().__init__(metric_util.merge_per_key_computations(_r2_computations), name=name,
                     **kwargs)


def _r2_computations(name: Optional[str] = None,
                     eval_config: Optional[config_pb2.EvalConfig] = None,
                     model_name: Optional[str] = None, output_name: Optional[str] = None,
                     example_weighted: bool = False,
                     sub_key: Optional[metric_types.SubKey] = None,
                     aggregation_type: Optional[metric_types.AggregationType] = None,
                     class_weights: Optional[Dict[int, float]] = None,
                     preprocessors: Optional[List[metric_types.Preprocessor]] = None,
                     ) -> metric_types.MetricComputations:
  del aggregation_type, class_weights  # a regression metric: no classes
  key = metric_types.MetricKey(name=name, model_name=model_name, output_name=output_name,
                               sub_key=sub_key, example_weighted=example_weighted)
  return [metric_types.MetricComputation(
      keys=[key], preprocessors=preprocessors,
      combiner=_R2Combiner(key, eval_config, example_weighted))]


class _R2Combiner(beam.CombineFn):
  """Accumulates [Σw, Σw·y, Σw·y², Σw·(y − ŷ)²]."""

  def __init__(self, key: metric_types.MetricKey, eval_config, example_weighted: bool):
    self._key = key
    self._eval_config = eval_config
    self._example_weighted = example_weighted

  def create_accumulator(self) -> np.ndarray:
    return np.zeros(4, np.float64)

  def add_input(self, accumulator: np.ndarray,
                element: metric_types.StandardMetricInputs) -> np.ndarray:
    for label, prediction, weight in metric_util.to_label_prediction_example_weight(
        element, eval_config=self._eval_config, model_name=self._key.model_name,
        output_name=self._key.output_name, example_weighted=self._example_weighted,
        sub_key=self._key.sub_key):
      y = float(np.asarray(label).reshape(-1)[0])
      p = float(np.asarray(prediction).reshape(-1)[0])
      w = float(metric_util.safe_to_scalar(weight))
      if math.isfinite(y) and math.isfinite(p):
        accumulator += (w, w * y, w * y * y, w * (y - p) ** 2)
    return accumulator

  def merge_accumulators(self, accumulators: Iterable[np.ndarray]) -> np.ndarray:
    total = np.zeros(4, np.float64)
    for accumulator in accumulators:
      total += accumulator
    return total

  def extract_output(self, accumulator: np.ndarray) -> Dict[metric_types.MetricKey, float]:
    weight, wy, wy2, squared_error = accumulator
    if weight <= 0:
      return {self._key: float("nan")}
    variance = wy2 / weight - (wy / weight) ** 2
    if variance <= 0:
      return {self._key: float("nan")}
    return {self._key: float(1.0 - (squared_error / weight) / variance)}


metric_types.register_metric(R2)
