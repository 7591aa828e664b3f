"""spec_check finds what would fail in the container (run here on doctored copies of a real spec)."""
import copy

from trainguard.kubeflow import spec_check


def _container(spec, task):
  label = spec["components"][spec["root"]["dag"]["tasks"][task]["componentRef"]["name"]][
      "executorLabel"]
  return spec["deploymentSpec"]["executors"][label]["container"]


def test_a_real_spec_has_no_problem_but_the_image_file(compiled):
  report = spec_check.check(compiled.vertex_spec, "/image/site-packages")
  assert report.problems == []  # the schema path is not under /image/site-packages: not checked
  report = spec_check.check(compiled.kfp_spec, "/image/site-packages")
  assert report.problems == []


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
