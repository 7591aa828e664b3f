"""End to end: `--model gradient_boosted_trees` through the real LocalDagRunner on 172 penguins
rows (every other row), read back from ML Metadata: TFDF's trees trained in the same Trainer on
the same transformed features, with class weights instead of resampling, blessed by the same
Evaluator on real metrics, pushed, and serving raw tf.Examples as the Keras model does. One run."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import run_local_runner
from trainguard import artifacts, schemas
from trainguard.pipeline import datasets, results


@pytest.fixture(scope="module")
def trees_run(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("trees"))
  data = os.path.join(workdir, "penguins.csv")
  with open(datasets.penguins_source_csv()) as f, open(data, "w") as out:
    lines = f.readlines()
    out.writelines([lines[0]] + lines[1::2])
  run = run_local_runner(workdir, "--data", data, "--label", "species", "--schema",
                         schemas.schema_dir("penguins"), "--model", "gradient_boosted_trees")
  assert run.returncode == 0, run.output[-5000:]
  return run, results.latest_run(run.paths)


def test_the_trees_are_blessed_on_real_metrics_and_pushed(trees_run):
  run, summary = trees_run
  assert {e.state for e in summary.executions.values()} == {"COMPLETE"}, summary.describe()
  trainer = summary.executions["Trainer"].properties
  assert "trainguard.models.decision_forests.model.run_fn" in json.dumps(trainer)
  assert summary.eval_metrics["sparse_categorical_accuracy"] >= 0.9, summary.eval_metrics
  macro_recall = next(v for k, v in summary.eval_metrics.items() if k.endswith("macro_recall"))
  assert macro_recall >= 0.9
  assert summary.blessed is True and summary.pushed_model, run.output[-3000:]
  assert "model blessed:   yes" in run.output


def test_class_weights_replace_resampling_and_the_record_is_the_trees(trees_run):
  _, summary = trees_run
  rebalanced = summary.artifacts["Rebalance.rebalanced_examples"][-1]
  assert rebalanced.custom_properties["strategy"].string_value == "none"
  model_run = summary.artifact_uri("Trainer", "model_run")
  with open(os.path.join(model_run, artifacts.TRAINING_RECORD_FILE)) as f:
    record = json.load(f)
  assert record["model"] == "gradient_boosted_trees" and record["settings"]["class_weights"]
  assert 0 < record["settings"]["num_trees"] <= 300
  with open(os.path.join(model_run, artifacts.HISTORY_FILE)) as f:
    assert json.load(f)["val_loss"]
  assert summary.training_findings is not None and not summary.training_findings.blocked


def test_the_pushed_trees_serve_raw_examples_with_missing_values(trees_run):
  _, summary = trees_run
  serve = tf.saved_model.load(summary.pushed_model).signatures["serving_default"]
  def example(**values):
    feature = {k: (tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.encode()]))
                   if isinstance(v, str) else
                   tf.train.Feature(int64_list=tf.train.Int64List(value=[v])) if isinstance(v, int)
                   else tf.train.Feature(float_list=tf.train.FloatList(value=[v])))
               for k, v in values.items()}
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()
  gentoo_without_bill_length_and_sex = example(
      island="Biscoe", bill_depth_mm=15.0, flipper_length_mm=220, body_mass_g=5400, year=2008)
  adelie = example(island="Torgersen", bill_length_mm=39.1, bill_depth_mm=18.7,
                   flipper_length_mm=181, body_mass_g=3750, sex="male", year=2007)
  out = serve(examples=tf.constant([gentoo_without_bill_length_and_sex, adelie]))
  probabilities = out["probabilities"].numpy()
  assert probabilities.shape == (2, 3) and np.all(np.isfinite(probabilities))
  np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
  assert [c.decode() for c in out["classes"].numpy()] == ["Gentoo", "Adelie"]
