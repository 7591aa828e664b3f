"""Tests for hash_buckets: what a bundle spills comes back per bucket, whole, and counts add up."""
import numpy as np
import pytest

from trainguard.components.data_guard import dataset_checks, hash_buckets


def _hashes(rng, n):
  first = rng.integers(0, 2**64, size=n, dtype=np.uint64)
  second = rng.integers(0, 2**64, size=n, dtype=np.uint64)
  return first, second


def _spill(spill_dir, split, first, second, batch):
  spill = hash_buckets.HashSpill(str(spill_dir), split)
  for start in range(0, len(first), batch):
    spill.add(first[start:start + batch], second[start:start + batch])
  return spill.close()


def test_every_hash_comes_back_once_in_its_bucket(tmp_path, monkeypatch):
  monkeypatch.setattr(hash_buckets, "BLOCK_ROWS", 1000)
  rng = np.random.default_rng(3)
  first, second = _hashes(rng, 5000)
  ranges = _spill(tmp_path, "train", first, second, batch=300)
  assert len(list(tmp_path.iterdir())) == 1  # one file per bundle, however many blocks
  by_bucket = {}
  for bucket, r in ranges:
    by_bucket.setdefault(bucket, []).append(r)
  assert max(len(rs) for rs in by_bucket.values()) > 1  # buckets span several blocks
  got = []
  for bucket, rs in by_bucket.items():
    parts = hash_buckets.read_bucket(rs)["train"]
    f = np.concatenate([p[0] for p in parts])
    s = np.concatenate([p[1] for p in parts])
    assert (hash_buckets.bucket_of(f) == bucket).all()
    got.extend(zip(f.tolist(), s.tolist()))
  assert sorted(got) == sorted(zip(first.tolist(), second.tolist()))


def test_counts_summed_over_buckets_equal_counts_over_everything(tmp_path, monkeypatch):
  monkeypatch.setattr(hash_buckets, "BLOCK_ROWS", 700)
  rng = np.random.default_rng(4)
  train_f, train_s = _hashes(rng, 3000)
  # Duplicates within train and eval, eval rows shared with train, and a first half shared by two
  # different rows (told apart by the second half).
  train_f = np.concatenate([train_f, train_f[:40], train_f[:1]])
  train_s = np.concatenate([train_s, train_s[:40], train_s[:1] + np.uint64(1)])
  eval_f, eval_s = _hashes(rng, 1000)
  eval_f = np.concatenate([eval_f, train_f[100:160], eval_f[:7]])
  eval_s = np.concatenate([eval_s, train_s[100:160], eval_s[:7]])
  expected = dataset_checks._row_counts(  # pylint: disable=protected-access
      {"train": [(train_f, train_s)], "eval": [(eval_f, eval_s)]})
  assert expected == {"duplicates/train": 40, "duplicates/eval": 7, "shared_with_train/eval": 60}

  ranges = (_spill(tmp_path, "train", train_f[:2000], train_s[:2000], batch=256)
            + _spill(tmp_path, "train", train_f[2000:], train_s[2000:], batch=999)
            + _spill(tmp_path, "eval", eval_f, eval_s, batch=128))
  by_bucket = {}
  for bucket, r in ranges:
    by_bucket.setdefault(bucket, []).append(r)
  total = {}
  for rs in by_bucket.values():
    for key, n in dataset_checks._row_counts(  # pylint: disable=protected-access
        hash_buckets.read_bucket(rs)).items():
      total[key] = total.get(key, 0) + n
  assert total == expected


def test_a_truncated_spill_file_is_an_error_not_a_smaller_count(tmp_path):
  rng = np.random.default_rng(5)
  first, second = _hashes(rng, 100)
  ranges = _spill(tmp_path, "train", first, second, batch=100)
  path = ranges[-1][1].path
  with open(path, "r+b") as f:
    f.truncate(16 * 50)
  with pytest.raises(IOError, match="shorter than its ranges"):
    hash_buckets.read_bucket([r for _, r in ranges])
