"""The Rebalance executor: exact, deterministic, bounded-memory resampling of transformed examples.

Two Beam passes over each split to resample, as tf.Transform does (analyze, then transform):

1. Count. Per class: the rows, and a histogram of a seeded content hash of each row over 2^16
   buckets; per categorical feature: the smallest and largest id; rows whose label or features do
   not hold exactly one value. The counts fix every target before any row is resampled.
2. Resample. Every row streams through once and is routed by its class and its hash bucket:
   - classes that keep their size stream straight to the output;
   - `random_under` keeps the `target` rows of smallest hash: rows in buckets below a cut bucket
     stream through, and only the cut bucket's rows (about rows/65536) are grouped to pick exactly
     the remaining few;
   - `random_over` emits every row `target // rows` times in total and one more copy of the
     `target % rows` rows of smallest hash (same cut-bucket rule): exact, and no row is copied more
     than once more than another;
   - SMOTE-family strategies group only the rows of the classes being synthesised, in chunks of at
     most `chunk_size` rows (contiguous hash-bucket ranges planned from the histogram), and run
     imbalanced-learn on each chunk; synthetic rows are added to the class's streamed rows.
   Output files are written by content: each row's seeded hash picks its shard and its place in
   the shard, so the same input and seed give byte-identical files whatever Beam's bundling. Rows
   reach their shard through spill files (only file names are grouped), so memory holds one shard
   at a time, not the split.

Splits not resampled (and splits whose strategy resolves to `none`) are copied byte-for-byte.
Everything that can be checked without reading rows is checked before Beam starts; everything that
needs counts is checked after the counting pass and before anything is written.
"""
import json
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import apache_beam as beam
import numpy as np
import tensorflow_transform as tft
from absl import logging
from tfx import types
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils

from trainguard import artifacts
from trainguard.components.rebalance import beam_fns, spec
from trainguard.components.rebalance.beam_fns import COUNTS, GROUPS, TIES
from trainguard.components.rebalance.feature_kinds import (FeatureKinds, check_strategy_features,
                                                           feature_kinds)
from trainguard.components.rebalance.params import Params, parse_params
from trainguard.components.rebalance.plan import NUM_BUCKETS, SplitPlan, SplitStats, plan_split
from trainguard.components.util import spill_shuffle
from trainguard.components.util import tfrecord_batches
from trainguard.models import features as feature_names

EXACT = ("smote", "smotenc", "random_over", "random_under", "none")
OUTPUT_FILE_PREFIX = "rebalanced_examples"
BATCH_ROWS = 1024  # rows decoded, hashed and encoded at a time


def _split_pattern(artifact: types.Artifact, split: str) -> str:
  return os.path.join(artifact_utils.get_split_uri([artifact], split), "*")


def _read_lines(path: str) -> List[dict]:
  with fileio.open(path, "r") as f:
    return [json.loads(line) for line in f if line.strip()]


def _imbalance(counts: Mapping[int, int]) -> Optional[float]:
  smallest = min(counts.values())
  return round(max(counts.values()) / smallest, 4) if smallest else None


def _copy_split(source: types.Artifact, target: types.Artifact, split: str) -> None:
  source_dir = artifact_utils.get_split_uri([source], split)
  target_dir = artifact_utils.get_split_uri([target], split)
  fileio.makedirs(target_dir)
  for name in sorted(fileio.listdir(source_dir)):
    source_path = os.path.join(source_dir, name)
    if fileio.isdir(source_path):
      continue
    fileio.copy(source_path, os.path.join(target_dir, name), overwrite=True)


class Executor(base_beam_executor.BaseBeamExecutor):
  """Rebalances the classes of transformed examples; see the module docstring for the method."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
    self._log_startup(input_dict, output_dict, exec_properties)
    params = parse_params(exec_properties)
    examples = artifact_utils.get_single_instance(input_dict[spec.EXAMPLES_KEY])
    transform_graph = artifact_utils.get_single_instance(input_dict[spec.TRANSFORM_GRAPH_KEY])
    output = artifact_utils.get_single_instance(output_dict[spec.REBALANCED_EXAMPLES_KEY])

    split_names = artifact_utils.decode_split_names(examples.split_names)
    missing = [s for s in params.splits_to_resample if s not in split_names]
    if missing:
      raise spec.RebalanceError(
          f"{spec.SPLITS_TO_RESAMPLE_KEY}={list(params.splits_to_resample)} names split(s) "
          f"{', '.join(missing)} that the examples at {examples.uri} do not have (splits: "
          f"{', '.join(split_names)}); resample existing splits only.")
    payload = examples_utils.get_payload_format_string(examples)
    if payload != "FORMAT_TF_EXAMPLE":
      raise spec.RebalanceError(f"the examples at {examples.uri} hold {payload}; Rebalance "
                                "reads serialized tf.Example (Transform's default output).")
    tft_output = tft.TFTransformOutput(transform_graph.uri)

    def vocabulary_size(raw_name: str) -> Optional[int]:
      try:
        return tft_output.vocabulary_size_by_name(raw_name)
      except ValueError:
        logging.warning("no vocabulary %r in %s: ids of %r are not range-checked", raw_name,
                        transform_graph.uri, feature_names.transformed_name(raw_name))
        return None

    kinds = feature_kinds(tft_output.transformed_feature_spec(), params.label_key, vocabulary_size)
    if params.strategy != "auto":
      check_strategy_features(params.strategy, kinds)
    patterns = {s: _split_pattern(examples, s) for s in params.splits_to_resample}
    for split, pattern in patterns.items():
      if not fileio.glob(pattern):
        raise spec.RebalanceError(f"split {split!r} has no files ({pattern}); Rebalance needs a "
                                  "non-empty split to resample: check the upstream component's "
                                  "splits.")

    work_dir = self._work_dir(output)
    try:
      stats = self._count(patterns, kinds, params, os.path.join(work_dir, "counts.json"))
      plans = {
          s: plan_split(s, stats[s], params, kinds, patterns[s])
          for s in params.splits_to_resample
      }

      output.split_names = examples.split_names
      examples_utils.set_payload_format(output, examples_utils.get_payload_format(examples))
      examples_utils.set_file_format(output, examples_utils.get_file_format(examples))
      for split in split_names:
        if split not in plans or not plans[split].resampled:
          _copy_split(examples, output, split)
      after = {s: dict(p.counts) for s, p in plans.items()}
      to_resample = {s: p for s, p in plans.items() if p.resampled}
      if to_resample:
        written = self._resample(patterns, to_resample, kinds, params, output,
                                 os.path.join(work_dir, "written.json"))
        for split, plan in to_resample.items():
          after[split] = {c: written.get((split, c), 0) for c in plan.counts}
          if plan.strategy in EXACT and after[split] != plan.targets:
            raise RuntimeError(
                f"Rebalance wrote {after[split]} rows per class for split {split!r} instead of "
                f"the planned {plan.targets}; this is a bug, please report it.")
    finally:
      if fileio.exists(work_dir):
        fileio.rmtree(work_dir)
    self._record(output, params, kinds, plans, after, split_names)

  def _work_dir(self, output: types.Artifact) -> str:
    """Scratch space: the two small summaries the launcher reads back, and the spill files."""
    return spill_shuffle.spill_root(self, output.uri, "rebalance")

  def _count(self, patterns: Dict[str, str], kinds: FeatureKinds, params: Params,
             summary: str) -> Dict[str, SplitStats]:
    """Pass 1 over every split to resample; its small summary is read back by the launcher."""
    with self._make_beam_pipeline() as pipeline:
      summaries = []
      for split, pattern in patterns.items():
        summaries.append(
            pipeline
            | f"ReadForCount[{split}]" >> tfrecord_batches.ReadTFRecordBatches(pattern, BATCH_ROWS)
            | f"Count[{split}]" >> beam.ParDo(beam_fns.CountFn(split, kinds, params.seed)))
      _ = (summaries
           | "FlattenCounts" >> beam.Flatten()
           | "SumCounts" >> beam.CombinePerKey(beam_fns.SumAcrossBundles())
           | "FormatCounts" >> beam.Map(beam_fns.summary_line)
           | "WriteCounts" >> beam.io.WriteToText(summary, shard_name_template=""))
    histograms = {s: {} for s in patterns}
    bad_labels = {s: {} for s in patterns}
    malformed = {s: {} for s in patterns}
    id_ranges = {s: {} for s in patterns}
    for line in _read_lines(summary):
      split, kind, *key = line["key"]
      if kind == "class":
        class_id, bucket = key
        histograms[split].setdefault(class_id, np.zeros(NUM_BUCKETS, np.int64))[bucket] = (
            line["rows"])
      elif kind == "bad_label":
        bad_labels[split][key[0]] = line["rows"]
      elif kind == "malformed":
        malformed[split][key[0]] = line["rows"]
      else:
        id_ranges[split][key[0]] = (line["min"], line["max"])
    return {
        s: SplitStats(histograms[s], bad_labels[s], malformed[s], id_ranges[s]) for s in patterns
    }

  def _resample(self, patterns: Dict[str, str], plans: Dict[str, SplitPlan], kinds: FeatureKinds,
                params: Params, output: types.Artifact,
                summary: str) -> Dict[Tuple[str, int], int]:
    """Pass 2: route, resample and write every split to resample; returns rows written per class."""
    with self._make_beam_pipeline() as pipeline:
      written = []
      for split, plan in plans.items():
        directory = artifact_utils.get_split_uri([output], split)
        if fileio.exists(directory):  # a retried execution: no stale shard may survive
          fileio.rmtree(directory)
        fileio.makedirs(directory)
        spill_dir = os.path.join(os.path.dirname(summary), "spill", split)
        fileio.makedirs(spill_dir)
        routed = (
            pipeline
            | f"Read[{split}]" >> tfrecord_batches.ReadTFRecordBatches(patterns[split], BATCH_ROWS)
            | f"Route[{split}]" >> beam.ParDo(
                beam_fns.RouteFn(split, kinds, params, plan, spill_dir)).with_outputs(
                    TIES, GROUPS, COUNTS, main="spills"))
        ties = (routed[TIES]
                | f"GroupTies[{split}]" >> beam.GroupByKey()
                | f"BreakTies[{split}]" >> beam.ParDo(
                    beam_fns.TieFn(split, params, plan, spill_dir)).with_outputs(
                        COUNTS, main="spills"))
        synthetic = (routed[GROUPS]
                     | f"GroupChunks[{split}]" >> beam.GroupByKey()
                     | f"Synthesize[{split}]" >> beam.ParDo(
                         beam_fns.SynthesizeFn(split, kinds, params, plan, spill_dir)).with_outputs(
                             COUNTS, main="spills"))
        # Every branch writes its rows to spill files inside its own stage: only file names and
        # per-bundle counts cross stages (a Flatten of the rows themselves would make Beam's
        # in-process runner buffer every row of the split).
        _ = ((routed.spills, ties.spills, synthetic.spills)
             | f"MergeSpills[{split}]" >> beam.Flatten()
             | f"GroupShards[{split}]" >> beam.GroupByKey()
             | f"Write[{split}]" >> beam.ParDo(
                 spill_shuffle.WriteShardFn(directory, OUTPUT_FILE_PREFIX, plan.num_shards)))
        written.extend([routed[COUNTS], ties[COUNTS], synthetic[COUNTS]])
      _ = (written
           | "FlattenWritten" >> beam.Flatten()
           | "SumWritten" >> beam.CombinePerKey(beam_fns.SumAcrossBundles())
           | "FormatWritten" >> beam.Map(beam_fns.summary_line)
           | "WriteWritten" >> beam.io.WriteToText(summary, shard_name_template=""))
    return {(line["key"][0], line["key"][2]): line["rows"] for line in _read_lines(summary)}

  def _record(self, output: types.Artifact, params: Params, kinds: FeatureKinds,
              plans: Dict[str, SplitPlan], after: Dict[str, Dict[int, int]],
              split_names: Sequence[str]) -> None:
    """`rebalance.json` at the artifact's root (read by the run report) and custom properties."""
    as_json = lambda counts: {str(c): n for c, n in sorted(counts.items())}
    splits = {}
    for split, plan in plans.items():
      counts = plan.counts
      splits[split] = {
          "requested_strategy": plan.requested_strategy,
          "strategy": plan.strategy,
          "resampled": plan.resampled,
          "exact": plan.strategy in EXACT,
          "imbalance_before": _imbalance(counts),
          "imbalance_after": _imbalance(after[split]),
          "class_counts_before": as_json(counts),
          "class_counts_target": as_json(plan.targets),
          "class_counts_after": as_json(after[split]),
          "synthetic_chunks": {str(c): len(p.chunk_rows) for c, p in plan.classes.items()
                               if p.action == "synth"},
          "context_rows": {str(c): p.context_rows for c, p in plan.classes.items()
                           if p.context_cuts},
          "output_shards": plan.num_shards if plan.resampled else None,
      }
    report = {
        "strategy": ",".join(dict.fromkeys(p.strategy for p in plans.values())),
        "splits": splits,
        "copied_splits": [s for s in split_names if s not in plans or not plans[s].resampled],
        "numeric_features": list(kinds.numeric),
        "categorical_features": sorted(kinds.categorical),
        "parameters": params.as_dict(),
    }
    with fileio.open(os.path.join(output.uri, artifacts.REBALANCE_FILE), "w") as f:
      f.write(json.dumps(report, indent=2, sort_keys=True) + "\n")
    output.set_string_custom_property("strategy", report["strategy"])
    output.set_string_custom_property(
        "class_counts_before",
        json.dumps({s: v["class_counts_before"] for s, v in splits.items()}, sort_keys=True))
    output.set_string_custom_property(
        "class_counts_after",
        json.dumps({s: v["class_counts_after"] for s, v in splits.items()}, sort_keys=True))
    output.set_int_custom_property("exact_counts", int(all(v["exact"] for v in splits.values())))
    logging.info("Rebalance: %s", json.dumps(splits, sort_keys=True))
