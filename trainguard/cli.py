"""`trainguard`: diagnose and train on your own CSV, no code edits.

    trainguard diagnose data.csv --label y        # what stops this data from training well?
    trainguard run data.csv --label y             # the whole pipeline: fix, train, evaluate, push
    trainguard schema init data.csv --label y --out schemas/mydata/

Exit codes: 0 the data can train / the run completed (blessed or not); 1 DataGuard blocked (or, with
--require-blessing, the model was not blessed); 2 a usage error, unusable input or an output that
cannot be written (disk full); 3 an internal error (the message says where the full log is).

Everything that can be checked is checked before TensorFlow is imported, so a bad file or flag is
rejected in well under a second.
"""
import argparse
import contextlib
import dataclasses
import datetime
import errno
import json
import logging
import os
import re
import sys
import time
from typing import List, Optional, Sequence

from trainguard import csv_input, model_code, schema_review
from trainguard.errors import (EXIT_BLOCKED, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, DataError,
                               UsageError, UserError)
from trainguard.components.data_guard.findings import Finding, FindingsReport
from trainguard.pipeline import beam_options, configs
from trainguard.policy import (POLICY_FILE, Policy, STRATEGIES,
                               SYNTHESIZING_STRATEGIES)

_WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.ENOTDIR, errno.EFBIG)

# Rank of a finding kind by how much it stops training, after severity: first what breaks the data
# outright, then what silently biases a model.
_KIND_RANK = [
    "NUMERIC_COLUMN_WITH_TEXT", "INFINITE_VALUES", "UNEXPECTED_DATA_TYPE", "SCHEMA_MISSING_COLUMN",
    "ENUM_TYPE_UNEXPECTED_STRING_VALUES", "FEATURE_TYPE_LOW_FRACTION_PRESENT",
    "COMPARATOR_L_INFTY_HIGH", "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH", "MISSING_VALUES",
    "NAN_VALUES", "ALL_VALUES_MISSING", "LABEL_MISSING_ROWS_DROPPED",
]


# ---------------------------------------------------------------------------------------------
# Arguments


class _Parser(argparse.ArgumentParser):
  """Usage errors as one line that names the flag and where help is, not a screen of usage."""

  def error(self, message):
    self.exit(EXIT_USAGE, f"{self.prog}: error: {message}; see `{self.prog} --help`.\n")


def build_parser() -> argparse.ArgumentParser:
  parser = _Parser(
      prog="trainguard",
      description="Find and fix what stops a TensorFlow model from training well, then train, "
                  "evaluate and push it (TFX pipeline, LocalDagRunner).",
      epilog="Exit codes: 0 ok, 1 blocked by DataGuard, 2 usage or input error, 3 internal error.")
  commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

  diagnose = commands.add_parser(
      "diagnose", help="check a CSV and list what stops it from training well",
      description="Runs ingest, statistics and DataGuard on the CSV and prints every finding, "
                  "ranked by how much it blocks training, with the fix. Exit 0 when the data can "
                  "train, 1 when something blocks.")
  _data_arguments(diagnose)
  diagnose.add_argument("--json", action="store_true", help="print the findings as JSON")
  diagnose.set_defaults(func=cmd_diagnose)

  run = commands.add_parser(
      "run", help="run the whole pipeline on a CSV",
      description="DataGuard → Transform → Trainer → Evaluator → Pusher on the CSV. Exit 0 when "
                  "the run completes (blessed or not), 1 when DataGuard blocks.")
  _data_arguments(run)
  run.add_argument("--rebalance", choices=STRATEGIES,
                   help="class-imbalance fix (default: the policy's, 'auto')")
  run.add_argument("--class-weights", action="store_true",
                   help="weigh classes in the loss by their train counts (sklearn's 'balanced'), "
                        "an alternative to resampling: usually with --rebalance none")
  run.add_argument("--epochs", type=int, default=configs.EPOCHS,
                   help="maximum training epochs (default: %(default)s; early stopping may end "
                        "sooner)")
  run.add_argument("--seed", type=int, default=configs.SEED, help="seed for every random choice")
  run.add_argument("--run-fn", default=configs.RUN_FN, metavar="MODULE.FUNCTION",
                   help="the Trainer's run_fn, by import path (default: %(default)s); the module "
                        "must be importable (installed, or its folder on PYTHONPATH)")
  run.add_argument("--preprocessing-fn", default=configs.PREPROCESSING_FN,
                   metavar="MODULE.FUNCTION",
                   help="Transform's preprocessing_fn, by import path (default: %(default)s)")
  run.add_argument("--require-blessing", action="store_true",
                   help="exit 1 when the model is not blessed (for CI)")
  run.set_defaults(func=cmd_run)

  schema = commands.add_parser("schema", help="schema tooling")
  schema_commands = schema.add_subparsers(dest="schema_command", metavar="SUBCOMMAND",
                                          required=True)
  init = schema_commands.add_parser(
      "init", help="write schema.pbtxt and policy.yaml for review",
      description="Infers a schema from the CSV (types, domains, presence, the label excluded at "
                  "serving) and writes it with a default policy into --out, for review.")
  init.add_argument("csv", help="the CSV file")
  init.add_argument("--label", required=True, help="the label column")
  init.add_argument("--out", required=True, help="folder to write schema.pbtxt and policy.yaml")
  init.add_argument("--force", action="store_true", help="overwrite existing files")
  _csv_format_arguments(init)
  init.set_defaults(func=cmd_schema_init)
  _schema_review_commands(schema_commands)
  return parser


def _schema_review_commands(schema_subparsers) -> None:
  """`schema propose`, `schema diff` and `schema check` (trainguard.schema_review)."""
  propose_parser = schema_subparsers.add_parser(
      "propose", help="propose schema updates from new data",
      description="Computes statistics of new data (TFDV), validates them against the curated "
                  "schema (TRAINING environment) and writes a proposed schema.pbtxt, policy.yaml "
                  "entries for new features, and REVIEW.md / anomalies.json naming the anomalies "
                  "behind each change. The curated files change only with --write.")
  propose_parser.add_argument("--schema", required=True,
                              help="the curated schema folder (schema.pbtxt, policy.yaml)")
  propose_parser.add_argument("--data", required=True,
                              help="new data: a CSV, or statistics (a StatisticsGen output "
                                   "folder, its FeatureStats.pb, or a statistics file)")
  propose_parser.add_argument("--label", help="the label column of a CSV (default: the schema's "
                                              "label, the feature absent in SERVING)")
  propose_parser.add_argument("--split", default="train",
                              help="split of a StatisticsGen output folder (default: train)")
  propose_parser.add_argument("--out", help="folder for the proposal and its note (default: "
                                            "<schema>/proposed/)")
  propose_parser.add_argument("--write", action="store_true",
                              help="update the curated schema.pbtxt and policy.yaml in place")
  propose_parser.add_argument("--delimiter", default=",", help="CSV field delimiter")
  propose_parser.add_argument("--na-values", default=None,
                              help="comma-separated CSV cell values that mean 'missing', besides "
                                   "the empty cell (default: the pre-flight's list)")
  propose_parser.set_defaults(func=cmd_propose)

  diff_parser = schema_subparsers.add_parser(
      "diff", help="markdown review of a schema change",
      description="Per feature: what changed, which anomaly kinds the change allows or blocks "
                  "(with the policy's severity), and which policy entries are affected. Prints "
                  "'no changes' when both mean the same. No TensorFlow.")
  diff_parser.add_argument("old", help="the old schema folder or schema.pbtxt")
  diff_parser.add_argument("new", help="the new schema folder or schema.pbtxt")
  diff_parser.add_argument("--old-name", help="how to name OLD in the review (default: its path)")
  diff_parser.add_argument("--new-name", help="how to name NEW in the review (default: its path)")
  diff_parser.add_argument("--heading-level", type=int, choices=(1, 2, 3, 4), default=1,
                           help="markdown level of the review's heading, to nest it in another "
                                "document (default: 1)")
  diff_parser.set_defaults(func=cmd_diff)

  check_parser = schema_subparsers.add_parser(
      "check", help="validate every schema folder and policy",
      description="Every folder with a schema.pbtxt under ROOT: the schema parses, policy.yaml "
                  "validates against it, one label with classes, consistent environments. Exit 1 "
                  "on problems. No TensorFlow.")
  check_parser.add_argument("root", nargs="?", default="schemas",
                            help="folder holding the schema folders (default: %(default)s)")
  check_parser.set_defaults(func=cmd_check)


def _csv_format_arguments(parser: argparse.ArgumentParser) -> None:
  parser.add_argument("--delimiter", default=",", help="field delimiter (default: ',')")
  parser.add_argument("--na-values", default=",".join(t for t in csv_input.DEFAULT_NA_TOKENS if t),
                      help="comma-separated cell values that mean 'missing', besides the empty "
                           "cell (default: %(default)s)")


def _data_arguments(parser: argparse.ArgumentParser) -> None:
  parser.add_argument("csv", help="the CSV file to train on")
  parser.add_argument("--label", required=True, help="the label column (categorical)")
  parser.add_argument("--schema", help="folder with a curated schema.pbtxt (and policy.yaml); "
                                       "default: inferred from the data")
  parser.add_argument("--eval-data", help="a CSV to evaluate on instead of a hash split")
  parser.add_argument("--serving-data", help="a CSV sampled from serving requests (no label): "
                                             "checked for train/serving skew")
  parser.add_argument("--previous-span", help="the previous span's CSV: checked for drift")
  parser.add_argument("--workdir", default=configs.DEFAULT_WORKDIR,
                      help="pipeline roots, metadata, models and reports (default: %(default)s)")
  parser.add_argument("--beam-arg", action="append", metavar="ARG",
                      help="a Beam pipeline argument (repeatable; replaces the choice by data size: "
                           "in-process below 256 MB of CSV, one process per core above)")
  parser.add_argument("--beam-endpoint", metavar="HOST:PORT",
                      help="send every Beam-powered component to this portable Beam job service "
                           "(scripts/beam_portable.py start; docs/scale-out.md); --beam-arg values "
                           "are added after its arguments")
  parser.add_argument("--beam-worker-pool", metavar="HOST:PORT",
                      help="the worker pool that job service starts SDK workers from, as the job "
                           "service reaches it (default: port 50000 on the --beam-endpoint host)")
  parser.add_argument("--verbose", action="store_true",
                      help="show TensorFlow, Beam and TFX logs in the terminal")
  _csv_format_arguments(parser)


# ---------------------------------------------------------------------------------------------
# Preparing a run (no TensorFlow)


@dataclasses.dataclass
class Plan:
  pipeline_name: str
  workdir: str
  data_root: str
  presplit: bool
  schema_folder: str
  schema_inferred: bool
  label: str
  policy: Policy
  label_classes: List[str]
  preflight: List[Finding]
  warnings: List[str]
  serving_root: Optional[str] = None
  previous_root: Optional[str] = None


def prepare(args) -> Plan:
  """Checks every input and flag, stages the data and resolves schema and policy."""
  na = tuple([""] + [t.strip() for t in args.na_values.split(",")])
  delimiter = _delimiter(args.delimiter)
  if getattr(args, "epochs", 1) < 1:
    raise UsageError(f"--epochs must be at least 1, got {args.epochs}.")
  if getattr(args, "seed", 0) < 0:
    raise UsageError(f"--seed must be 0 or more (NumPy and TensorFlow take unsigned seeds), got "
                     f"{args.seed}.")
  for flag in ("run_fn", "preprocessing_fn"):
    if hasattr(args, flag):
      model_code.check_function_path("--" + flag.replace("_", "-"), getattr(args, flag))
  _check_beam_endpoint(args)
  workdir = os.path.abspath(os.path.expanduser(args.workdir))
  _check_workdir(workdir)
  profile = csv_input.inspect(args.csv, args.label, delimiter, na)
  name = _dataset_name(args.csv)
  pipeline_name = f"trainguard-{name}"
  data_root = os.path.join(workdir, "data", name)
  findings, warnings = list(profile.findings), list(profile.warnings)

  presplit = bool(args.eval_data)
  if presplit:
    eval_profile = csv_input.inspect(args.eval_data, args.label, delimiter, na)
    _check_same_columns(profile, eval_profile)
    _check_eval_classes(profile, eval_profile)
    findings += [dataclasses.replace(f, split="eval input") for f in eval_profile.findings]
    warnings += eval_profile.warnings
    csv_input.stage(profile, os.path.join(data_root, "train", "data.csv"), na)
    csv_input.stage(eval_profile, os.path.join(data_root, "eval", "data.csv"), na)
  else:
    csv_input.stage(profile, os.path.join(data_root, "data.csv"), na)

  if args.schema:
    schema_folder = os.path.abspath(args.schema)
    schema = _read_schema(schema_folder)
  else:
    schema_folder = os.path.join(workdir, "schemas", name)
    schema = csv_input.infer_schema(profile)
    _write_schema_folder(schema, schema_folder, overwrite=True, keep_policy=True)
  policy = Policy.load(schema_folder, schema)
  schema_features = {f.name for f in schema.feature}
  for column in profile.unusable_columns:
    entry = policy.data["features"].setdefault(column, {})
    if column in schema_features and entry.get("exclude") is not False:
      entry["exclude"] = True
  if getattr(args, "rebalance", None):
    policy.data["rebalance"]["strategy"] = args.rebalance
  if getattr(args, "class_weights", False):
    policy.data["rebalance"]["class_weights"] = True
  from trainguard.models import features  # pylint: disable=g-import-not-at-top
  try:
    label_classes = features.label_classes_from_schema(schema, profile.label)
  except ValueError as e:
    raise UsageError(f"{schema_folder}/schema.pbtxt: {e}") from e
  _check_classes_in_schema(profile, label_classes, schema_folder)
  _check_k_neighbors(profile, policy, presplit)

  plan = Plan(pipeline_name=pipeline_name, workdir=workdir, data_root=data_root,
              presplit=presplit, schema_folder=schema_folder, schema_inferred=not args.schema,
              label=profile.label, policy=policy, label_classes=label_classes,
              preflight=findings, warnings=warnings)
  if args.serving_data:
    serving = csv_input.inspect(args.serving_data, None, delimiter, na)
    _check_serving_columns(serving, schema, policy, profile.label)
    plan.serving_root = os.path.join(workdir, "data", name + "-serving")
    csv_input.stage(serving, os.path.join(plan.serving_root, "data.csv"), na)
  if args.previous_span:
    previous = csv_input.inspect(args.previous_span, args.label, delimiter, na)
    plan.previous_root = os.path.join(workdir, "data", name + "-previous")
    csv_input.stage(previous, os.path.join(plan.previous_root, "data.csv"), na)
  return plan


def _check_beam_endpoint(args) -> None:
  """A malformed --beam-endpoint/--beam-worker-pool, or no job service listening: exit 2 now."""
  endpoint, pool = getattr(args, "beam_endpoint", None), getattr(args, "beam_worker_pool", None)
  try:
    beam_options.choose([], getattr(args, "beam_arg", None), endpoint, pool)
    if endpoint:
      beam_options.check_job_service(endpoint)
  except ValueError as e:
    raise UsageError(str(e)) from e


def _na_tokens(value: str):
  return tuple([""] + [t.strip() for t in value.split(",")])


def _delimiter(value: str) -> str:
  value = {"\\t": "\t", "tab": "\t"}.get(value, value)
  if len(value) != 1:
    raise UsageError(f"--delimiter must be one character, got {value!r}.")
  return value


def _check_workdir(workdir: str) -> None:
  probe = workdir
  while not os.path.exists(probe):
    probe = os.path.dirname(probe)
  if not os.path.isdir(probe):
    raise UsageError(f"--workdir {workdir}: {probe} is a file, not a folder; choose another "
                     "--workdir.")
  try:
    os.makedirs(workdir, exist_ok=True)
  except OSError as e:
    raise UsageError(f"--workdir {workdir}: cannot create it ({e.strerror}); choose another "
                     "--workdir.") from e


def _dataset_name(path: str) -> str:
  stem = os.path.splitext(os.path.basename(path))[0].lower()
  return re.sub(r"[^a-z0-9]+", "-", stem).strip("-") or "data"


def _check_same_columns(train: csv_input.CsvProfile, other: csv_input.CsvProfile) -> None:
  a = [c.name for c in train.columns]
  b = [c.name for c in other.columns]
  if a != b:
    raise UsageError(f"{other.path}: its columns ({', '.join(b)}) differ from {train.path}'s "
                     f"({', '.join(a)}); both files need the same header.")


def _check_eval_classes(train: csv_input.CsvProfile, other: csv_input.CsvProfile) -> None:
  unseen = sorted(set(other.label_classes) - set(train.label_classes))
  if unseen:
    raise UsageError(
        f"{other.path}: label {train.label!r} has class(es) {', '.join(map(repr, unseen))} that "
        f"the training file {train.path} never has, so the model cannot learn them; remove those "
        "rows from the eval file or add training rows of that class.")


def _check_classes_in_schema(profile: csv_input.CsvProfile, classes: List[str],
                             schema_folder: str) -> None:
  unknown = sorted(set(profile.label_classes) - set(classes))
  if unknown:
    raise UsageError(
        f"{profile.path}: label {profile.label!r} has class(es) {', '.join(map(repr, unknown))} "
        f"that {schema_folder}/schema.pbtxt does not list (its classes: {', '.join(classes)}); "
        "fix the rows, or add the class to the label's domain in a reviewed schema change.")


def _check_k_neighbors(profile: csv_input.CsvProfile, policy: Policy, presplit: bool) -> None:
  """A SMOTE-family strategy needs k_neighbors + 1 rows of every class it synthesises; the train
  split holds at most the file's rows of a class, so a class this small can never work. (`auto`
  falls back to random over-sampling itself.)"""
  section = policy.data["rebalance"]
  strategy, k = section["strategy"], section["k_neighbors"]
  if strategy not in SYNTHESIZING_STRATEGIES:
    return
  counts = profile.column(profile.label).values
  largest = max(counts.values())
  for name, rows in sorted(counts.items(), key=lambda item: item[1]):
    if rows < largest and rows < k + 1:
      where = "the training file" if presplit else "the whole file (train gets about 2/3)"
      raise UsageError(
          f"rebalance strategy {strategy!r} with k_neighbors={k} needs at least {k + 1} rows of "
          f"every class it synthesises, but class {name!r} of label {profile.label!r} has {rows} "
          f"in {where} ({profile.path}); lower rebalance.k_neighbors in policy.yaml, use "
          "--rebalance random_over (or auto), or collect more rows.")


def _check_serving_columns(serving: csv_input.CsvProfile, schema, policy: Policy,
                           label: str) -> None:
  """A serving sample must carry every feature the model reads at serving that the schema says is
  present (presence > 0); otherwise every request would be rejected or silently imputed."""
  have = {c.name for c in serving.kept_columns}
  excluded = {name for name, entry in policy.data["features"].items() if entry.get("exclude")}
  missing = [f.name for f in schema.feature
             if f.name not in have and f.name != label and f.name not in excluded
             and "SERVING" not in f.not_in_environment
             and (f.presence.min_fraction > 0 or f.presence.min_count > 0)]
  if missing:
    raise UsageError(
        f"{serving.path}: no value in column(s) {', '.join(map(repr, missing))}, which the schema "
        "requires at serving (presence above 0); add them to the serving sample, or, if serving "
        "really lacks them, exclude them in policy.yaml or mark them not_in_environment: "
        "\"SERVING\" in schema.pbtxt (a reviewed change).")


def _read_schema(folder: str):
  from google.protobuf import text_format  # pylint: disable=g-import-not-at-top
  from tensorflow_metadata.proto.v0 import schema_pb2  # pylint: disable=g-import-not-at-top
  path = os.path.join(folder, "schema.pbtxt")
  if not os.path.isfile(path):
    raise UsageError(f"--schema {folder}: no schema.pbtxt in it; write one with `trainguard schema "
                     "init` or point at the folder that holds it.")
  try:
    with open(path, encoding="utf-8") as f:
      return text_format.Parse(f.read(), schema_pb2.Schema())
  except text_format.ParseError as e:
    raise UsageError(f"{path}: does not parse as a TFDV schema ({e}); fix the line it names.") from e


def _write_schema_folder(schema, folder: str, overwrite: bool, keep_policy: bool = False) -> None:
  import yaml  # pylint: disable=g-import-not-at-top
  from google.protobuf import text_format  # pylint: disable=g-import-not-at-top
  from trainguard import policy as policy_module  # pylint: disable=g-import-not-at-top
  os.makedirs(folder, exist_ok=True)
  schema_path = os.path.join(folder, "schema.pbtxt")
  policy_path = os.path.join(folder, POLICY_FILE)
  for path in (schema_path, policy_path):
    if os.path.exists(path) and not overwrite:
      raise UsageError(f"{path} exists; pass --force to overwrite it.")
  _write_if_changed(schema_path, "# Inferred by trainguard from the data; review it: types, "
                    "domains, presence.\n" + text_format.MessageToString(schema))
  if keep_policy and os.path.exists(policy_path):
    return
  _write_if_changed(policy_path, "# What trainguard does about this data (docs/policy.md). "
                    "Reviewed with schema.pbtxt.\n"
                    + yaml.safe_dump(policy_module.defaults(), sort_keys=False))


def _write_if_changed(path: str, text: str) -> None:
  if os.path.isfile(path):
    with open(path, encoding="utf-8") as f:
      if f.read() == text:
        return
  with csv_input.atomic_write(path, encoding="utf-8") as f:
    f.write(text)


# ---------------------------------------------------------------------------------------------
# Running the pipeline (TensorFlow from here on)


def run_pipeline(plan: Plan, args, include_training: bool):
  """Runs the pipeline with LocalDagRunner; returns the run summary read back from ML Metadata."""
  log_path = os.path.join(plan.workdir, "logs",
                          f"{plan.pipeline_name}-{datetime.datetime.now():%Y%m%d-%H%M%S}.log")
  os.makedirs(os.path.dirname(log_path), exist_ok=True)
  with _quiet_unless(args.verbose, log_path):
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner  # pylint: disable=g-import-not-at-top
    from trainguard.pipeline import metadata, pipeline, results  # pylint: disable=g-import-not-at-top
    paths = results.RunPaths(plan.workdir, plan.pipeline_name)
    tfx_pipeline = pipeline.create_pipeline(
        pipeline_name=plan.pipeline_name,
        pipeline_root=paths.pipeline_root,
        data_root=plan.data_root,
        schema_path=os.path.join(plan.schema_folder, "schema.pbtxt"),
        policy=plan.policy,
        label_key=plan.label,
        label_classes=plan.label_classes,
        serving_model_dir=paths.serving_model_dir,
        preprocessing_fn=getattr(args, "preprocessing_fn", configs.PREPROCESSING_FN),
        run_fn=getattr(args, "run_fn", configs.RUN_FN),
        epochs=getattr(args, "epochs", configs.EPOCHS),
        batch_size=configs.BATCH_SIZE,
        learning_rate=configs.LEARNING_RATE,
        early_stopping_patience=configs.EARLY_STOPPING_PATIENCE,
        seed=getattr(args, "seed", configs.SEED),
        eval_accuracy_threshold=configs.EVAL_ACCURACY_THRESHOLD,
        serving_data_root=plan.serving_root,
        previous_span_root=plan.previous_root,
        presplit=plan.presplit,
        include_training=include_training,
        preflight_findings=plan.preflight,
        metadata_connection_config=metadata.ensure_store(paths.metadata_path),
        beam_pipeline_args=_beam_args(args))
    from trainguard.models import autograph_rules  # pylint: disable=g-import-not-at-top
    autograph_rules.skip_library_conversion()  # for TFMA in the Evaluator, in this process
    try:
      LocalDagRunner().run(tfx_pipeline)
    except Exception as e:  # pylint: disable=broad-except
      failed = PipelineFailed(e, log_path)
      failed.report_path = _write_report(results, paths)
      raise failed from e
    summary = results.latest_run(paths)
    summary.report_path = _write_report(results, paths, summary)
  summary.log_path = log_path
  return summary


def _write_report(results, paths, summary=None) -> Optional[str]:
  """The HTML run report, after every run (finished, blocked or failed), from ML Metadata."""
  from trainguard import report  # pylint: disable=g-import-not-at-top
  try:
    return report.write_report(summary or results.latest_run(paths))
  except Exception:  # pylint: disable=broad-except
    logging.exception("could not write the run report")
    return None


class PipelineFailed(RuntimeError):

  def __init__(self, error: Exception, log_path: str):
    super().__init__(str(error))
    self.error = error
    self.log_path = log_path
    self.report_path: Optional[str] = None


class _Progress(logging.Handler):
  """Turns LocalDagRunner's log lines into one line per component on the terminal."""

  _PATTERNS = (
      (re.compile(r"Component (\S+) is running"), "running"),
      (re.compile(r"Component (\S+) is finished"), "done"),
      (re.compile(r"Skipping component (\S+)"), "skipped"),
  )

  def __init__(self, stream):
    super().__init__(logging.INFO)
    self.stream = stream
    self.started = {}

  def emit(self, record):
    message = record.getMessage()
    for pattern, what in self._PATTERNS:
      match = pattern.search(message)
      if not match:
        continue
      node = match.group(1).rstrip(".")
      if what == "running":
        self.started[node] = time.time()
        print(f"  {node} …", file=self.stream, flush=True)
      elif what == "done":
        seconds = time.time() - self.started.get(node, time.time())
        print(f"  {node} done in {seconds:.1f} s", file=self.stream, flush=True)


@contextlib.contextmanager
def _quiet_unless(verbose: bool, log_path: str):
  """Sends TensorFlow/Beam/TFX output to the log file; the terminal gets one line per component."""
  terminal = sys.stderr
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1" if verbose else "3")
  root = logging.getLogger()
  saved = (list(root.handlers), root.level)
  log_file = open(log_path, "a", encoding="utf-8")  # pylint: disable=consider-using-with
  file_handler = logging.StreamHandler(log_file)
  file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
  progress = _Progress(terminal)
  if not verbose:
    root.handlers = []
  root.addHandler(file_handler)
  root.addHandler(progress)
  root.setLevel(logging.INFO)
  logging.captureWarnings(True)
  try:
    if verbose:
      yield
    else:
      with contextlib.redirect_stdout(log_file), contextlib.redirect_stderr(log_file):
        import absl.logging  # pylint: disable=g-import-not-at-top
        absl.logging.set_verbosity(absl.logging.INFO)
        absl.logging.get_absl_handler().setLevel(logging.CRITICAL + 1)
        yield
  finally:
    root.handlers, level = saved
    root.setLevel(level)
    logging.captureWarnings(False)
    log_file.close()


# ---------------------------------------------------------------------------------------------
# Commands


def cmd_propose(args) -> int:
  delimiter = _delimiter(args.delimiter)
  na = None if args.na_values is None else _na_tokens(args.na_values)
  result = schema_review.propose(args.schema, args.data, label=args.label, write=args.write,
                                 out=args.out, split=args.split, delimiter=delimiter, na_values=na)
  for path in result.written:
    print(f"wrote {path}")
  resolved = sum(a["resolved"] for a in result.anomalies)
  print(f"{len(result.anomalies)} anomaly(ies) in {result.num_examples} example(s); the proposal "
        f"resolves {resolved}.")
  for line in result.needs_decision:
    print(f"needs a decision: {line}", file=sys.stderr)
  if args.write and not args.out:
    print(result.review)
  return EXIT_OK


def cmd_diff(args) -> int:
  print(schema_review.diff(args.old, args.new, args.old_name, args.new_name,
                           args.heading_level).rstrip("\n"))
  return EXIT_OK


def cmd_check(args) -> int:
  problems = schema_review.check(args.root)
  for problem in problems:
    print(f"problem: {problem}", file=sys.stderr)
  if problems:
    print(f"trainguard schema check: {len(problems)} problem(s) under {args.root}",
          file=sys.stderr)
    return EXIT_BLOCKED
  print(f"trainguard schema check: {len(schema_review.schema_folders(args.root))} schema "
        f"folder(s) under {args.root} are valid")
  return EXIT_OK


def cmd_schema_init(args) -> int:
  profile = csv_input.inspect(args.csv, args.label, _delimiter(args.delimiter),
                              tuple([""] + [t.strip() for t in args.na_values.split(",")]))
  for warning in profile.warnings:
    print(f"warning: {warning}", file=sys.stderr)
  folder = os.path.abspath(args.out)
  _write_schema_folder(csv_input.infer_schema(profile), folder, overwrite=args.force)
  print(f"wrote {os.path.join(folder, 'schema.pbtxt')}")
  print(f"wrote {os.path.join(folder, POLICY_FILE)}")
  print("Review both (types, domains, presence; what blocks), then pass --schema "
        f"{folder} to diagnose/run.")
  return EXIT_OK


def cmd_diagnose(args) -> int:
  plan = prepare(args)
  _print_plan(plan, args)
  summary = run_pipeline(plan, args, include_training=False)
  report = summary.findings or FindingsReport(plan.preflight)
  if args.json:
    print(json.dumps(report.to_dict(), indent=1, sort_keys=True))
  else:
    print(format_findings(report))
  _print_paths(summary)
  return EXIT_BLOCKED if report.blocked else EXIT_OK


def cmd_run(args) -> int:
  plan = prepare(args)
  _print_plan(plan, args)
  summary = run_pipeline(plan, args, include_training=True)
  report = summary.findings or FindingsReport(plan.preflight)
  print(format_findings(report))
  if report.blocked:
    print(report.block_message(), file=sys.stderr)
    _print_paths(summary)
    return EXIT_BLOCKED
  print(summary.describe())
  _print_paths(summary)
  if not summary.blessed:
    print("The model was not blessed, so it was not pushed: "
          + _why_not_blessed(summary, len(plan.label_classes)), file=sys.stderr)
    return EXIT_BLOCKED if args.require_blessing else EXIT_OK
  return EXIT_OK


def _why_not_blessed(summary, num_classes: int) -> str:
  accuracy = summary.eval_metrics.get("sparse_categorical_accuracy")
  recall = next((v for k, v in summary.eval_metrics.items() if k.endswith("macro_recall")), None)
  if recall is not None and recall <= 1.0 / num_classes + 0.01:
    return (f"macro-averaged recall {recall:.3f} does not beat always predicting the majority "
            "class; see CLASS_IMBALANCE and the per-class metrics in the report.")
  if accuracy is not None and accuracy < configs.EVAL_ACCURACY_THRESHOLD:
    return (f"eval accuracy {accuracy:.3f} is below the threshold "
            f"{configs.EVAL_ACCURACY_THRESHOLD}.")
  return "it did worse than the latest blessed model of this pipeline (see the report)."


def _beam_args(args) -> List[str]:
  return beam_options.choose(
      [args.csv, args.eval_data, args.serving_data, args.previous_span], args.beam_arg,
      args.beam_endpoint, args.beam_worker_pool)


def _print_plan(plan: Plan, args) -> None:
  for warning in plan.warnings:
    print(f"warning: {warning}", file=sys.stderr)
  if plan.schema_inferred:
    print(f"schema: inferred from the data into {plan.schema_folder} (review it, then pass "
          "--schema to pin it)", file=sys.stderr)
  print(f"running {plan.pipeline_name} (workdir {plan.workdir}; "
        f"{beam_options.describe(_beam_args(args))})", file=sys.stderr)


def _print_paths(summary) -> None:
  if getattr(summary, "report_path", None):
    print(f"report:          {summary.report_path}")
  if getattr(summary, "log_path", None):
    print(f"log:             {summary.log_path}")


def format_findings(report: FindingsReport) -> str:
  """Findings ranked by how much they stop training, one entry per kind and feature, with the fix."""
  if not report.findings:
    return "No findings: the data can train."
  groups = {}
  for finding in report.findings:
    groups.setdefault((finding.severity, finding.kind, finding.feature), []).append(finding)
  ranked = sorted(groups.items(), key=lambda item: (
      {"block": 0, "warn": 1, "info": 2}.get(item[0][0], 3),
      _KIND_RANK.index(item[0][1]) if item[0][1] in _KIND_RANK else len(_KIND_RANK), item[0][2]))
  counts = report.counts()
  verdict = (f"BLOCKED: {counts['block']} finding(s) stop training" if report.blocked
             else "The data can train")
  lines = [f"{verdict} ({counts['warn']} warning(s), {counts['info']} note(s)):"]
  for (severity, kind, feature), found in ranked:
    lines.append(f"{severity.upper():5} {feature or '(dataset)'}: {kind}")
    lines.append(f"      expected {found[0].expected}")
    for finding in found:
      lines.append(f"      found [{finding.split}] {finding.found}")
    lines.append(f"      fix: {found[0].fix}")
  return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
  parser = build_parser()
  try:
    args = parser.parse_args(argv)
  except SystemExit as e:  # argparse has printed the usage error
    return int(e.code or 0)
  try:
    return args.func(args)
  except UserError as e:  # errors.py: input, flags, policy, model code, review, a full disk
    print(f"trainguard: error: {e}", file=sys.stderr)
    return e.exit_code
  except PipelineFailed as e:
    code, message = failure_message(e)
    print(message, file=sys.stderr)
    return code
  except KeyboardInterrupt:
    print("trainguard: interrupted", file=sys.stderr)
    return 130


def failure_message(failed: PipelineFailed):
  """Exit code and message for a failed run: a data problem the Trainer found (the loss diverged)
  is the user's to fix (exit 1); anything else is an internal error (exit 3)."""
  error = failed.error
  while error.__cause__ is not None:
    error = error.__cause__
  where = f"\nfull log: {failed.log_path}" + (
      f"\nreport: {failed.report_path}" if failed.report_path else "")
  if isinstance(error, DataError):
    return EXIT_BLOCKED, f"trainguard: {error.context or 'the data stopped the run'}: {error}{where}"
  if isinstance(error, UserError):
    context = f"{error.context}: " if error.context else ""
    return error.exit_code, f"trainguard: error: {context}{error}{where}"
  if isinstance(error, OSError) and error.errno in _WRITE_ERRNOS:
    return EXIT_USAGE, (f"trainguard: error: a component could not write "
                        f"{error.filename or 'its output'} ({error.strerror}); free space on that "
                        f"disk or pass another --workdir, then run again (finished components "
                        f"are reused).{where}")
  return (EXIT_INTERNAL,
          f"trainguard: internal error, the pipeline failed: {type(error).__name__}: {error}{where}")


if __name__ == "__main__":
  sys.exit(main())
