"""The trainguard pipeline: the whole DAG in one function, shared by every runner.

CsvExampleGen → StatisticsGen → DataGuard (vs the curated schema from ImportSchemaGen, the optional
serving sample and previous span) ─ passes? ─► Transform (analyzers on the train split only)
→ Rebalance (train split only) → Trainer (early stopping on the validation split, the training
diagnosis) → Evaluator (on the eval split, vs the latest blessed model; no blessing for a model with
a blocking training finding) → Pusher.

Every ExampleGen is ours (`components/csv_example_gen/`): stock CsvExampleGen's examples and
splits under stock's node ids, read by Arrow and encoded in C++ instead of cell by cell in Python.

When DataGuard finds something the policy says blocks, the `Cond` skips every node after it: the
run ends with DataGuard's findings published and no Transform execution, no model.
"""
import dataclasses
from typing import Any, List, Optional, Sequence, Union

import tensorflow_model_analysis as tfma
# Not `tfx.v1`: importing it also imports every extension (Vertex AI, Cloud AI Platform bulk
# inference, ...), about 7 s per process on 2 busy cores for modules a run never uses.
from tfx import components
from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
from tfx.dsl.components.common.resolver import Resolver
from tfx.dsl.experimental.conditionals.conditional import Cond
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import (
    LatestBlessedModelStrategy)
from tfx.orchestration.data_types import RuntimeParameter
from tfx.orchestration.pipeline import Pipeline
from tfx.proto import example_gen_pb2, pusher_pb2, trainer_pb2, transform_pb2
from tfx.types import standard_artifacts
from tfx.types.channel import Channel

from trainguard.components.csv_example_gen.component import CsvExampleGen
from trainguard.components.transform.component import Transform
from trainguard.components.data_guard.component import DataGuard
from trainguard.components.evaluator.component import Evaluator
from trainguard.components.rebalance.component import Rebalance
from trainguard.models import features, preprocessing_plan
from trainguard.pipeline import configs
from trainguard import task as task_lib
from trainguard.policy import Policy


def create_pipeline(
    pipeline_name: str,
    pipeline_root: str,
    data_root: Union[str, RuntimeParameter],
    schema_path: str,
    policy: Policy,
    label_key: str,
    label_classes: Sequence[str],
    serving_model_dir: str,
    preprocessing_fn: str,
    run_fn: str,
    train_hash_buckets: int = configs.TRAIN_HASH_BUCKETS,
    validation_hash_buckets: int = configs.VALIDATION_HASH_BUCKETS,
    eval_hash_buckets: int = configs.EVAL_HASH_BUCKETS,
    epochs: int = configs.EPOCHS,
    batch_size: int = configs.BATCH_SIZE,
    learning_rate: float = configs.LEARNING_RATE,
    early_stopping_patience: int = configs.EARLY_STOPPING_PATIENCE,
    hidden_units: Sequence[int] = configs.HIDDEN_UNITS,
    clip_norm: Optional[float] = None,
    num_trees: int = configs.NUM_TREES,
    class_weights: Optional[bool] = None,
    seed: int = configs.SEED,
    serving_data_root: Optional[Union[str, RuntimeParameter]] = None,
    previous_span_root: Optional[Union[str, RuntimeParameter]] = None,
    presplit: bool = False,
    include_training: bool = True,
    stop_after: Optional[str] = None,
    preflight_findings: Sequence[Any] = (),
    fix_context: str = "pipeline",
    eval_accuracy_threshold: float = configs.EVAL_ACCURACY_THRESHOLD,
    baseline_model_resolver: bool = True,
    runtime_schema_path: Optional[str] = None,
    metadata_connection_config: Optional[Any] = None,
    beam_pipeline_args: Optional[List[str]] = None,
    enable_cache: bool = True,
) -> Pipeline:
  """Builds the pipeline. Every tunable is an argument; its default is `configs.py`'s constant
  (the signature names them, so no number is written twice).

  `include_training=False` builds the front half only (ingest, statistics, DataGuard): what
  `trainguard diagnose` runs. `stop_after="rebalance"` builds every data stage (through Transform
  and Rebalance) but no Trainer, Evaluator or Pusher: what bench/data_stages.py measures.
  `baseline_model_resolver=False` leaves out the latest-blessed-model
  Resolver (the Evaluator then checks the accuracy threshold only): the Kubeflow Pipelines 2 backend
  runs no resolver steps. `data_root` and the comparison roots may be runtime parameters.
  `schema_path` is read when the pipeline is built; `runtime_schema_path`, if given, is where
  ImportSchemaGen reads the same file when it runs (Kubeflow: the path inside the image).
  `fix_context` words DataGuard's fixes (`components/data_guard/fixes.py`): `pipeline` names policy
  keys only; the CLI passes `cli`, whose fixes may name its flags.
  `class_weights`, when not None, outranks the policy's `rebalance.class_weights` for the Trainer
  only: `trainguard run --repair` turns it on without changing the policy DataGuard and Transform
  read, so they come from the cache.
  """
  train_split, validation_split, eval_split = (
      configs.TRAIN_SPLIT, configs.VALIDATION_SPLIT, configs.EVAL_SPLIT)
  if presplit:
    # The user brought their own split: data_root/{train,validation,eval}/*.csv (the CLI carves
    # validation out of the user's train file; see configs.VALIDATION_SHARE_OF_TRAIN).
    example_gen = CsvExampleGen(
        input_base=data_root,
        input_config=example_gen_pb2.Input(splits=[
            example_gen_pb2.Input.Split(name=split, pattern=f"{split}/*")
            for split in (train_split, validation_split, eval_split)
        ])).with_id("CsvExampleGen")
  else:
    example_gen = CsvExampleGen(
        input_base=data_root,
        output_config=example_gen_pb2.Output(
            split_config=example_gen_pb2.SplitConfig(splits=[
                example_gen_pb2.SplitConfig.Split(name=train_split, hash_buckets=train_hash_buckets),
                example_gen_pb2.SplitConfig.Split(name=validation_split,
                                                  hash_buckets=validation_hash_buckets),
                example_gen_pb2.SplitConfig.Split(name=eval_split, hash_buckets=eval_hash_buckets),
            ]))).with_id("CsvExampleGen")

  statistics_gen = components.StatisticsGen(examples=example_gen.outputs["examples"])

  schema_importer = ImportSchemaGen(schema_file=runtime_schema_path or schema_path)

  # Optional comparison data, each through its own ExampleGen + StatisticsGen: a serving sample
  # (train/serving skew, validated in the SERVING environment) and the previous span (drift).
  extra_nodes, comparisons = [], {}
  for key, root in (("serving", serving_data_root), ("previous_span", previous_span_root)):
    if root is None:
      continue
    gen = CsvExampleGen(
        input_base=root,
        input_config=example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name=key, pattern="*")]),
    ).with_id(f"{key}_example_gen")
    stats = components.StatisticsGen(examples=gen.outputs["examples"]).with_id(
        f"{key}_statistics_gen")
    extra_nodes += [gen, stats]
    comparisons[key] = stats.outputs["statistics"]

  data_guard = DataGuard(
      statistics=statistics_gen.outputs["statistics"],
      examples=example_gen.outputs["examples"],
      schema=schema_importer.outputs["schema"],
      policy=policy,
      label_key=label_key,
      serving_statistics=comparisons.get("serving"),
      baseline_statistics=comparisons.get("previous_span"),
      preflight_findings=preflight_findings,
      fix_context=fix_context)

  if stop_after not in (None, "rebalance"):
    raise ValueError(f"stop_after={stop_after!r}: the only stage to stop after is 'rebalance'.")
  front = [example_gen, statistics_gen, schema_importer, *extra_nodes, data_guard]
  if not include_training:
    return Pipeline(
        pipeline_name=pipeline_name, pipeline_root=pipeline_root, components=front,
        enable_cache=enable_cache, metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(beam_pipeline_args or []))

  transform_config = preprocessing_plan.transform_config(
      policy, schema_path, label_key, label_classes)
  # The classes a model learns: the schema's with the policy's label.map applied, as the graph maps
  # the label; Rebalance's class ids, the Trainer's head and the Evaluator's classes all follow.
  label_classes = transform_config["label_classes"]
  # The schema declares the task (trainguard.task.of_schema): a label without a domain is a number.
  task = transform_config.get("task", task_lib.CLASSIFICATION)
  regression = task == task_lib.REGRESSION
  with Cond(data_guard.passed()):
    transform = Transform(
        examples=example_gen.outputs["examples"],
        schema=schema_importer.outputs["schema"],
        preprocessing_fn=preprocessing_fn,
        # Leakage by construction: means, variances and vocabularies come from train rows only.
        splits_config=transform_pb2.SplitsConfig(
            analyze=[train_split], transform=[train_split, validation_split, eval_split]),
        # Each feature's imputation, scaling and encoding, resolved from the schema and the policy.
        custom_config=transform_config,
        # Statistics of transformed data are read by no one; computing them doubles the pass.
        disable_statistics=True,
        disable_analyzer_cache=True)

    # Class imbalance is fixed on the train split only, after Transform (features imputed, scaled
    # and integer-encoded); validation and eval are copied byte for byte, so early stopping, the
    # training diagnosis and the metrics see the real class mix.
    rebalancing = policy.rebalance
    if run_fn == configs.MODEL_RUN_FNS[configs.GRADIENT_BOOSTED_TREES] and (
        rebalancing.strategy == "auto"):
      # Trees weigh classes instead of learning from resampled rows (SMOTE's interpolated rows
      # are points they split on): the policy's `auto` becomes class weights for this run_fn;
      # a strategy the policy or --rebalance names is kept.
      rebalancing = dataclasses.replace(rebalancing, strategy="none", class_weights=True)
    rebalance = None if regression else Rebalance(
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        label_key=features.transformed_name(label_key),
        strategy=rebalancing.strategy,
        sampling_strategy=class_ids(rebalancing.sampling_strategy, label_classes),
        k_neighbors=rebalancing.k_neighbors,
        seed=seed if rebalancing.seed is None else rebalancing.seed,
        # The policy's imbalance_ratio decides both DataGuard's CLASS_IMBALANCE finding and
        # whether `auto` resamples (Rebalance used its own 1.5 before).
        min_imbalance=policy.dataset_threshold("imbalance_ratio"),
        # rebalance.chunk_size was accepted by the policy but never reached Rebalance before.
        **({"chunk_size": rebalancing.chunk_size} if rebalancing.chunk_size else {}))

    # stop_after='rebalance': the data stages only (bench/data_stages.py measures them).
    trainer = model_resolver = evaluator = pusher = None
    if stop_after != "rebalance":
      trainer = components.Trainer(
          run_fn=run_fn,
          # Regression: no classes to rebalance, the Trainer reads Transform's rows.
          examples=(transform.outputs["transformed_examples"] if regression
                    else rebalance.outputs["rebalanced_examples"]),
          transform_graph=transform.outputs["transform_graph"],
          schema=schema_importer.outputs["schema"],
          # Early stopping and the training diagnosis read validation, never eval: the Evaluator
          # blesses on eval rows that nothing selecting the model has seen.
          train_args=trainer_pb2.TrainArgs(splits=[train_split]),
          eval_args=trainer_pb2.EvalArgs(splits=[validation_split]),
          custom_config={
              "task": task,
              "regression": dataclasses.asdict(policy.regression),
              "label_key": label_key,
              "label_classes": list(label_classes),
              "epochs": epochs,
              "batch_size": batch_size,
              "learning_rate": learning_rate,
              "early_stopping_patience": early_stopping_patience,
              "hidden_units": list(hidden_units),
              "clip_norm": clip_norm,
              # The trees' (models/decision_forests/model.py); the network ignores it.
              "num_trees": num_trees,
              # The training diagnosis's thresholds and severities: the same policy as DataGuard's.
              "policy": policy.to_json(),
              "seed": seed,
              "class_weights": (rebalancing.class_weights if class_weights is None
                                else class_weights),
              # So the Trainer's transform_summary.json names each feature's treatment.
              "transform_config": transform_config,
          })

      model_resolver = Resolver(
          strategy_class=LatestBlessedModelStrategy,
          model=Channel(type=standard_artifacts.Model),
          model_blessing=Channel(type=standard_artifacts.ModelBlessing),
      ).with_id("latest_blessed_model_resolver") if baseline_model_resolver else None

      evaluator = Evaluator(
          examples=example_gen.outputs["examples"],
          example_splits=[eval_split],
          model=trainer.outputs["model"],
          baseline_model=model_resolver.outputs["model"] if model_resolver else None,
          eval_config=(regression_eval_config(label_key, policy.regression.min_r2) if regression
                       else eval_config(label_key, eval_accuracy_threshold, len(label_classes))))

      pusher = components.Pusher(
          model=trainer.outputs["model"],
          model_blessing=evaluator.outputs["blessing"],
          push_destination=pusher_pb2.PushDestination(
              filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=serving_model_dir)))

  return Pipeline(
      pipeline_name=pipeline_name,
      pipeline_root=pipeline_root,
      components=front + [n for n in (transform, rebalance, trainer, model_resolver, evaluator,
                                      pusher) if n is not None],
      enable_cache=enable_cache,
      metadata_connection_config=metadata_connection_config,
      beam_pipeline_args=list(beam_pipeline_args or []))


# The macro-averaged recall the blessing gate reads (TFMA reports it under this metric name).
MACRO_RECALL = "macro_recall"


def class_ids(sampling_strategy: Any, label_classes: Sequence[str]) -> Any:
  """The policy's `sampling_strategy` with class names (as reviewers write them) as class ids."""
  if not isinstance(sampling_strategy, dict):
    return sampling_strategy
  ids = {}
  for cls, count in sampling_strategy.items():
    if str(cls) not in label_classes:
      raise ValueError(f"rebalance.sampling_strategy names class {cls!r}, which is not one of the "
                       f"label's classes ({', '.join(label_classes)}); fix policy.yaml.")
    ids[list(label_classes).index(str(cls))] = count
  return ids


def regression_eval_config(label_key: str, min_r2: float) -> tfma.EvalConfig:
  """TFMA on raw eval examples, the model's prediction in label units against the raw label.

  Metrics: MAE, MSE, R² (models/regression_metrics.py: 1 − squared error / the squared error of
  predicting the eval mean), mean label and mean prediction, example count. Blessing needs R² ≥ `min_r2`
  (policy `regression.min_r2`, 0.05: a squared error at most 95% of the mean-prediction baseline's)
  and MAE and R² no worse than the latest blessed model's (by more than 1%).
  """
  return tfma.EvalConfig(
      model_specs=[tfma.ModelSpec(signature_name="serving_default", label_key=label_key,
                                  prediction_key="predictions")],
      slicing_specs=[tfma.SlicingSpec()],
      metrics_specs=[tfma.MetricsSpec(metrics=[
          tfma.MetricConfig(class_name="ExampleCount"),
          tfma.MetricConfig(
              class_name="MeanAbsoluteError",
              threshold=tfma.MetricThreshold(change_threshold=tfma.GenericChangeThreshold(
                  direction=tfma.MetricDirection.LOWER_IS_BETTER, relative={"value": 0.01}))),
          tfma.MetricConfig(class_name="MeanSquaredError"),
          tfma.MetricConfig(
              class_name="R2", module="trainguard.models.regression_metrics",
              threshold=tfma.MetricThreshold(
                  value_threshold=tfma.GenericValueThreshold(lower_bound={"value": min_r2}),
                  change_threshold=tfma.GenericChangeThreshold(
                      direction=tfma.MetricDirection.HIGHER_IS_BETTER,
                      absolute={"value": -1e-2}))),
          tfma.MetricConfig(class_name="MeanLabel"),
          tfma.MetricConfig(class_name="MeanPrediction"),
      ])])


def eval_config(label_key: str, accuracy_threshold: float,
                num_classes: int = 2) -> tfma.EvalConfig:
  """TFMA reads raw eval examples, runs the exported Transform graph, and scores the model.

  Metrics: accuracy, the confusion matrix, and per class (one-vs-rest) precision, recall, F1 and
  PR-AUC with their macro averages. Blessing needs all of:
  - macro-averaged recall above 1/num_classes (+0.01): better than always predicting the majority
    class, whose macro recall is exactly 1/num_classes whatever the class mix;
  - accuracy ≥ `accuracy_threshold`;
  - both no worse than the latest blessed model of this pipeline (by more than 0.01), when one
    exists.
  """
  not_worse = tfma.GenericChangeThreshold(
      direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={"value": -1e-2})
  every_class = {i: 1.0 for i in range(num_classes)}
  return tfma.EvalConfig(
      model_specs=[
          tfma.ModelSpec(
              signature_name="serving_default",
              label_key=features.transformed_name(label_key),
              prediction_key="probabilities",
              preprocessing_function_names=["transform_features"])
      ],
      slicing_specs=[tfma.SlicingSpec()],
      metrics_specs=[
          tfma.MetricsSpec(metrics=[
              tfma.MetricConfig(class_name="ExampleCount"),
              tfma.MetricConfig(
                  class_name="SparseCategoricalAccuracy",
                  threshold=tfma.MetricThreshold(
                      value_threshold=tfma.GenericValueThreshold(
                          lower_bound={"value": accuracy_threshold}),
                      change_threshold=not_worse)),
              tfma.MetricConfig(class_name="MultiClassConfusionMatrixPlot"),
          ]),
          # Per class (one-vs-rest) and their macro averages.
          tfma.MetricsSpec(
              metrics=[
                  tfma.MetricConfig(class_name="Precision"),
                  tfma.MetricConfig(class_name="Recall"),
                  tfma.MetricConfig(class_name="F1Score"),
                  tfma.MetricConfig(class_name="AUC", config='{"curve": "PR", "name": "pr_auc"}'),
              ],
              binarize=tfma.BinarizationOptions(class_ids={"values": list(range(num_classes))}),
              aggregate=tfma.AggregationOptions(macro_average=True, class_weights=every_class)),
          # The blessing gate on macro recall alone (a threshold in the spec above would also
          # apply to every class's recall).
          tfma.MetricsSpec(
              metrics=[tfma.MetricConfig(
                  class_name="Recall", config='{"name": "' + MACRO_RECALL + '"}',
                  threshold=tfma.MetricThreshold(
                      value_threshold=tfma.GenericValueThreshold(
                          lower_bound={"value": 1.0 / num_classes + 0.01}),
                      change_threshold=not_worse))],
              aggregate=tfma.AggregationOptions(macro_average=True, class_weights=every_class)),
      ])
