"""spec_check finds what would fail in the container (run here on doctored copies of a real spec)."""
import copy
import json
import os

from trainguard.kubeflow import kubeflow_v2_runner as runner
from trainguard.kubeflow import spec_check
from trainguard.kubeflow.conftest import LOCAL_SCHEMA, REPO


def _container(spec, task):
  label = spec["components"][spec["root"]["dag"]["tasks"][task]["componentRef"]["name"]][
      "executorLabel"]
  return spec["deploymentSpec"]["executors"][label]["container"]


def test_a_real_spec_has_no_problem_but_the_image_file(compiled):
  # The schema's image path is not under /image/site-packages, so its existence is not checked
  # here (the container test does, in the image's environment); declared as an image folder.
  for spec in (compiled.vertex_spec, compiled.kfp_spec):
    report = spec_check.check(spec, "/image/site-packages", (runner.IMAGE_SITE_PACKAGES,))
    assert report.problems == []
    # Undeclared, it is a path the container would not have: exactly that one is named.
    problems = spec_check.check(spec, "/image/site-packages").problems
    assert [p.split(":")[0] for p in problems] == ["ImportSchemaGen.schema_file"], problems


def test_each_kind_of_breakage_is_named(compiled):
  spec = copy.deepcopy(compiled.vertex_spec)
  args = _container(spec, "Rebalance")["args"]
  args[args.index("--executor_class_path") + 1] = "trainguard.components.gone.executor.Executor"
  _container(spec, "DataGuard")["command"] = ["python", "-m", "trainguard.no_such_entrypoint"]
  parameters = spec["root"]["dag"]["tasks"]["Trainer"]["inputs"]["parameters"]
  parameters["run_fn"]["runtimeValue"]["constant"] = "trainguard.models.keras_model.model.nope"
  parameters["module_file"] = {"runtimeValue": {"constant": "gs://b/root/_wheels/x.whl"}}
  schema_file = spec["root"]["dag"]["tasks"]["ImportSchemaGen"]["inputs"]["parameters"][
      "schema_file"]["runtimeValue"]
  schema_file["constant"] = "/image/site-packages/trainguard/schemas/gone/schema.pbtxt"

  problems = "\n".join(spec_check.check(spec, "/image/site-packages").problems)
  assert "trainguard.components.gone.executor.Executor" in problems
  assert "trainguard.no_such_entrypoint" in problems
  assert "trainguard.models.keras_model.model.nope" in problems
  assert "Trainer.module_file: installs user code at run time" in problems
  assert "_wheels" in problems
  assert "schemas/gone/schema.pbtxt is not in this environment" in problems


def test_compile_machine_paths_in_their_pipeline_are_named(theirs):
  """Their ImportSchemaGen reads a file of this checkout: it is not in the step's container."""
  _, spec, _ = theirs
  problems = spec_check.check(spec, "/image/site-packages").problems
  assert len(problems) == 1, problems
  assert problems[0].startswith(f"ImportSchemaGen.schema_file: {LOCAL_SCHEMA} is an absolute path "
                                "of the machine that compiled the spec")
  assert "gs://" in problems[0] and "--image-path" in problems[0]
  # Accepted when the image provides that folder; in the bucket, nothing to report.
  assert spec_check.check(spec, "/image/site-packages", (os.path.dirname(LOCAL_SCHEMA),)).problems \
      == []
  moved = json.loads(json.dumps(spec).replace(LOCAL_SCHEMA, "gs://their-bucket/schema.pbtxt"))
  assert spec_check.check(moved, "/image/site-packages").problems == []


def test_local_paths_are_found_in_any_parameter_json_and_parameter_default(theirs):
  _, spec, _ = theirs
  spec = json.loads(json.dumps(spec).replace(LOCAL_SCHEMA, "gs://their-bucket/schema.pbtxt"))
  tasks = spec["root"]["dag"]["tasks"]
  # A Pusher writing to the pod's disk (a path inside the push_destination JSON), a module_file of
  # this checkout, a relative file, a file:// URI, a local default of the data_root parameter.
  tasks["Pusher"]["inputs"]["parameters"]["push_destination"]["runtimeValue"]["constant"] = \
      json.dumps({"filesystem": {"base_directory": "/home/me/serving"}})
  tasks["Trainer"]["inputs"]["parameters"]["module_file"] = {
      "runtimeValue": {"constant": os.path.join(REPO, "models", "model.py")}}
  tasks["Trainer"]["inputs"]["parameters"]["custom_config"] = {"runtimeValue": {"constant": (
      json.dumps({"vocabulary_file": "data/vocab.txt", "notes": "/not/a/location key",
                  "nested": json.dumps({"cache_uri": "file:///tmp/cache"})}))}}
  spec["root"]["inputDefinitions"]["parameters"]["data_root"]["defaultValue"] = "/home/me/data"

  problems = "\n".join(spec_check.check(spec, "/image/site-packages").problems)
  assert ("Pusher.push_destination.filesystem.base_directory: /home/me/serving is an absolute "
          "path") in problems
  assert f"Trainer.module_file: {REPO}/models/model.py is an absolute path" in problems
  assert ("Trainer.custom_config.vocabulary_file: data/vocab.txt is a relative path, read against "
          "the step container's working folder") in problems
  assert "Trainer.custom_config.nested.cache_uri: file:///tmp/cache is a file:// URI" in problems
  assert "runtime parameter data_root (default): /home/me/data is an absolute path" in problems
  assert "/not/a/location key" not in problems  # a string under a key that names no location
  assert len(problems.splitlines()) == 6  # the five paths and module_file's runtime install
