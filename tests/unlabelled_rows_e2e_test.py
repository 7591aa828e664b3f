"""Rows without a label in a pipeline built without the CLI (issue 22): `create_pipeline` called
in Python on 180 diabetes rows, 12 of them with an empty target cell, run in-process by
LocalDagRunner. The CLI drops such rows before ExampleGen; here DataGuard warns
(LABEL_MISSING_ROWS_DROPPED, under the CLI's 20%) instead of blocking on the curated schema's
presence 1.0, the Trainer leaves them out (a NaN target made the loss NaN), and the Evaluator
scores the labelled eval rows only."""
import os

import numpy as np
import pytest

from trainguard.pipeline import configs, metadata, results
from trainguard.policy import Policy

ROWS, BLANK_EVERY = 180, 15  # 12 rows without a label: 6.7%


@pytest.fixture(scope="module")
def run(tmp_path_factory):
  # pylint: disable=g-import-not-at-top
  import tensorflow_data_validation as tfdv
  from sklearn.datasets import load_diabetes
  from tfx.orchestration.local.local_dag_runner import LocalDagRunner
  from trainguard.pipeline import pipeline
  # pylint: enable=g-import-not-at-top
  root = tmp_path_factory.mktemp("unlabelled")
  frame = load_diabetes(as_frame=True).frame.iloc[:ROWS].copy()
  schema = tfdv.infer_schema(tfdv.generate_statistics_from_dataframe(frame))
  for feature in schema.feature:
    feature.ClearField("shape")  # as a curated schema: presence 1.0 and one value, no fixed shape
    feature.value_count.min = feature.value_count.max = 1
  os.makedirs(root / "schema")
  tfdv.write_schema_text(schema, str(root / "schema" / "schema.pbtxt"))
  frame.loc[frame.index[::BLANK_EVERY], "target"] = np.nan
  os.makedirs(root / "data")
  frame.to_csv(root / "data" / "rows.csv", index=False)  # NaN is written as an empty cell
  paths = results.RunPaths(str(root / "work"), "unlabelled")
  LocalDagRunner().run(pipeline.create_pipeline(
      pipeline_name=paths.pipeline_name, pipeline_root=paths.pipeline_root,
      data_root=str(root / "data"), schema_path=str(root / "schema" / "schema.pbtxt"),
      policy=Policy.default(schema), label_key="target", label_classes=[],
      serving_model_dir=paths.serving_model_dir, preprocessing_fn=configs.PREPROCESSING_FN,
      run_fn=configs.RUN_FN, epochs=5, metadata_connection_config=metadata.ensure_store(
          paths.metadata_path)))
  return results.latest_run(paths)


def test_data_guard_warns_and_every_stage_runs(run):
  assert run.complete, run.describe()
  label = [f for f in run.findings.findings if f.feature == "target"]
  assert {f.kind for f in label} == {"LABEL_MISSING_ROWS_DROPPED"}, [f.line() for f in label]
  assert {f.severity for f in label} == {"warn"} and not run.blocked
  assert sum(int(f.found.split(" of ")[0]) for f in label) == ROWS // BLANK_EVERY
  assert all(f.threshold == 0.2 for f in label)


def test_the_model_trains_and_is_scored_on_labelled_rows_only(run):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  metrics = run.eval_metrics
  assert np.isfinite(metrics["mean_absolute_error"]) and np.isfinite(metrics["r2"]), metrics
  folder = os.path.join(run.artifact_uri("CsvExampleGen", "examples"), "Split-eval")
  records = tf.data.TFRecordDataset([os.path.join(folder, f) for f in os.listdir(folder)],
                                    compression_type="GZIP")
  labels = [tf.train.Example.FromString(r.numpy()).features.feature["target"].float_list.value
            for r in records]
  labelled = sum(1 for v in labels if len(v))
  assert labelled < len(labels)  # the eval split holds unlabelled rows
  assert metrics["example_count"] == labelled, metrics
