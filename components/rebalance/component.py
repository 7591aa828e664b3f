"""The Rebalance component: fixes class imbalance in transformed examples, exactly and at scale."""
import json
from typing import Dict, Sequence, Union

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.dsl.placeholder import placeholder
from tfx.orchestration import data_types
from tfx.types import standard_artifacts

from trainguard.components.rebalance import executor, spec
from trainguard.components.rebalance.params import encode_sampling_strategy, parse_params


class Rebalance(base_beam_component.BaseBeamComponent):
  """Resamples the train split of Transform's output so that the classes are balanced.

  Sits between Transform and Trainer and is always in the DAG: with `strategy='none'` (or `auto`
  on data that is balanced enough) it copies its input through byte-for-byte. Every split not in
  `splits_to_resample` (by default every split but `train`) is copied byte-for-byte, so evaluation
  metrics are computed on the real class mix.

  Strategies (imbalanced-learn's algorithms, run by Beam on bounded chunks of rows):
  - `auto` (default): `smote`, or `smotenc` when there are categorical features (`random_over`
    when every feature is categorical, or when a class has fewer than `k_neighbors + 1` rows), if
    the largest class has at least `min_imbalance` times the rows of the smallest (default 1.5;
    the pipeline passes the policy's `thresholds.dataset.imbalance_ratio`, so the policy decides
    both DataGuard's CLASS_IMBALANCE finding and whether `auto` resamples); otherwise `none`.
  - `smote`, `smotenc`, `random_over`, `random_under`: exactly the row counts that
    `sampling_strategy` asks for.
  - `adasyn`, `borderline_smote`: approximately (ADASYN rounds per row; Borderline-SMOTE generates
    nothing for a chunk where no row is in danger); the counts reached are recorded.
  - `none`: copy.

  Example:
    rebalance = Rebalance(
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        label_key="species_xf")
    trainer = tfx.components.Trainer(examples=rebalance.outputs["rebalanced_examples"], ...)

  Output `rebalanced_examples` (Examples, same splits as the input) carries custom properties
  `strategy`, `class_counts_before` and `class_counts_after` (JSON: split -> class id -> rows) and
  `exact_counts`; `rebalance.json` at its URI root holds the same counts, the targets and the
  parameters.
  """

  SPEC_CLASS = spec.RebalanceSpec
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

  def __init__(self,
               examples: types.BaseChannel,
               transform_graph: types.BaseChannel,
               label_key: str,
               strategy: str = spec.DEFAULT_STRATEGY,
               sampling_strategy: Union[str, float, Dict[int, int]] = (
                   spec.DEFAULT_SAMPLING_STRATEGY),
               k_neighbors: int = spec.DEFAULT_K_NEIGHBORS,
               seed: int = spec.DEFAULT_SEED,
               chunk_size: int = spec.DEFAULT_CHUNK_SIZE,
               splits_to_resample: Sequence[str] = spec.DEFAULT_SPLITS_TO_RESAMPLE,
               min_imbalance: float = spec.DEFAULT_MIN_IMBALANCE):
    """Constructs a Rebalance component.

    Args:
      examples: Transform's `transformed_examples`: one value per feature and row, numeric
        features float32, categorical features int64 vocabulary ids, the label an int64 class id.
      transform_graph: Transform's `transform_graph`: tells numeric from categorical features and
        each vocabulary's size.
      label_key: the transformed label's name, e.g. `species_xf`.
      strategy: `auto`, `smote`, `smotenc`, `borderline_smote`, `adasyn`, `random_over`,
        `random_under` or `none` (see the class docstring).
      sampling_strategy: rows per class after resampling, in imbalanced-learn's vocabulary: `auto`
        (every class as large as the majority when over-sampling, as small as the minority when
        under-sampling), `minority`, `majority`, `not minority`, `not majority`, `all`; a float
        ratio minority/majority after resampling (two classes only); or {class id: rows}.
      k_neighbors: neighbours of SMOTE-family strategies; every class they synthesise needs at
        least k_neighbors + 1 rows.
      seed: every random choice (which rows are kept or copied, which are interpolated, the order
        of rows in the output) derives from it: the same inputs and seed give byte-identical files.
      chunk_size: the most rows of one class grouped in memory at once; a larger class is
        synthesised in seeded chunks of at most this many rows. Also about the rows per output
        file.
      splits_to_resample: the splits to resample (a name or a list); the others are copied
        byte-for-byte.
      min_imbalance: `auto` resamples a split whose largest class has at least this many times the
        rows of its smallest (> 0); below it, `auto` copies the split.
    """
    params = {
        spec.LABEL_KEY: label_key,
        spec.STRATEGY_KEY: strategy,
        spec.SAMPLING_STRATEGY_KEY: _encode(sampling_strategy, encode_sampling_strategy),
        spec.K_NEIGHBORS_KEY: k_neighbors,
        spec.SEED_KEY: seed,
        spec.CHUNK_SIZE_KEY: chunk_size,
        spec.SPLITS_TO_RESAMPLE_KEY: _encode(
            splits_to_resample,
            lambda splits: json.dumps([splits] if isinstance(splits, str) else list(splits))),
        spec.MIN_IMBALANCE_KEY: _encode(min_imbalance, _int_as_float),
    }
    if not any(_is_deferred(v) for v in params.values()):
      # The same checks the executor makes, so a bad parameter fails when the pipeline is built.
      parse_params(params)
    super().__init__(spec=spec.RebalanceSpec(
        examples=examples,
        transform_graph=transform_graph,
        rebalanced_examples=types.Channel(type=standard_artifacts.Examples),
        **params))


def _is_deferred(value) -> bool:
  """A value known only when the pipeline runs (a runtime parameter or a placeholder)."""
  return isinstance(value, (placeholder.Placeholder, data_types.RuntimeParameter))


def _encode(value, encode):
  return value if _is_deferred(value) else encode(value)


def _int_as_float(value):
  """ExecutionParameter(type=float) refuses an int, so 3 is passed as 3.0 (anything else as given,
  for `parse_params` to check)."""
  return float(value) if isinstance(value, int) and not isinstance(value, bool) else value
