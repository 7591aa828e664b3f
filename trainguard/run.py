"""The local run: the pipeline under LocalDagRunner, its output kept to one line per component,
the run report written after every run, and what a failure means for the exit code.

TensorFlow is imported here only inside `run_pipeline`, after the pre-flight has passed, so the CLI
module itself stays TensorFlow-free (it rejects bad input in well under a second).
"""
import contextlib
import datetime
import errno
import logging
import os
import re
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

from trainguard import schema_folder, workdir_state
from trainguard.errors import EXIT_BLOCKED, EXIT_INTERNAL, EXIT_USAGE, DataError, UserError
from trainguard.pipeline import beam_options, configs
from trainguard.preflight import PreparedRun, RunOptions

_WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.ENOTDIR, errno.EFBIG)
_WRITE_STRERRORS = "|".join(re.escape(os.strerror(e)) for e in _WRITE_ERRNOS)
# A write error as text: Beam re-raises a DoFn's OSError as a RuntimeError whose message is
# "OSError: [Errno 28] No space left on device: '<path>' [while running '<step>']" (errno lost,
# the original only as __context__); TensorFlow's file system says "<path>; No space left on
# device".
_WRITE_TEXT = (re.compile(rf"\[Errno \d+\] ({_WRITE_STRERRORS}): '([^']+)'"),
               re.compile(rf"(\S+); ({_WRITE_STRERRORS})"))


def beam_args(options: RunOptions) -> List[str]:
  """The Beam arguments of the run: the portable runner's, the user's, or the choice by size."""
  return beam_options.choose(list(options.inputs), list(options.beam_args) or None,
                             options.beam_endpoint, options.beam_worker_pool)


def model_arguments(options: RunOptions) -> Dict[str, Any]:
  """The model's `create_pipeline` arguments from the run's flags (each None: configs.py's
  default); the pipeline puts them in the Trainer's custom_config, for whichever run_fn trains."""
  return dict(
      run_fn=options.run_fn or configs.RUN_FN,
      epochs=options.epochs or configs.EPOCHS,
      batch_size=options.batch_size or configs.BATCH_SIZE,
      learning_rate=options.learning_rate or configs.LEARNING_RATE,
      hidden_units=options.hidden_units or configs.HIDDEN_UNITS,
      clip_norm=options.clip_norm,
      num_trees=options.num_trees or configs.NUM_TREES,
      # --class-weights is in the policy already (preflight.prepare); a repair sets it here.
      class_weights=options.class_weights or None,
      early_stopping_patience=configs.EARLY_STOPPING_PATIENCE,
      seed=configs.SEED if options.seed is None else options.seed)


def run_pipeline(plan: PreparedRun, options: RunOptions, include_training: bool):
  """Runs the pipeline with LocalDagRunner; returns the run summary read back from ML Metadata."""
  log_path = os.path.join(plan.workdir, "logs",
                          f"{plan.pipeline_name}-{datetime.datetime.now():%Y%m%d-%H%M%S}.log")
  os.makedirs(os.path.dirname(log_path), exist_ok=True)
  _forget_missing_artifacts(plan)
  with _quiet_unless(options.verbose, log_path):
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner  # pylint: disable=g-import-not-at-top
    from trainguard.pipeline import metadata, pipeline, results  # pylint: disable=g-import-not-at-top
    paths = results.RunPaths(plan.workdir, plan.pipeline_name)
    tfx_pipeline = pipeline.create_pipeline(
        pipeline_name=plan.pipeline_name,
        pipeline_root=paths.pipeline_root,
        data_root=plan.data_root,
        schema_path=schema_folder.schema_path(plan.schema_folder),
        policy=plan.policy,
        label_key=plan.label,
        label_classes=plan.label_classes,
        serving_model_dir=paths.serving_model_dir,
        preprocessing_fn=options.preprocessing_fn or configs.PREPROCESSING_FN,
        **model_arguments(options),
        eval_accuracy_threshold=configs.EVAL_ACCURACY_THRESHOLD,
        serving_data_root=plan.serving_root,
        previous_span_root=plan.previous_root,
        presplit=plan.presplit,
        include_training=include_training,
        preflight_findings=plan.preflight,
        fix_context="cli",
        metadata_connection_config=metadata.ensure_store(paths.metadata_path),
        beam_pipeline_args=beam_args(options))
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


def _forget_missing_artifacts(plan: PreparedRun) -> None:
  """Artifacts ML Metadata calls LIVE whose folder was deleted are marked DELETED, so this run
  executes their components again instead of taking them, or a model resolved from them, as whole
  (trainguard/workdir_state.py); each is named, as the user may not know a folder was removed."""
  store = os.path.join(plan.workdir, "metadata.sqlite")
  for node, uri in workdir_state.forget_missing_artifacts(store, plan.pipeline_name):
    print(f"warning: {uri}: ML Metadata records it as an output of {node}, but its folder (or a "
          f"split of it) is gone; marked DELETED, so {node} and what depends on it run again "
          "instead of being taken from the cache.", file=sys.stderr)


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


def _write_failure(error: BaseException) -> Optional[Tuple[str, str]]:
  """(path, reason) of a write the disk refused anywhere in the error's chain, or None. The chain
  is walked through __context__ too, and read as text: by the time a full disk reaches the
  runner, Beam or TensorFlow has usually turned the OSError into another type (see _WRITE_TEXT),
  and a full disk is the user's to fix (exit 2), not an internal error."""
  seen = set()
  while error is not None and id(error) not in seen:
    seen.add(id(error))
    if isinstance(error, OSError) and error.errno in _WRITE_ERRNOS:
      return error.filename or "", error.strerror
    beam, tensorflow = (pattern.search(str(error)) for pattern in _WRITE_TEXT)
    if beam:
      return beam.group(2), beam.group(1)
    if tensorflow:
      return tensorflow.group(1), tensorflow.group(2)
    error = error.__cause__ or error.__context__
  return None


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
  written = _write_failure(failed.error)
  if written:
    path, strerror = written
    return EXIT_USAGE, (f"trainguard: error: a component could not write {path or 'its output'} "
                        f"({strerror}); free space on that disk or pass another --workdir, then "
                        f"run again (finished components are reused).{where}")
  return (EXIT_INTERNAL,
          f"trainguard: internal error, the pipeline failed: {type(error).__name__}: {error}{where}")
