"""DataGuard's executor: load statistics, validate (validation.py), write anomalies and findings."""
import json
import logging
import os
from typing import Any, Dict, List, Optional

from tfx import types
from tfx.components.statistics_gen import stats_artifact_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils
from tfx.utils import io_utils, writer_utils

from trainguard.artifacts import DATASET_CHECKS_FILE, FINDINGS_FILE, SCHEMA_DIFF_FILE
from trainguard.components.util import spill_shuffle
from trainguard import task as task_lib
from trainguard.components.data_guard import binning as binning_lib
from trainguard.components.data_guard import (dataset_checks, dataset_findings, extreme_values,
                                              fixes, rank_leakage, spec, validation)
from trainguard.components.data_guard import findings as findings_lib
from trainguard.components.data_guard.findings import Finding, FindingsReport
from trainguard.policy import Policy


def pass_arguments(train_statistics, schema, label_key: str,
                   policy: Optional[Policy] = None) -> Dict[str, Any]:
  """What the dataset pass counts besides rows, from train's statistics: the leakage bins, the
  label's bins for a regression, the extremes a sentinel is judged by and the rank-leakage bins;
  and from the `policy`, a class label's `label.map` (`Policy.label_class`), by which conflicting
  labels are classes. One place, so a benchmark of the pass (bench/data_guard_pass.py) measures
  what DataGuard runs."""
  regression = task_lib.of_schema(schema, label_key, train_statistics) == task_lib.REGRESSION
  mapped = policy is not None and bool(policy.label_map) and not regression
  return {
      "binning": binning_lib.binnings(train_statistics, schema, label_key),
      "label_bins": binning_lib.label_binning(train_statistics, label_key) if regression else None,
      "extremes": extreme_values.extremes(train_statistics, schema, label_key),
      "rank_bins": rank_leakage.rank_binnings(train_statistics, schema, label_key),
      "label_class": policy.label_class if mapped else None,
  }


class Executor(base_beam_executor.BaseBeamExecutor):

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    policy = Policy.from_json(exec_properties[spec.POLICY_KEY])
    label_key = exec_properties[spec.LABEL_KEY]
    context = fixes.check(exec_properties.get(spec.FIX_CONTEXT_KEY) or fixes.COMPONENTS)
    schema = io_utils.SchemaReader().read(io_utils.get_only_uri_in_dir(
        artifact_utils.get_single_uri(input_dict[spec.SCHEMA_KEY])))
    policy.check_against(schema)  # `DataGuard(policy=<folder>)` is read before the schema is data
    statistics_artifact = artifact_utils.get_single_instance(input_dict[spec.STATISTICS_KEY])
    statistics = {
        split: stats_artifact_utils.load_statistics(statistics_artifact, split).proto()
        for split in artifact_utils.decode_split_names(statistics_artifact.split_names)
    }
    anomalies, report = validation.validate(
        schema, policy, label_key, statistics,
        serving_statistics=_all_splits(input_dict.get(spec.SERVING_STATISTICS_KEY)),
        baseline_statistics=_single_split(input_dict.get(spec.BASELINE_STATISTICS_KEY),
                                          prefer="train"),
        preflight_findings=[Finding(**f) for f in json.loads(
            exec_properties.get(spec.PREFLIGHT_FINDINGS_KEY) or "[]")],
        context=context)

    output = artifact_utils.get_single_instance(output_dict[spec.ANOMALIES_KEY])
    if input_dict.get(spec.EXAMPLES_KEY):
      known = {(f.kind, f.feature) for f in report.findings}  # the pre-flight may have said it
      extra = [f for f in self._dataset_findings(
          artifact_utils.get_single_instance(input_dict[spec.EXAMPLES_KEY]), statistics, schema,
          policy, label_key, output.uri, context) if (f.kind, f.feature) not in known]
      report = FindingsReport(report.findings + extra, report.policy_source)
    report = FindingsReport(fixes.for_context(report.findings, context), report.policy_source)
    output.split_names = artifact_utils.encode_split_names(list(anomalies))
    output.span = statistics_artifact.span
    for split, split_anomalies in anomalies.items():
      writer_utils.write_anomalies(
          os.path.join(artifact_utils.get_split_uri([output], split), SCHEMA_DIFF_FILE),
          split_anomalies)
    io_utils.write_string_file(os.path.join(output.uri, FINDINGS_FILE), report.to_json())
    counts = report.counts()
    output.set_int_custom_property(spec.BLOCKING_FINDINGS_PROPERTY, counts["block"])
    output.set_int_custom_property(spec.WARNING_FINDINGS_PROPERTY, counts["warn"])
    # Warnings, not info: TFX's default logging drops the root logger's info, and a passing run's
    # warnings (missing values, imbalance) are what a user reading the log needs to see.
    if report.blocked:
      logging.error("%s", report.block_message())
    elif counts["warn"]:
      logging.warning("DataGuard passed with %d warning(s) (findings: %s):\n%s", counts["warn"],
                      os.path.join(output.uri, FINDINGS_FILE), findings_lib.format_ranked(report))
    else:
      logging.info("DataGuard passed: %s", counts)


  def _dataset_findings(self, examples, statistics, schema, policy, label_key, output_uri,
                        context):
    """One Beam pass over every split of `examples` (dataset_checks.py), then its findings."""
    splits = artifact_utils.decode_split_names(examples.split_names)
    result_path = os.path.join(output_uri, DATASET_CHECKS_FILE)
    spill_dir = spill_shuffle.spill_root(self, output_uri, "row-hashes")
    fileio.makedirs(spill_dir)
    try:
      with self._make_beam_pipeline() as pipeline:
        dataset_checks.run_beam_pass(
            pipeline, dataset_checks.split_patterns(examples.uri, splits), label_key,
            output_path=result_path, spill_dir=spill_dir,
            **pass_arguments(statistics["train"], schema, label_key, policy))
    finally:
      fileio.rmtree(spill_dir)
    result = dataset_checks.read_result(result_path)
    regression = task_lib.of_schema(schema, label_key, statistics["train"]) == task_lib.REGRESSION
    return dataset_findings.dataset_findings(result, statistics, schema, policy, label_key,
                                             regression=regression, context=context)


def _all_splits(artifacts: Optional[List[types.Artifact]]):
  """Every split of a serving sample's statistics, by name (None without one)."""
  if not artifacts:
    return None
  artifact = artifact_utils.get_single_instance(artifacts)
  splits = artifact_utils.decode_split_names(artifact.split_names)
  return {split: stats_artifact_utils.load_statistics(artifact, split).proto()
          for split in splits} or None


def _single_split(artifacts: Optional[List[types.Artifact]], prefer: Optional[str] = None):
  """The statistics of a previous span: its `prefer` split, else its first."""
  if not artifacts:
    return None
  artifact = artifact_utils.get_single_instance(artifacts)
  splits = artifact_utils.decode_split_names(artifact.split_names)
  if not splits:
    return None
  split = prefer if prefer in splits else splits[0]
  return stats_artifact_utils.load_statistics(artifact, split).proto()
