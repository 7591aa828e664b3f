"""What the image must do with the compiled spec, proven without Docker or a cluster.

- In a fresh venv holding only the lock and the built wheel (the image's contents), every step of
  both specs imports: entrypoints, executor classes, artifact classes, functions named by module
  path, and the curated schema is where the spec says, relative to site-packages.
- Every custom component (executor under trainguard.*) runs through TFX's container entrypoint,
  `python -m tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor`, in a subprocess of
  that venv, with the command line and parameters taken from the compiled spec and local paths for
  the artifacts, and writes the same files and properties as the same node under LocalDagRunner.
  ExampleGens (ours, components/csv_example_gen) run as in the cluster: TFX's ExampleGen driver
  first (the container's `lifecycle.preCacheCheck`: span, version, fingerprint, resolved patterns),
  then the executor, which reads what the driver wrote; their data roots are the reference run's.
  The gate downstream of DataGuard, evaluated on what the container wrote, lets the run through.
"""
import json
import os
import re
import subprocess
from typing import Any, Dict

import pytest
from google.protobuf import json_format
from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils

from trainguard.kubeflow import spec_check
from trainguard.kubeflow.conftest import custom_task_names
from trainguard.pipeline import configs


def _run(command, image_env, cwd, timeout=900):
  proc = subprocess.run(command, cwd=cwd, env=image_env.env(), capture_output=True, text=True,
                        timeout=timeout)
  assert proc.returncode == 0, f"{command[:6]}... exited {proc.returncode}:\n{proc.stderr[-6000:]}"
  return proc


def test_every_step_imports_in_a_fresh_venv_with_only_the_wheel(compiled, image_env, tmp_path):
  paths = [os.path.join(compiled.output_dir, n) for n in ("pipeline.json", "pipeline.yaml")]
  proc = _run([image_env.python, "-m", "trainguard.kubeflow.spec_check", "--json", *paths],
              image_env, str(tmp_path))
  reports = json.loads(proc.stdout[proc.stdout.index("{"):])
  assert set(reports) == set(paths)
  for path, report in reports.items():
    assert report["problems"] == [], path
    # The check covered what the spec names (not an empty pass).
    spec = spec_check.load_spec(path)
    classes = {spec_check.executor_class_path(c) for _, c in spec_check.containers(spec)}
    assert set(report["checked"]["executor class"]) == classes, path
    assert {"trainguard.components.data_guard.executor.Executor",
            "trainguard.components.rebalance.executor.Executor"} <= classes
    assert {configs.PREPROCESSING_FN, configs.RUN_FN} <= set(report["checked"]["function or class"])
    assert report["checked"]["file in the image"] == [
        spec["root"]["dag"]["tasks"]["ImportSchemaGen"]["inputs"]["parameters"]["schema_file"][
            "runtimeValue"]["constant"]]
    assert len(report["checked"]["artifact class"]) >= 8, path


# ---------------------------------------------------------------------------------------------
# Running the custom components in the container


def _runtime_artifact(artifact, artifact_type: Dict[str, Any]) -> Dict[str, Any]:
  """A TFX artifact as the orchestrator hands it to the container (uri, type, metadata)."""
  proto = kubeflow_v2_entrypoint_utils.to_runtime_artifact(artifact, {})
  return {"type": artifact_type, "uri": proto.uri,
          "metadata": json_format.MessageToDict(proto.metadata)}


def _executor_input(spec, job, task_name, upstream, out_dir, runtime_parameters=None):
  """ExecutorInput for one task, built from its component definition and task spec; pipeline
  runtime parameters from `runtime_parameters` (name -> value) if named there, else the job's."""
  task = spec["root"]["dag"]["tasks"][task_name]
  component = spec["components"][task["componentRef"]["name"]]
  inputs = {"artifacts": {}, "parameterValues": {}}
  for key, definition in component.get("inputDefinitions", {}).get("artifacts", {}).items():
    source = task["inputs"]["artifacts"][key]["taskOutputArtifact"]
    found = upstream(source["producerTask"], source["outputArtifactKey"])
    inputs["artifacts"][key] = {"artifacts": [dict(found, type=definition["artifactType"])]}
  for key, value in task.get("inputs", {}).get("parameters", {}).items():
    if "runtimeValue" in value:
      inputs["parameterValues"][key] = value["runtimeValue"]["constant"]
    elif "componentInputParameter" in value:
      name = value["componentInputParameter"]
      inputs["parameterValues"][key] = (runtime_parameters or {}).get(
          name, job["runtimeConfig"]["parameterValues"][name])
    else:
      pytest.fail(f"{task_name}.{key}: {value} is not resolvable by this harness; extend it")
  outputs = {"artifacts": {}, "outputFile": os.path.join(out_dir, "executor_output.json")}
  for key, definition in component.get("outputDefinitions", {}).get("artifacts", {}).items():
    outputs["artifacts"][key] = {"artifacts": [{
        "name": f"local/{task_name}/{key}", "type": definition["artifactType"],
        "uri": os.path.join(out_dir, key), "metadata": definition.get("metadata", {})}]}
  return {"inputs": inputs, "outputs": outputs}


def _apply_driver_output(executor_input):
  """What the Pipelines service does with a driver's ExecutorOutput before the executor runs: the
  output artifacts take the metadata it wrote (an ExampleGen's span, version, input fingerprint).
  Its parameter values the executor's entrypoint reads from the same file itself."""
  with open(executor_input["outputs"]["outputFile"], encoding="utf-8") as f:
    driver_output = json.load(f)
  for key, entry in driver_output.get("artifacts", {}).items():
    for artifact, updated in zip(executor_input["outputs"]["artifacts"][key]["artifacts"],
                                 entry["artifacts"]):
      artifact["metadata"] = {**artifact.get("metadata", {}), **updated.get("metadata", {})}


def _files(root):
  found = {}
  for folder, _, names in os.walk(root):
    for name in names:
      with open(os.path.join(folder, name), "rb") as f:
        found[os.path.relpath(os.path.join(folder, name), root)] = f.read()
  return found


# Written by LocalDagRunner's launcher when it publishes an output (tfx/orchestration/portable/
# merge_utils.py), not by the executor: no part of what the container must reproduce.
_SET_BY_THE_LOCAL_LAUNCHER = ("is_external",)

_METADATA_REF = re.compile(
    r"inputs\.artifacts\['([^']+)'\]\.artifacts\[0\]\.metadata\['([^']+)'\]")


def _evaluate(condition, task, produced):
  """Evaluates a trigger condition as compiled by TFX (comparisons of artifact metadata joined by
  &&, ||, !) on what the container wrote; None if it reads an output not produced here."""
  values = {}
  for key, prop in _METADATA_REF.findall(condition):
    source = task["inputs"]["artifacts"][key]["taskOutputArtifact"]
    artifact = produced.get((source["producerTask"], source["outputArtifactKey"]))
    if artifact is None:
      return None
    assert prop in artifact["metadata"], f"the gate reads {prop!r}, the container wrote " \
        f"{sorted(artifact['metadata'])}"
    values[(key, prop)] = artifact["metadata"][prop]
  python = _METADATA_REF.sub(lambda m: repr(values[m.groups()]), condition)
  python = python.replace("&&", " and ").replace("||", " or ").replace("!(", " not (")
  return eval(python, {"__builtins__": {}})  # pylint: disable=eval-used


def test_custom_components_run_in_the_container_entrypoint_as_under_local_dag_runner(
    compiled, image_env, reference_run, tmp_path):
  spec, job = compiled.vertex_spec, compiled.job
  order = [n.id for n in compiled.pipelines["json"].components]
  custom = sorted(custom_task_names(spec), key=order.index)
  assert {"CsvExampleGen", "DataGuard", "Rebalance", "Transform"} <= set(custom)
  # Transform is TFX's executor with a fixed batch size (components/transform/). Its files are not
  # byte-stable from process to process (each example's feature map in hash order, saved_model.pb's
  # generated names: docs/reliability.md), so the byte comparison below cannot hold for it;
  # tests/reliability_e2e_test.py checks what it does reproduce.
  custom.remove("Transform")
  produced = {}  # (task, output key) -> runtime artifact written by the container

  def upstream(task_name, key):
    if (task_name, key) in produced:  # chain containers: Rebalance reads DataGuard's gate output
      return produced[(task_name, key)]
    artifact = reference_run.outputs(task_name)[key]
    return _runtime_artifact(artifact, {})

  for task_name in custom:
    out_dir = str(tmp_path / task_name)
    executor_input = _executor_input(spec, job, task_name, upstream, out_dir, reference_run.data)
    label = spec["components"][spec["root"]["dag"]["tasks"][task_name]["componentRef"]["name"]][
        "executorLabel"]
    container = spec["deploymentSpec"]["executors"][label]["container"]
    # The pipeline-spec executors of the Kubeflow Pipelines variant are the same.
    assert compiled.kfp_spec["deploymentSpec"]["executors"][label]["container"] == container
    driver = container.get("lifecycle", {}).get("preCacheCheck")
    for step in ([driver] if driver else []) + [container]:
      command = step["command"] + [
          json.dumps(executor_input) if a == "{{$}}" else a for a in step["args"]]
      _run(command, image_env, str(tmp_path))
      if step is driver:
        _apply_driver_output(executor_input)

    with open(executor_input["outputs"]["outputFile"], encoding="utf-8") as f:
      executor_output = json.load(f)
    local = reference_run.outputs(task_name)
    assert set(executor_output["artifacts"]) == set(local), task_name
    for key, artifact in local.items():
      written = executor_output["artifacts"][key]["artifacts"][0]
      produced[(task_name, key)] = dict(written, type={})
      container_files = _files(written["uri"])
      local_files = _files(artifact.uri)
      assert container_files, f"{task_name}.{key} wrote nothing"
      assert sorted(container_files) == sorted(local_files), f"{task_name}.{key}"
      for name, content in local_files.items():
        assert container_files[name] == content, f"{task_name}.{key}: {name} differs"
      expected = _runtime_artifact(artifact, {})["metadata"]
      for key_ in _SET_BY_THE_LOCAL_LAUNCHER:
        expected.pop(key_, None)
      differ = {k: (written["metadata"].get(k), expected.get(k))
                for k in set(written["metadata"]) | set(expected)
                if written["metadata"].get(k) != expected.get(k)}
      assert not differ, f"{task_name}.{key}: properties (container, local) {differ}"

  gates = [(name, _evaluate(task["triggerPolicy"]["condition"], task, produced))
           for name, task in spec["root"]["dag"]["tasks"].items()
           if task.get("triggerPolicy", {}).get("condition")]
  assert gates and all(result is True for name, result in gates if result is not None), gates
  assert len([r for _, r in gates if r is not None]) >= 4  # Transform .. Pusher
