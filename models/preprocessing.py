"""The tf.Transform `preprocessing_fn`: full-pass imputation, scaling and encoding, per the plan.

Why tf.Transform rather than scikit-learn's imputer and scaler: the statistics (means, medians,
quantiles, vocabularies) are computed by Beam in a full pass over the train split only (Transform's
`splits_config`), and the same graph is exported with the model, so a serving request with a missing
value is imputed with exactly the training value. No feature list is written here: each feature's
treatment comes from `custom_config["features"]`, the plan that
`preprocessing_plan.transform_config` resolved from the schema and the policy. A config without a
plan (`label_key`, `label_classes`, `excluded_features` only) gets the policy defaults, numeric and
categorical told apart by dtype.

What counts as missing: an absent value, NaN or ±inf in a numeric feature, an empty (or blank)
string in a categorical one, and the feature's `missing_values` from the policy (`-999`, `9999`,
`"unknown"`: codes for "not known" that would otherwise be averaged into the mean or get a
vocabulary id of their own; numbers compared as float32, text after trimming). Analyzers only ever
see present values, so the imputed value, the scaling and the vocabulary never include them.

Clipping (`clip: [q_low, q_high]`, numeric features): the present values are clipped to the train
split's q_low and q_high quantiles (`tft.quantiles` with the fewest buckets that put a boundary on
both, rank error at most `QUANTILE_EPSILON`) before anything else learns from them, so a handful of
extreme rows no longer dominate the mean and standard deviation of a z-score. The bounds are
analyzer outputs in the graph: serving clips at exactly the training values.

Numeric features (INT and FLOAT; the output is float32, or int64 bucket ids for `bucketize`):
- impute `mean` (`tft.mean`), `median` (`tft.quantiles` with 2 buckets: approximate, rank error
  at most `QUANTILE_EPSILON`), `most_frequent` (a vocabulary of the values' text form, top 1; ties
  go to the value tf.Transform's vocabulary lists first), `constant:<v>`, or `none`: the missing
  cell is output as 0 after scaling (bucket 0 for bucketize), and the missing indicator is on by
  default so the model can tell it from a real value.
- scale `z_score` ((x − mean) / std), `min_max` ((x − min) / (max − min), the statistics of
  tf.Transform's `scale_to_0_1` on present values; not clipped at serving), `none`, or
  `bucketize:<n>` (`tft.quantiles` boundaries, `tft.apply_buckets`: ids 0 … n−1, declared in the
  transformed schema as `int_domain { min: 0 max: n-1 }` so the Trainer knows n).
- no variation in train: a feature whose treatment needs statistics and that has no present value
  in the train split, or that z_score / min_max sees with a single value, is output as a constant 0
  (bucket 0) for every row, at training and serving alike. It carries no information, and a
  constant cannot make the model react to values it never trained on. The transform summary
  reports it and the Trainer leaves it out of the model. (With `constant:<v>` and `scale: none` no
  statistics are needed, so the constant is used even when train has no value.)

Categorical features (BYTES; the output is an int64 id, declared as `int_domain {min: 0 max: n-1}`):
- `normalize: true` first: lower-cased, white space collapsed and trimmed (`text_normalization.py`,
  which says what TensorFlow core cannot do: NFKC), before missing values, imputation and the
  vocabulary, so `Adelie` / `adelie` / `Adelie ` share one id, at serving too.
- a vocabulary of present values, most frequent first (id 0), then one out-of-vocabulary id (an
  unseen category at serving time).
- impute `most_frequent`: a missing value takes id 0; `constant:<v>`: missing values become `v`
  before the vocabulary is computed, so `v` has its own id; `none`: missing values take the
  out-of-vocabulary id (with the missing indicator on by default).

Date/time text features (`datetime: parts`): parsed in the graph (`datetime_parts.py`, the formats
DataGuard's `DATETIME_COLUMN` recognises) into year, month, day, day of week and hour, each output as
`<feature>_<part>_xf` and imputed and scaled like a numeric feature (`preprocessing.numeric`); a
value that is missing or no date is missing in every part, a date without a time in the hour. No
vocabulary; the missing indicator says "no date".

Missing indicators (`<feature>_was_missing_xf`, float32 1.0 where missing, else 0.0) are added where
the plan says so. The label becomes its id in the schema's string domain, after the plan's
`label_map` (the policy's `label.map`) has sent each listed spelling to its class; a value outside
the classes becomes -1 (DataGuard blocks such data before it gets here).
"""
from typing import Any, Dict, Mapping, Tuple

import tensorflow as tf
import tensorflow_transform as tft
from tensorflow_transform import schema_inference

from trainguard.models import autograph_rules
from trainguard.models import datetime_parts
from trainguard.models import features
from trainguard.models import preprocessing_plan as plan_lib
from trainguard.models import text_normalization

autograph_rules.skip_library_conversion()  # before TFT traces preprocessing_fn

# Quantile sketches (median, bucketize) are approximate: a returned value's rank is within
# QUANTILE_EPSILON × n of the exact one. 0.001 keeps the sketch at a few kilobytes per feature.
QUANTILE_EPSILON = 0.001


def preprocessing_fn(inputs: Mapping[str, Any],
                     custom_config: Dict[str, Any]) -> Dict[str, tf.Tensor]:
  config = _plan(inputs, custom_config)
  label_key = config["label_key"]
  plan = config["features"]
  unplanned = sorted(set(inputs) - set(plan) - {label_key})
  if unplanned:
    raise ValueError(
        f"raw feature(s) {', '.join(unplanned)} reach Transform but are not in its custom_config "
        "plan: the plan was built from another schema. Rebuild it with "
        "preprocessing_plan.transform_config() from the schema Transform reads.")
  outputs = {}
  for name in sorted(inputs):
    if name == label_key or plan[name]["excluded"]:
      continue
    spec = plan[name]
    values, present = dense_with_presence(inputs[name])
    normalized = bool(spec.get("normalize")) and values.dtype == tf.string
    if normalized:
      values = text_normalization.normalize(values)
    if spec.get("missing_values"):
      present = tf.logical_and(present, tf.logical_not(is_missing_value(
          values, spec["missing_values"], normalized)))
    is_string = values.dtype == tf.string
    if is_string != (spec["kind"] == plan_lib.CATEGORICAL):
      raise ValueError(
          f"feature {name!r} is {spec['kind']} in the plan but arrives as "
          f"{inputs[name].dtype.name}; the plan was built from another schema.")
    if spec.get("datetime"):
      present = _expand_datetime(name, values, present, spec["datetime"], outputs)
    elif is_string:
      outputs[features.transformed_name(name)] = _encode_categorical(name, values, present, spec)
    else:
      outputs[features.transformed_name(name)] = _impute_and_scale(name, values, present, spec)
    if spec["missing_indicator"]:
      outputs[features.missing_indicator_name(name)] = tf.cast(tf.logical_not(present), tf.float32)
  if label_key in inputs:
    if config.get("task") == "regression":
      outputs[features.transformed_name(label_key)] = label_values(
          inputs[label_key], config.get("label_transform", "none"))
    else:
      outputs[features.transformed_name(label_key)] = label_ids(
          inputs[label_key], config["label_classes"], config.get("label_map"))
  return outputs


def _expand_datetime(name: str, values: tf.Tensor, present: tf.Tensor, dates: Mapping[str, Any],
                     outputs: Dict[str, tf.Tensor]) -> tf.Tensor:
  """`<name>_<part>_xf` for each part of a date column, treated as a numeric feature; returns
  where the value is a date (what the missing indicator reports)."""
  parts, known = datetime_parts.parse(values, present, dates["order"])
  for part in dates["parts"]:
    outputs[features.transformed_name(f"{name}_{part}")] = _impute_and_scale(
        f"{name}_{part}", parts[part], known[part], dates["treatment"])
  return known["year"]


def _plan(inputs: Mapping[str, Any], custom_config: Mapping[str, Any]) -> Mapping[str, Any]:
  if "features" in custom_config:
    plan_lib.check_config(custom_config)
    return custom_config
  kinds = {name: plan_lib.CATEGORICAL if tensor.dtype == tf.string else plan_lib.NUMERIC
           for name, tensor in inputs.items()}
  return plan_lib.config_from_kinds(kinds, custom_config["label_key"],
                                    custom_config["label_classes"],
                                    custom_config.get("excluded_features", ()))


def dense_with_presence(tensor) -> Tuple[tf.Tensor, tf.Tensor]:
  """A `[batch, 1]` dense tensor of the feature and a boolean mask of where a usable value is.

  Schema features without a fixed shape arrive as `SparseTensor`s (absent → no entry); NaN and ±inf
  in numeric features and empty or blank strings count as missing too. Absent cells are filled with
  a placeholder that the mask marks as missing, so no analyzer ever sees it.
  """
  if isinstance(tensor, tf.SparseTensor):
    dense_shape = tf.stack([tensor.dense_shape[0], tf.constant(1, tf.int64)])
    placeholder = "" if tensor.dtype == tf.string else 0
    values = tf.sparse.to_dense(
        tf.SparseTensor(tensor.indices, tensor.values, dense_shape), default_value=placeholder)
    present = tf.sparse.to_dense(
        tf.SparseTensor(tensor.indices, tf.ones_like(tensor.values, dtype=tf.bool), dense_shape),
        default_value=False)
  else:
    values = tf.reshape(tensor, [-1, 1])
    present = tf.ones_like(values, dtype=tf.bool)
  if values.dtype == tf.string:
    present = tf.logical_and(present, tf.not_equal(tf.strings.strip(values), ""))
  else:
    values = tf.cast(values, tf.float32)
    present = tf.logical_and(present, tf.math.is_finite(values))
  return values, present


def is_missing_value(values: tf.Tensor, missing_values, normalized: bool = False) -> tf.Tensor:
  """Where `values` (`[batch, 1]`, float32 or string) is one of the policy's `missing_values`
  (text codes normalised like the values when the feature is `normalize`d)."""
  if values.dtype == tf.string:
    codes = tf.constant([text_normalization.graph_key(str(v)) if normalized else str(v).strip()
                         for v in missing_values])
    values = tf.strings.strip(values)
  else:
    codes = tf.constant([float(v) for v in missing_values], tf.float32)
  return tf.reduce_any(tf.equal(values, codes[tf.newaxis, :]), axis=1, keepdims=True)


def clip_buckets(q_low: float, q_high: float) -> Tuple[int, int, int]:
  """(buckets, index of q_low's boundary, of q_high's): the fewest equal-mass buckets with a
  boundary at both quantiles (the policy allows multiples of 0.001, so at most 1000)."""
  for buckets in range(2, 1001):
    low, high = q_low * buckets, q_high * buckets
    if abs(low - round(low)) < 1e-6 and abs(high - round(high)) < 1e-6:
      return buckets, int(round(low)) - 1, int(round(high)) - 1
  raise ValueError(f"clip [{q_low}, {q_high}]: quantiles must be multiples of 0.001.")


def _clip(values: tf.Tensor, present: tf.Tensor, clip) -> tf.Tensor:
  buckets, low, high = clip_buckets(*clip)
  boundaries = tf.reshape(tft.quantiles(tf.boolean_mask(values, present), num_buckets=buckets,
                                        epsilon=min(QUANTILE_EPSILON, 1.0 / buckets)), [-1])
  return tf.clip_by_value(values, boundaries[low], boundaries[high])


def _impute_and_scale(name: str, values: tf.Tensor, present: tf.Tensor,
                      spec: Mapping[str, Any]) -> tf.Tensor:
  if spec.get("clip"):
    values = _clip(values, present, spec["clip"])
  observed = tf.boolean_mask(values, present)
  impute, scale = spec["impute"], spec["scale"]
  statistics = {}

  def mean():
    if "mean" not in statistics:
      statistics["mean"] = tft.mean(observed)
    return statistics["mean"]

  if impute == "mean":
    fill = mean()
  elif impute == "median":
    fill = tf.reshape(tft.quantiles(observed, num_buckets=2, epsilon=QUANTILE_EPSILON), [])
  elif impute == "most_frequent":
    fill = _most_frequent_number(name, values, present)
  elif impute == "constant":
    fill = tf.constant(spec["impute_value"], tf.float32)
  else:  # none: the missing cell is set to 0 after scaling
    fill = None
  imputed = values if fill is None else tf.where(present, values, fill)

  if scale == "bucketize":
    num_buckets = int(spec["num_buckets"])
    boundaries = tft.quantiles(observed, num_buckets=num_buckets, epsilon=QUANTILE_EPSILON)
    output = tft.apply_buckets(imputed, boundaries)
  else:
    if scale == "z_score":
      center, spread = mean(), tf.sqrt(tft.var(observed))
    elif scale == "min_max":
      center = tft.min(observed)
      spread = tft.max(observed) - center
    else:
      center, spread = tf.constant(0.0), tf.constant(1.0)
    varies = tf.logical_and(tf.math.is_finite(spread), spread > 0)
    output = tf.where(varies, (imputed - center) / tf.where(varies, spread, 1.0), 0.0)
  if fill is None:
    output = tf.where(present, output, tf.zeros_like(output))
  if impute in ("mean", "median", "most_frequent") or scale != "none":
    has_train_values = tft.size(observed) > 0
    output = tf.where(has_train_values, output, tf.zeros_like(output))
  if scale == "bucketize":
    _declare_ids(output, tf.constant(num_buckets, tf.int64))
  return output


def _most_frequent_number(name: str, values: tf.Tensor, present: tf.Tensor) -> tf.Tensor:
  """The most frequent present value: a top-1 vocabulary of the values' exact text form, then the
  largest value whose text is that entry (all such values are equal)."""
  text = tf.strings.as_string(values, precision=9, scientific=True)  # round-trips any float32
  top = tft.vocabulary(tf.boolean_mask(text, present), top_k=1,
                       vocab_filename=features.vocabulary_name(name) + ".most_frequent")
  is_top = tf.logical_and(present, tf.equal(tft.apply_vocabulary(text, top, default_value=-1), 0))
  return tft.max(tf.where(is_top, values, float("-inf")))


def _encode_categorical(name: str, values: tf.Tensor, present: tf.Tensor,
                        spec: Mapping[str, Any]) -> tf.Tensor:
  vocabulary_name = features.vocabulary_name(name)
  if spec["impute"] == "constant":
    constant = spec["impute_value"]
    if spec.get("normalize"):  # one spelling: the constant as the values are normalised
      constant = text_normalization.graph_key(constant)
    values = tf.where(present, values, tf.constant(constant))
    vocabulary = tft.vocabulary(values, vocab_filename=vocabulary_name)
  else:
    vocabulary = tft.vocabulary(tf.boolean_mask(values, present), vocab_filename=vocabulary_name)
  ids = tft.apply_vocabulary(values, vocabulary, num_oov_buckets=features.NUM_OOV_BUCKETS)
  # Vocabulary size + the out-of-vocabulary id; the last id is the out-of-vocabulary one.
  num_ids = tft.get_num_buckets_for_transformed_feature(ids)
  if spec["impute"] == "most_frequent":
    # The vocabulary is sorted by descending frequency, so id 0 is the most frequent category.
    ids = tf.where(present, ids, tf.zeros_like(ids))
  elif spec["impute"] == "none":
    ids = tf.where(present, ids, tf.fill(tf.shape(ids), num_ids - 1))
  _declare_ids(ids, num_ids)
  return ids


def _declare_ids(ids: tf.Tensor, num_ids: tf.Tensor) -> None:
  """Records `int_domain { min: 0 max: num_ids - 1 }` for `ids` in the transformed schema.

  tf.Transform's own mappers (`apply_vocabulary`, `apply_buckets`) do this for their direct
  outputs; imputation makes a new tensor, so the range is declared again on the one we output.
  """
  schema_inference.set_tensor_schema_override(
      ids, tf.constant(0, tf.int64), tf.cast(num_ids, tf.int64) - 1)


def label_ids(tensor, label_classes, label_map=None) -> tf.Tensor:
  """Class ids `[batch, 1]` from the label's string values; -1 where absent or not a known class.
  `label_map` (the policy's `label.map`) first sends each listed spelling to its class."""
  values, present = dense_with_presence(tensor)
  if values.dtype != tf.string:
    values = tf.strings.as_string(tf.cast(values, tf.int64))
  if label_map:
    spellings = tf.constant(list(label_map))[tf.newaxis, :]
    is_spelling = tf.equal(values, spellings)
    mapped = tf.gather(tf.constant(list(label_map.values())),
                       tf.argmax(tf.cast(is_spelling, tf.int64), axis=1))[:, tf.newaxis]
    values = tf.where(tf.reduce_any(is_spelling, axis=1, keepdims=True), mapped, values)
  matches = tf.equal(values, tf.constant(list(label_classes))[tf.newaxis, :])
  ids = tf.argmax(tf.cast(matches, tf.int64), axis=1, output_type=tf.int64)[:, tf.newaxis]
  known = tf.logical_and(present, tf.reduce_any(matches, axis=1, keepdims=True))
  return tf.where(known, ids, tf.constant(-1, tf.int64))


def label_values(tensor, label_transform: str = "none") -> tf.Tensor:
  """A regression label as float32 `[batch, 1]`, NaN where absent; `log` gives log1p(y), which the
  serving signature inverts with expm1. (Standardising the target is the Trainer's: its mean and
  spread come from the train rows it fits, and the serving signature undoes it.)"""
  values, present = dense_with_presence(tensor)
  values = tf.cast(values, tf.float32)
  if label_transform == "log":
    values = tf.math.log1p(values)
  return tf.where(present, values, tf.fill(tf.shape(values), float("nan")))
