"""The built-in policy: what DataGuard does with each finding kind by default, the thresholds, the
treatments and rebalancing strategies a policy file may name, and `defaults()` (the policy a run
gets without a policy.yaml). Values only; what a policy file may say and how it is checked is
`policy_format.py`, what components ask is `policy.Policy`. TensorFlow-free.
"""
from typing import Any, Dict


POLICY_FILE = "policy.yaml"

DEFAULT_BLOCK = (
    "UNEXPECTED_DATA_TYPE",
    "INT_TYPE_NOT_INT_STRING",
    "FLOAT_TYPE_NOT_FLOAT",
    "FLOAT_TYPE_STRING_NOT_FLOAT",
    "STRING_TYPE_NOW_*",
    "BOOL_TYPE_*",
    "SCHEMA_MISSING_COLUMN",
    "COMPARATOR_L_INFTY_HIGH",
    "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH",
    # A numeric feature's mean or spread moved (components/data_guard/drift_findings.py).
    "NUMERIC_DRIFT",
    "NUMERIC_SKEW",
    "NUMERIC_COLUMN_WITH_TEXT",
    "INFINITE_VALUES",
    "CROSS_SPLIT_DUPLICATES",
    "LABEL_LEAKAGE",
    # Training diagnosis (models/training_diagnosis.py): a model that did not learn is not blessed.
    "LOSS_NOT_FINITE",
    "NOT_LEARNING",
    "MAJORITY_COLLAPSE",
)
DEFAULT_WARN = (
    "FEATURE_TYPE_LOW_FRACTION_PRESENT",
    "FEATURE_TYPE_LOW_NUMBER_PRESENT",
    "FEATURE_TYPE_LOW_NUMBER_VALUES",
    "FLOAT_TYPE_HAS_NAN",
    "NAN_VALUES",
    "ENUM_TYPE_UNEXPECTED_STRING_VALUES",
    "ALL_VALUES_MISSING",
    "LABEL_MISSING_ROWS_DROPPED",
    "DUPLICATE_ROWS",
    "CLASS_IMBALANCE",
    "ID_LIKE_COLUMN",
    "CONSTANT_COLUMN",
    # Training diagnosis.
    "EXPLODING_GRADIENTS",
    "VANISHING_GRADIENTS",
    "DEAD_UNITS",
    "OVERFITTING",
    "OSCILLATING_LOSS",
    "BASELINE_GAP",
    # Real-world defects (issue 21).
    "MIXED_NUMBER_TEXT",
    "HIGH_CARDINALITY_CATEGORICAL",
    "DATETIME_COLUMN",
    "CATEGORY_VARIANTS",
    "DISGUISED_MISSING_VALUES",
    "CONFLICTING_LABELS",
    "OUTLIERS",
    # A regression label (issue 22; components/data_guard/label_findings.py).
    "LABEL_OUTLIERS",
    "LABEL_DRIFT",
)
DEFAULT_INFO = (
    "MISSING_VALUES",
    "SCALE_DISPARITY",
    # Training diagnosis.
    "PLATEAU",
    # Real-world defects (issue 21).
    "NEAR_CONSTANT_COLUMN",
    # A regression label (issue 22): a suggestion, the label trains as it is.
    "SKEWED_LABEL",
    # Issue 21: an out-of-fold model's contradiction may be a hard case, not an error.
    "LIKELY_LABEL_ERRORS",
)
# A policy's lists extend these (policy_kinds.merge) unless it says `findings.replace: true`.
DEFAULT_LISTS = {"block": DEFAULT_BLOCK, "warn": DEFAULT_WARN, "info": DEFAULT_INFO}

# Dataset checks (components/data_guard/dataset_checks.py): where each starts to count.
DATASET_THRESHOLDS = {
    # eval rows identical to train rows, as a fraction of eval, beyond what train's own repetition
    # predicts for eval's size (repetition.py)
    "cross_split_fraction": 0.01,
    # a split's rows with a twin in it beyond what another split's repetition predicts (below: a
    # note); DUPLICATE_ROWS
    "duplicate_excess": 0.01,
    "leakage_balanced_accuracy": 0.98,  # one feature predicting the label this well leaks it
    "leakage_nmi": 0.98,                # ... or sharing this much normalized mutual information
    # ... or a numeric feature ordering every pair of classes this well (rank_leakage.py; best
    # honest feature: iris 0.982, breast cancer 0.975)
    "leakage_auc": 0.995,
    "imbalance_ratio": 1.5,             # majority / minority rows in train
    "scale_ratio": 100.0,               # largest / smallest std of numeric features
    "id_like_fraction": 0.95,           # distinct values / rows with a value
    # Real-world defects (issue 21; components/data_guard/value_findings.py, from the statistics).
    "near_constant_fraction": 0.99,     # rows holding a feature's top value / rows with a value
    "near_constant_other_rows": 10,     # ... while fewer than this many rows hold another value
    "high_cardinality_fraction": 0.5,   # distinct values / rows of a text feature (below id-like)
    "datetime_fraction": 0.9,           # recorded rows of a text feature that parse as dates/times
    # Labelled train rows in groups of identical features with different labels (the dataset pass);
    # below it, or with fewer than 3 such groups, a note: an isolated pair is no property of the
    # data (iris, wine, breast cancer, digits, penguins: none).
    "conflicting_label_fraction": 0.01,
    # LIKELY_LABEL_ERRORS: sampled train rows an out-of-fold model confidently contradicts, from
    # which the kind has its policy severity (below: a note); see label_errors.py for the measures
    "label_error_fraction": 0.05,
    # OUTLIERS: a min/max this many IQRs beyond the quartiles (real long tails reach 31: digits).
    "outlier_iqr_multiple": 50.0,
    # DISGUISED_MISSING_VALUES (numbers): a min/max in ≥ 3 rows, this many ranges of the rest away.
    "sentinel_gap_ratio": 1.0,
    # A regression label (components/data_guard/label_findings.py, from the statistics).
    "label_skew": 0.4,           # SKEWED_LABEL: Kelly's decile skewness (diabetes: 0.21-0.24)
    "label_drift_shift": 0.5,    # LABEL_DRIFT: |split mean − train mean| / train std
    "label_drift_std_ratio": 1.3,  # ... or split std / train std (or its inverse), label_findings.py
    # NUMERIC_DRIFT / NUMERIC_SKEW by spread: std / the reference's std, or its inverse (a ×1.3
    # scale measures as little as 1.24 on 2,000 rows; components/data_guard/drift_findings.py)
    "shift_std_ratio": 1.2,
}

# Training diagnosis (models/training_diagnosis.py): where each training finding starts. Set on
# healthy runs (penguins, scikit-learn's bundled data) and planted failures; the docs state how.
TRAINING_THRESHOLDS = {
    "exploding_gradient_norm": 1000.0,  # global gradient norm on the fixed probe batches
    "vanishing_gradient_ratio": 1e-4,   # input-side layer's gradient norm / output layer's
    "dead_unit_fraction": 0.6,          # ReLU units of one layer that never fire on the probe
    "not_learning_margin": 0.02,        # best validation loss must beat the class-prior loss by this
    "collapse_fraction": 0.95,          # validation rows predicted as one class
    "plateau_improvement": 0.01,        # training loss must fall by this share over the run
    "oscillation_fraction": 0.4,        # share of epochs whose training loss rose
    "overfitting_ratio": 1.25,          # final / best validation loss, while training loss falls
    "baseline_gap_f1": 0.05,            # gradient-boosted trees' validation macro F1 above the net's
}

IMPUTATIONS = ("mean", "median", "most_frequent", "none")  # plus "constant:<value>"
SCALINGS = ("z_score", "min_max", "none")  # plus "bucketize:<n>"
ENCODINGS = ("vocabulary",)
STRATEGIES = ("auto", "smote", "smotenc", "borderline_smote", "adasyn", "random_over",
              "random_under", "none")
# The strategies that synthesise rows from k nearest neighbours (each needs k + 1 rows a class).
SYNTHESIZING_STRATEGIES = ("smote", "smotenc", "borderline_smote", "adasyn")
# imbalanced-learn's names for which classes to resample (`rebalance.sampling_strategy`); Rebalance
# decodes its parameter against the same list.
SAMPLING_STRATEGY_NAMES = ("auto", "minority", "majority", "not minority", "not majority", "all")
# ID-like needs this many rows with a value: in a handful of rows most columns are all-distinct.
ID_LIKE_MIN_ROWS = 20
NUMERIC = "numeric"
CATEGORICAL = "categorical"
NUMERIC_ONLY_IMPUTATIONS = ("mean", "median")

LABEL_TRANSFORMS = ("none", "log")  # log: log1p in Transform, expm1 at serving
REGRESSION_LOSSES = ("mse", "huber")


# What a feature gets when neither its entry nor `preprocessing.<kind>` names a setting.
BUILTIN_TREATMENT = {NUMERIC: {"impute": "mean", "scale": "z_score"},
                      CATEGORICAL: {"impute": "most_frequent", "encode": "vocabulary"}}


def defaults() -> Dict[str, Any]:
  return {
      "version": 1,
      "findings": {
          "block": list(DEFAULT_BLOCK),
          "warn": list(DEFAULT_WARN),
          "info": list(DEFAULT_INFO),
          "default": "warn",
          "label": "block",
      },
      "thresholds": {
          # categorical: L-infinity of the shares (a 20-point move is 0.2); numeric: the mean's
          # move in the reference's std (drift_findings.py: calibrated to find 0.5)
          "skew": {"categorical": 0.15, "numeric": 0.4},
          "drift": {"categorical": 0.15, "numeric": 0.4},
          "dataset": dict(DATASET_THRESHOLDS),
          "training": dict(TRAINING_THRESHOLDS),
      },
      "preprocessing": {
          NUMERIC: dict(BUILTIN_TREATMENT[NUMERIC]),
          CATEGORICAL: dict(BUILTIN_TREATMENT[CATEGORICAL]),
          "missing_indicators": False,
      },
      "features": {},
      "rebalance": {"strategy": "auto", "sampling_strategy": "auto", "k_neighbors": 5},
      # min_r2: the eval R² a regression needs to be blessed (0 = no better than predicting the
      # eval mean; 0.05 = its squared error at most 95% of that baseline's).
      "regression": {"label_transform": "none", "loss": "mse", "min_r2": 0.05},
      # map: spellings of a class → the class (`label.map`), applied in the Transform graph.
      "label": {"map": {}},
  }
