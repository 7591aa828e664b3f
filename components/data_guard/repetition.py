"""Duplicate and cross-split rows judged against what the data's own repetition predicts.

Why: with low-cardinality features, different entities share a feature vector. ISLP's Caravan data
(85 coarse demographic columns) with a plain stratified 70/30 split had 256 of 1747 eval rows
(14.7%) identical to train rows, and was blocked as leakage, while 7.7% of its train rows repeat an
earlier train row: that is what rows drawn from such data look like, not a leak. So a split's
repetition is compared with what a sample of that size from the same data would show, and only the
excess counts. The pass (`hash_buckets.row_counts(multiplicities=True)`) gives, per split, the
frequencies of frequencies f_k: how many distinct rows occur exactly k times (n = Σ k·f_k).

Cross-split (`CROSS_SPLIT_DUPLICATES`): if eval rows were drawn like train's, the chance that one
has a twin among train's n_t rows is 1 − (the probability mass of contents train has not seen),
and Good–Turing estimates that unseen mass by f1 / n_t, the share of train rows seen once:

    expected share of eval rows found in train  e = 1 − f1 / n_t

(the same as the share of train rows that have a twin in train). It blocks when the found share
exceeds e + `cross_split_fraction` + 3·se, se = sqrt(e·(1 − e)·(1/n_eval + 1/n_t)) (the found
share's binomial error and the estimate's); with no repetition in train, e = 0 and the rule is the
old one (more than 1% of eval rows). The finding says expected and found. Copies made before the
split raise train's own repetition too, and that part then passes as natural: de-duplicate first.

Within a split (`DUPLICATE_ROWS`): the share of the split's rows that have a twin in it, against
what another split's repetition predicts for a sample of this size: a content seen k times in the
other split (n_o rows) has probability p_k = k / n_o, and those seen once Good–Turing's
p_1 = 2·f2 / (f1·n_o) (a content seen once is usually rarer than 1/n_o; with no content seen twice,
singletons predict no twins); in a split of n rows a row has a twin with probability
1 − (1 − p)^(n − 1), so

    predicted twin share  = Σ_k f_k·p_k·(1 − (1 − p_k)^(n − 1)).

A split no larger than the other (eval against train: predicting a subsample is reliable) is a note
when its twin share is at most the predicted one plus `duplicate_excess` (0.01) and 3 binomial
standard errors, and warns beyond. The larger split (train) is judged the other way round, since
predicting a larger sample from a smaller one undercounts the contents the small one has not seen
(tried: 118 false warnings in 200 Caravan-like splits): its repetition is natural when the smaller,
independent split shows it too, i.e. has twins, at least at the share train's repetition predicts
for it minus the same margin; copies within train predict twins in eval that eval does not have.
With a single split there is nothing to compare with, and any repeated row warns, as before.

Measured on `repetition_test.caravan_like` (40 columns of 2-9 codes, 2,030 train and 870 eval
rows, 300 seeds; train repeats 6.5% of its rows, 9.0% of eval rows are in train): without a leak
CROSS_SPLIT_DUPLICATES blocks 1 split in 300, DUPLICATE_ROWS warns on 2 eval and 0 train splits;
with 5% of eval rows replaced by copies of train rows it blocks 153 of 300, with 10% all 300. With 2
standard errors instead of 3, 1 clean split in 200 blocked and 7 of 200 train splits warned.
"""
import math
from typing import Dict, Mapping, Tuple

PREFIX = "multiplicity/"
Z = 3  # standard errors of margin: a chance fluctuation is not a finding (measured below)
NOTE = (" Rows of coarse features that repeat as often as the data's repetition predicts are "
        "different entities alike: a note.")


def split_counts(rows: Mapping[str, int]) -> Tuple[Dict[str, int], Dict[str, Dict[str, int]]]:
  """The pass's summed row counts without the multiplicity keys, and {split: {k: f_k}}."""
  plain, freq = {}, {}
  for key, n in sorted(rows.items()):
    if key.startswith(PREFIX):
      split, k = key[len(PREFIX):].rsplit("/", 1)
      freq.setdefault(split, {})[k] = n
    elif n:
      plain[key] = n
  return plain, freq


def _rows(freq: Mapping[str, int]) -> int:
  return sum(int(k) * f for k, f in freq.items())


def twin_share(freq: Mapping[str, int]) -> float:
  """Share of a split's rows whose content another row of the split has: 1 − f1 / n."""
  n = _rows(freq)
  return 1.0 - freq.get("1", 0) / n if n else 0.0


def predicted_twin_share(freq: Mapping[str, int], n: int) -> float:
  """The twin share a split of `n` rows drawn like the split of `freq` would show (above)."""
  n_o = _rows(freq)
  if not n_o or n < 2:
    return 0.0
  out = 0.0
  for k, f in freq.items():
    k = int(k)
    p = 2 * freq.get("2", 0) / (f * n_o) if k == 1 else k / n_o
    out += f * p * (1.0 - (1.0 - min(p, 1.0)) ** (n - 1))
  return min(out, 1.0)


def _se(p: float, *sizes: int) -> float:
  return math.sqrt(max(p * (1 - p), 0.0) * sum(1 / s for s in sizes if s))


def _duplicates(add, excess: float, split: str, n: int, duplicates: int,
                freq: Mapping[str, Mapping[str, int]]) -> None:
  found = f"{duplicates} of {n} rows repeat an earlier row ({duplicates / n:.1%})"
  fix = ("drop the duplicates at the source if they are not real repeated observations; they "
         "weigh those rows more in training.")
  others = [s for s in freq if s != split and (split == "train" or s == "train")]
  if split not in freq or not others:
    add("DUPLICATE_ROWS", "", split, "each row once", found, fix, measured=duplicates / n)
    return
  other = max(others, key=lambda s: _rows(freq[s]))
  share, n_other = twin_share(freq[split]), _rows(freq[other])
  if n <= n_other:  # predicted from the larger split (a subsample's expectation)
    expected = predicted_twin_share(freq[other], n)
    margin = excess + Z * _se(expected, n)
    natural = share <= expected + margin
    said = f"{expected:.1%} expected from {other}'s repetition for {n} rows"
    add("DUPLICATE_ROWS", "", split, f"≤ {expected + margin:.1%} of rows with a twin in the split "
        f"({expected:.1%} as {other}'s repetition predicts, plus {excess:.0%} and {Z} standard "
        "errors)", f"{found}; {share:.1%} of rows have a twin in {split}, {said}",
        fix + NOTE, measured=share, threshold=expected + margin,
        severity="info" if natural else None)
    return
  # The larger split: natural repetition shows in the smaller, independent one as well, at the
  # share this split's repetition predicts for it; copies within this split do not.
  other_share = twin_share(freq[other])
  expected = predicted_twin_share(freq[split], n_other)
  margin = excess + Z * _se(expected, n_other)
  natural = other_share > 0 and other_share >= expected - margin
  add("DUPLICATE_ROWS", "", split, f"rows that repeat as often in {other}: {split}'s repetition "
      f"predicts {expected:.1%} of {other}'s rows with a twin there (at least "
      f"{max(expected - margin, 0.0):.1%} must show)",
      f"{found}; {share:.1%} of rows have a twin in {split}; {other} shows {other_share:.1%}, "
      f"{expected:.1%} expected", fix + NOTE, measured=other_share,
      threshold=max(expected - margin, 0.0), severity="info" if natural else None)


def findings(add, policy, rows: Mapping[str, int], counts: Mapping[str, int],
             freq: Mapping[str, Mapping[str, int]]) -> None:
  """DUPLICATE_ROWS and CROSS_SPLIT_DUPLICATES per split (`rows`: the statistics' row counts,
  `counts`: the pass's, `freq`: `split_counts`'s multiplicities), through `add`."""
  excess = policy.dataset_threshold("duplicate_excess")
  for split, n in sorted(rows.items()):
    duplicates = counts.get(f"duplicates/{split}", 0)
    if duplicates and n:
      _duplicates(add, excess, split, n, duplicates, freq)
    shared = counts.get(f"shared_with_train/{split}", 0)
    if split != "train" and shared and n:
      fraction = shared / n
      threshold = policy.dataset_threshold("cross_split_fraction")
      train = freq.get("train", {})
      expected = twin_share(train) if train else 0.0
      allowed = expected + threshold + Z * _se(expected, n, _rows(train))
      said = (f"{expected:.1%} expected from train's own repetition (1 − rows seen once / rows), "
              if expected else "")
      add("CROSS_SPLIT_DUPLICATES", "", split,
          f"≤ {allowed:.1%} of {split} rows also in train: "
          + (f"{expected:.1%} as train's own repetition predicts, plus {threshold:.0%} and {Z} "
             "standard errors" if expected else f"{threshold:.0%} (train repeats no row)"),
          f"{shared} of {n} {split} rows ({fraction:.1%}) are identical to train rows; " + said
          + f"{max(fraction - expected, 0.0):.1%} beyond it",
          "the evaluation would score memorised rows: de-duplicate before splitting, or split by "
          "an entity key so one entity never lands in both files.",
          measured=fraction, threshold=allowed,
          severity=None if fraction > allowed else "info")
