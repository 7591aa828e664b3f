"""The transformed features by kind (numeric, categorical, unsupported), and which strategies fit.

TensorFlow is imported by the two functions that read a tf.Transform feature spec, not here:
`plan.py` checks a strategy against `FeatureKinds` and must stay importable without TensorFlow
(DataGuard's findings import it); the executor, which calls `feature_kinds`, has TensorFlow loaded.
"""
import dataclasses
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import numpy as np

from trainguard.components.rebalance.params import LABEL_KEY, STRATEGY_KEY, RebalanceError
from trainguard.models import features as feature_names
from trainguard.policy import SYNTHESIZING_STRATEGIES


@dataclasses.dataclass(frozen=True)
class FeatureKinds:
  """The transformed features by kind, names sorted; `columns` is the order of synthesis vectors."""
  label: str
  numeric: Tuple[str, ...]
  # categorical feature -> largest valid id (vocabulary size + OOV buckets - 1); None if unknown.
  categorical: Dict[str, Optional[int]]
  unsupported: Tuple[str, ...]

  @property
  def columns(self) -> Tuple[str, ...]:
    return tuple(sorted(self.numeric + tuple(self.categorical)))

  @property
  def categorical_columns(self) -> Tuple[int, ...]:
    return tuple(i for i, name in enumerate(self.columns) if name in self.categorical)


def feature_kinds(feature_spec: Mapping[str, Any], label_key: str,
                  vocabulary_size: Callable[[str], Optional[int]]) -> FeatureKinds:
  """Numeric (float32) and categorical (int64 ids) features of the transformed examples."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if label_key not in feature_spec:
    hint = ""
    if feature_names.transformed_name(label_key) in feature_spec:
      hint = f" The transformed label is {feature_names.transformed_name(label_key)!r}."
    raise RebalanceError(
        f"{LABEL_KEY}={label_key!r} is not a feature of the transformed examples (features: "
        f"{', '.join(sorted(feature_spec))}); pass the transformed label's name.{hint}")
  label_spec = feature_spec[label_key]
  if not _is_one_value(label_spec) or label_spec.dtype != tf.int64:
    raise RebalanceError(
        f"{LABEL_KEY}={label_key!r} is {label_spec}, but Rebalance needs one int64 class id "
        "per row, as the Transform step writes it; pass Transform's output.")
  numeric, categorical, unsupported = [], {}, []
  for name, feature in sorted(feature_spec.items()):
    if name == label_key:
      continue
    if not _is_one_value(feature):
      unsupported.append(name)
    elif feature.dtype == tf.float32:
      numeric.append(name)
    elif feature.dtype == tf.int64:
      # A transformed name loses its suffix; a name without one is looked up as it is.
      raw = (feature_names.raw_name(name) if name.endswith(feature_names.TRANSFORMED_SUFFIX)
             else name)
      size = vocabulary_size(raw)
      categorical[name] = None if size is None else size + feature_names.NUM_OOV_BUCKETS - 1
    else:
      unsupported.append(name)
  return FeatureKinds(label_key, tuple(numeric), categorical, tuple(unsupported))


def _is_one_value(feature) -> bool:
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return (isinstance(feature, tf.io.FixedLenFeature) and
          int(np.prod(feature.shape or [1])) == 1)


def check_strategy_features(strategy: str, kinds: FeatureKinds) -> None:
  """Whether `strategy` can synthesise rows of these features (no-op for non-synthesising ones)."""
  if strategy not in SYNTHESIZING_STRATEGIES:
    return
  if kinds.unsupported:
    raise RebalanceError(
        f"{STRATEGY_KEY}={strategy!r} synthesises rows, but features "
        f"{', '.join(kinds.unsupported)} do not hold one float32 or int64 value per row; exclude "
        "them in Transform or use strategy 'random_over'.")
  categorical = ", ".join(kinds.categorical)
  if strategy == "smote" and kinds.categorical:
    raise RebalanceError(
        f"{STRATEGY_KEY}='smote' interpolates every feature, which would invent ids for the "
        f"categorical features {categorical}; use 'smotenc' (or 'auto', which picks it).")
  if strategy == "smotenc" and not kinds.categorical:
    raise RebalanceError(f"{STRATEGY_KEY}='smotenc' needs categorical (int64) features and these "
                         "examples have none; use 'smote'.")
  if not kinds.numeric:
    raise RebalanceError(
        f"{STRATEGY_KEY}={strategy!r} interpolates numeric features and these examples have "
        f"only categorical ones ({categorical}); use 'random_over'.")
