"""The TFX 1.16 penguin example pipeline with trainguard in it (docs/adopting.md walks through it).

What changed from TFX's `penguin_pipeline_local.py`: ExampleValidator is replaced by DataGuard,
everything after it runs under `Cond(data_guard.passed())`, and Rebalance sits between Transform
and Trainer. SchemaGen stays stock (an inferred schema): DataGuard still finds a numeric column
with text in it, the label's classes and the serving sample's missing label from the statistics.

    python penguin_pipeline.py --data-root data/ --pipeline-root /tmp/penguin
    python penguin_pipeline.py --data-root gs://bucket/data --pipeline-root gs://bucket/penguin \\
        --kubeflow penguin.yaml --image ghcr.io/me/penguin:1
"""
import argparse
import os
from typing import List, Optional

import tensorflow_model_analysis as tfma
from tfx import v1 as tfx

from trainguard import DataGuard, Rebalance

HERE = os.path.dirname(os.path.abspath(__file__))
MODULE_FILE = os.path.join(HERE, "penguin_utils.py")


def create_pipeline(pipeline_name: str, pipeline_root: str, data_root: str,
                    serving_model_dir: str, module_file: Optional[str] = MODULE_FILE,
                    module: Optional[str] = None,
                    serving_data_root: Optional[str] = None, policy=None,
                    train_steps: int = 20, min_accuracy: float = 0.5,
                    metadata_path: Optional[str] = None,
                    beam_pipeline_args: Optional[List[str]] = None) -> tfx.dsl.Pipeline:
  """`module_file` (a local path, copied into the pipeline root at run time) or, for Kubeflow,
  `module`: the model code's import path inside the image (e.g. `penguin_utils`)."""
  code = ({"module_file": module_file} if not module else
          {"preprocessing_fn": f"{module}.preprocessing_fn"})
  example_gen = tfx.components.CsvExampleGen(input_base=data_root)
  statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
  schema_gen = tfx.components.SchemaGen(statistics=statistics_gen.outputs["statistics"],
                                        infer_feature_shape=True)
  components = [example_gen, statistics_gen, schema_gen]
  serving_statistics = None
  if serving_data_root:
    # A serving sample (no label column): its own ExampleGen splits it 2:1 into train and eval;
    # DataGuard validates every split of it.
    serving_gen = tfx.components.CsvExampleGen(input_base=serving_data_root).with_id(
        "ServingExampleGen")
    serving_stats = tfx.components.StatisticsGen(
        examples=serving_gen.outputs["examples"]).with_id("ServingStatisticsGen")
    serving_statistics = serving_stats.outputs["statistics"]
    components += [serving_gen, serving_stats]

  data_guard = DataGuard(
      statistics=statistics_gen.outputs["statistics"],
      schema=schema_gen.outputs["schema"],
      examples=example_gen.outputs["examples"],  # the dataset checks: duplicates, leakage, ...
      serving_statistics=serving_statistics,
      policy=policy,  # None: the defaults; or a Policy, or a folder holding policy.yaml
      label_key="species")
  components.append(data_guard)

  # One Cond around everything after the gate. The Pusher takes the blessing as an input instead
  # of sitting in a Cond of its own: a nested Cond on the Evaluator's blessing is evaluated even
  # when the outer one skipped the Evaluator, and leaves a FAILED Pusher on every blocked run.
  with tfx.dsl.Cond(data_guard.passed()):
    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"], schema=schema_gen.outputs["schema"], **code)
    rebalance = Rebalance(
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"], label_key="species_xf")
    trainer = tfx.components.Trainer(
        **({"module_file": module_file} if not module else {"run_fn": f"{module}.run_fn"}),
        examples=rebalance.outputs["rebalanced_examples"],
        transform_graph=transform.outputs["transform_graph"],
        train_args=tfx.proto.TrainArgs(num_steps=train_steps),
        eval_args=tfx.proto.EvalArgs(num_steps=1))
    eval_config = tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(label_key="species")],
        slicing_specs=[tfma.SlicingSpec()],
        metrics_specs=[tfma.MetricsSpec(metrics=[tfma.MetricConfig(
            class_name="SparseCategoricalAccuracy",
            threshold=tfma.MetricThreshold(value_threshold=tfma.GenericValueThreshold(
                lower_bound={"value": min_accuracy})))])])
    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"], model=trainer.outputs["model"],
        eval_config=eval_config)
    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"], model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_model_dir)))
  components += [transform, rebalance, trainer, evaluator, pusher]

  return tfx.dsl.Pipeline(
      pipeline_name=pipeline_name, pipeline_root=pipeline_root, components=components,
      metadata_connection_config=(
          tfx.orchestration.metadata.sqlite_metadata_connection_config(metadata_path)
          if metadata_path else None),
      beam_pipeline_args=beam_pipeline_args or ["--direct_running_mode=in_memory"])


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--data-root", required=True)
  parser.add_argument("--pipeline-root", required=True)
  parser.add_argument("--serving-data-root")
  parser.add_argument("--serving-model-dir")
  parser.add_argument("--kubeflow", metavar="OUTPUT.yaml",
                      help="compile for Kubeflow Pipelines 2 instead of running locally")
  parser.add_argument("--image", help="the container image the Kubeflow steps run in")
  args = parser.parse_args(argv)
  serving_model_dir = args.serving_model_dir or os.path.join(args.pipeline_root, "serving_model")
  if args.kubeflow:
    # The model code is in the image (COPY penguin_utils.py onto its PYTHONPATH); the spec is
    # post-processed for a Kubeflow Pipelines 2 backend (parameter defaults, pipeline root).
    from trainguard.kubeflow import kfp_backend  # pylint: disable=g-import-not-at-top
    kfp_backend.compile_for_kfp_backend(
        create_pipeline("penguin", args.pipeline_root, args.data_root, serving_model_dir,
                        module="penguin_utils", serving_data_root=args.serving_data_root),
        image=args.image, output_file=args.kubeflow)
    return
  tfx.orchestration.LocalDagRunner().run(create_pipeline(
      "penguin", args.pipeline_root, args.data_root, serving_model_dir,
      serving_data_root=args.serving_data_root,
      metadata_path=os.path.join(args.pipeline_root, "metadata.db")))


if __name__ == "__main__":
  main()
