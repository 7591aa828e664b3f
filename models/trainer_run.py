"""What every Trainer `run_fn` shares (the Keras network's, `keras_model/model.py`, and the
gradient-boosted trees', `decision_forests/model.py`): reading `fn_args` (the custom config, the
Transform output, the transformed label), the transform summary written before training, the
train and validation datasets, class weights, the run's policy, and writing history.json, the
training record and the findings.

Why one module: the two run_fns read their inputs and write these files the same way, and the
report, the Evaluator and `trainguard run --repair` read the files back, so a change to any of it
belongs in one place.
"""
import dataclasses
import json
import logging
import os
from typing import Any, Collection, Dict, List, Optional, Set, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs
from tfx_bsl.public import tfxio

from trainguard import artifacts
from trainguard.components.data_guard import findings as findings_lib
from trainguard.models import features, preprocessing_summary
from trainguard.policy import Policy


@dataclasses.dataclass
class TrainerRun:
  """One run_fn's inputs: `fn_args`, its custom config, the Transform output, the transformed
  label's name, the transform summary and the features it marks dropped, and the task."""

  fn_args: FnArgs
  config: Dict[str, Any]
  tf_transform_output: tft.TFTransformOutput
  label: str
  summary: Dict[str, Any]
  dropped: Set[str]
  is_regression: bool
  classes: List[str]  # the label's classes; none for a regression

  def datasets(self, batch_size: int, keep: Collection[str],
               shuffle_train: bool) -> Tuple[tf.data.Dataset, tf.data.Dataset]:
    """(train, validation) batches of the `keep` features, labelled rows only (`dataset`).

    fn_args.eval_files is the validation split (the pipeline's EvalArgs): early stopping and the
    diagnosis never read the eval rows the Evaluator blesses on."""
    read = dict(data_accessor=self.fn_args.data_accessor,
                tf_transform_output=self.tf_transform_output, label=self.label,
                batch_size=batch_size, seed=self.config["seed"], keep=keep)
    return (dataset(self.fn_args.train_files, shuffle=shuffle_train, **read),
            dataset(self.fn_args.eval_files, shuffle=False, **read))

  def class_weights(self, train: tf.data.Dataset) -> Optional[Dict[int, float]]:
    """`class_weights` of the train split when the run asks for them (`--class-weights`) and
    the label has classes; None otherwise."""
    if not self.config.get("class_weights") or self.is_regression:
      return None
    weights = class_weights(train, len(self.classes))
    logging.info("class weights: %s", weights)
    return weights

  def policy(self) -> Policy:
    """The run's policy (the custom config's), or the defaults."""
    config = self.config
    return Policy.from_json(config["policy"]) if config.get("policy") else Policy.from_dict({})


def start(fn_args: FnArgs) -> TrainerRun:
  """The run's inputs, with the transform summary written to the model run directory and its
  warnings logged."""
  config = fn_args.custom_config
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
  # Written before training, so a run that diverges still shows what the inputs were.
  # The Transform custom_config (the plan) names the treatments; without it the summary has the
  # same numbers under neutral names (see preprocessing_summary).
  plan = config.get("transform_config") or {"label_key": config["label_key"],
                                             "label_classes": config["label_classes"]}
  summary = preprocessing_summary.summarize(tf_transform_output, transform_config=plan)
  preprocessing_summary.write(summary, fn_args.model_run_dir)
  for warning in summary["warnings"]:
    logging.warning("transform summary: %s", warning)
  is_regression = config.get("task") == "regression"
  return TrainerRun(
      fn_args=fn_args, config=config, tf_transform_output=tf_transform_output,
      label=features.transformed_name(config["label_key"]), summary=summary,
      dropped={features.transformed_name(name) for name in summary["dropped"]},
      is_regression=is_regression,
      classes=[] if is_regression else list(config["label_classes"]))


def dataset(file_pattern: List[str], data_accessor, tf_transform_output, label: str,
            batch_size: int, seed: int, shuffle: bool, keep: Collection[str]) -> tf.data.Dataset:
  """One epoch of (features, label) batches of `file_pattern`: the `keep` features only, rows
  without a label left out (`labelled_rows`), batches left empty by that dropped."""
  batches = data_accessor.tf_dataset_factory(
      file_pattern,
      tfxio.TensorFlowDatasetOptions(
          batch_size=batch_size, label_key=label, num_epochs=1, shuffle=shuffle,
          shuffle_seed=seed),
      tf_transform_output.transformed_metadata.schema)
  keep = set(keep)
  batches = batches.map(lambda x, y: labelled_rows({k: v for k, v in x.items() if k in keep}, y))
  return batches.filter(lambda x, y: tf.shape(y)[0] > 0)  # a batch of unlabelled rows: none left


def labelled_rows(x: Dict[str, tf.Tensor], y: tf.Tensor):
  """A batch without its rows that have no label: NaN for a regression label, a class id below 0
  for classes (Transform's `label_values` / `label_ids` where the label is absent or empty).

  Why here: a pipeline built without the CLI (which drops such rows before ExampleGen) brings
  them, and DataGuard lets up to the CLI's 20% through (LABEL_MISSING_ROWS_DROPPED); one NaN
  target made the loss NaN, a class id -1 is no class. Training, validation (early stopping, the
  diagnosis) and the regression prediction sample all read batches through this."""
  flat = tf.reshape(y, [tf.shape(y)[0], -1])[:, 0]
  keep = (tf.math.is_finite(flat) if y.dtype.is_floating else flat >= 0)
  return {k: tf.boolean_mask(v, keep) for k, v in x.items()}, tf.boolean_mask(y, keep)


def class_weights(batches: tf.data.Dataset, num_classes: int) -> Dict[int, float]:
  """Weights that make every class weigh the same in the loss: rows / (classes × rows of the class),
  scikit-learn's "balanced" rule, from one pass over the train split's labels. For users who prefer
  reweighting to Rebalance's resampling (`--class-weights`, usually with `--rebalance none`)."""
  counts = np.zeros(num_classes)
  for _, labels in batches:
    ids = labels.numpy().reshape(-1)
    counts += np.bincount(ids[(ids >= 0) & (ids < num_classes)], minlength=num_classes)
  present = counts > 0
  total = counts.sum()
  return {i: float(total / (present.sum() * counts[i])) if counts[i] else 0.0
          for i in range(num_classes)}


def write_json(value: Any, folder: str, name: str, sort_keys: bool = False) -> None:
  """`value` as `folder/name`: indented by one, a final newline; keys sorted on request."""
  tf.io.gfile.makedirs(folder)
  with tf.io.gfile.GFile(os.path.join(folder, name), "w") as f:
    f.write(json.dumps(value, indent=1, sort_keys=sort_keys) + "\n")


def write_history(history: Dict[str, List[float]], model_run_dir: str) -> None:
  """history.json: per metric, its value per epoch (for trees, per logged tree count), in the
  order training logged the metrics."""
  write_json({k: [float(v) for v in values] for k, values in history.items()}, model_run_dir,
             artifacts.HISTORY_FILE)


def write_findings(report: findings_lib.FindingsReport, folder: str) -> None:
  """training_findings.json in `folder`, as `FindingsReport.to_json` words it."""
  write_json(report.to_dict(), folder, artifacts.TRAINING_FINDINGS_FILE, sort_keys=True)


def write_diagnosis(record: Dict[str, Any], report: findings_lib.FindingsReport,
                    model_run_dir: str, sort_keys: bool = False) -> None:
  """The training record (its keys sorted on request: the network's `TrainingMonitor.write`
  form) and its findings next to history.json, each finding logged."""
  write_json(record, model_run_dir, artifacts.TRAINING_RECORD_FILE, sort_keys=sort_keys)
  write_findings(report, model_run_dir)
  for finding in report.findings:
    logging.warning("training diagnosis: %s: %s", finding.severity.upper(), finding.line())


def write_model_findings(report: findings_lib.FindingsReport, serving_model_dir: str) -> None:
  """The findings in the exported model's assets.extra/: the verdict travels with the model, the
  Evaluator withholds the blessing on a blocking finding (components/evaluator); serving ignores
  assets.extra/."""
  write_findings(report, os.path.join(serving_model_dir, "assets.extra"))
