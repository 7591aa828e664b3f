"""A Keras callback that records, per epoch, what a training diagnosis needs — cheaply.

Why a record and not a verdict: the callback only measures (on a few fixed train batches and a
bounded validation sample), `training_diagnosis` judges, with the policy's thresholds, after
training; the record is written next to `history.json` so a finding can always be traced back to
the numbers behind it.

Per epoch:
- training and validation loss (from Keras' logs), per-class recall and the share of validation
  rows predicted as each class (on at most `validation_rows` validation rows);
- the global and per-layer gradient norms of the loss on `probe_batches` fixed train batches
  (taken once, before the first epoch, so epochs are compared on the same rows), also measured
  once before the first step;
- per ReLU layer, the share of units that fire on none of those rows (dead units) and the largest
  absolute activation; the largest absolute input value and its feature.
And once: the first epoch and batch where the training loss stopped being finite, the first layer
whose activations did on the probe rows, and the input feature largest there.

Cost: a forward and a backward pass over the probe batches and a forward pass over the validation
sample per epoch, independent of the data's size (bench/training_monitor.py measures it).

Usable in any `run_fn`:

    monitor = TrainingMonitor(train_dataset, validation_dataset, num_classes=3)
    model.fit(train_dataset, validation_data=validation_dataset, callbacks=[monitor])
    monitor.write(os.path.join(fn_args.model_run_dir, artifacts.TRAINING_RECORD_FILE))
    findings = training_diagnosis.diagnose(monitor.record, policy)
"""
import json
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tf_keras as keras

PROBE_BATCHES = 2
VALIDATION_ROWS = 4096
PREDICT_CHUNK = 1024


class TrainingMonitor(keras.callbacks.Callback):
  """Records gradients, dead units, extreme values and validation predictions per epoch.

  `train` and `validation` yield `(features, label)` batches as `model.fit` reads them; labels are
  class ids, or with `num_classes=0` a regression target. `class_names`, when given, name the
  classes in the record.
  """

  def __init__(self, train: tf.data.Dataset, validation: Optional[tf.data.Dataset],
               num_classes: int, class_names: Optional[Sequence[str]] = None,
               probe_batches: int = PROBE_BATCHES, validation_rows: int = VALIDATION_ROWS):
    super().__init__()
    self._probe = [(x, y) for x, y in train.take(probe_batches)]
    # The probe's inputs do not change from epoch to epoch: their magnitudes are taken once.
    self._input_max: Dict[str, float] = {}
    for x, _ in self._probe:
      for name, value in x.items():
        magnitude = float(tf.reduce_max(tf.abs(tf.cast(value, tf.float64))))
        self._input_max[name] = max(self._input_max.get(name, 0.0), magnitude)
    self._largest_input = (max(self._input_max, key=self._input_max.get) if self._input_max
                           else None)
    self._regression = num_classes == 0
    self._validation = _sample(validation, validation_rows) if validation is not None else None
    if self._validation is not None:  # rows whose label is a class (not -1: unknown), or finite
      labels = self._validation[1]
      keep = (np.isfinite(labels) if self._regression
              else (labels >= 0) & (labels < num_classes))
      self._validation = ({k: v[keep] for k, v in self._validation[0].items()},
                          labels[keep] if self._regression else labels[keep].astype(np.int64))
    self._num_classes = num_classes
    self._taps = None
    self._tapped: List[str] = []
    self._epoch = 0
    self.record: Dict[str, Any] = {
        "version": 1,
        "task": "regression" if self._regression else "classification",
        "classes": list(class_names or [str(i) for i in range(num_classes)]),
        "probe_rows": int(sum(int(tf.shape(y)[0]) for _, y in self._probe)),
        "validation_rows": 0,
        "validation_class_share": {},
        # The loss of the best constant prediction: a model that never gets below it has learned
        # nothing a class count (or, for regression, the train mean) does not know.
        "baseline_loss": None,
        "layers": [],
        "relu_layers": [],
        "start": None,
        "epochs": [],
        "non_finite": None,
    }
    if self._validation is not None and not self._regression:
      labels = self._validation[1]
      share = np.bincount(labels, minlength=num_classes)[:num_classes] / max(len(labels), 1)
      self.record["validation_rows"] = int(len(labels))
      self.record["validation_class_share"] = {
          self.record["classes"][i]: float(s) for i, s in enumerate(share)}
      # Cross-entropy of predicting the validation class shares themselves for every row.
      self.record["baseline_loss"] = float(-sum(s * math.log(s) for s in share if s > 0))
    elif self._validation is not None:
      self.record["validation_rows"] = int(len(self._validation[1]))

  # --- Keras hooks ---------------------------------------------------------------------------

  def on_train_begin(self, logs=None):
    self.record["layers"] = [layer.name for layer in self.model.layers if layer.trainable_weights]
    relus = [layer for layer in self.model.layers
             if getattr(getattr(layer, "activation", None), "__name__", "") == "relu"]
    try:
      self._taps = keras.Model(self.model.inputs, [layer.output for layer in relus]
                               + list(self.model.outputs))
      self._tapped = [layer.name for layer in relus]
    except (AttributeError, ValueError, TypeError):  # a subclassed model has no symbolic outputs
      self._taps, self._tapped = None, []
    self.record["relu_layers"] = list(self._tapped)
    if self._regression and self._validation is not None and len(self._validation[1]):
      # The model's own loss of predicting 0 — the train mean of a standardised target — for
      # every validation row.
      labels = tf.constant(self._validation[1].reshape(-1, 1), tf.float32)
      self.record["baseline_loss"] = float(self.model.compiled_loss(labels, tf.zeros_like(labels)))
    # Before any step: a gradient that explodes from the start (a huge unscaled input) has often
    # killed the units it reaches by the end of the first epoch, when it looks small again.
    self.record["start"] = {**self._gradients(), **self._activations()}

  def on_epoch_begin(self, epoch, logs=None):
    self._epoch = epoch

  def on_train_batch_end(self, batch, logs=None):
    loss = (logs or {}).get("loss")
    if self.record["non_finite"] is None and loss is not None and not math.isfinite(float(loss)):
      layer, feature, value = self._first_non_finite()
      self.record["non_finite"] = {"epoch": self._epoch + 1, "batch": int(batch) + 1,
                                   "loss": float(loss), "layer": layer, "feature": feature,
                                   "feature_max_abs": value}

  def on_epoch_end(self, epoch, logs=None):
    logs = logs or {}
    entry: Dict[str, Any] = {"epoch": epoch + 1}
    for key in ("loss", "val_loss", "accuracy", "val_accuracy"):
      if key in logs:
        entry[key] = float(logs[key])
    entry.update(self._gradients())
    entry.update(self._activations())
    if self._validation is not None and not self._regression:
      entry.update(self.validation_summary())
    self.record["epochs"].append(entry)

  # --- measures --------------------------------------------------------------------------------

  def _gradients(self) -> Dict[str, Any]:
    owners = [(layer.name, layer.trainable_weights) for layer in self.model.layers
              if layer.trainable_weights]
    variables = [v for _, weights in owners for v in weights]
    squares = np.zeros(len(owners))
    for x, y in self._probe:
      with tf.GradientTape() as tape:
        predictions = self.model(x, training=False)
        loss = self.model.compiled_loss(y, predictions, regularization_losses=self.model.losses)
      grads = tape.gradient(loss, variables)
      i = 0
      for j, (_, weights) in enumerate(owners):
        for g in grads[i:i + len(weights)]:
          if g is not None:
            squares[j] += float(tf.reduce_sum(tf.square(tf.cast(g, tf.float64))))
        i += len(weights)
    squares /= max(len(self._probe), 1)
    finite = bool(np.all(np.isfinite(squares)))
    norms = np.sqrt(squares)
    return {"grad_norm": _number(math.sqrt(float(squares.sum()))) if finite else None,
            "layer_grad_norms": {name: _number(n) for (name, _), n in zip(owners, norms)}}

  def _activations(self) -> Dict[str, Any]:
    fired = {}
    largest = {}
    for x, _ in self._probe:
      if self._taps is None:
        continue
      outputs = self._taps(x, training=False)
      for name, out in zip(self._tapped, outputs):
        out = tf.reshape(out, [tf.shape(out)[0], -1])
        any_fired = tf.reduce_any(out > 0, axis=0).numpy()
        fired[name] = any_fired if name not in fired else fired[name] | any_fired
        largest[name] = max(largest.get(name, 0.0), float(tf.reduce_max(tf.abs(out))))
    feature = self._largest_input
    return {
        "dead_fraction": {name: float(1.0 - f.mean()) for name, f in fired.items()},
        "max_abs_activation": {name: _number(v) for name, v in largest.items()},
        "max_abs_input": {"feature": feature,
                          "value": _number(self._input_max[feature]) if feature else None},
    }

  def validation_summary(self, predicted: Optional[np.ndarray] = None) -> Dict[str, Any]:
    """Per class, recall and the share of validation sample rows predicted as it (`predicted`:
    `predict_validation()`'s result, computed when not given)."""
    labels = self._validation[1]
    predicted = self.predict_validation() if predicted is None else predicted
    classes = self.record["classes"]
    recall, share = {}, {}
    for i, name in enumerate(classes):
      rows = labels == i
      recall[name] = float((predicted[rows] == i).mean()) if rows.any() else None
      share[name] = float((predicted == i).mean()) if len(predicted) else 0.0
    return {"val_recall": recall, "val_predicted_share": share}

  def _first_non_finite(self) -> Tuple[Optional[str], Optional[str], Optional[float]]:
    """On the first probe batch: the first ReLU (or output) layer whose activations are not
    finite; and the probe's input feature with the largest absolute value."""
    if not self._probe:
      return None, None, None
    x, _ = self._probe[0]
    feature = self._largest_input
    layer = None
    if self._taps is not None:
      outputs = self._taps(x, training=False)
      names = self._tapped + [self.model.layers[-1].name]
      for name, out in zip(names, outputs):
        if not bool(tf.reduce_all(tf.math.is_finite(tf.cast(out, tf.float32)))):
          layer = name
          break
    return layer, feature, _number(self._input_max[feature]) if feature else None

  # --- output ----------------------------------------------------------------------------------

  def predict_validation(self) -> np.ndarray:
    """What the model (as it is now) predicts for each validation sample row: the class, or for a
    regression the value (in the model's units)."""
    features, labels = self._validation
    predicted = []
    for start in range(0, len(labels), PREDICT_CHUNK):
      chunk = {k: v[start:start + PREDICT_CHUNK] for k, v in features.items()}
      outputs = self.model(chunk, training=False).numpy()
      predicted.append(outputs.reshape(-1) if self._regression
                       else np.argmax(np.nan_to_num(outputs, nan=-1.0), axis=1))
    return np.concatenate(predicted) if predicted else np.zeros(0, np.int64)

  def validation_sample(self) -> Optional[Tuple[Dict[str, np.ndarray], np.ndarray]]:
    """The validation rows the record's predictions are on (the baseline model scores the same)."""
    return self._validation

  def write(self, path: str) -> None:
    with tf.io.gfile.GFile(path, "w") as f:
      f.write(json.dumps(self.record, indent=1, sort_keys=True) + "\n")


def _number(value: float) -> Optional[float]:
  """JSON has no NaN or infinity: a value that is not finite is recorded as null."""
  value = float(value)
  return value if math.isfinite(value) else None


def _sample(dataset: tf.data.Dataset, rows: int) -> Optional[Tuple[Dict[str, np.ndarray],
                                                                    np.ndarray]]:
  """Up to `rows` rows of a batched `(features, label)` dataset, as NumPy arrays."""
  features: Dict[str, List[np.ndarray]] = {}
  labels: List[np.ndarray] = []
  taken = 0
  for x, y in dataset:
    for name, value in x.items():
      features.setdefault(name, []).append(value.numpy())
    labels.append(y.numpy().reshape(-1))
    taken += len(labels[-1])
    if taken >= rows:
      break
  if not labels:
    return None
  return ({name: np.concatenate(parts)[:rows] for name, parts in features.items()},
          np.concatenate(labels)[:rows])
