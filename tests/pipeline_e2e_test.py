"""End to end: the real LocalDagRunner on the raw penguins data, read back from ML Metadata."""
import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

from trainguard.pipeline import results

COMPONENTS = {"CsvExampleGen", "StatisticsGen", "ImportSchemaGen", "DataGuard", "Transform",
              "Rebalance", "Trainer", "latest_blessed_model_resolver", "Evaluator", "Pusher"}
NUMERIC = ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "year")
CATEGORICAL = ("island", "sex")


@pytest.fixture(scope="module")
def summary(penguins_run):
  return results.latest_run(penguins_run.paths)


def test_every_component_completed(summary):
  assert set(summary.executions) == COMPONENTS
  assert {e.state for e in summary.executions.values()} == {"COMPLETE"}, summary.describe()


def _transformed_train(summary):
  transform_graph = summary.artifact_uri("Transform", "transform_graph")
  output = tft.TFTransformOutput(transform_graph)
  files = glob.glob(os.path.join(summary.artifact_uri("Transform", "transformed_examples"),
                                 "Split-train", "*.gz"))
  assert files
  spec = output.transformed_feature_spec()
  columns = {name: [] for name in spec}
  for record in tf.data.TFRecordDataset(files, compression_type="GZIP").batch(512):
    parsed = tf.io.parse_example(record, spec)
    for name in spec:
      columns[name].append(parsed[name].numpy().reshape(-1))
  return output, {name: np.concatenate(chunks) for name, chunks in columns.items()}


def test_transformed_train_split_has_no_missing_value_and_scaled_numerics(summary):
  _, columns = _transformed_train(summary)
  n_rows = len(columns["species_xf"])
  assert n_rows > 150
  for name, values in columns.items():
    assert len(values) == n_rows, f"{name} is missing on some rows"
    assert np.all(np.isfinite(values)), name
  for name in NUMERIC:
    values = columns[name + "_xf"]
    assert abs(values.mean()) < 1e-3, name
    # Imputed cells sit at exactly 0, which shrinks the spread a little below 1 on gappy columns.
    assert 0.97 < values.std() < 1.001, name
  for name in CATEGORICAL:
    assert set(np.unique(columns[name + "_xf"])) <= {0, 1, 2}, name
  assert set(np.unique(columns["species_xf"])) == {0, 1, 2}


def _example(**values):
  feature = {}
  for name, value in values.items():
    if isinstance(value, str):
      feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
    elif isinstance(value, int):
      feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
    else:
      feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=[value]))
  return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _raw_column(summary, split, name):
  files = glob.glob(os.path.join(summary.artifact_uri("CsvExampleGen", "examples"),
                                 f"Split-{split}", "*.gz"))
  values = []
  for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
    feature = tf.train.Example.FromString(record.numpy()).features.feature[name]
    kind = feature.WhichOneof("kind")
    values += list(getattr(feature, kind).value) if kind else []
  return np.array(values, dtype=float)


def test_transform_learned_from_the_train_split_only(summary):
  # Leakage by construction: the imputation/scaling mean is the train split's, not the dataset's.
  learned = json.load(open(os.path.join(summary.artifact_uri("Trainer", "model_run"),
                                        "transform_summary.json")))["features"]
  for name in ("bill_length_mm", "body_mass_g"):
    train = _raw_column(summary, "train", name)
    everything = np.concatenate([train, _raw_column(summary, "eval", name)])
    mean = learned[name]["scaling"]["mean"]
    assert learned[name]["scaling"]["method"] == "z_score"
    assert mean == pytest.approx(train.mean(), rel=1e-5)
    assert abs(mean - everything.mean()) > 10 * abs(mean - train.mean()) + 1e-4
    assert learned[name]["imputation"]["method"] == "mean"


def test_pushed_model_answers_raw_examples_with_missing_values(summary):
  assert summary.blessed is True
  assert summary.pushed_model and os.path.isdir(summary.pushed_model)
  serve = tf.saved_model.load(summary.pushed_model).signatures["serving_default"]
  gentoo_without_bill_length_and_sex = _example(
      island="Biscoe", bill_depth_mm=15.0, flipper_length_mm=220, body_mass_g=5400, year=2008)
  adelie = _example(island="Torgersen", bill_length_mm=39.1, bill_depth_mm=18.7,
                    flipper_length_mm=181, body_mass_g=3750, sex="male", year=2007)
  out = serve(examples=tf.constant([gentoo_without_bill_length_and_sex, adelie]))
  probabilities = out["probabilities"].numpy()
  assert probabilities.shape == (2, 3)
  assert np.all(np.isfinite(probabilities))
  np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
  assert [c.decode() for c in out["classes"].numpy()] == ["Gentoo", "Adelie"]


def test_data_guard_passes_penguins_and_reports_its_real_gaps(summary):
  assert summary.findings is not None and not summary.findings.blocked
  missing = {(f.feature, f.split) for f in summary.findings.findings if f.kind == "MISSING_VALUES"}
  # The raw data has gaps in these five columns (11 rows without sex, 2 without measurements).
  assert {f for f, _ in missing} == {"bill_length_mm", "bill_depth_mm", "flipper_length_mm",
                                      "body_mass_g", "sex"}


def test_rebalance_balances_the_train_split_and_copies_validation_and_eval(summary):
  artifact = summary.artifacts["Rebalance.rebalanced_examples"][-1]
  strategy = artifact.custom_properties["strategy"].string_value
  before = json.loads(artifact.custom_properties["class_counts_before"].string_value)
  after = json.loads(artifact.custom_properties["class_counts_after"].string_value)
  # Penguins' train split is imbalanced (Chinstrap is the minority): auto picks SMOTENC
  # (island and sex are categorical) and brings every class up to the majority, exactly.
  assert strategy == "smotenc"
  assert len(set(before["train"].values())) == 3
  assert set(after["train"].values()) == {max(before["train"].values())}
  # validation and eval are copied byte for byte: early stopping and the metrics see the real mix.
  def files(uri, split):
    return {os.path.basename(p): open(p, "rb").read()
            for p in glob.glob(os.path.join(uri, f"Split-{split}", "*"))}
  for split in ("validation", "eval"):
    copied = files(artifact.uri, split)
    assert copied and copied == files(summary.artifact_uri("Transform", "transformed_examples"),
                                      split)


def test_the_trainer_stops_early_on_validation_rows_the_evaluator_never_blesses_on(summary):
  """Honest evaluation: nothing that selects the model reads the eval split."""
  trainer = summary.executions["Trainer"]
  assert json.loads(trainer.properties["train_args"])["splits"] == ["train"]
  assert json.loads(trainer.properties["eval_args"])["splits"] == ["validation"]
  assert json.loads(summary.executions["Evaluator"].properties["example_splits"]) == ["eval"]
  examples = summary.artifacts["CsvExampleGen.examples"][-1]
  assert json.loads(examples.properties["split_names"].string_value) == ["train", "validation", "eval"]
  rows = {split: {r.numpy() for r in tf.data.TFRecordDataset(glob.glob(os.path.join(
      examples.uri, f"Split-{split}", "*.gz")), compression_type="GZIP")}
          for split in ("train", "validation", "eval")}
  assert 20 < len(rows["validation"]) < 60 and not rows["validation"] & rows["eval"]


def test_eval_accuracy_on_penguins(summary):
  assert summary.eval_metrics[results.ACCURACY] >= 0.9
  assert summary.eval_metrics["example_count"] > 100


def test_runner_prints_where_everything_is(penguins_run, summary):
  assert f"pushed model:    {summary.pushed_model}" in penguins_run.output
  assert f"metadata store:  {penguins_run.paths.metadata_path}" in penguins_run.output
  assert "eval accuracy:   0.9" in penguins_run.output


def test_per_class_metrics_match_a_recomputation_from_eval_predictions(summary):
  from sklearn import metrics as sk_metrics
  per_class = results.per_class_metrics(summary.artifact_uri("Evaluator", "evaluation"))
  assert sorted(per_class) == [0, 1, 2]
  serve = tf.saved_model.load(summary.pushed_model).signatures["serving_default"]
  files = glob.glob(os.path.join(summary.artifact_uri("CsvExampleGen", "examples"), "Split-eval",
                                 "*.gz"))
  classes = ["Adelie", "Chinstrap", "Gentoo"]
  y_true, y_pred = [], []
  for batch in tf.data.TFRecordDataset(files, compression_type="GZIP").batch(256):
    for record in batch.numpy():
      label = tf.train.Example.FromString(record).features.feature["species"]
      y_true.append(classes.index(label.bytes_list.value[0].decode()))
    y_pred += serve(examples=batch)["class_ids"].numpy().tolist()
  recall = sk_metrics.recall_score(y_true, y_pred, average=None, labels=[0, 1, 2])
  precision = sk_metrics.precision_score(y_true, y_pred, average=None, labels=[0, 1, 2])
  for class_id in range(3):
    assert per_class[class_id]["recall"] == pytest.approx(recall[class_id], abs=1e-6)
    assert per_class[class_id]["precision"] == pytest.approx(precision[class_id], abs=1e-6)
  macro = next(v for k, v in summary.eval_metrics.items() if k.endswith("_macro_recall"))
  assert macro == pytest.approx(recall.mean(), abs=1e-6)


def test_run_ends_with_the_path_of_a_self_contained_report(penguins_run, summary):
  line = next(l for l in penguins_run.output.splitlines() if l.startswith("report:"))
  path = line.split(":", 1)[1].strip()
  assert os.path.isabs(path) and os.path.isfile(path)
  html = open(path, encoding="utf-8").read()
  assert "pushed" in html and summary.pushed_model in html
  assert "smotenc" in html  # the rebalancing strategy by name
  assert "http://" not in html and "https://" not in html


def test_second_run_reuses_cached_executions(penguins_rerun, summary):
  rerun = results.latest_run(penguins_rerun.paths)
  assert rerun.run_id != summary.run_id
  cached = {n for n, e in rerun.executions.items() if e.state == "CACHED"}
  # Nothing upstream of the model changed, so none of it runs again. The Evaluator does run: its
  # baseline input is now the model the first run blessed (the resolver found it), which is new.
  assert cached == {"CsvExampleGen", "StatisticsGen", "ImportSchemaGen", "DataGuard",
                    "Transform", "Rebalance", "Trainer"}, rerun.describe()
  assert rerun.artifact_uri("Trainer", "model") == summary.artifact_uri("Trainer", "model")
  assert rerun.blessed is True


def test_healthy_penguins_get_a_training_record_and_no_training_finding(summary):
  run_dir = summary.artifact_uri("Trainer", "model_run")
  with open(os.path.join(run_dir, "training_findings.json")) as f:
    diagnosis = json.load(f)
  assert diagnosis["findings"] == [], diagnosis["findings"]
  with open(os.path.join(run_dir, "training_record.json")) as f:
    record = json.load(f)
  with open(os.path.join(run_dir, "history.json")) as f:
    history = json.load(f)
  assert len(record["epochs"]) == len(history["loss"]) and record["validation_rows"] > 20
  assert record["epochs"][-1]["val_loss"] == pytest.approx(history["val_loss"][-1])
  assert record["baseline"]["network_score"] > 0.9
