"""kfp_backend on a pipeline that is not ours (conftest.their_pipeline: stock components only,
the latest-blessed-model Resolver as the Evaluator's baseline), compiled in-process, never run.
"""
import json
import logging

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from trainguard.errors import InputError
from trainguard.kubeflow import kfp_backend
from trainguard.kubeflow.conftest import DATA_DEFAULT, IMAGE, ROOT, their_pipeline

def _executor_kinds(spec):
  return {kind for e in spec["deploymentSpec"]["executors"].values() for kind in e}


def test_their_pipeline_compiles_into_a_kfp_backend_spec(theirs):
  pipeline, spec, path = theirs
  with open(path, encoding="utf-8") as f:
    text = f.read()
  assert text.startswith("# their-pipeline: compiled by ")
  assert "WARNING" not in text
  assert yaml.safe_load(text) == spec
  proto = json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())  # unknown fields fail
  assert proto.schema_version == "2.1.0"
  assert proto.default_pipeline_root == ROOT
  assert spec["root"]["inputDefinitions"]["parameters"] == {
      "data_root": {"parameterType": "STRING", "defaultValue": DATA_DEFAULT, "isOptional": True}}
  assert spec["root"]["dag"]["tasks"]["CsvExampleGen"]["inputs"]["parameters"]["input_base"] == {
      "componentInputParameter": "data_root"}
  # Every node but the resolver is a task, in the given image.
  assert set(spec["root"]["dag"]["tasks"]) == {
      n.id for n in pipeline.components} - {"latest_blessed_model_resolver"}
  assert {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values()} == {IMAGE}


def test_resolver_steps_and_the_inputs_they_fed_are_gone(theirs):
  _, spec, _ = theirs
  assert _executor_kinds(spec) == {"container"}
  assert "resolver" not in json.dumps(spec)
  evaluator = spec["root"]["dag"]["tasks"]["Evaluator"]
  assert set(evaluator["inputs"]["artifacts"]) == {"examples", "model"}
  assert set(spec["components"]["Evaluator"]["inputDefinitions"]["artifacts"]) == {
      "examples", "model"}
  assert sorted(evaluator["dependentTasks"]) == ["CsvExampleGen", "Trainer"]


def test_a_compiled_pipeline_json_post_processes_to_the_same_spec(theirs, tmp_path, caplog):
  """The route of a user who already runs KubeflowV2DagRunner: its pipeline.json, through the
  module's command line. The job holds no RuntimeParameter defaults: they are passed again."""
  from tfx import v1 as tfx
  pipeline, spec, _ = theirs
  tfx.orchestration.experimental.KubeflowV2DagRunner(
      config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
          default_image=IMAGE, use_pipeline_spec_2_1=True),
      output_dir=str(tmp_path), output_filename="pipeline.json").run(pipeline)
  job_path, out = str(tmp_path / "pipeline.json"), str(tmp_path / "out" / "pipeline.yaml")
  with open(job_path, encoding="utf-8") as f:
    job = json.load(f)
  assert "defaultValue" not in json.dumps(job["pipelineSpec"]["root"]["inputDefinitions"])
  with caplog.at_level(logging.WARNING, logger=kfp_backend.__name__):
    assert kfp_backend.main([job_path, "-o", out, "--parameter", f"data_root={DATA_DEFAULT}"]) == 0
  assert "latest_blessed_model_resolver" in caplog.text
  assert "Evaluator.baseline_model" in caplog.text
  with open(out, encoding="utf-8") as f:
    text = f.read()
  assert "(post-processed from pipeline.json)" in text.splitlines()[0]
  assert yaml.safe_load(text) == spec
  # The input job is not modified; a bare PipelineSpec goes through unchanged.
  with open(job_path, encoding="utf-8") as f:
    assert json.load(f) == job
  assert kfp_backend.postprocess(spec) == spec


def test_a_parameter_value_that_names_no_parameter_is_an_error(theirs):
  _, spec, _ = theirs
  with pytest.raises(InputError, match=r"data_rot name no runtime parameter .* \(it has: "
                     r"data_root\)"):
    kfp_backend.postprocess(spec, parameter_values={"data_rot": "gs://x"})
  assert kfp_backend.main(["/no/such/pipeline.json", "-o", "/tmp/never.yaml"]) == 2


def test_a_required_input_fed_by_a_resolver_is_an_error_before_compiling():
  from tfx import v1 as tfx
  latest = tfx.dsl.Resolver(
      strategy_class=tfx.dsl.experimental.LatestArtifactStrategy,
      examples=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Examples)).with_id("latest")
  statistics = tfx.components.StatisticsGen(examples=latest.outputs["examples"])
  pipeline = tfx.dsl.Pipeline(pipeline_name="p", pipeline_root=ROOT,
                              components=[latest, statistics])
  with pytest.raises(InputError, match=r"StatisticsGen.examples comes from resolver latest.*"
                     r"required by StatisticsGen"):
    kfp_backend.compile_for_kfp_backend(pipeline, image=IMAGE)


def test_a_change_threshold_without_its_baseline_is_warned(caplog, tmp_path):
  with caplog.at_level(logging.WARNING, logger=kfp_backend.__name__):
    kfp_backend.compile_for_kfp_backend(their_pipeline(change_threshold=True), image=IMAGE)
  assert "Evaluator: its eval_config has a change_threshold" in caplog.text


def test_the_placeholder_image_is_warned_in_the_log_and_the_file(theirs, caplog, tmp_path):
  _, spec, _ = theirs
  placeholder = f"{kfp_backend.PLACEHOLDER_IMAGE_PREFIX}trainguard:0.1.0"
  job = json.loads(json.dumps(spec).replace(IMAGE, placeholder))
  with caplog.at_level(logging.WARNING, logger=kfp_backend.__name__):
    processed = kfp_backend.postprocess(job)
  assert kfp_backend.placeholder_images(processed) == [placeholder]
  assert f"image {placeholder} is the placeholder" in caplog.text
  assert "--image" in caplog.text and "$TRAINGUARD_IMAGE" in caplog.text
  path = str(tmp_path / "p.yaml")
  kfp_backend.write_yaml(processed, path)
  with open(path, encoding="utf-8") as f:
    assert f.read().splitlines()[1] == (
        f"# WARNING: {kfp_backend.placeholder_image_warning(placeholder)}")
