"""Duplicates judged against the data's own repetition: Caravan-like data (many low-cardinality
columns, no leak) no longer blocks; a real cross-split leak planted on top of it still does."""
import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from trainguard.components.data_guard import repetition
from trainguard.components.data_guard.dataset_findings_test import _run


def caravan_like(seed, n=2900, columns=40, segments=40, keep=0.915):
  """Rows like ISLP's Caravan data: `columns` integer codes with 2-9 values each, drawn around one
  of `segments` prototypes (Zipf-weighted: a few customer types are common), each code kept with
  probability `keep` else redrawn; a 6% label independent of the features. Different customers
  share feature vectors (about 7% of a 70% train split repeats within it), nothing leaks."""
  rng = np.random.default_rng(seed)
  cards = rng.integers(2, 10, columns)
  prototypes = np.stack([rng.integers(0, c, segments) for c in cards], axis=1)
  weights = 1 / np.arange(1, segments + 1)
  x = prototypes[rng.choice(segments, n, p=weights / weights.sum())]
  redrawn = rng.random((n, columns)) > keep
  x[redrawn] = (rng.random(redrawn.sum()) * cards[np.nonzero(redrawn)[1]]).astype(int)
  y = np.where(rng.random(n) < 0.06, "yes", "no")
  rows = [dict({f"c{j}": int(v) for j, v in enumerate(r)}, y=label) for r, label in zip(x, y)]
  train, evaluation = train_test_split(rows, test_size=0.3, stratify=y, random_state=seed)
  return train, evaluation


def _kinds(findings, kind):
  return {f.split: f for f in findings if f.kind == kind}


@pytest.fixture(scope="module")
def caravan(tmp_path_factory):
  train, evaluation = caravan_like(0)
  return train, evaluation, _run(tmp_path_factory.mktemp("caravan"), train, evaluation)


def test_caravan_like_repetition_is_no_cross_split_leak(caravan):
  _, evaluation, (result, findings) = caravan
  shared = result["rows"]["shared_with_train/eval"]
  assert shared / len(evaluation) > 0.05  # many eval rows equal train rows...
  finding = _kinds(findings, "CROSS_SPLIT_DUPLICATES")["eval"]
  assert finding.severity == "info"       # ...as many as train's own repetition predicts
  expected = repetition.twin_share(result["multiplicities"]["train"])
  assert f"{expected:.1%} expected from train's own repetition" in finding.found
  assert finding.measured < finding.threshold


def test_caravan_like_duplicates_within_splits_are_a_note(caravan):
  _, _, (result, findings) = caravan
  duplicates = _kinds(findings, "DUPLICATE_ROWS")
  assert sorted(duplicates) == ["eval", "train"]
  assert {f.severity for f in duplicates.values()} == {"info"}
  assert result["rows"]["duplicates/train"] / sum(
      int(k) * f for k, f in result["multiplicities"]["train"].items()) > 0.04


def test_a_cross_split_leak_planted_on_caravan_like_data_still_blocks(tmp_path, caravan):
  train, evaluation, (clean, _) = caravan
  rng = np.random.default_rng(1)
  leaked = list(evaluation)
  for i, j in zip(rng.choice(len(leaked), len(leaked) // 10, replace=False),
                  rng.choice(len(train), len(leaked) // 10, replace=False)):
    leaked[i] = train[j]  # 10% of eval rows are copies of train rows
  result, findings = _run(tmp_path, train, leaked)
  finding = _kinds(findings, "CROSS_SPLIT_DUPLICATES")["eval"]
  assert finding.severity == "block"
  assert result["rows"]["shared_with_train/eval"] > clean["rows"]["shared_with_train/eval"]
  assert "beyond it" in finding.found and finding.measured > finding.threshold


def test_copies_within_train_of_rows_that_cannot_coincide_warn():
  # Train: 195 distinct rows and 5 copied twice; eval: 110 distinct rows (no twin at all).
  freq = {"train": {"1": 195, "2": 5}, "eval": {"1": 110}}
  found = []
  repetition.findings(lambda *a, **k: found.append((a, k)), _Policy(), {"train": 205, "eval": 110},
                      {"duplicates/train": 5}, freq)
  ((args, kwargs),) = found
  assert args[0] == "DUPLICATE_ROWS" and args[2] == "train" and kwargs["severity"] is None


class _Policy:
  @staticmethod
  def dataset_threshold(name):
    return {"duplicate_excess": 0.01, "cross_split_fraction": 0.01}[name]


def test_expected_shares_by_hand():
  # 8 rows seen once, 1 seen twice: 2 of 10 rows have a twin; Good-Turing's unseen mass 8/10.
  assert repetition.twin_share({"1": 8, "2": 1}) == pytest.approx(0.2)
  # A split of 5 from it: the twice-seen content has p = 2/10, twin chance 1 − 0.8⁴; the singles
  # p = 2·1 / (8·10) each, twin chance 1 − (1 − 1/40)⁴.
  expected = 1 * 0.2 * (1 - 0.8 ** 4) + 8 * (1 / 40) * (1 - (1 - 1 / 40) ** 4)
  assert repetition.predicted_twin_share({"1": 8, "2": 1}, 5) == pytest.approx(expected)
  assert repetition.predicted_twin_share({"1": 10}, 5) == 0.0  # nothing repeats: no twins


@pytest.mark.parametrize("shared, severity", [(30, "info"), (60, "block")])
def test_cross_split_boundary_against_the_expected_share(shared, severity):
  # Train 1000 rows, 900 seen once → 10% of eval expected in train; allowed 10% + 1% + 3·se.
  found = []
  repetition.findings(lambda *a, **k: found.append((a, k)), _Policy(), {"eval": 300},
                      {"shared_with_train/eval": shared}, {"train": {"1": 900, "2": 50}})
  ((args, kwargs),) = found
  se = (0.1 * 0.9 * (1 / 300 + 1 / 1000)) ** 0.5
  assert kwargs["threshold"] == pytest.approx(0.11 + 3 * se)  # 0.1725
  assert (kwargs["severity"] or "block") == severity
  assert "10.0% expected from train's own repetition" in args[4]
