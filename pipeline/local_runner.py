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
  parser.add_argument("--serving-data", help="folder of CSV files sampled from serving requests "
                      "(no label): checked for train/serving skew")
  parser.add_argument("--previous-span", help="folder of CSV files of the previous span: checked "
                      "for drift")
  parser.add_argument("--epochs", type=int, default=configs.EPOCHS)
  parser.add_argument("--seed", type=int, default=configs.SEED)
  parser.add_argument("--no-cache", action="store_true", help="rerun every component")
  parser.add_argument("--beam-arg", action="append", default=None, metavar="ARG",
                      help="a Beam pipeline argument; repeat for several (replaces the defaults: "
                      + " ".join(configs.BEAM_PIPELINE_ARGS) + ")")
  args = parser.parse_args(argv)
  if args.epochs < 1:
    parser.error(f"--epochs must be at least 1, got {args.epochs}")
  for flag in ("data", "serving_data", "previous_span"):
    value = getattr(args, flag)
    if value and not os.path.isdir(value):
      parser.error(f"--{flag.replace('_', '-')} {value!r} is not a folder of CSV files")
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
  from trainguard.policy import Policy  # pylint: disable=g-import-not-at-top

  schema = results.load_schema(schema_path)
  label_classes = features.label_classes_from_schema(schema, args.label)
  policy = Policy.load(schema_folder, schema)
  paths = results.RunPaths(workdir, args.pipeline_name)
  os.makedirs(os.path.dirname(paths.metadata_path), exist_ok=True)
  tfx.orchestration.LocalDagRunner().run(
      pipeline.create_pipeline(
          pipeline_name=args.pipeline_name,
          pipeline_root=paths.pipeline_root,
          data_root=data_root,
          schema_path=schema_path,
          policy=policy,
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
          serving_data_root=_folder(args.serving_data),
          previous_span_root=_folder(args.previous_span),
          eval_accuracy_threshold=configs.EVAL_ACCURACY_THRESHOLD,
          metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
              paths.metadata_path),
          beam_pipeline_args=args.beam_arg or list(configs.BEAM_PIPELINE_ARGS),
          enable_cache=not args.no_cache))

  summary = results.latest_run(paths)
  print(summary.describe())
  if summary.findings is not None and summary.findings.blocked:
    print(summary.findings.block_message(), file=sys.stderr)
    return 1
  return 0 if summary.complete else 1


def _folder(path: Optional[str]) -> Optional[str]:
  return os.path.abspath(path) if path else None


if __name__ == "__main__":
  sys.exit(main())
