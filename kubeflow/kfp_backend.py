"""Any pipeline on a Kubeflow Pipelines 2 backend: post-processes what `KubeflowV2DagRunner` writes.

    from trainguard.kubeflow import kfp_backend
    kfp_backend.compile_for_kfp_backend(create_pipeline(...), image="ghcr.io/you/app:1.0",
                                        output_file="pipeline.yaml")

or, on a `PipelineJob` JSON that `KubeflowV2DagRunner` already wrote:

    python -m trainguard.kubeflow.kfp_backend pipeline.json -o pipeline.yaml

Why a post-processing step: TFX compiles for Vertex AI Pipelines. Its `PipelineJob` keeps the
runtime parameters' defaults in `runtimeConfig` (and drops the defaults a `RuntimeParameter` was
given, unless they are passed again as `parameter_values`) and the pipeline root in
`runtimeConfig.gcsOutputDirectory`. A Kubeflow Pipelines 2 backend takes the bare `PipelineSpec`,
which then has neither: every run must name every parameter and the root, or it fails. And that
backend runs no resolver executors ("resolver executors not implemented",
backend/src/v2/compiler/argocompiler/dag.go), so a spec with `tfx.dsl.Resolver` steps (the latest
blessed model as the Evaluator's baseline) is rejected whole. So this module:

- puts each parameter's default into `root.inputDefinitions` (`defaultValue`, `isOptional`), from
  the job's `runtimeConfig`, from the pipeline's `RuntimeParameter`s, and from `parameter_values`;
- sets `defaultPipelineRoot` (each run may still pass its own `pipeline_root`);
- removes resolver steps, and each input they fed from the tasks that read them. Such an input
  must be optional for its component (Evaluator's `baseline_model`, Trainer's `base_model` are):
  given the `tfx.dsl.Pipeline`, a required one is an error; given only a spec, it is dropped with
  a warning, since the spec does not say which inputs are optional. Without its baseline the
  Evaluator blesses on absolute thresholds alone; a change threshold is then never met (warned).

trainguard's own runner (kubeflow_v2_runner.py) compiles its `pipeline.yaml` through this module.
"""
import argparse
import copy
import json
import logging
import os
import sys
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import yaml

from trainguard.errors import InputError

log = logging.getLogger(__name__)

# The image the runner writes when no `--image` / $TRAINGUARD_IMAGE is given: nothing can pull it.
PLACEHOLDER_IMAGE_PREFIX = "ghcr.io/your-org/"
IMAGE_HINT = ("pass --image (or set $TRAINGUARD_IMAGE) to the image you built and pushed "
              "(kubeflow/README.md, step 1)")

SpecSource = Union[str, Mapping[str, Any]]


def load(source: SpecSource) -> Dict[str, Any]:
  """A deep copy of a `PipelineJob` or `PipelineSpec`, from a dict or a .json / .yaml file."""
  if isinstance(source, Mapping):
    return copy.deepcopy(dict(source))
  try:
    with open(source, encoding="utf-8") as f:
      data = json.load(f) if source.endswith(".json") else yaml.safe_load(f)
  except (OSError, ValueError, yaml.YAMLError) as e:
    raise InputError(f"{source}: cannot read a compiled pipeline from it ({e}); pass the "
                     "pipeline.json KubeflowV2DagRunner wrote, or a PipelineSpec YAML.") from e
  if not isinstance(data, dict) or "root" not in data.get("pipelineSpec", data):
    raise InputError(f"{source}: not a PipelineJob or PipelineSpec (no root DAG); pass the "
                     "pipeline.json KubeflowV2DagRunner wrote, or a PipelineSpec YAML.")
  return data


def runtime_parameter_defaults(pipeline) -> Dict[str, Any]:
  """{name: default} of every `RuntimeParameter` with a default among the pipeline's execution
  properties (TFX accepts them only as a whole property, so the top level is all there is)."""
  from tfx.orchestration import data_types  # pylint: disable=g-import-not-at-top
  defaults = {}
  for node in pipeline.components:
    for value in node.exec_properties.values():
      if isinstance(value, data_types.RuntimeParameter) and value.default is not None:
        defaults[value.name] = value.default
  return defaults


def placeholder_images(spec: Mapping[str, Any]) -> List[str]:
  """The placeholder images (`ghcr.io/your-org/...`) the spec's steps would run in."""
  spec = spec.get("pipelineSpec", spec)
  return sorted({e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values()
                 if e.get("container", {}).get("image", "").startswith(PLACEHOLDER_IMAGE_PREFIX)})


def placeholder_image_warning(image: str) -> str:
  return f"image {image} is the placeholder, which no cluster can pull: {IMAGE_HINT}"


def _resolver_tasks(spec: Dict[str, Any]) -> List[str]:
  executors = spec["deploymentSpec"]["executors"]
  return sorted(name for name, task in spec["root"]["dag"]["tasks"].items()
                if "resolver" in executors[spec["components"][task["componentRef"]["name"]][
                    "executorLabel"]])


def _drop_resolvers(spec: Dict[str, Any]) -> Tuple[List[str], List[str]]:
  """Removes resolver tasks (their components and executors) and the inputs they fed; returns
  the tasks removed and `task.input` of each input removed."""
  tasks = spec["root"]["dag"]["tasks"]
  gone = set(_resolver_tasks(spec))
  dropped = []
  for name in gone:
    component = spec["components"].pop(tasks.pop(name)["componentRef"]["name"])
    spec["deploymentSpec"]["executors"].pop(component["executorLabel"], None)
  for name, task in sorted(tasks.items()):
    artifacts = task.get("inputs", {}).get("artifacts", {})
    for key in sorted(artifacts):
      if artifacts[key].get("taskOutputArtifact", {}).get("producerTask") in gone:
        condition = task.get("triggerPolicy", {}).get("condition", "")
        if f"inputs.artifacts['{key}']" in condition:
          raise InputError(f"{name} runs on a condition that reads its input {key}, which a "
                           "resolver step gives: a Kubeflow Pipelines 2 backend runs no resolver "
                           "steps; condition the task on another input.")
        del artifacts[key]
        spec["components"][task["componentRef"]["name"]].get("inputDefinitions", {}).get(
            "artifacts", {}).pop(key, None)
        dropped.append(f"{name}.{key}")
    if "dependentTasks" in task:
      task["dependentTasks"] = [t for t in task["dependentTasks"] if t not in gone]
  return sorted(gone), dropped


def _warn_on_change_thresholds(spec: Dict[str, Any], dropped: List[str]) -> None:
  for name in sorted({d.split(".")[0] for d in dropped if d.endswith(".baseline_model")}):
    config = spec["root"]["dag"]["tasks"][name].get("inputs", {}).get("parameters", {}).get(
        "eval_config", {}).get("runtimeValue", {}).get("constant", "")
    if "change_threshold" in str(config):
      log.warning("%s: its eval_config has a change_threshold, which needs the baseline model a "
                  "resolver gave; on a Kubeflow Pipelines 2 backend no model is blessed on it.",
                  name)


def postprocess(compiled: SpecSource, pipeline_root: Optional[str] = None,
                parameter_values: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
  """The `PipelineSpec` a Kubeflow Pipelines 2 backend runs, from what `KubeflowV2DagRunner`
  compiled (its `PipelineJob` dict or pipeline.json, or a bare `PipelineSpec` dict or YAML).

  `pipeline_root` defaults to the job's `gcsOutputDirectory`; `parameter_values` add to (and
  override) the job's `runtimeConfig.parameterValues`. The input is not modified."""
  data = load(compiled)
  spec = data.get("pipelineSpec", data)
  runtime = data.get("runtimeConfig", {}) if "pipelineSpec" in data else {}
  values = dict(runtime.get("parameterValues", {}), **dict(parameter_values or {}))
  definitions = spec["root"].get("inputDefinitions", {}).get("parameters", {})
  unknown = sorted(set(values) - set(definitions))
  if unknown:
    raise InputError(f"parameter value(s) {', '.join(unknown)} name no runtime parameter of "
                     f"pipeline {spec['pipelineInfo']['name']} (it has: "
                     f"{', '.join(sorted(definitions)) or 'none'}).")
  for name, value in sorted(values.items()):
    definitions[name].update(defaultValue=value, isOptional=True)
  root = pipeline_root or runtime.get("gcsOutputDirectory")
  if root:
    spec["defaultPipelineRoot"] = root
  gone, dropped = _drop_resolvers(spec)
  if gone:
    log.warning("removed the resolver step(s) a Kubeflow Pipelines 2 backend cannot run (%s) and "
                "the input(s) they fed (%s; each must be optional for its component).",
                ", ".join(gone), ", ".join(dropped) or "none")
    _warn_on_change_thresholds(spec, dropped)
  for image in placeholder_images(spec):
    log.warning(placeholder_image_warning(image))
  return spec


def _check_resolver_inputs_are_optional(pipeline) -> None:
  """A resolver output feeding a required input would leave that component without it."""
  from tfx.dsl.components.common import resolver  # pylint: disable=g-import-not-at-top
  resolvers = {n.id for n in pipeline.components if isinstance(n, resolver.Resolver)}
  for node in pipeline.components:
    if node.id in resolvers:
      continue
    for key, channel in node.inputs.items():
      producers = {c.producer_component_id for c in getattr(channel, "channels", [channel])}
      spec_input = getattr(getattr(node, "spec", None), "INPUTS", {}).get(key)
      if producers & resolvers and not getattr(spec_input, "optional", True):
        raise InputError(f"{node.id}.{key} comes from resolver {sorted(producers & resolvers)[0]}"
                         ", which a Kubeflow Pipelines 2 backend cannot run, and is required by "
                         f"{type(node).__name__}: give it from a component's output instead.")


def compile_for_kfp_backend(pipeline, image: Optional[str] = None,
                            output_file: Optional[str] = None,
                            parameter_values: Optional[Mapping[str, Any]] = None,
                            pipeline_root: Optional[str] = None, config=None) -> Dict[str, Any]:
  """Compiles a `tfx.dsl.Pipeline` with `KubeflowV2DagRunner` (pipeline spec schema 2.1.0 unless
  `config` says otherwise) and post-processes it for a Kubeflow Pipelines 2 backend.

  Parameter defaults come from the pipeline's `RuntimeParameter`s, then `parameter_values`; the
  default pipeline root is the pipeline's unless `pipeline_root` is given. Writes the spec as
  YAML to `output_file` if given; returns it."""
  from tfx import v1 as tfx  # pylint: disable=g-import-not-at-top
  if config is None:
    if not image:
      raise InputError("compile_for_kfp_backend: pass image= (the image every step runs in) or a "
                       "KubeflowV2DagRunnerConfig as config=.")
    config = tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
        default_image=image, use_pipeline_spec_2_1=True)
  _check_resolver_inputs_are_optional(pipeline)
  values = dict(runtime_parameter_defaults(pipeline), **dict(parameter_values or {}))
  runner = tfx.orchestration.experimental.KubeflowV2DagRunner(config=config)
  job = runner.run(pipeline, parameter_values=values, write_out=False)
  spec = postprocess(job, pipeline_root=pipeline_root)
  if output_file:
    write_yaml(spec, output_file)
  return spec


def write_yaml(spec: Mapping[str, Any], path: str, note: str = "") -> None:
  """The spec as sorted YAML, under a comment naming what compiled it (and a placeholder image)."""
  header = [f"# {spec['pipelineInfo']['name']}: compiled by {spec.get('sdkVersion', 'tfx')} for a "
            f"Kubeflow Pipelines 2 backend{note}."]
  header += [f"# WARNING: {placeholder_image_warning(i)}" for i in placeholder_images(spec)]
  folder = os.path.dirname(path)
  if folder:
    os.makedirs(folder, exist_ok=True)
  with open(path, "w", encoding="utf-8") as f:
    f.write("\n".join(header) + "\n")
    yaml.safe_dump(dict(spec), f, sort_keys=True)


def main(argv: Optional[List[str]] = None) -> int:
  p = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
  p.add_argument("compiled", help="pipeline.json (PipelineJob) or a PipelineSpec YAML")
  p.add_argument("-o", "--output", required=True, help="the PipelineSpec YAML to write")
  p.add_argument("--pipeline-root", help="defaultPipelineRoot (default: the job's)")
  p.add_argument("--parameter", action="append", default=[], metavar="NAME=VALUE",
                 help="default of a string runtime parameter (repeat)")
  args = p.parse_args(argv)
  values = {}
  for item in args.parameter:
    name, sep, value = item.partition("=")
    if not sep:
      p.error(f"--parameter {item!r}: expected NAME=VALUE")
    values[name] = value
  logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
  try:
    spec = postprocess(args.compiled, args.pipeline_root, values)
  except InputError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  write_yaml(spec, args.output, note=f" (post-processed from {os.path.basename(args.compiled)})")
  print(f"wrote {args.output} (Kubeflow Pipelines 2)")
  return 0


if __name__ == "__main__":
  sys.exit(main())
