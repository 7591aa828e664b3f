"""The compiled specs: valid KFP protos, every node of `create_pipeline`, our image, image paths.

Expectations are derived from the `tfx.dsl.Pipeline` objects the specs were compiled from, so a
component added to `create_pipeline` later is checked the same way without editing this file.
"""
import json
import logging
import os

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx.dsl.components.common import resolver
from tfx.dsl.experimental.conditionals import conditional
from tfx.utils import name_utils

from trainguard.kubeflow import kubeflow_v2_runner as runner
from trainguard.kubeflow import spec_check
from trainguard.kubeflow.conftest import IMAGE, REPO, compile_into
from trainguard.pipeline import configs

ENTRYPOINT = ["python", "-m", "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"]


def _specs(compiled):
  return {"json": compiled.vertex_spec, "yaml": compiled.kfp_spec}


def _task_names_of(node, task_names):
  """The tasks a node compiles to: itself, or `<id>-...` for a resolver split into queries."""
  if isinstance(node, resolver.Resolver):
    return {t for t in task_names if t.startswith(node.id + "-")}
  return {node.id} & task_names


def test_files_parse_into_the_kfp_protos_with_schema_2_1(compiled):
  with open(os.path.join(compiled.output_dir, "pipeline.json"), encoding="utf-8") as f:
    job = json_format.Parse(f.read(), pipeline_spec_pb2.PipelineJob())  # unknown fields fail
  assert job.pipeline_spec["schemaVersion"] == "2.1.0"
  assert job.runtime_config.gcs_output_directory == compiled.args.pipeline_root
  spec = json_format.ParseDict(compiled.kfp_spec, pipeline_spec_pb2.PipelineSpec())
  assert spec.schema_version == "2.1.0"
  assert spec.default_pipeline_root == compiled.args.pipeline_root
  assert spec.pipeline_info.name == job.pipeline_spec["pipelineInfo"]["name"] == \
      configs.PIPELINE_NAME


@pytest.mark.parametrize("variant", ["json", "yaml"])
def test_every_node_of_create_pipeline_is_a_task(compiled, variant):
  spec, nodes = _specs(compiled)[variant], compiled.pipelines[variant].components
  tasks = set(spec["root"]["dag"]["tasks"])
  mapped = {node.id: _task_names_of(node, tasks) for node in nodes}
  assert {n for n, t in mapped.items() if not t} == set(), f"nodes missing from the {variant} spec"
  assert tasks == set().union(*mapped.values()), "tasks that are no node of create_pipeline"
  for task in spec["root"]["dag"]["tasks"].values():
    assert task["componentRef"]["name"] in spec["components"]
    assert spec["components"][task["componentRef"]["name"]]["executorLabel"] in \
        spec["deploymentSpec"]["executors"]
  # The optional comparison nodes are compiled in, so these checks cover them too.
  assert {"serving_example_gen", "previous_span_statistics_gen", "DataGuard", "Rebalance"} <= tasks


@pytest.mark.parametrize("variant", ["json", "yaml"])
def test_every_component_runs_its_executor_in_our_image_through_the_tfx_entrypoint(
    compiled, variant):
  spec = _specs(compiled)[variant]
  components = [n for n in compiled.pipelines[variant].components
                if not isinstance(n, resolver.Resolver)]
  assert components
  for node in components:
    label = spec["components"][spec["root"]["dag"]["tasks"][node.id]["componentRef"]["name"]][
        "executorLabel"]
    container = spec["deploymentSpec"]["executors"][label]["container"]
    assert container["image"] == IMAGE, node.id
    assert container["command"] == ENTRYPOINT, node.id
    assert spec_check.executor_class_path(container) == name_utils.get_full_name(
        node.executor_spec.executor_class), node.id
    args = container["args"]
    assert args[args.index("--json_serialized_invocation_args") + 1] == "{{$}}"
    assert "--json_serialized_inputs_spec_args" in args, "spec 2.1 passes parameter types"
    # Beam arguments are baked into each step's container arguments.
    assert args[-len(configs.BEAM_PIPELINE_ARGS):] == list(configs.BEAM_PIPELINE_ARGS), node.id


def test_data_locations_are_runtime_parameters_with_defaults(compiled):
  expected = {"data_root": compiled.args.data_root,
              "serving_data_root": compiled.args.serving_data_root,
              "previous_span_root": compiled.args.previous_span_root}
  assert compiled.job["runtimeConfig"]["parameterValues"] == expected
  for spec in _specs(compiled).values():
    tasks = spec["root"]["dag"]["tasks"]
    for task, parameter in (("CsvExampleGen", "data_root"),
                            ("serving_example_gen", "serving_data_root"),
                            ("previous_span_example_gen", "previous_span_root")):
      assert tasks[task]["inputs"]["parameters"]["input_base"] == {
          "componentInputParameter": parameter}
    assert set(spec["root"]["inputDefinitions"]["parameters"]) == set(expected)
  for name, value in expected.items():
    assert compiled.kfp_spec["root"]["inputDefinitions"]["parameters"][name] == {
        "parameterType": "STRING", "defaultValue": value, "isOptional": True}


def test_schema_and_policy_are_named_by_their_path_inside_the_image(compiled):
  in_image = f"{runner.IMAGE_SITE_PACKAGES}/trainguard/schemas/{configs.DATASET}"
  for spec in _specs(compiled).values():
    parameters = spec["root"]["dag"]["tasks"]["ImportSchemaGen"]["inputs"]["parameters"]
    assert parameters["schema_file"]["runtimeValue"]["constant"] == f"{in_image}/schema.pbtxt"
    policy = json.loads(spec["root"]["dag"]["tasks"]["DataGuard"]["inputs"]["parameters"][
        "policy"]["runtimeValue"]["constant"])
    assert policy["source"] == f"{in_image}/policy.yaml"
    # Nothing of the machine that compiled it: the same spec from any checkout.
    text = json.dumps(spec)
    for local in (REPO, os.path.expanduser("~"), compiled.output_dir):
      assert local not in text


def test_no_step_needs_a_wheel_built_at_compile_time(compiled):
  for spec in _specs(compiled).values():
    assert "_wheels" not in json.dumps(spec)
    parameters = {(task, name): value for task, name, value in spec_check.task_parameters(spec)}
    assert not [key for key in parameters if key[1] in ("module_file", "module_path")]
    assert parameters[("Transform", "preprocessing_fn")] == configs.PREPROCESSING_FN
    assert parameters[("Trainer", "run_fn")] == configs.RUN_FN


def test_kfp_backend_spec_holds_only_executors_that_backend_runs(compiled):
  """Kubeflow Pipelines 2 compiles container and importer executors (no resolver, no custom job;
  backend/src/v2/compiler/argocompiler/dag.go), and no condition on an importer."""
  spec = compiled.kfp_spec
  executors = spec["deploymentSpec"]["executors"]
  assert {kind for e in executors.values() for kind in e} <= {"container", "importer"}
  for task in spec["root"]["dag"]["tasks"].values():
    label = spec["components"][task["componentRef"]["name"]]["executorLabel"]
    if "importer" in executors[label]:
      assert "triggerPolicy" not in task
  assert "baseline_model" not in spec["root"]["dag"]["tasks"]["Evaluator"]["inputs"]["artifacts"]
  # Vertex runs the latest-blessed-model resolver: pipeline.json keeps it.
  assert "baseline_model" in compiled.vertex_spec["root"]["dag"]["tasks"]["Evaluator"]["inputs"][
      "artifacts"]


def test_every_node_under_a_cond_is_gated_in_the_spec(compiled):
  """Nodes built inside `tfx.dsl.Cond(data_guard.passed())` run only when DataGuard found nothing
  that blocks. (Resolver steps are queries: the compiler gives them no condition.)"""
  for variant, spec in _specs(compiled).items():
    pipeline = compiled.pipelines[variant]
    gated = [n for n in pipeline.components if not isinstance(n, resolver.Resolver)
             and conditional.get_predicates(n, pipeline.dsl_context_registry)]
    assert {"Transform", "Rebalance", "Trainer", "Evaluator", "Pusher"} <= {n.id for n in gated}
    for node in gated:
      condition = spec["root"]["dag"]["tasks"][node.id].get("triggerPolicy", {}).get("condition")
      assert condition == ("(inputs.artifacts['_DataGuard.anomalies'].artifacts[0]"
                           ".metadata['blocking_findings'] == 0.0)"), (variant, node.id)


def test_compiling_twice_gives_the_same_bytes(tmp_path):
  first, second = str(tmp_path / "a"), str(tmp_path / "b")
  compiled = compile_into(first)
  compile_into(second)
  for name in ("pipeline.json", "pipeline.yaml"):
    with open(os.path.join(first, name), "rb") as a, open(os.path.join(second, name), "rb") as b:
      assert a.read() == b.read(), name
  # By default: no comparison nodes, one runtime parameter.
  assert compiled.job["runtimeConfig"]["parameterValues"] == {"data_root": runner.parse_args(
      []).data_root}
  assert not [t for t in compiled.vertex_spec["root"]["dag"]["tasks"] if "serving" in t]
  with open(os.path.join(first, "pipeline.yaml"), encoding="utf-8") as f:
    assert yaml.safe_load(f)["pipelineInfo"]["name"] == configs.PIPELINE_NAME


def test_the_placeholder_image_is_warned_naming_the_flag_and_the_variable(
    compiled, tmp_path, monkeypatch, capsys, caplog):
  with open(os.path.join(compiled.output_dir, "pipeline.yaml"), encoding="utf-8") as f:
    assert "WARNING" not in f.read()  # compiled with --image: no warning
  monkeypatch.delenv("TRAINGUARD_IMAGE", raising=False)
  assert runner.DEFAULT_IMAGE.startswith("ghcr.io/your-org/trainguard:")
  with caplog.at_level(logging.WARNING):
    assert runner.main(["--output-dir", str(tmp_path)]) == 0
  expected = (f"image {runner.DEFAULT_IMAGE} is the placeholder, which no cluster can pull: pass "
              "--image (or set $TRAINGUARD_IMAGE) to the image you built and pushed")
  assert f"WARNING: {expected}" in capsys.readouterr().err
  assert expected in caplog.text
  with open(tmp_path / "pipeline.yaml", encoding="utf-8") as f:
    assert f"# WARNING: {expected}" in f.read().splitlines()[1]
  monkeypatch.setenv("TRAINGUARD_IMAGE", IMAGE)
  assert runner.main(["--output-dir", str(tmp_path / "env")]) == 0
  assert "WARNING" not in capsys.readouterr().err
