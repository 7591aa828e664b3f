"""Synthesis: imbalanced-learn on one chunk of a class, numpy in and numpy out.

Why apart from the Beam functions: this is the only contact with imbalanced-learn and
scikit-learn, and it is tested call for call against imbalanced-learn's own results. The two
scikit-learn subclasses below change how neighbours are searched and categories decoded, never what
they are (each docstring gives the measurement that made it worth it).
"""
import hashlib
from typing import Any, Dict, Optional, Sequence

import numpy as np
import sklearn
from absl import logging
from scipy import sparse
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import OneHotEncoder

# Borderline-SMOTE's neighbourhood for deciding which rows are "in danger" (imbalanced-learn's
# default), reduced to the rows available in a small chunk.
BORDERLINE_M_NEIGHBORS = 10
# What scikit-learn's chunked pairwise distances may hold at once (its default is 1 GB: a class of
# 33,000 rows at 5M generated rows made SMOTE-NC's neighbour search alone take 1 GB more).
NEIGHBORS_WORKING_MEMORY_MB = 64
# Encoded rows up to this size are searched dense (scikit-learn's fast dense brute force) rather
# than as SMOTE-NC's sparse one-hot matrix (sparse x sparse products: 60 of 63 s for 33,000 rows).
DENSE_NEIGHBORS_BYTES = 256 << 20
_NEIGHBORS_CACHE: Dict[tuple, Any] = {}  # the last search: (rows, queries, k, distances) -> result
INVERSE_BLOCK_ROWS = 65536
INVERSE_BLOCK_BYTES = 64 << 20  # a dense block: rows x one-hot columns x 8 bytes


def synthesize(strategy: str, own: np.ndarray, n_new: int, k_neighbors: int, random_state: int,
               categorical_columns: Sequence[int] = (),
               context: Optional[np.ndarray] = None) -> np.ndarray:
  """New rows for a class from `own` (its rows, one per line) with imbalanced-learn.

  Only the own-versus-other distinction matters to every sampler here (SMOTE and SMOTE-NC
  interpolate within the class; Borderline-SMOTE and ADASYN count other-class neighbours), so
  `context` rows, the other classes, are all labelled 0 and the class 1. Returns at most `n_new`
  rows for `adasyn` and `borderline_smote`, exactly `n_new` for the others.
  """
  from imblearn.over_sampling import ADASYN, SMOTE, SMOTENC, BorderlineSMOTE
  width = own.shape[1]
  if n_new <= 0:
    return np.zeros((0, width))
  wanted = {1: len(own) + n_new}
  if strategy in ("smote", "smotenc"):
    # imbalanced-learn refuses a single class; a copy of the first row labelled 0 is inert (SMOTE
    # and SMOTE-NC fit neighbours on the class's rows only, and the copy adds no new category).
    x = np.vstack([own, own[:1]])
    y = np.array([1] * len(own) + [0])
    # The row itself and its k neighbours.
    neighbors = ReusedDenseNeighbors(n_neighbors=k_neighbors + 1)
    if strategy == "smote":
      sampler = SMOTE(sampling_strategy=wanted, k_neighbors=neighbors, random_state=random_state)
    else:
      sampler = SMOTENC(categorical_features=list(categorical_columns), sampling_strategy=wanted,
                        k_neighbors=neighbors, random_state=random_state,
                        categorical_encoder=BlockwiseOneHotEncoder(
                            handle_unknown="ignore", dtype=np.float64))
    with sklearn.config_context(working_memory=NEIGHBORS_WORKING_MEMORY_MB):
      resampled, _ = sampler.fit_resample(x, y)
    new = np.asarray(resampled[len(x):], dtype=np.float64)
    if categorical_columns:
      new[:, list(categorical_columns)] = np.rint(new[:, list(categorical_columns)])
    return new
  if context is None or len(context) == 0:
    logging.warning("%s: no rows of other classes in this chunk; nothing to synthesise.", strategy)
    return np.zeros((0, width))
  numeric = [i for i in range(width) if i not in set(categorical_columns)]
  x = np.vstack([own, context])[:, numeric]
  y = np.array([1] * len(own) + [0] * len(context))
  if strategy == "adasyn":
    sampler = ADASYN(sampling_strategy=wanted, n_neighbors=k_neighbors, random_state=random_state)
  else:
    sampler = BorderlineSMOTE(sampling_strategy=wanted, k_neighbors=k_neighbors,
                              m_neighbors=min(BORDERLINE_M_NEIGHBORS, len(x) - 1),
                              kind="borderline-1", random_state=random_state)
  try:
    resampled, _ = sampler.fit_resample(x, y)
  except RuntimeError as e:  # ADASYN: no row of the class has another class among its neighbours
    logging.warning("adasyn generated nothing for a chunk: %s", e)
    return np.zeros((0, width))
  except ValueError as e:
    if "No samples will be generated" not in str(e):
      raise
    logging.warning("adasyn generated nothing for a chunk: %s", e)
    return np.zeros((0, width))
  new_numeric = np.asarray(resampled[len(x):], dtype=np.float64)
  new = np.zeros((len(new_numeric), width))
  new[:, numeric] = new_numeric
  if categorical_columns and len(new):
    new[:, list(categorical_columns)] = _vote_categories(own, new_numeric, numeric,
                                                         categorical_columns, k_neighbors)
  return new


def _digest(x) -> bytes:
  h = hashlib.blake2b(digest_size=16)
  h.update(repr((type(x).__name__, x.shape, str(x.dtype))).encode())
  parts = (x.data, x.indices, x.indptr) if sparse.issparse(x) else (np.ascontiguousarray(x),)
  for part in parts:
    h.update(np.ascontiguousarray(part).tobytes())
  return h.digest()


class ReusedDenseNeighbors(NearestNeighbors):
  """scikit-learn's NearestNeighbors for the SMOTE family, with two changes that keep its results.

  - Searched dense: SMOTE-NC hands over its one-hot encoding as a sparse matrix, for which
    scikit-learn's brute force multiplies sparse matrices; a dense copy (when it fits in
    `DENSE_NEIGHBORS_BYTES`) takes its fast dense path.
  - Searched once per chunk: Rebalance calls imbalanced-learn several times on the same rows (at
    most `chunk_size` new rows a call), and the neighbours depend on the rows only, so the last
    search is kept (imbalanced-learn clones the estimator per call, hence a module-level cache).
  """

  def fit(self, X, y=None):
    self._fit_digest = _digest(X)
    if sparse.issparse(X) and X.shape[0] * X.shape[1] * 8 <= DENSE_NEIGHBORS_BYTES:
      X = X.toarray()
    return super().fit(X, y)

  def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
    key = (self._fit_digest, None if X is None else _digest(X), n_neighbors or self.n_neighbors,
           return_distance)
    if key not in _NEIGHBORS_CACHE:
      if X is not None and sparse.issparse(X) and not sparse.issparse(self._fit_X):
        X = X.toarray()
      result = super().kneighbors(X, n_neighbors, return_distance)
      _NEIGHBORS_CACHE.clear()
      _NEIGHBORS_CACHE[key] = result
    result = _NEIGHBORS_CACHE[key]  # copies: a caller may write into what it gets
    return tuple(a.copy() for a in result) if isinstance(result, tuple) else result.copy()


class BlockwiseOneHotEncoder(OneHotEncoder):
  """SMOTE-NC's default one-hot encoder, but decoding dense blocks of rows.

  SMOTE-NC decodes the categories of every resampled row with `OneHotEncoder.inverse_transform`
  on a sparse matrix, whose per-row sparse argmax took 14 of 25 s for 131,000 new rows (scipy's
  `_arg_min_or_max_axis`). Decoding dense blocks (at most `INVERSE_BLOCK_ROWS` rows and
  `INVERSE_BLOCK_BYTES`, so a feature with many categories gets fewer rows) gives the same ids
  with memory bounded by one block.
  """

  def inverse_transform(self, X):
    if not sparse.issparse(X):
      return super().inverse_transform(X)
    X = X.tocsr()
    block_rows = max(1, min(INVERSE_BLOCK_ROWS, INVERSE_BLOCK_BYTES // (8 * max(1, X.shape[1]))))
    return np.vstack([
        super(BlockwiseOneHotEncoder, self).inverse_transform(X[start:start + block_rows].toarray())
        for start in range(0, X.shape[0], block_rows)
    ]) if X.shape[0] else super().inverse_transform(X.toarray())


def _vote_categories(own: np.ndarray, new_numeric: np.ndarray, numeric: Sequence[int],
                     categorical_columns: Sequence[int], k_neighbors: int) -> np.ndarray:
  """SMOTE-NC's rule for samplers that only interpolate numbers: each categorical value of a new row
  is the most frequent among its k nearest rows of the class (numeric distance; ties: lower id)."""
  neighbours = NearestNeighbors(n_neighbors=min(k_neighbors, len(own))).fit(own[:, numeric])
  nearest = neighbours.kneighbors(new_numeric, return_distance=False)
  ids = own[:, list(categorical_columns)].astype(np.int64)
  votes = np.zeros((len(new_numeric), len(categorical_columns)))
  for j in range(len(categorical_columns)):
    for i, nearest_rows in enumerate(nearest):
      votes[i, j] = np.argmax(np.bincount(ids[nearest_rows, j]))
  return votes
