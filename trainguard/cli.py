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
import json
import os
import sys
from typing import Optional, Sequence

from trainguard import preflight, repair, schema_folder, terminal, workdir_state
from trainguard.components.data_guard.findings import FindingsReport, format_ranked
# EXIT_INTERNAL too: the exit codes are read from here (`cli.EXIT_*`) by tests and scripts.
from trainguard.errors import EXIT_BLOCKED, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, UserError  # noqa: F401
from trainguard.models import model_flags, training_causes, training_diagnosis
from trainguard.pipeline import beam_options, configs
from trainguard.policy import POLICY_FILE, STRATEGIES
from trainguard.preflight import options as run_options
from trainguard.report import command as report_command
from trainguard.schema_review import command as schema_review_command
from trainguard import task as task_lib
from trainguard.run import PipelineFailed, beam_args, failure_message, run_pipeline

# `format_findings` was this module's; the ranking now lives with the findings it ranks.
format_findings = format_ranked


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
  run.add_argument("--model", choices=tuple(configs.MODEL_RUN_FNS), default=configs.MODEL,
                   help="the model family the Trainer fits on the transformed features (default: "
                        "%(default)s): keras, the network (--epochs, --learning-rate, "
                        "--batch-size, --hidden-units, --clip-norm), or gradient_boosted_trees, "
                        "TensorFlow Decision Forests' gradient-boosted trees (--num-trees; class "
                        "weights instead of resampling under --rebalance auto). A model flag the "
                        "chosen family does not read is ignored with a warning. Same serving "
                        "signature, same Evaluator")
  run.add_argument("--epochs", type=int, default=configs.EPOCHS,
                   help="maximum training epochs (default: %(default)s; early stopping may end "
                        "sooner)")
  run.add_argument("--learning-rate", type=float, default=configs.LEARNING_RATE,
                   help="Adam's learning rate (default: %(default)s)")
  run.add_argument("--batch-size", type=int, default=configs.BATCH_SIZE,
                   help="rows per training step (default: %(default)s)")
  run.add_argument("--hidden-units", type=run_options.hidden_units,
                   default=configs.HIDDEN_UNITS, metavar="N,N,...",
                   help="sizes of the network's hidden ReLU layers, input side first (default: "
                        f"{','.join(map(str, configs.HIDDEN_UNITS))})")
  run.add_argument("--clip-norm", type=float, default=None,
                   help="clip each gradient to this norm (default: no clipping)")
  run.add_argument("--num-trees", type=int, default=None, metavar="N",
                   help="--model gradient_boosted_trees: the most trees to grow (default: "
                        f"{configs.NUM_TREES}, TF Decision Forests'; early stopping on the "
                        "validation split usually keeps fewer)")
  run.add_argument("--seed", type=int, default=configs.SEED, help="seed for every random choice")
  run.add_argument("--run-fn", default=configs.RUN_FN, metavar="MODULE.FUNCTION",
                   help="the Trainer's run_fn, by import path (default: %(default)s); the module "
                        "must be importable (installed, or its folder on PYTHONPATH)")
  run.add_argument("--preprocessing-fn", default=configs.PREPROCESSING_FN,
                   metavar="MODULE.FUNCTION",
                   help="Transform's preprocessing_fn, by import path (default: %(default)s)")
  run.add_argument("--repair", action="store_true",
                   help="when the training diagnosis names a model setting to change (learning "
                        "rate, --clip-norm, --class-weights, --epochs, ...), retrain once with it "
                        "and show both runs side by side (trainguard/repair.py)")
  run.add_argument("--require-blessing", action="store_true",
                   help="exit 1 when the model is not blessed (for CI)")
  run.set_defaults(func=cmd_run)

  report = commands.add_parser(
      "report", help="write the HTML report of a recorded run",
      description="Writes (or rewrites) the report of any recorded run, finished, failed or "
                  "blocked, compared with the run before it, and prints its path.")
  report_command.add_arguments(report)
  report.set_defaults(func=report_command.run)

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
  _task_argument(init)
  _csv_format_arguments(init)
  init.set_defaults(func=cmd_schema_init)
  schema_review_command.add_commands(schema_commands, _csv_format_arguments)
  return parser


def _csv_format_arguments(parser: argparse.ArgumentParser) -> None:
  parser.add_argument("--delimiter", default=",", help="field delimiter (default: ',')")
  parser.add_argument("--na-values", default=run_options.na_values_default(),
                      help="comma-separated cell values that mean 'missing', besides the empty "
                           "cell (default: %(default)s)")


def _task_argument(parser: argparse.ArgumentParser) -> None:
  parser.add_argument("--task", choices=task_lib.TASKS,
                      help="classification or regression (default: the label decides: a number "
                           "with many distinct values is regression; a curated schema declares "
                           "it)")


def _data_arguments(parser: argparse.ArgumentParser) -> None:
  _task_argument(parser)
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
                           f"in-process below {beam_options.MULTI_PROCESS_MIN_BYTES >> 20} MiB of "
                           "CSV, one process per core above)")
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
# Commands


def cmd_schema_init(args) -> int:
  profile = preflight.inspect(args.csv, args.label, run_options.delimiter(args.delimiter),
                              run_options.na_tokens(args.na_values),
                              task=args.task or task_lib.AUTO)
  for warning in profile.warnings:
    print(f"warning: {warning}", file=sys.stderr)
  folder = os.path.abspath(args.out)
  schema_folder.write_schema_folder(schema_folder.infer_schema(profile), folder,
                                    overwrite=args.force, profile=profile)
  print(f"wrote {schema_folder.schema_path(folder)}")
  print(f"wrote {os.path.join(folder, POLICY_FILE)}")
  print(f"task: {profile.task} (label {profile.label!r}"
        + (": a number without a domain in the schema)" if profile.task == task_lib.REGRESSION
           else ": its classes are the schema's domain)"))
  print("Review both (types, domains, presence; what blocks), then pass --schema "
        f"{folder} to diagnose/run.")
  return EXIT_OK


def cmd_diagnose(args) -> int:
  options = run_options_of(args)
  _check_store(options)
  plan = preflight.prepare(options)
  _print_plan(plan, options)
  # With --json, stdout is one JSON document (`json.load` reads it): whatever the run prints for
  # people (--verbose lets TFX print) and the report/log paths go to stderr.
  with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
    summary = run_pipeline(plan, options, include_training=False)
  report = summary.findings or FindingsReport(plan.preflight)
  if args.json:
    print(json.dumps(report.to_dict(), indent=1, sort_keys=True))
  else:
    print(format_findings(report))
  _print_paths(summary, sys.stderr if args.json else sys.stdout)
  return EXIT_BLOCKED if report.blocked else EXIT_OK


def cmd_run(args) -> int:
  options = run_options_of(args)
  _check_store(options)
  plan = preflight.prepare(options)
  _print_plan(plan, options)
  if getattr(args, "repair", False):
    summary = repair.run_with_repair(plan, options)
  else:
    summary = run_pipeline(plan, options, include_training=True)
  report = summary.findings or FindingsReport(plan.preflight)
  print(format_findings(report))
  if report.blocked:
    print(report.block_message(), file=sys.stderr)
    _print_paths(summary)
    return EXIT_BLOCKED
  if summary.training_findings is not None:
    print(format_training_findings(summary.training_findings, summary.findings,
                                   family=model_flags.family(options.run_fn),
                                   regression=plan.task == task_lib.REGRESSION))
  print(summary.describe())
  _print_paths(summary)
  if not summary.blessed:
    print("The model was not blessed, so it was not pushed: "
          + _why_not_blessed(summary, len(plan.label_classes)), file=sys.stderr)
    return EXIT_BLOCKED if options.require_blessing else EXIT_OK
  return EXIT_OK


def _check_store(options: preflight.RunOptions) -> None:
  """A damaged or locked metadata.sqlite is an exit 2 before the pre-flight stages any data and
  before TensorFlow starts (trainguard/workdir_state.py says why TFX's own failure is no help)."""
  workdir = os.path.abspath(os.path.expanduser(options.workdir))
  workdir_state.check_store(os.path.join(workdir, "metadata.sqlite"))


def format_training_findings(report: FindingsReport,
                             data_findings: Optional[FindingsReport] = None,
                             family: Optional[str] = None, regression: bool = False) -> str:
  """The training diagnosis, as `trainguard run` prints it after DataGuard's findings; under each
  finding, the data findings that can cause it (`models/training_causes.py`). `family` (the
  `--model` that trained; None: the network) words what a clean diagnosis vouches for."""
  if not report.findings:
    return (f"Training diagnosis: no finding "
            f"({training_diagnosis.no_finding(family, regression)}).")
  counts = report.counts()
  lines = [f"Training diagnosis: {counts['block']} blocking, {counts['warn']} warning(s), "
           f"{counts['info']} note(s):"]
  for finding in report.findings:
    lines.append(f"{finding.severity.upper():5} {finding.kind} [{finding.split}]: {finding.found}")
    lines.append(f"      fix: {finding.fix}")
    for cause in training_causes.related(finding, data_findings.findings if data_findings else ()):
      where = f"{cause.feature} [{cause.split}]" if cause.feature else f"[{cause.split}]"
      lines.append(f"      in the data: {cause.kind} on {where}: {cause.found}")
  return "\n".join(lines)


def _why_not_blessed(summary, num_classes: int) -> str:
  if summary.not_blessed_reason:
    return summary.not_blessed_reason + " (see the training diagnosis above)."
  accuracy = summary.eval_metrics.get("sparse_categorical_accuracy")
  recall = next((v for k, v in summary.eval_metrics.items() if k.endswith("macro_recall")), None)
  if not num_classes:  # a regression
    r2 = summary.eval_metrics.get("r2")
    return (f"eval R² {r2:.3f} is below the policy's regression.min_r2, or worse than the latest "
            "blessed model's (see the report)." if r2 is not None
            else "the Evaluator's thresholds were not met (see the report).")
  if recall is not None and recall <= 1.0 / num_classes + 0.01:
    return (f"macro-averaged recall {recall:.3f} does not beat always predicting the majority "
            "class; see CLASS_IMBALANCE and the per-class metrics in the report.")
  if accuracy is not None and accuracy < configs.EVAL_ACCURACY_THRESHOLD:
    return (f"eval accuracy {accuracy:.3f} is below the threshold "
            f"{configs.EVAL_ACCURACY_THRESHOLD}.")
  return "it did worse than the latest blessed model of this pipeline (see the report)."


def run_options_of(args) -> preflight.RunOptions:
  """The typed options of `run` or `diagnose`, every field explicit (run-only ones None for
  diagnose)."""
  is_run = args.command == "run"
  return preflight.RunOptions(
      csv=args.csv, label=args.label, workdir=args.workdir, schema=args.schema,
      eval_data=args.eval_data, serving_data=args.serving_data,
      previous_span=args.previous_span, delimiter=run_options.delimiter(args.delimiter),
      na_tokens=run_options.na_tokens(args.na_values), beam_args=tuple(args.beam_arg or ()),
      beam_endpoint=args.beam_endpoint, beam_worker_pool=args.beam_worker_pool,
      verbose=args.verbose, task=args.task,
      epochs=args.epochs if is_run else None, seed=args.seed if is_run else None,
      learning_rate=args.learning_rate if is_run else None,
      batch_size=args.batch_size if is_run else None,
      hidden_units=tuple(args.hidden_units) if is_run else None,
      clip_norm=args.clip_norm if is_run else None,
      num_trees=args.num_trees if is_run else None,
      run_fn=model_run_fn(args.model, args.run_fn) if is_run else None,
      preprocessing_fn=args.preprocessing_fn if is_run else None,
      rebalance=args.rebalance if is_run else None,
      class_weights=args.class_weights if is_run else False,
      require_blessing=args.require_blessing if is_run else False)


def model_run_fn(model: str, run_fn: str) -> str:
  """The Trainer's run_fn of `--model`, or `--run-fn` when it names another one; both at once
  would leave unsaid which model trains, so that is a usage error."""
  from trainguard.errors import UsageError  # pylint: disable=g-import-not-at-top
  if run_fn in (None, configs.RUN_FN):
    return configs.MODEL_RUN_FNS[model]
  if model != configs.MODEL:
    raise UsageError(f"--run-fn {run_fn} and --model {model} both choose the model; pass one.")
  return run_fn


def _print_plan(plan: preflight.PreparedRun, options: preflight.RunOptions) -> None:
  for warning in plan.warnings:
    print(f"warning: {warning}", file=sys.stderr)
  if plan.schema_inferred:
    print(f"schema: inferred from the data into {plan.schema_folder} (review it, then pass "
          "--schema to pin it)", file=sys.stderr)
  if plan.task == task_lib.REGRESSION:
    print(f"task: regression (label {plan.label!r} is a number with many values; --task "
          "classification to treat it as classes); Rebalance is skipped: class rebalancing does "
          "not apply to a numeric label", file=sys.stderr)
  print(f"running {plan.pipeline_name} (workdir {plan.workdir}; "
        f"{beam_options.describe(beam_args(options))})", file=sys.stderr)


def _print_paths(summary, out=None) -> None:
  if getattr(summary, "report_path", None):
    print(f"report:          {summary.report_path}", file=out)
  if getattr(summary, "log_path", None):
    print(f"log:             {summary.log_path}", file=out)


def main(argv: Optional[Sequence[str]] = None) -> int:
  # Column names, values and classes from the CSV reach the terminal: as text, never as escape
  # sequences or right-to-left overrides (terminal.py).
  with terminal.printable_output():
    return _main(argv)


def _main(argv: Optional[Sequence[str]]) -> int:
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


if __name__ == "__main__":
  sys.exit(main())
