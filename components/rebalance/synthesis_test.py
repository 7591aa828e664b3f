"""Synthesis against imbalanced-learn's own samplers: the same new rows, call for call."""
import numpy as np
import pytest

from trainguard.components.rebalance import synthesis


def test_smotenc_decodes_categories_blockwise_exactly_as_its_default_encoder(monkeypatch):
  from imblearn.over_sampling import SMOTENC
  rng = np.random.RandomState(3)
  own = np.column_stack([rng.normal(size=40), rng.randint(0, 4, 40), rng.normal(size=40)])
  monkeypatch.setattr(synthesis, "INVERSE_BLOCK_ROWS", 7)  # many blocks, a ragged last one
  monkeypatch.setattr(synthesis, "INVERSE_BLOCK_BYTES", 8 * 4 * 5)  # 4 one-hot columns: 5 rows
  new = synthesis.synthesize("smotenc", own, 95, 3, 11, categorical_columns=(1,))
  x, y = np.vstack([own, own[:1]]), np.array([1] * 40 + [0])
  default, _ = SMOTENC(categorical_features=[1], sampling_strategy={1: 135}, k_neighbors=3,
                       random_state=11).fit_resample(x, y)
  expected = np.asarray(default[len(x):], dtype=np.float64)
  expected[:, 1] = np.rint(expected[:, 1])
  np.testing.assert_array_equal(new, expected)


@pytest.mark.parametrize("strategy", ["smote", "smotenc"])
@pytest.mark.parametrize("dense_bytes", [256 << 20, 0])  # searched dense / left sparse
def test_neighbours_are_searched_once_per_chunk_with_imbalanced_learns_results(
    strategy, dense_bytes, monkeypatch):
  """Several calls on the same rows (at most chunk_size new rows each) search neighbours once,
  and every call makes exactly what imbalanced-learn's own NearestNeighbors makes."""
  from imblearn.over_sampling import SMOTE, SMOTENC
  from sklearn.neighbors import NearestNeighbors
  monkeypatch.setattr(synthesis, "DENSE_NEIGHBORS_BYTES", dense_bytes)
  searches = []
  original = NearestNeighbors.kneighbors

  def counted(self, *args, **kwargs):
    searches.append(type(self).__name__)
    return original(self, *args, **kwargs)

  monkeypatch.setattr(NearestNeighbors, "kneighbors", counted)
  rng = np.random.RandomState(5)
  own = np.column_stack([rng.normal(size=300), rng.randint(0, 6, 300), rng.normal(size=300)])
  categorical = (1,) if strategy == "smotenc" else ()
  made = [synthesis.synthesize(strategy, own, 250, 5, seed, categorical_columns=categorical)
          for seed in (1, 2, 3)]
  assert searches == ["ReusedDenseNeighbors"]  # one search for three calls
  x, y = np.vstack([own, own[:1]]), np.array([1] * 300 + [0])
  for seed, new in zip((1, 2, 3), made):
    sampler = (SMOTENC(categorical_features=[1], sampling_strategy={1: 550}, k_neighbors=5,
                       random_state=seed) if categorical else
               SMOTE(sampling_strategy={1: 550}, k_neighbors=5, random_state=seed))
    default, _ = sampler.fit_resample(x, y)
    expected = np.asarray(default[len(x):], dtype=np.float64)
    if categorical:
      expected[:, 1] = np.rint(expected[:, 1])
    np.testing.assert_array_equal(new, expected)
  # Other rows: searched again.
  synthesis.synthesize(strategy, own[:200], 50, 5, 1, categorical_columns=categorical)
  assert searches.count("ReusedDenseNeighbors") == 2
