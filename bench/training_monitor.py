"""What the training diagnosis costs: `model.fit` with and without `TrainingMonitor`, side by side.

    .venv/bin/python -m bench.training_monitor [--rows 250 200000] [--epochs 3] [--repeats 3]

The Trainer's own network (`keras_model.classifier`, two ReLU layers 16 and 8) on generated
three-class data of eight float features, batch size 32 as the pipeline's default, in one process:
for each size, fits with and without the monitor alternate (repeats × 2 fits), each from the same
seed, so machine noise falls on both. Reported per size: median seconds of each and their ratio;
the diagnosis after training (gradient-boosted baseline on ≤ 100k rows) is timed apart. The issue's
goal: the callback at most 10% of the Trainer's time.
"""
import argparse
import json
import statistics
import time

import numpy as np


def _data(rows: int, seed: int):
  rng = np.random.default_rng(seed)
  labels = rng.choice(3, size=rows)
  x = rng.normal(size=(rows, 8)) + labels[:, None] * 0.8
  return {f"f{i}_xf": x[:, i:i + 1].astype(np.float32) for i in range(8)}, labels.reshape(-1, 1)


def _fit(rows: int, epochs: int, monitored: bool) -> dict:
  # pylint: disable=g-import-not-at-top
  import tensorflow as tf
  import tf_keras as keras
  from trainguard.models import training_monitor
  from trainguard.models.keras_model import model as keras_model
  from trainguard.policy import Policy
  # pylint: enable=g-import-not-at-top
  keras.utils.set_random_seed(1)
  train = tf.data.Dataset.from_tensor_slices(_data(rows, 1)).batch(32)
  validation = tf.data.Dataset.from_tensor_slices(_data(max(rows // 9, 50), 2)).batch(32)
  inputs = {f"f{i}_xf": keras.Input(shape=(1,), name=f"f{i}_xf") for i in range(8)}
  network = keras_model.classifier(inputs, list(inputs.values()), 3, 0.01)
  callbacks = []
  monitor = None
  if monitored:
    monitor = training_monitor.TrainingMonitor(train, validation, 3)
    callbacks.append(monitor)
  started = time.perf_counter()
  network.fit(train, validation_data=validation, epochs=epochs, verbose=0, callbacks=callbacks)
  fit_seconds = time.perf_counter() - started
  diagnosis_seconds = None
  if monitor is not None:
    started = time.perf_counter()
    keras_model.diagnose_training(monitor, train, Policy.from_dict({}), seed=1)
    diagnosis_seconds = time.perf_counter() - started
  return {"fit": fit_seconds, "diagnosis": diagnosis_seconds}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--rows", type=int, nargs="+", default=[250, 200_000])
  parser.add_argument("--epochs", type=int, default=3)
  parser.add_argument("--repeats", type=int, default=3)
  args = parser.parse_args()
  _fit(200, 1, True)  # warm-up: TensorFlow's first graph builds
  results = {}
  for rows in args.rows:
    plain, watched, diagnosis = [], [], []
    for repeat in range(args.repeats):
      order = (False, True) if repeat % 2 == 0 else (True, False)
      for monitored in order:
        timing = _fit(rows, args.epochs, monitored)
        (watched if monitored else plain).append(timing["fit"])
        if monitored:
          diagnosis.append(timing["diagnosis"])
    results[rows] = {
        "fit_without_s": round(statistics.median(plain), 2),
        "fit_with_monitor_s": round(statistics.median(watched), 2),
        "ratio": round(statistics.median(watched) / statistics.median(plain), 3),
        "diagnosis_after_s": round(statistics.median(diagnosis), 2),
        "epochs": args.epochs, "repeats": args.repeats,
    }
    print(json.dumps({rows: results[rows]}), flush=True)


if __name__ == "__main__":
  main()
