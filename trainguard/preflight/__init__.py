"""The pre-flight: every input and flag of a run checked before TensorFlow is imported.

Why a pre-flight of our own: CsvExampleGen drops row numbers, types a numeric column that holds one
stray word as text (so no anomaly is ever raised), reads `NA` as a category, and fails deep inside
Beam on a ragged row or a bad byte. Here every such problem is found in well under a second per
megabyte, named with its file, row and column, and turned into either an input error (exit 2) or a
finding that DataGuard's findings file carries. The same pass gathers what schema inference needs,
so `trainguard schema init` never imports TensorFlow either.

`prepare(options)` runs in four steps, and writes nothing before the last:
1. inspect every file (`inspection.inspect`: one streaming pass each, `scan` and `blocks`);
2. check every file and flag, alone and across files (`checks`: one `InputError` type);
3. resolve the schema (curated, or inferred from the profile) and the policy, with the run's
   flags and the pre-flight's unusable columns applied (`Policy.with_overrides`), and check the
   data against both (label classes, k_neighbors, serving columns);
4. write: the workdir, an inferred schema folder, and each file staged as CsvExampleGen should read
   it (`staging`); a train file the user split from eval gives up a validation split
   (`staging.carve`) for early stopping, as ExampleGen's hash split does for a single file.
Before, files were staged before the schema, class, k_neighbors and serving checks ran, so a
rejected run had already copied the CSV (at 10M rows, real time) into the workdir.

Modules: `options` (RunOptions, flag parsing), `profile` (what a pass learns), `inspection`,
`scan` and `blocks` (the pass), `checks`, `findings` (what is not fatal), `staging`.
"""
import dataclasses
import os
from typing import List, Optional

from trainguard import model_code, schema_folder
from trainguard import task as task_lib
from trainguard.components.data_guard.findings import Finding
from trainguard.errors import InputError, UsageError
from trainguard.models import model_flags
from trainguard.pipeline import beam_options, configs
from trainguard.policy import Policy
from trainguard.preflight import checks
from trainguard.preflight.findings import profile_findings
from trainguard.preflight.inspection import inspect
from trainguard.preflight.options import RunOptions, dataset_name
from trainguard.preflight.profile import DEFAULT_NA_TOKENS, ColumnProfile, CsvProfile, sanitize
from trainguard.preflight.staging import carve, stage

__all__ = ["DEFAULT_NA_TOKENS", "ColumnProfile", "CsvProfile", "PreparedRun", "RunOptions",
           "inspect", "prepare", "stage"]


@dataclasses.dataclass
class PreparedRun:
  """A run whose inputs passed every check, staged into the workdir, with its schema and policy."""
  pipeline_name: str
  workdir: str
  data_root: str
  presplit: bool
  schema_folder: str
  schema_inferred: bool
  label: str
  task: str  # trainguard.task: classification or regression
  policy: Policy
  label_classes: List[str]  # empty for regression
  preflight: List[Finding]
  warnings: List[str]
  serving_root: Optional[str] = None
  previous_root: Optional[str] = None


def prepare(options: RunOptions) -> PreparedRun:
  """Checks every input and flag (raises a `UserError`), then stages the data and, without
  `--schema`, writes the inferred schema folder. Serving and previous-span findings are not
  listed here: DataGuard validates those splits through TFDV, in their own environments."""
  # 1-2. Flags, then each file on its own and across files. Nothing is written.
  _check_flags(options)
  workdir = os.path.abspath(os.path.expanduser(options.workdir))
  checks.check_workdir(workdir)
  read = dict(delimiter=options.delimiter, na_tokens=options.na_tokens)
  curated = (schema_folder.read_folder_schema(os.path.abspath(options.schema)) if options.schema
             else None)
  requested = options.task or task_lib.AUTO
  if curated is not None and requested == task_lib.AUTO:
    # A curated schema declares the task (its label has a domain, or not): check for that one.
    requested = task_lib.of_schema(curated, sanitize(options.label))
  profile = inspect(options.csv, options.label, task=requested, **read)
  eval_profile = (inspect(options.eval_data, options.label, task=profile.task, **read)
                  if options.eval_data else None)
  if eval_profile is not None:
    checks.check_same_columns(profile, eval_profile)
  serving = inspect(options.serving_data, None, **read) if options.serving_data else None
  previous = (inspect(options.previous_span, options.label, task=profile.task, **read)
              if options.previous_span else None)

  # 3. Schema and policy, and the data against them.
  name = dataset_name(options.csv)
  if options.schema:
    folder = os.path.abspath(options.schema)
    schema = curated
  else:
    folder = os.path.join(workdir, "schemas", name)
    schema = schema_folder.infer_schema(profile)
  features = {f.name for f in schema.feature}
  # An inferred schema's folder is written below; until its first run it does not exist.
  policy = (Policy.load(folder, schema) if options.schema or os.path.isdir(folder)
            else Policy.default(schema))
  policy = policy.with_overrides(
      strategy=options.rebalance, class_weights=options.class_weights or None,
      exclude=[c for c in profile.unusable_columns(policy) if c in features])
  declared = task_lib.of_schema(schema, profile.label)
  if declared != profile.task:
    raise UsageError(
        f"{schema_folder.schema_path(folder)}: the schema's label {profile.label!r} declares "
        f"{declared} (a label with a domain is classification, a number without one regression), "
        f"but the run asks for {profile.task}; drop --task, or fix the label's entry in the "
        "schema.")
  label_classes: List[str] = []
  if profile.task == task_lib.REGRESSION:
    checks.check_label_transform(profile, policy, folder)
  if profile.task == task_lib.CLASSIFICATION:
    from trainguard.models import features as features_lib  # pylint: disable=g-import-not-at-top
    try:
      domain = features_lib.label_classes_from_schema(schema, profile.label)
    except ValueError as e:
      raise InputError(f"{schema_folder.schema_path(folder)}: {e}") from e
    # The classes the model learns: the policy's label.map sends spellings to their class, so
    # both checks judge mapped classes (a mapped spelling is neither unseen nor unknown).
    if eval_profile is not None:
      checks.check_eval_classes(profile, eval_profile, policy)
    checks.check_classes_in_schema(profile, domain, folder, policy)
    label_classes = policy.label_classes(domain)
    checks.check_k_neighbors(profile, policy, presplit=eval_profile is not None)
  if serving is not None:
    checks.check_serving_columns(serving, schema, policy, profile.label)
  findings = profile_findings(profile, policy)
  # A model flag the chosen --model does not read (models/model_flags.py: ignored, said first).
  ignored = model_flags.ignored_warning(options)
  warnings = ([ignored] if ignored else []) + list(profile.warnings)
  if eval_profile is not None:
    findings += [dataclasses.replace(f, split="eval input")
                 for f in profile_findings(eval_profile, policy)]
    warnings += eval_profile.warnings

  # 4. Write.
  _make_workdir(workdir)
  if not options.schema:
    schema_folder.write_schema_folder(schema, folder, overwrite=True, keep_policy=True,
                                      profile=profile)
  data_root = os.path.join(workdir, "data", name)
  run = PreparedRun(pipeline_name=f"trainguard-{name}", workdir=workdir, data_root=data_root,
                    presplit=eval_profile is not None, schema_folder=folder,
                    schema_inferred=not options.schema, label=profile.label,
                    task=profile.task, policy=policy,
                    label_classes=label_classes, preflight=findings, warnings=warnings)
  if eval_profile is not None:
    staged_train = os.path.join(data_root, "staged-train.csv")
    stage(profile, staged_train, options.na_tokens)
    os.makedirs(os.path.join(data_root, configs.VALIDATION_SPLIT), exist_ok=True)
    carve(staged_train, os.path.join(data_root, configs.TRAIN_SPLIT, "data.csv"),
          os.path.join(data_root, configs.VALIDATION_SPLIT, "data.csv"),
          configs.VALIDATION_SHARE_OF_TRAIN)
    os.remove(staged_train)  # carve keeps ExampleGen's cache: it replaces only changed files
    stage(eval_profile, os.path.join(data_root, configs.EVAL_SPLIT, "data.csv"), options.na_tokens)
  else:
    stage(profile, os.path.join(data_root, "data.csv"), options.na_tokens)
  if serving is not None:
    run.serving_root = os.path.join(workdir, "data", name + "-serving")
    stage(serving, os.path.join(run.serving_root, "data.csv"), options.na_tokens)
  if previous is not None:
    run.previous_root = os.path.join(workdir, "data", name + "-previous")
    stage(previous, os.path.join(run.previous_root, "data.csv"), options.na_tokens)
  return run


def _check_flags(options: RunOptions) -> None:
  if options.epochs is not None and options.epochs < 1:
    raise UsageError(f"--epochs must be at least 1, got {options.epochs}.")
  for flag, value in (("--learning-rate", options.learning_rate),
                      ("--clip-norm", options.clip_norm)):
    if value is not None and not value > 0:
      raise UsageError(f"{flag} must be a number above 0, got {value}.")
  if options.batch_size is not None and options.batch_size < 1:
    raise UsageError(f"--batch-size must be at least 1, got {options.batch_size}.")
  if options.num_trees is not None and options.num_trees < 1:
    raise UsageError(f"--num-trees must be at least 1 (the most trees --model "
                     f"gradient_boosted_trees grows; default {configs.NUM_TREES}), got "
                     f"{options.num_trees}.")
  if options.seed is not None and options.seed < 0:
    raise UsageError(f"--seed must be 0 or more (NumPy and TensorFlow take unsigned seeds), got "
                     f"{options.seed}.")
  for flag, path in (("--run-fn", options.run_fn), ("--preprocessing-fn", options.preprocessing_fn)):
    if path is not None:
      model_code.check_function_path(flag, path)
  try:  # a malformed --beam-endpoint/--beam-worker-pool, or no job service listening
    beam_options.choose([], list(options.beam_args), options.beam_endpoint,
                        options.beam_worker_pool)
    if options.beam_endpoint:
      beam_options.check_job_service(options.beam_endpoint)
  except ValueError as e:
    if isinstance(e, UsageError):
      raise
    raise UsageError(str(e)) from e


def _make_workdir(workdir: str) -> None:
  try:
    os.makedirs(workdir, exist_ok=True)
  except OSError as e:
    raise UsageError(f"--workdir {workdir}: cannot create it ({e.strerror}); choose another "
                     "--workdir.") from e
