"""The eval split without its rows that have no label, for TFMA.

Why: a pipeline built without the CLI (which drops such rows before ExampleGen) brings rows whose
label is absent, empty or NaN, and DataGuard lets up to the CLI's 20% of them through
(LABEL_MISSING_ROWS_DROPPED); the Trainer drops them, and TFMA would otherwise score them: a raw
regression label that is not there has no value to compare with (an error, or a NaN mean absolute
error that no threshold passes), a class id -1 counts as a wrong answer. What counts as "no label"
is what Transform's `label_values` / `label_ids` turn into NaN / -1: no value, NaN, an empty or
blank string.

Two streaming passes at most, in bounded memory (batches of `BATCH_SIZE` records): the first only
counts; only when a row has no label is the split written again, without those rows, into the
executor's temporary folder, and TFMA reads that copy. A split with every row labelled (every run
through the CLI) is read once and not copied.
"""
import copy
import math
import os
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
from absl import logging
from tfx import types
from tfx.dsl.io import fileio
from tfx.types import artifact_utils
from tfx_bsl.coders import example_coder

from trainguard.models import features

BATCH_SIZE = 4096
_COMPRESSION = {".gz": "GZIP", ".gzip": "GZIP", ".deflate": "ZLIB", ".zlib": "ZLIB"}


def raw_label(eval_config) -> Optional[str]:
  """The raw label feature the eval config scores: its label key, or the raw name of a transformed
  one (`species_xf`, which the `transform_features` signature computes from `species`)."""
  for spec in eval_config.model_specs:
    if spec.label_key:
      key = spec.label_key
      return features.raw_name(key) if key.endswith(features.TRANSFORMED_SUFFIX) else key
  return None


def _batches(files: Sequence[str]) -> Iterator[Tuple[str, List[bytes]]]:
  for path in files:
    compression = _COMPRESSION.get(os.path.splitext(path)[1].lower(), "")
    dataset = tf.data.TFRecordDataset(path, compression_type=compression, buffer_size=1 << 20)
    for batch in dataset.batch(BATCH_SIZE):
      yield path, batch.numpy().tolist()


def labelled(decoder, records: List[bytes], label: str) -> np.ndarray:
  """Which of `records` have a label (one value at least, not NaN, not blank text)."""
  try:
    batch = decoder.DecodeBatch(records)
  except RuntimeError:  # a feature typed differently in two examples of the batch: one at a time
    return np.concatenate([labelled(decoder, [r], label) for r in records])
  index = batch.schema.get_field_index(label)
  if index < 0:
    return np.zeros(len(records), bool)
  return np.array([bool(v) and not (isinstance(v[0], float) and math.isnan(v[0]))
                   and not (isinstance(v[0], bytes) and not v[0].strip())
                   for v in batch.column(index).to_pylist()], bool)


def _files(split_uri: str) -> List[str]:
  return sorted(os.path.join(split_uri, name) for name in fileio.listdir(split_uri)
                if not fileio.isdir(os.path.join(split_uri, name)))


def labelled_copy(examples: types.Artifact, splits: Sequence[str], label: str,
                  folder: str) -> Optional[types.Artifact]:
  """An Examples artifact in `folder` with `splits` of `examples` minus their unlabelled rows, or
  None when every row of them has a label (or no row has the label feature at all: then it is not
  the label of these examples, and TFMA says so itself)."""
  decoder = example_coder.ExamplesToRecordBatchDecoder()
  missing, seen = {}, False
  for split in splits:
    files = _files(artifact_utils.get_split_uri([examples], split))
    for _, records in _batches(files):
      has = labelled(decoder, records, label)
      seen = seen or bool(has.any())
      missing[split] = missing.get(split, 0) + int((~has).sum())
  if not seen or not any(missing.values()):
    return None
  out = type(examples)()
  out.set_mlmd_artifact(copy.deepcopy(examples.mlmd_artifact))
  out.uri = folder
  out.split_names = artifact_utils.encode_split_names(list(splits))
  options = tf.io.TFRecordOptions(compression_type="GZIP")
  for split in splits:
    target = os.path.join(folder, f"Split-{split}")
    fileio.makedirs(target)
    files = _files(artifact_utils.get_split_uri([examples], split))
    with tf.io.TFRecordWriter(os.path.join(target, "labelled-00000-of-00001.gz"), options) as w:
      for _, records in _batches(files):
        for record, keep in zip(records, labelled(decoder, records, label).tolist()):
          if keep:
            w.write(record)
    if missing.get(split):
      logging.warning("Evaluator: %d row(s) of split %r have no %r label; scored without them "
                      "(DataGuard's LABEL_MISSING_ROWS_DROPPED).", missing[split], split, label)
  return out
