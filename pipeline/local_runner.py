"""Runs the trainguard pipeline with LocalDagRunner: `python -m trainguard.pipeline.local_runner`.

With no arguments it runs on the embedded default (the raw Palmer penguins data) and prints where the
pushed model, the metadata store and the artifacts are, and the eval accuracy. Every path lives
under --workdir (default ~/.trainguard), so a second run reuses cached executions.
"""
import argparse
import os
import sys
from typing import List, Optional

from trainguard.pipeline import configs, datasets


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
  parser = argparse.ArgumentParser(
      prog="python -m trainguard.pipeline.local_runner",
      description="Run the trainguard pipeline locally with TFX's LocalDagRunner.")
  parser.add_argument("--data", help="folder of CSV files (default: the embedded penguins data)")
  parser.add_argument("--schema", help="folder holding schema.pbtxt (default: schemas/penguins)")
  parser.add_argument("--label", default=configs.LABEL_KEY, help="label column (default: %(default)s)")
  parser.add_argument("--pipeline-name", default=configs.PIPELINE_NAME)
  parser.add_argument("--workdir", default=configs.DEFAULT_WORKDIR,
                      help="where pipeline root, metadata and pushed models go (default: %(default)s)")
  parser.add_argument("--epochs", type=int, default=configs.EPOCHS)
  parser.add_argument("--seed", type=int, default=configs.SEED)
  parser.add_argument("--no-cache", action="store_true", help="rerun every component")
  parser.add_argument("--beam-arg", action="append", default=None, metavar="ARG",
                      help="a Beam pipeline argument; repeat for several (replaces the defaults: "
                      + " ".join(configs.BEAM_PIPELINE_ARGS) + ")")
  args = parser.parse_args(argv)
  if args.epochs < 1:
    parser.error(f"--epochs must be at least 1, got {args.epochs}")
  if args.data and not os.path.isdir(args.data):
    parser.error(f"--data {args.data!r} is not a folder of CSV files")
  return args


def main(argv: Optional[List[str]] = None) -> int:
  args = parse_args(argv)
  workdir = os.path.abspath(os.path.expanduser(args.workdir))
  data_root = (os.path.abspath(args.data) if args.data
               else datasets.stage_penguins(os.path.join(workdir, "data")))
  from trainguard import schemas  # pylint: disable=g-import-not-at-top
  schema_folder = os.path.abspath(args.schema) if args.schema else schemas.schema_dir(configs.DATASET)
  schema_path = os.path.join(schema_folder, "schema.pbtxt")

  # TensorFlow and TFX are imported only once the arguments are known to be usable.
  from tfx import v1 as tfx  # pylint: disable=g-import-not-at-top
  from trainguard.models import features  # pylint: disable=g-import-not-at-top
  from trainguard.pipeline import pipeline, results  # pylint: disable=g-import-not-at-top

  label_classes = features.label_classes_from_schema(results.load_schema(schema_path), args.label)
  paths = results.RunPaths(workdir, args.pipeline_name)
  os.makedirs(os.path.dirname(paths.metadata_path), exist_ok=True)
  tfx.orchestration.LocalDagRunner().run(
      pipeline.create_pipeline(
          pipeline_name=args.pipeline_name,
          pipeline_root=paths.pipeline_root,
          data_root=data_root,
          schema_path=schema_path,
          label_key=args.label,
          label_classes=label_classes,
          serving_model_dir=paths.serving_model_dir,
          preprocessing_fn=configs.PREPROCESSING_FN,
          run_fn=configs.RUN_FN,
          train_hash_buckets=configs.TRAIN_HASH_BUCKETS,
          eval_hash_buckets=configs.EVAL_HASH_BUCKETS,
          epochs=args.epochs,
          batch_size=configs.BATCH_SIZE,
          learning_rate=configs.LEARNING_RATE,
          early_stopping_patience=configs.EARLY_STOPPING_PATIENCE,
          seed=args.seed,
          eval_accuracy_threshold=configs.EVAL_ACCURACY_THRESHOLD,
          metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
              paths.metadata_path),
          beam_pipeline_args=args.beam_arg or list(configs.BEAM_PIPELINE_ARGS),
          enable_cache=not args.no_cache))

  summary = results.latest_run(paths)
  print(summary.describe())
  return 0 if summary.complete else 1


if __name__ == "__main__":
  sys.exit(main())
