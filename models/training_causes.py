"""Which data findings can cause a training symptom: the join between the training diagnosis and
DataGuard's findings, so a reader who sees EXPLODING_GRADIENTS is pointed at the unscaled or
outlying feature DataGuard already named, and one who sees NOT_LEARNING at the conflicting labels.

The Trainer does not see DataGuard's findings (stock TFX's Trainer takes no such input), so the
join is made where both are read: the run report and `trainguard run`'s output. A rule lives here
once; each training kind lists the data kinds that, by how training works, produce it:

- non-finite loss, exploding gradients, oscillation: inputs or a numeric label far outside the bulk
  (scale disparity left unscaled, outliers, sentinels like -999, infinities);
- vanishing gradients and dead ReLUs: inputs on very different scales;
- not learning or a plateau: a label no feature predicts (identical rows with different labels,
  one class spelt several ways, constant columns);
- majority collapse: the class imbalance itself;
- overfitting: what lets a network memorise rows (identifiers, near-unique categories, duplicates);
- a gradient-boosted baseline far ahead: what trees cope with and a network does not (outliers,
  unscaled or skewed values, high-cardinality categories).
TensorFlow-free.
"""
from typing import Dict, Iterable, List, Sequence, Tuple

CAUSES: Dict[str, Tuple[str, ...]] = {
    "LOSS_NOT_FINITE": ("INFINITE_VALUES", "NAN_VALUES", "SCALE_DISPARITY", "OUTLIERS",
                        "DISGUISED_MISSING_VALUES", "LABEL_OUTLIERS"),
    "EXPLODING_GRADIENTS": ("SCALE_DISPARITY", "OUTLIERS", "DISGUISED_MISSING_VALUES",
                            "LABEL_OUTLIERS", "SKEWED_LABEL"),
    "OSCILLATING_LOSS": ("OUTLIERS", "SCALE_DISPARITY", "LABEL_OUTLIERS"),
    "VANISHING_GRADIENTS": ("SCALE_DISPARITY",),
    "DEAD_UNITS": ("SCALE_DISPARITY", "OUTLIERS"),
    "NOT_LEARNING": ("CONFLICTING_LABELS", "CATEGORY_VARIANTS", "LABEL_MISSING_ROWS_DROPPED",
                     "CONSTANT_COLUMN", "NEAR_CONSTANT_COLUMN", "DISGUISED_MISSING_VALUES"),
    "PLATEAU": ("SCALE_DISPARITY", "CONFLICTING_LABELS", "OUTLIERS"),
    "MAJORITY_COLLAPSE": ("CLASS_IMBALANCE", "CONFLICTING_LABELS"),
    "OVERFITTING": ("ID_LIKE_COLUMN", "HIGH_CARDINALITY_CATEGORICAL", "DUPLICATE_ROWS",
                    "CROSS_SPLIT_DUPLICATES"),
    "BASELINE_GAP": ("OUTLIERS", "SCALE_DISPARITY", "SKEWED_LABEL", "HIGH_CARDINALITY_CATEGORICAL"),
}
SHOWN = 3  # related data findings listed per training finding, the most telling first
_SEVERITY = {"block": 0, "warn": 1, "info": 2}


def related(training_finding, data_findings: Iterable) -> List:
  """The data findings that can cause `training_finding`, at most `SHOWN`: on the feature it names
  first, then by the order of `CAUSES`, then by severity; the train split's (what the model
  trained on) where a kind and feature appear in several splits."""
  kinds: Sequence[str] = CAUSES.get(training_finding.kind, ())
  found = [f for f in data_findings if f.kind in kinds]
  feature = getattr(training_finding, "feature", "")
  found.sort(key=lambda f: (not (feature and f.feature == feature), kinds.index(f.kind),
                            _SEVERITY.get(f.severity, 3), f.feature, f.split != "train",
                            f.split))
  seen, out = set(), []
  for finding in found:  # one line per kind and feature, not one per split
    if (finding.kind, finding.feature) not in seen:
      seen.add((finding.kind, finding.feature))
      out.append(finding)
  return out[:SHOWN]
