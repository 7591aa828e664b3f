"""`trainguard schema propose | diff | check`: the schema review commands (trainguard.schema_review).

Registered by the CLI (`add_commands`) under `trainguard schema`; `schema init` stays with the CLI,
since it reads a CSV through the pre-flight. No TensorFlow is imported for `diff` and `check`.
"""
import sys

from trainguard import schema_review
from trainguard.errors import EXIT_BLOCKED, EXIT_OK
from trainguard.preflight import options as run_options


def add_commands(schema_subparsers, csv_format_arguments) -> None:
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


def cmd_propose(args) -> int:
  delimiter = run_options.delimiter(args.delimiter)
  na = None if args.na_values is None else run_options.na_tokens(args.na_values)
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
