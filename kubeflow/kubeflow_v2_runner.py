"""Compiles the trainguard pipeline for Kubeflow Pipelines 2 and Vertex AI Pipelines.

    make kubeflow ARGS="--image ghcr.io/you/trainguard:0.1.0 --pipeline-root gs://bucket/root"

Writes two files under `--output-dir` (default `kubeflow/build/`), both compiled by TFX's
`KubeflowV2DagRunner` with `use_pipeline_spec_2_1=True` (schema 2.1.0):
- `pipeline.json`: a `PipelineJob` (spec plus runtime config), as Vertex AI Pipelines takes it;
- `pipeline.yaml`: the bare `PipelineSpec` a Kubeflow Pipelines 2 backend takes, compiled without
  the latest-blessed-model Resolver (that backend runs no resolver steps), with the runtime
  parameters' defaults and `defaultPipelineRoot` filled in by kfp_backend.py, the post-processing
  any user's own pipeline can go through too.

Without `--image` or $TRAINGUARD_IMAGE the steps name a placeholder image (`ghcr.io/your-org/...`):
the files are still written, to look at, with a warning (logged, printed, and in pipeline.yaml).

Runtime parameters: `data_root` (and `serving_data_root` / `previous_span_root` when compiled
with them). The pipeline root is set per run by the platform (`pipeline_root=` of the kfp client or
of Vertex's `PipelineJob`). Everything else, Beam arguments included, is fixed in the spec: Beam
arguments become arguments of each step's container. See kubeflow/README.md.
"""
import argparse
import logging
import os
import posixpath
import sys
from importlib import metadata
from typing import Any, Dict, List, Optional

from tfx import v1 as tfx

from trainguard import task as task_lib
from trainguard import schema_folder, schemas
from trainguard.kubeflow import kfp_backend
from trainguard.models import features
from trainguard.pipeline import configs, pipeline
from trainguard.policy import POLICY_FILE, Policy

# Where the image (Dockerfile: python:3.10-slim, `uv pip install --system`) installs packages; the
# schema and policy are package data of `trainguard.schemas`, so the spec names them under it.
IMAGE_SITE_PACKAGES = "/usr/local/lib/python3.10/site-packages"
# The placeholder when neither --image nor $TRAINGUARD_IMAGE is given: compiling still works (to
# look at the spec), with a warning, since no cluster can pull it.
DEFAULT_IMAGE = f"{kfp_backend.PLACEHOLDER_IMAGE_PREFIX}trainguard:{metadata.version('trainguard')}"
log = logging.getLogger(__name__)
DEFAULT_BUCKET = "gs://your-bucket/trainguard"


def image_schema_folder(name: str) -> str:
  return posixpath.join(IMAGE_SITE_PACKAGES, "trainguard", "schemas", name)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
  p = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
  p.add_argument("--image", default=os.environ.get("TRAINGUARD_IMAGE", DEFAULT_IMAGE),
                 help="image every step runs in (default: $TRAINGUARD_IMAGE or %(default)s)")
  p.add_argument("--output-dir", default=os.path.join("kubeflow", "build"))
  p.add_argument("--pipeline-name", default=configs.PIPELINE_NAME)
  p.add_argument("--pipeline-root", default=f"{DEFAULT_BUCKET}/pipeline_root",
                 help="default pipeline root; each run may set its own")
  p.add_argument("--data-root", default=f"{DEFAULT_BUCKET}/data/{configs.DATASET}",
                 help="default of the data_root runtime parameter: a folder of CSV files")
  p.add_argument("--serving-data-root", help="adds the serving-skew check, with this default")
  p.add_argument("--previous-span-root", help="adds the span-drift check, with this default")
  p.add_argument("--serving-model-dir", help="where Pusher copies blessed models "
                 f"(default: {DEFAULT_BUCKET}/serving_model/<pipeline name>)")
  p.add_argument("--schema", default=configs.DATASET,
                 help="curated schema folder shipped in trainguard.schemas (%(default)s)")
  p.add_argument("--label", default=configs.LABEL_KEY)
  p.add_argument("--eval-accuracy-threshold", type=float, default=configs.EVAL_ACCURACY_THRESHOLD)
  p.add_argument("--beam-arg", action="append", dest="beam_args", metavar="ARG",
                 help="Beam argument baked into every step (repeat; replaces the defaults "
                 f"{' '.join(configs.BEAM_PIPELINE_ARGS)})")
  return p.parse_args(argv)


def pipeline_arguments(args: argparse.Namespace) -> Dict[str, Any]:
  """The arguments of `create_pipeline` for the image: runtime parameters and paths inside it."""
  folder = schemas.schema_dir(args.schema)  # read now from the installed package
  schema = schema_folder.read_schema(schema_folder.schema_path(folder))
  policy = Policy.load(folder, schema)
  in_image = image_schema_folder(args.schema)

  def parameter(name, default):
    return default and tfx.dsl.experimental.RuntimeParameter(name=name, ptype=str, default=default)

  return dict(
      pipeline_name=args.pipeline_name,
      pipeline_root=args.pipeline_root,
      data_root=parameter("data_root", args.data_root),
      serving_data_root=parameter("serving_data_root", args.serving_data_root),
      previous_span_root=parameter("previous_span_root", args.previous_span_root),
      schema_path=schema_folder.schema_path(folder),  # the same file, read now
      runtime_schema_path=posixpath.join(in_image, schema_folder.SCHEMA_FILE),
      # The policy travels in the spec as JSON; name the file the image holds, not this checkout.
      policy=Policy(policy.data, source=posixpath.join(in_image, POLICY_FILE)),
      label_key=args.label,
      label_classes=([] if task_lib.of_schema(schema, args.label) == task_lib.REGRESSION
                     else features.label_classes_from_schema(schema, args.label)),
      serving_model_dir=args.serving_model_dir or
      f"{DEFAULT_BUCKET}/serving_model/{args.pipeline_name}",
      preprocessing_fn=configs.PREPROCESSING_FN,
      run_fn=configs.RUN_FN,
      eval_accuracy_threshold=args.eval_accuracy_threshold,
      beam_pipeline_args=args.beam_args or list(configs.BEAM_PIPELINE_ARGS))


def compile_pipeline(args: argparse.Namespace, for_kfp_backend: bool) -> Dict[str, Any]:
  """Compiles for Vertex (pipeline.json) or for a Kubeflow Pipelines 2 backend (pipeline.yaml)."""
  kwargs = pipeline_arguments(args)
  defaults = {v.name: v.default for v in kwargs.values()
              if isinstance(v, tfx.dsl.experimental.RuntimeParameter)}
  runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
      config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
          default_image=args.image, use_pipeline_spec_2_1=True),
      output_dir=args.output_dir, output_filename="pipeline.json")
  return runner.run(pipeline.create_pipeline(**kwargs, baseline_model_resolver=not for_kfp_backend),
                    parameter_values=defaults, write_out=not for_kfp_backend)


def main(argv: Optional[List[str]] = None) -> int:
  args = parse_args(argv)
  compile_pipeline(args, for_kfp_backend=False)  # writes pipeline.json
  # The same post-processing any pipeline gets (kfp_backend.py): parameter defaults from the
  # job's runtime config, defaultPipelineRoot. This pipeline is compiled without its resolver.
  spec = kfp_backend.postprocess(compile_pipeline(args, for_kfp_backend=True),
                                 pipeline_root=args.pipeline_root)
  kfp_backend.write_yaml(spec, os.path.join(args.output_dir, "pipeline.yaml"),
                         note=" (kubeflow/kubeflow_v2_runner.py)")
  print(f"wrote {args.output_dir}/pipeline.json (Vertex AI PipelineJob) and "
        f"{args.output_dir}/pipeline.yaml (Kubeflow Pipelines 2), image {args.image}")
  if args.image.startswith(kfp_backend.PLACEHOLDER_IMAGE_PREFIX):
    # Logged by postprocess too; printed here so it is in the compile output whatever the logging.
    print(f"WARNING: {kfp_backend.placeholder_image_warning(args.image)}", file=sys.stderr)
  return 0


if __name__ == "__main__":
  sys.exit(main())
