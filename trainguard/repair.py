"""`trainguard run --repair`: when the training diagnosis names a setting of trainguard's own
model (learning rate, gradient clipping, class weights, epochs, batch size, hidden units), retrain
once with it and show both runs side by side.

Why a second pipeline run, not a second `model.fit`: it is the same pipeline in the same work
directory and ML Metadata store, so the data stages (ingest, statistics, DataGuard, Transform,
Rebalance) come from the cache and only Trainer, Evaluator and Pusher run again; the repair run
is recorded like any run (lineage, its own report), and its report's "Since the previous run"
section (`report/changes.py`) compares it with the first run as it would any two runs. Class
weights reach the Trainer alone (`create_pipeline(class_weights=...)`), so turning them on does not
change the policy DataGuard and Transform read.

The repair is the findings' own (`Finding.repair`, from `models/training_repairs.py`), the same
table the fix texts are written from, so the repair run changes what the fix says and nothing
else. One repair run at most: a second diagnosis after it is reported, not acted on.
"""
import dataclasses
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

from trainguard.errors import DataError
from trainguard.models import model_flags, training_repairs
from trainguard.preflight import PreparedRun, RunOptions
from trainguard.run import PipelineFailed, run_pipeline

# The eval metrics shown before/after (TFMA's names, as `results.overall_metrics` reads them).
METRICS = (("accuracy", "sparse_categorical_accuracy"), ("macro recall", "macro_recall"),
           ("macro F1", "f1_score"), ("macro PR-AUC", "pr_auc"), ("MAE", "mean_absolute_error"),
           ("R²", "r2"))


def repaired_options(options: RunOptions,
                     findings: Sequence[Any]) -> Tuple[Optional[RunOptions], Dict[str, Any], List]:
  """The options of the repair run (None when no finding has a repair), the repair (flag → value)
  and the findings it acts on."""
  repair, acted = training_repairs.choose(findings)
  # Only the moves that reach the family this run trains (models/model_flags.py): for the trees,
  # the network's learning rate or layers would train the same model again.
  family = model_flags.family(options.run_fn)
  if any(not model_flags.reaches(flag, family) for flag in repair):
    repair = {flag: value for flag, value in repair.items() if model_flags.reaches(flag, family)}
    acted = [f for f in acted if set(getattr(f, "repair", None) or {}) & set(repair)]
  if not repair:
    return None, {}, []
  changes = {}
  for flag, value in repair.items():
    field = training_repairs.FLAGS[flag]
    changes[field] = tuple(value) if field == "hidden_units" else value
  return dataclasses.replace(options, **changes), repair, acted


def run_with_repair(plan: PreparedRun, options: RunOptions, out=None):
  """Runs the pipeline; if the training diagnosis has a repair, runs it once more with the repair
  and prints the two runs side by side. Returns the last run's summary (the repair run's, whose
  report compares it with the first). A first run that diverged (no model, the Trainer failed) is
  repaired from its LOSS_NOT_FINITE finding; any other failure is raised as without --repair."""
  out = out or sys.stdout
  first, failed = None, None
  try:
    first = run_pipeline(plan, options, include_training=True)
    findings = list(first.training_findings.findings) if first.training_findings else []
  except PipelineFailed as e:
    finding = _diverged_finding(e)
    if finding is None:
      raise
    failed, findings = e, [finding]
    print(f"first run: training diverged ({finding.found}); report: {e.report_path}", file=out)
  if first is not None and first.blocked:
    return first  # DataGuard blocked: nothing trained, nothing to repair
  repaired, repair, acted = repaired_options(options, findings)
  if repaired is None:
    if failed is not None:
      raise failed
    print("--repair: no training finding names a model setting to change; no repair run.",
          file=out)
    return first
  print(f"--repair: retraining once with {' '.join(training_repairs.argv(repair))} (for "
        f"{', '.join(f.kind for f in acted)}); the data stages come from the cache.", file=out)
  try:
    second = run_pipeline(plan, repaired, include_training=True)
  except PipelineFailed as e:
    print(compare_runs(first, None, repair, findings), file=out)
    raise e
  print(compare_runs(first, second, repair, findings), file=out)
  return second


def _diverged_finding(failed: PipelineFailed):
  """The LOSS_NOT_FINITE finding a diverged Trainer raised with (models/keras_model/model.py's
  TrainingDivergedError.finding; LocalDagRunner runs it in this process), or None."""
  error = failed.error
  seen = set()
  while error is not None and id(error) not in seen:
    seen.add(id(error))
    if isinstance(error, DataError) and getattr(error, "finding", None) is not None:
      return error.finding
    error = error.__cause__ or error.__context__
  return None


def compare_runs(first, second, repair: Dict[str, Any], first_findings: Sequence[Any] = ()) -> str:
  """The compact before/after `trainguard run --repair` prints: each training finding's severity,
  the eval metrics, the blessing, and what the repair run took from the cache. Either run may be
  None (the first diverged: `first_findings` are then its findings; the repair run failed)."""
  rows = [("", "first run", "repair run")]
  rows.append(("run", _run_id(first), _run_id(second)))
  before = _training(first) or {f.kind: f.severity for f in first_findings}
  after = _training(second)
  for kind in dict.fromkeys(list(before) + list(after)):
    rows.append((kind, before.get(kind, "—"), after.get(kind, "—")))
  if not before and not after:
    rows.append(("training findings", "none", "none"))
  metrics_before = first.eval_metrics if first is not None else {}
  metrics_after = second.eval_metrics if second is not None else {}
  for name, key in METRICS:
    values = (_metric(metrics_before, key), _metric(metrics_after, key))
    if values != (None, None):
      rows.append((f"eval {name}", *map(_number, values)))
  rows.append(("blessed", _yes(first), _yes(second)))
  width = max(len(r[0]) for r in rows) + 2
  lines = [f"Repair ({' '.join(training_repairs.argv(repair))}), first run vs repair run:"]
  lines += [f"  {a:<{width}}{b:<14}{c}" for a, b, c in rows]
  if second is not None:
    cached = [n for n, e in second.executions.items() if e.state == "CACHED"]
    ran = [n for n, e in second.executions.items() if e.state == "COMPLETE"]
    lines.append(f"  repair run took from the cache: {', '.join(cached) or 'nothing'}; ran: "
                 f"{', '.join(ran) or 'nothing'}")
    if getattr(second, "report_path", None):
      lines.append(f"  the repair run's report compares it with the first: {second.report_path}")
  return "\n".join(lines)


def _metric(metrics: Dict[str, float], key: str) -> Optional[float]:
  """A metric by TFMA's name; a macro average's is keyed "macro_average: true\n_<name>"."""
  if key in metrics:
    return metrics[key]
  return next((v for k, v in metrics.items()
               if k.startswith("macro_average") and k.endswith("_" + key)), None)


def _training(summary) -> Dict[str, str]:
  if summary is None or summary.training_findings is None:
    return {}
  return {f.kind: f.severity for f in summary.training_findings.findings}


def _run_id(summary) -> str:
  return "failed" if summary is None else summary.run_id


def _number(value) -> str:
  return "—" if value is None else f"{value:.3f}"


def _yes(summary) -> str:
  if summary is None or summary.blessed is None:
    return "no model" if summary is None else "—"
  return "yes" if summary.blessed else "no"
