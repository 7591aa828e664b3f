"""LIKELY_LABEL_ERRORS: planted flipped labels are found; clean real data stays under a small share;
the pass's bottom-k sample is the k smallest content hashes whatever the batches."""
import numpy as np
import pytest
from sklearn import datasets

from trainguard.components.data_guard import label_errors, row_hash
from trainguard.components.data_guard.dataset_findings_test import _run
from trainguard.components.data_guard.row_hash_test import _decode, _proto


def _separable(seed, n=1200, flipped=0.05):
  """Three classes around centres 6 standard deviations apart in 4 numeric features, a text
  feature that follows the class 80% of the time; `flipped` of the labels moved to another class.
  Returns (rows as {feature: value, "y": label}, indices of the flipped rows)."""
  rng = np.random.default_rng(seed)
  k = rng.integers(0, 3, n)
  x = rng.normal(0, 1, (n, 4)) + 6.0 * np.eye(3, 4)[k]
  text = np.where(rng.random(n) < 0.8, np.array(["a", "b", "c"])[k], rng.choice(["a", "b", "c"], n))
  flip = rng.choice(n, int(flipped * n), replace=False)
  y = k.copy()
  y[flip] = (k[flip] + rng.integers(1, 3, len(flip))) % 3
  names = np.array(["p", "q", "r"])
  rows = [dict({f"x{j}": float(v) for j, v in enumerate(r)}, t=str(t), y=str(names[c]))
          for r, t, c in zip(x, text, y)]
  return rows, set(flip.tolist())


def _sample(rows, label="y"):
  return [[r[label], {f: v for f, v in r.items() if f != label}] for r in rows]


def test_planted_flipped_labels_are_found_with_high_recall_and_precision():
  rows, flipped = _separable(1)
  found = label_errors.find(_sample(rows))
  flagged = {i for i, *_ in found["issues"]}
  recall, precision = len(flagged & flipped) / len(flipped), len(flagged & flipped) / len(flagged)
  assert found["rows"] == 1200 and len(flipped) == 60
  assert recall >= 0.9 and precision >= 0.95, (recall, precision)  # measured: 56 of 60, no false


def test_the_finding_from_the_pass_with_examples(tmp_path):
  rows, _ = _separable(2, n=600)
  result, findings = _run(tmp_path, rows, _separable(3, n=60)[0])
  assert len(result["label_sample"]) == 600
  (finding,) = [f for f in findings if f.kind == "LIKELY_LABEL_ERRORS"]
  assert (finding.feature, finding.split, finding.severity) == ("y", "train", "info")
  assert finding.found.startswith(f"{round(finding.measured * 600)} of 600 sampled train rows")
  assert 0.04 <= finding.measured <= 0.06 and finding.threshold == 0.05
  assert "where the model says" in finding.found and "x0=" in finding.found
  assert "features.y.info" in finding.fix


def test_a_policy_that_blocks_the_kind_blocks_only_from_the_threshold():
  rows, _ = _separable(4, n=400)
  for fraction, severity in ((0.04, "block"), (0.2, "info")):
    added = []
    policy = _Policy(fraction)
    label_errors.findings(lambda *a, **k: added.append(k["severity"] or "block"), policy,
                          _sample(rows), "y")
    assert added == [severity]


class _Policy:
  def __init__(self, fraction):
    self.fraction = fraction

  def dataset_threshold(self, name):
    assert name == "label_error_fraction"
    return self.fraction


def _clean():
  import palmerpenguins  # pylint: disable=g-import-not-at-top
  frame = palmerpenguins.load_penguins()
  yield "penguins", [r for r in frame.to_dict("records") if isinstance(r["species"], str)], \
      "species"
  for name in ("breast_cancer", "wine", "iris"):
    bunch = getattr(datasets, f"load_{name}")(as_frame=True)
    frame = bunch.frame.copy()
    frame["target"] = np.asarray(bunch.target_names)[bunch.target].astype(str)
    yield name, frame.to_dict("records"), "target"


# Rows flagged on clean data (all rows, 5 folds), measured: penguins 0 of 344, breast cancer 1 of 569
# (0.18%), wine 0 of 178, iris 0 of 150. The bound, 1%, leaves room for another fold draw and is a
# fifth of label_error_fraction (0.05): none of them comes near a warning, were the kind raised.
CLEAN_SHARE = {"penguins": 0.01, "breast_cancer": 0.01, "wine": 0.01, "iris": 0.01}


@pytest.mark.parametrize("name", sorted(CLEAN_SHARE))
def test_clean_real_data_flags_at_most_a_small_share(name):
  (_, rows, label), = [d for d in _clean() if d[0] == name]
  rows = [{f: v for f, v in r.items() if not (isinstance(v, float) and np.isnan(v))}
          for r in rows]
  found = label_errors.find(_sample(rows, label))
  share = len(found["issues"]) / found["rows"]
  assert share <= CLEAN_SHARE[name], (name, share)


def test_bottom_k_sample_is_the_k_smallest_hashes_across_batches_and_bundles():
  rows = [{"y": str(i % 3), "x": float(i), "c": "abc"[i % 3]} for i in range(300)]
  rows += rows[:20]  # duplicates: one row of the sample
  batches = [_decode([_proto(r) for r in rows[s:s + 37]]) for s in range(0, len(rows), 37)]
  bundles = [label_errors.Sketch(k=50), label_errors.Sketch(k=50)]
  partial = []
  for i, batch in enumerate(batches):
    partial.append(bundles[i % 2].add(batch, row_hash.row_hashes(batch)[0], "y"))
  merged = {}
  for p in partial:
    label_errors.merge(merged, p, k=50)
  sample = label_errors.as_result(merged, k=50)
  everything = _decode([_proto(r) for r in rows])
  keys = np.unique(row_hash.row_hashes(everything)[0])[:50]
  by_key = dict(zip(row_hash.row_hashes(everything)[0].tolist(), rows))
  assert [[by_key[k]["y"], {"c": by_key[k]["c"], "x": by_key[k]["x"]}] for k in keys.tolist()] \
      == sample


def test_infinite_and_huge_values_are_judged_not_refused():
  """The blocked-run catalogue's `inf` and 1e308 cells made scikit-learn refuse the design matrix
  ("Input X contains infinity or a value too large"), an internal error inside DataGuard: they are
  missing (inf) or clipped (huge) now, and the rest is judged as before."""
  rng = np.random.default_rng(3)
  rows = []
  for i in range(200):
    label = i % 2
    x = float(label * 4 + rng.normal())
    rows.append([str(label), {"x": x, "big": 1e308 if i % 7 == 0 else float(i),
                              "odd": float("inf") if i % 11 == 0 else float("-inf") if i % 13 == 0
                              else x}])
  found = label_errors.find(rows)
  assert found is not None and found["rows"] == 200
  assert len(found["issues"]) <= 4
