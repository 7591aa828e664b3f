"""The pre-flight's checks of one file: each raises `InputError` naming the file, line and fix."""
import csv
import os
from typing import Dict, List

from trainguard import task as task_lib
from trainguard.errors import InputError, UsageError
from trainguard.policy import SYNTHESIZING_STRATEGIES, Policy
from trainguard.preflight.findings import lines_text
from trainguard.preflight.profile import (MAX_LABEL_CLASSES, MAX_LABEL_MISSING_SHARE,
                                          ColumnProfile, CsvProfile, sanitize)
from trainguard.schema_folder import SERVING

def check_file(path: str) -> None:
  if os.path.isdir(path):
    raise InputError(f"{path}: is a directory; pass the CSV file itself.")
  if not os.path.exists(path):
    raise InputError(f"{path}: no such file; check the path.")
  if os.path.getsize(path) == 0:
    raise InputError(f"{path}: the file is empty; it needs a header line and data rows.")




def read_header(reader, path: str, delimiter: str) -> List[str]:
  try:
    header = next(reader)
  except StopIteration as e:
    raise InputError(f"{path}: the file is empty; it needs a header line and data rows.") from e
  except UnicodeDecodeError as e:
    raise InputError(f"{path}, line 1: bytes that are not UTF-8 ({e.reason}); re-save the file as "
                     "UTF-8.") from e
  except csv.Error as e:  # e.g. a NUL byte: the file is not text, or not this CSV dialect
    raise InputError(f"{path}, line 1 (the header): {e}; the first line must name the columns, "
                     "separated by the delimiter, as plain UTF-8 text.") from e
  if len(header) == 1:
    for other, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe"), (",", "comma")):
      if other != delimiter and other in header[0]:
        flag = "'\\t'" if other == "\t" else repr(other)
        raise InputError(f"{path}, line 1: the header is one column but contains {name}s; the "
                         f"file looks {name}-separated: pass --delimiter {flag}.")
  if not any(h.strip() for h in header):
    raise InputError(f"{path}, line 1: the header is empty; the first line must name the columns.")
  return header


def columns_of(header: List[str], path: str) -> List[ColumnProfile]:
  seen: Dict[str, str] = {}
  columns = []
  for original in header:
    name = sanitize(original)
    if name in seen:
      what = (f"column {original!r} appears twice" if seen[name] == original else
              f"columns {seen[name]!r} and {original!r} both become {name!r}")
      raise InputError(f"{path}, line 1: {what}; rename one so every column name is unique.")
    seen[name] = original
    columns.append(ColumnProfile(name=name, original=original))
  return columns


def label_column(columns: List[ColumnProfile], label: str, path: str) -> str:
  for column in columns:
    if label in (column.original, column.name):
      return column.name
  names = ", ".join(c.original for c in columns)
  raise InputError(f"{path}: no column named {label!r} for --label (columns: {names}); pass one "
                   "of these.")


def check_label(profile: CsvProfile, requested: str = task_lib.AUTO) -> str:
  """Checks the label for the task `requested` (or, for `auto`, the task its values call for:
  `trainguard.task.detect`) and returns that task."""
  column = profile.column(profile.label)
  detected = task_lib.detect(column.is_numeric, column.type_name == "INT", column.distinct,
                             column.overflow)
  task = detected if requested == task_lib.AUTO else requested
  if task == task_lib.REGRESSION:
    _check_missing_label(profile)
    _check_regression_label(profile, column, requested)
    return task
  _check_missing_label(profile)
  _check_classification_label(profile, column)
  return task


def _check_regression_label(profile: CsvProfile, column: ColumnProfile, requested: str) -> None:
  flag = " (--task regression)" if requested == task_lib.REGRESSION else ""
  if column.non_numeric:
    raise InputError(_not_numbers_message(
        profile, column, f"regression label{flag} {profile.label!r} has", "not numbers",
        "fix them at the source, or pass --task classification if the label names classes."))
  if column.non_finite:
    lines = lines_text([row for row, _ in column.non_finite_samples])
    raise InputError(
        f"{profile.path}: regression label{flag} {profile.label!r} has {column.non_finite} "
        f"infinite value(s) (lines {lines}); a model cannot fit them: fix or drop those rows.")
  if not column.overflow and len(column.values) < task_lib.MIN_REGRESSION_VALUES:
    raise InputError(
        f"{profile.path}: regression label{flag} {profile.label!r} takes only "
        f"{len(column.values)} distinct value(s); a regression needs at least "
        f"{task_lib.MIN_REGRESSION_VALUES}: pass --task classification to predict them as "
        "classes.")


def _not_numbers_message(profile: CsvProfile, column: ColumnProfile, subject: str, what: str,
                         fix: str) -> str:
  """The one text for a label's values that are not numbers: `subject` (which label, and how it
  reads), its count, `what` they are not, the first three samples, their lines and `fix`."""
  lines = lines_text([row for row, _ in column.non_numeric_samples])
  samples = ", ".join(repr(v) for _, v in column.non_numeric_samples[:3])
  return (f"{profile.path}: {subject} {column.non_numeric} value(s) that are {what} ({samples}; "
          f"lines {lines}); {fix}")


def _check_missing_label(profile: CsvProfile) -> None:
  share = len(profile.label_missing_rows) / (profile.rows + len(profile.label_missing_rows))
  if share > MAX_LABEL_MISSING_SHARE:
    raise InputError(
        f"{profile.path}: {len(profile.label_missing_rows)} rows ({share:.0%}) have no value for "
        f"label {profile.label!r} (first at line {profile.label_missing_rows[0]}); more than "
        f"{MAX_LABEL_MISSING_SHARE:.0%} is too many to drop. Fill the label at the source.")
  if profile.label_missing_rows:
    profile.warnings.append(
        f"{profile.path}: dropped {len(profile.label_missing_rows)} row(s) without a label "
        f"(lines {lines_text(profile.label_missing_rows)}).")


def _check_classification_label(profile: CsvProfile, column: ColumnProfile) -> None:
  if column.overflow or (column.distinct or 0) > MAX_LABEL_CLASSES:
    kind = "numbers" if column.is_numeric else "values"
    fix = ("pass --task regression to predict it as a number, or bin it into classes"
           if column.is_numeric else "pick a categorical --label")
    raise InputError(
        f"{profile.path}: label {profile.label!r} has more than {MAX_LABEL_CLASSES} distinct "
        f"{kind}, too many classes for a classifier; {fix}.")
  if column.is_numeric and column.non_numeric:
    # Found by scripts/fuzz_preflight.py: class ids with a stray 'NA' (not an --na-values token)
    # reached the schema as INT classes and failed in int('NA') (a traceback); CsvExampleGen would
    # read the column as text.
    raise InputError(_not_numbers_message(
        profile, column, f"label {profile.label!r} holds numbers and", "not",
        "add them to --na-values if they mean missing, else fix them at the source."))
  if column.type_name == "INT" and column.values:
    ids = [int(v) for v in column.values]
    span = max(ids) - min(ids) + 1
    if span > MAX_LABEL_CLASSES:
      # The schema declares integer classes as every id from min to max (int_domain); found by
      # scripts/fuzz_preflight.py: 0, 1, 2 and 2**63 - 1 made a list of 2**63 classes (out of memory).
      raise InputError(
          f"{profile.path}: label {profile.label!r} holds integer class ids from {min(ids)} to "
          f"{max(ids)}: {span} ids, more than {MAX_LABEL_CLASSES}, and every id in that range would "
          "be a class. Recode the classes as 0..K-1 (or as text) at the source, or pass --task "
          "regression to predict it as a number.")
  if (column.is_numeric and column.type_name == "FLOAT"
      and (column.distinct or 0) > task_lib.MAX_DECIMAL_CLASSES):
    raise InputError(
        f"{profile.path}: label {profile.label!r} looks continuous ({column.distinct} distinct "
        "decimal values) for --task classification; drop --task to train a regression, or bin it "
        "into classes.")
  if (column.distinct or 0) < 2:
    only = next(iter(column.values), "")
    raise InputError(
        f"{profile.path}: label {profile.label!r} has a single class ({only!r}); a classifier "
        "needs at least two. Add rows of other classes or pick another --label.")


# --- across files, and against the schema and the policy -------------------------------------


def check_same_columns(train: CsvProfile, other: CsvProfile) -> None:
  a = [c.name for c in train.columns]
  b = [c.name for c in other.columns]
  if a != b:
    raise InputError(f"{other.path}: its columns ({', '.join(b)}) differ from {train.path}'s "
                     f"({', '.join(a)}); both files need the same header.")


def check_eval_classes(train: CsvProfile, other: CsvProfile, policy: Policy) -> None:
  """Every eval class is a train class, both as `label.map` makes them (`Policy.label_class`)."""
  learnt = {policy.label_class(c) for c in train.label_classes}
  unseen = [c for c in other.label_classes if policy.label_class(c) not in learnt]
  if unseen:
    raise InputError(
        f"{other.path}: label {train.label!r} has class(es) {', '.join(map(repr, unseen))} that "
        f"the training file {train.path} never has, so the model cannot learn them; remove those "
        "rows from the eval file or add training rows of that class.")


def check_classes_in_schema(profile: CsvProfile, classes: List[str], schema_folder: str,
                            policy: Policy) -> None:
  """Every label value is in the schema's domain, or `label.map` sends it to a class that is."""
  unknown = [c for c in profile.label_classes
             if c not in classes and policy.label_class(c) not in classes]
  if unknown:
    raise InputError(
        f"{profile.path}: label {profile.label!r} has class(es) {', '.join(map(repr, unknown))} "
        f"that {schema_folder}/schema.pbtxt does not list (its classes: {', '.join(classes)}); "
        "fix the rows, map a spelling to its class with label.map in policy.yaml, or add the "
        "class to the label's domain in a reviewed schema change.")


def check_label_transform(profile: CsvProfile, policy: Policy, schema_folder: str) -> None:
  """`regression.label_transform: log` is log1p: defined only above -1."""
  column = profile.column(profile.label)
  if policy.regression.label_transform == "log" and column.minimum <= -1:
    raise InputError(
        f"{profile.path}: regression label {profile.label!r} reaches {column.minimum:g}, but "
        f"{os.path.join(schema_folder, 'policy.yaml')} sets regression.label_transform: log "
        "(log1p, defined above -1 only); use label_transform: none, or shift the label at the "
        "source.")


def check_k_neighbors(profile: CsvProfile, policy: Policy, presplit: bool) -> None:
  """A SMOTE-family strategy needs k_neighbors + 1 rows of every class it synthesises; the train
  split holds at most the file's rows of a class, so a class this small can never work. (`auto`
  falls back to random over-sampling itself.)"""
  strategy, k = policy.rebalance.strategy, policy.rebalance.k_neighbors
  if strategy not in SYNTHESIZING_STRATEGIES:
    return
  counts = profile.column(profile.label).values
  largest = max(counts.values())
  for name, rows in sorted(counts.items(), key=lambda item: item[1]):
    if rows < largest and rows < k + 1:
      where = ("the training file (train keeps about 5/6 of it)" if presplit
               else "the whole file (train gets about 5/9)")
      raise InputError(
          f"rebalance strategy {strategy!r} with k_neighbors={k} needs at least {k + 1} rows of "
          f"every class it synthesises, but class {name!r} of label {profile.label!r} has {rows} "
          f"in {where} ({profile.path}); lower rebalance.k_neighbors in policy.yaml, use "
          "--rebalance random_over (or auto), or collect more rows.")


def check_serving_columns(serving: CsvProfile, schema, policy: Policy, label: str) -> None:
  """A serving sample must carry every feature the model reads at serving that the schema says is
  present (presence > 0); otherwise every request would be rejected or silently imputed."""
  have = {c.name for c in serving.kept_columns}
  missing = [f.name for f in schema.feature
             if f.name not in have and f.name != label and not policy.is_excluded(f.name)
             and SERVING not in f.not_in_environment
             and (f.presence.min_fraction > 0 or f.presence.min_count > 0)]
  if missing:
    raise InputError(
        f"{serving.path}: no value in column(s) {', '.join(map(repr, missing))}, which the schema "
        "requires at serving (presence above 0); add them to the serving sample, or, if serving "
        "really lacks them, exclude them in policy.yaml or mark them not_in_environment: "
        "\"SERVING\" in schema.pbtxt (a reviewed change).")


def check_workdir(workdir: str) -> None:
  """The workdir, or its nearest existing parent, is a folder (it is created when staging)."""
  probe = workdir
  while not os.path.exists(probe):
    probe = os.path.dirname(probe)
  if not os.path.isdir(probe):
    raise UsageError(f"--workdir {workdir}: {probe} is a file, not a folder; choose another "
                     "--workdir.")
