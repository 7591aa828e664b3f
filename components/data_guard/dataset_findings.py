"""DataGuard's dataset findings: the Beam pass's counts and the statistics, judged by the policy.

Why apart from the pass (`dataset_checks.py`) and from TFDV's validation (`validation.py`): the
pass measures, this module judges, and the two halves of `validation.py` judged different inputs.
Nothing here imports Beam or TensorFlow, so schema review can read `distinct_counts` cheaply;
scikit-learn and scipy are imported by the one function that scores label leakage.

- Label leakage: from the train split's per-(feature value, label) counts, the predictor "most
  frequent label of this value" is scored by balanced accuracy, and the feature/label association
  by normalized mutual information (arithmetic normalization, as scikit-learn's default). A feature
  leaks when either score reaches its threshold (0.98 by default): genuinely strong features stay
  below (on scikit-learn's breast cancer data the best real feature reaches a balanced accuracy of
  about 0.92). A numeric feature also leaks when it orders every pair of classes with an AUC of at
  least `leakage_auc` (0.995; `rank_leakage.py`, which the 10 bins cannot replace: a near-copy of
  a binary label scores a balanced accuracy under 0.98 there).
- Duplicates and cross-split rows: from the pass's counts, judged against what the data's own
  repetition predicts for a split of that size (`repetition.py`: coarse features make different
  rows alike, as in ISLP's Caravan data). Class imbalance: from the pass's label counts.
- Conflicting labels: train rows identical in every feature with different labels cap the
  accuracy any model can reach. Reported at the policy's severity (warn) when the rows in
  conflicting groups reach `conflicting_label_fraction` (0.01) of the labelled train rows **and**
  there are at least `CONFLICT_MIN_GROUPS` (3) such groups; otherwise as a note. Why both: one or
  two isolated pairs are a measurement coincidence or a typo to look at, not a property of the
  data, yet in a small train split (iris' is about 80 rows) a single pair is already 2.5% of it.
  None of penguins, iris, wine, breast cancer or digits has any (iris' two identical feature rows
  share their class).
- Likely label errors (classification): a sample of train rows from the pass, judged by an
  out-of-fold model (`label_errors.py`, confident learning; scikit-learn, imported when it runs).
- Scale disparity, ID-like and constant columns: from the train statistics.
- Near-constant, high-cardinality and date columns, category variants and disguised missing
  values: from the train statistics' recorded values (`value_findings.py`); outliers from the
  numeric statistics (`numeric_findings.py`).
"""
import math
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from trainguard.components.data_guard import (fixes, label_conflicts, numeric_findings,
                                              numeric_text, repetition, value_findings)
from trainguard.components.data_guard.findings import Finding
from trainguard.components.rebalance import plan
from trainguard.policy import Policy

CONFLICT_MIN_GROUPS = 3  # fewer conflicting groups than this: a note, whatever their share
Statistics = statistics_pb2.DatasetFeatureStatisticsList


def dataset_findings(result: dict, statistics: Mapping[str, Statistics],
                     schema: schema_pb2.Schema, policy: Policy, label_key: str,
                     regression: bool = False, context: str = fixes.CLI) -> List[Finding]:
  """Findings from the Beam pass (`dataset_checks.run_beam_pass`) and the statistics. For a
  `regression` label the pass counted its quantile bins: leakage is scored against them, and there
  are no classes to be imbalanced."""
  findings: List[Finding] = []

  def add(kind, feature, split, expected, found, fix, measured=None, threshold=None,
          severity=None):
    findings.append(Finding(
        kind=kind, feature=feature, split=split,
        severity=severity or policy.severity(kind, feature), expected=expected, found=found,
        fix=fix, source="dataset", measured=measured, threshold=threshold))

  if not regression:
    result = mapped_classes(result, policy)
  rows = {split: s.datasets[0].num_examples for split, s in statistics.items() if s.datasets}
  counts = result.get("rows", {})
  repetition.findings(add, policy, rows, counts, result.get("multiplicities", {}))

  accuracy_limit = policy.dataset_threshold("leakage_balanced_accuracy")
  nmi_limit = policy.dataset_threshold("leakage_nmi")
  for feature, (balanced, nmi) in sorted(label_leakage_scores(result.get("cells", [])).items()):
    if balanced >= accuracy_limit or nmi >= nmi_limit:
      add("LABEL_LEAKAGE", feature, "train",
          f"balanced accuracy < {accuracy_limit:g} and normalized mutual "
          f"information < {nmi_limit:g} for any single feature",
          f"{feature} alone predicts {label_key} with balanced accuracy {balanced:.3f} "
          f"(normalized mutual information {nmi:.3f})",
          "a feature this predictive is usually derived from the label or recorded after it: drop "
          f"it (features.{feature}.exclude: true in policy.yaml) unless it is truly available at "
          "prediction time.", measured=balanced, threshold=accuracy_limit)
  _rank_leakage(add, policy, result.get("ranks", []), {f.feature for f in findings}, label_key)

  labels = result.get("labels", {})
  if not regression:
    _conflicting_labels(add, policy, counts, result.get("conflicts", []), sum(labels.values()),
                        label_key)
    from trainguard.components.data_guard import label_errors  # pylint: disable=g-import-not-at-top
    label_errors.findings(add, policy, result.get("label_sample", []), label_key)
  if len(labels) >= 2 and not regression:
    majority, minority = max(labels.values()), min(labels.values())
    ratio = majority / max(minority, 1)
    imbalance_limit = policy.dataset_threshold("imbalance_ratio")
    if ratio >= imbalance_limit:
      smallest = min(labels, key=labels.get)
      add("CLASS_IMBALANCE", label_key, "train",
          f"majority/minority < {imbalance_limit:g}",
          f"{ratio:.1f}:1 (" + ", ".join(f"{k}: {v}" for k, v in sorted(labels.items()))
          + f"); minority class {smallest!r} has {minority} rows",
          fixes.rebalance(context, _rebalance_fix(policy, schema, label_key, labels, context)),
          measured=ratio,
          threshold=imbalance_limit)

  if "train" in statistics:
    spread = {f: s for f, (s, _) in numeric_spread(statistics["train"], schema, label_key).items()
              if s > 0 and not policy.is_excluded(f)}
    if len(spread) >= 2:
      widest, narrowest = max(spread, key=spread.get), min(spread, key=spread.get)
      ratio = spread[widest] / spread[narrowest]
      scale_limit = policy.dataset_threshold("scale_ratio")
      if ratio >= scale_limit:
        add("SCALE_DISPARITY", widest, "train",
            f"standard deviations within {scale_limit:g}× of each other",
            f"std of {widest} is {spread[widest]:.4g}, of {narrowest} {spread[narrowest]:.4g} "
            f"({ratio:.0f}×)",
            ("Transform scales numeric features (z-score by default), so they train on one "
             "scale; keep scaling on for these features in policy.yaml." if fixes.ours(context)
             else "scale numeric features in your preprocessing_fn (tft.scale_to_z_score), so "
             "they train on one scale."), measured=ratio,
            threshold=scale_limit, severity="info")

    id_like_limit = policy.dataset_threshold("id_like_fraction")
    for feature, (unique, present, std) in sorted(distinct_counts(statistics["train"]).items()):
      if feature == label_key or present == 0:
        continue
      note = ("it is excluded from the model (policy)" if policy.is_excluded(feature) else
              f"exclude it: features.{feature}.exclude: true in policy.yaml")
      if unique == 1:
        add("CONSTANT_COLUMN", feature, "train", "at least two distinct values",
            "a single value in every row" if math.isnan(std) else "zero variance",
            f"a constant carries no signal; {note}.", measured=1.0)
      elif unique and policy.is_id_like(unique, present):
        add("ID_LIKE_COLUMN", feature, "train",
            f"fewer than {id_like_limit:.0%} distinct values",
            f"{unique} distinct values in {present} rows", f"an identifier lets a model memorise "
            f"rows instead of learning; {note}.", measured=unique / present,
            threshold=id_like_limit)
    # A numeric column with stray text is one problem (NUMERIC_COLUMN_WITH_TEXT, from validation):
    # judged as text too, its numbers-as-strings would also read as a high-cardinality category
    # and its 'n/a' cells as disguised missing values — three findings for one fix.
    numeric_text_features = {f.feature for f in numeric_text.numeric_text_findings(
        statistics["train"], schema, policy, label_key, "train")}
    findings += value_findings.value_findings(statistics["train"], policy, label_key, context,
                                              skip=numeric_text_features)
    findings += numeric_findings.numeric_findings(statistics["train"], schema, policy, label_key,
                                                  result.get("extremes"))
  return findings


def mapped_classes(result: dict, policy: Policy) -> dict:
  """The pass's per-label counts ("labels", "cells", "ranks", "label_sample") with each label
  replaced by its class (`Policy.label_class`, the policy's `label.map`): the pass counts raw
  spellings, the model learns classes, so imbalance, leakage and label errors judge classes (a
  mapped `adelie` is not a tiny class of its own). Unchanged without a map. Not "conflicts": the
  pass hashes a label's class for them already (`label_conflicts`, given `Policy.label_class`)."""
  if not policy.label_map:
    return result
  out = dict(result)
  labels: Dict[str, int] = {}
  for label, n in result.get("labels", {}).items():
    cls = policy.label_class(label)
    labels[cls] = labels.get(cls, 0) + n
  out["labels"] = labels
  for key in ("cells", "ranks"):
    merged: Dict[Tuple, int] = {}
    for feature, value, label, n in result.get(key, []):
      cell = (feature, value, policy.label_class(label))
      merged[cell] = merged.get(cell, 0) + n
    out[key] = [[*cell, n] for cell, n in merged.items()]
  out["label_sample"] = [[policy.label_class(label), *rest]
                         for label, *rest in result.get("label_sample", [])]
  return out


def _rank_leakage(add, policy: Policy, ranks: List, flagged: set, label_key: str) -> None:
  """LABEL_LEAKAGE of a numeric feature that orders the label's classes (`rank_leakage.py`):
  what the 10-bin cells miss, a numeric near-copy or monotone proxy of the label."""
  from trainguard.components.data_guard import rank_leakage  # pylint: disable=g-import-not-at-top
  limit = policy.dataset_threshold("leakage_auc")
  for feature, (auc, (a, b)) in sorted(rank_leakage.scores(ranks).items()):
    if auc >= limit and feature not in flagged:
      add("LABEL_LEAKAGE", feature, "train", f"AUC < {limit:g} for every pair of {label_key}'s "
          "classes, for any single numeric feature",
          f"{feature} alone orders {label_key}'s classes: AUC {auc:.4f} for its least separated "
          f"pair ({a!r} vs {b!r}); any monotone function of it would predict {label_key}",
          "a feature this predictive is usually derived from the label or recorded after it: drop "
          f"it (features.{feature}.exclude: true in policy.yaml) unless it is truly available at "
          "prediction time.", measured=auc, threshold=limit)


def _conflicting_labels(add, policy: Policy, counts: Mapping[str, int], examples: List[dict],
                        labelled: int, label_key: str) -> None:
  rows = counts.get("conflicting_rows/train", 0)
  if not rows or not labelled:
    return
  groups = counts["conflicting_groups/train"]
  errors = counts.get("conflict_errors/train", 0)
  share = rows / labelled
  threshold = policy.dataset_threshold("conflicting_label_fraction")
  shown = "; ".join(label_conflicts.shown(e) for e in label_conflicts.to_show(examples))
  add("CONFLICTING_LABELS", label_key, "train",
      f"< {threshold:.0%} of rows, or fewer than {CONFLICT_MIN_GROUPS} groups, identical in every "
      "feature but labelled differently",
      f"{rows} of {labelled} rows ({share:.1%}) in {groups} group(s) of identical features with "
      f"different labels (e.g. {shown}); no model can get {errors} of them right (train accuracy "
      f"≤ {1 - errors / labelled:.1%})",
      f"check how {label_key} was recorded for these rows, or add the feature that tells them "
      f"apart; if the labels are truly uncertain, list CONFLICTING_LABELS under "
      f"features.{label_key}.info.",
      measured=share, threshold=threshold,
      severity=None if share >= threshold and groups >= CONFLICT_MIN_GROUPS else "info")


def _rebalance_fix(policy: Policy, schema: schema_pb2.Schema, label_key: str,
                   labels: Mapping[str, int], context: str = fixes.CLI) -> str:
  """What Rebalance will do about the imbalance: the strategy `plan.resolve_strategy` picks for
  these train class counts and features, as Rebalance picks it (this used to re-code `auto`, and
  named smotenc for only categorical features where Rebalance runs random_over)."""
  settings = policy.rebalance
  kept = [f for f in schema.feature if f.name != label_key and not policy.is_excluded(f.name)]
  has_numeric = any(f.type in (schema_pb2.INT, schema_pb2.FLOAT) for f in kept)
  has_categorical = any(f.type == schema_pb2.BYTES for f in kept)
  min_imbalance = policy.dataset_threshold("imbalance_ratio")
  strategy = plan.resolve_strategy(settings.strategy, labels, has_numeric, has_categorical,
                                   k_neighbors=settings.k_neighbors, min_imbalance=min_imbalance)
  weighs = "so every class weighs the same in training; eval keeps the real mix."
  if settings.strategy != "auto":
    if strategy == "none":
      return ("rebalancing is off (rebalance.strategy: none in policy.yaml); set it to auto"
              + (" (or run with --rebalance auto)" if context == fixes.CLI else "")
              + ", or set rebalance.class_weights: true, or the model will favour the majority "
              "class.")
    return (f"Rebalance resamples the train split with {strategy} (rebalance.strategy in "
            f"policy.yaml{', or --rebalance' if context == fixes.CLI else ''}) {weighs}")
  if strategy == "none":
    return (f"Rebalance leaves the train split as it is (rebalance.strategy: auto resamples from "
            f"{min_imbalance:g}:1, thresholds.dataset.imbalance_ratio); "
            + ("run with --rebalance to pick a strategy." if context == fixes.CLI else
               "set rebalance.strategy in policy.yaml to pick one."))
  if strategy == "random_over":
    smallest = min(labels, key=labels.get)
    k = settings.k_neighbors
    why = (f"class {smallest!r} has {labels[smallest]} rows, fewer than the {k + 1} SMOTE needs "
           f"with rebalance.k_neighbors: {k}" if labels[smallest] < k + 1 else
           "every feature is categorical, and SMOTE interpolates numeric ones")
    return (f"Rebalance repeats rows of the smaller classes with random_over (rebalance.strategy: "
            f"auto picks it because {why}) {weighs}")
  if strategy in ("smote", "smotenc"):
    kinds = "features all numeric" if strategy == "smote" else "numeric and categorical features"
    return (f"Rebalance synthesises rows of the smaller classes with {strategy} "
            f"(rebalance.strategy: auto, for {kinds}) {weighs}")
  return (f"Rebalance resamples the train split with {strategy} (rebalance.strategy: auto) "
          f"{weighs}")


# --- statistics readers (schema review reads `distinct_counts` too) ---------------------------

def label_leakage_scores(cells: Iterable[List]) -> Dict[str, Tuple[float, float]]:
  """Per feature: (balanced accuracy of its best single-value predictor, normalized MI)."""
  # pylint: disable=g-import-not-at-top
  import numpy as np
  from scipy import stats as scipy_stats
  from sklearn import metrics
  # pylint: enable=g-import-not-at-top
  tables: Dict[str, Dict[Tuple[str, str], int]] = {}
  for feature, value, label, n in cells:
    tables.setdefault(feature, {})[(value, label)] = n
  scores = {}
  for feature, table in tables.items():
    values = sorted({v for v, _ in table})
    labels = sorted({l for _, l in table})
    counts = np.array([[table.get((v, l), 0) for l in labels] for v in values], dtype=float)
    if len(labels) < 2 or counts.sum() == 0:
      continue
    predicted = counts.argmax(axis=1)
    y_true = [labels[j] for i in range(len(values)) for j in range(len(labels))]
    y_pred = [labels[predicted[i]] for i in range(len(values)) for _ in labels]
    balanced = metrics.balanced_accuracy_score(y_true, y_pred, sample_weight=counts.ravel())
    mi = metrics.mutual_info_score(None, None, contingency=counts)
    h_x = scipy_stats.entropy(counts.sum(axis=1))
    h_y = scipy_stats.entropy(counts.sum(axis=0))
    nmi = mi / ((h_x + h_y) / 2) if h_x + h_y > 0 else 0.0
    scores[feature] = (float(balanced), float(min(1.0, nmi)))
  return scores


def numeric_spread(statistics: statistics_pb2.DatasetFeatureStatisticsList,
                   schema: schema_pb2.Schema, label_key: str) -> Dict[str, Tuple[float, float]]:
  """Per numeric feature: (standard deviation, max |value|), from the statistics."""
  numeric = {f.name for f in schema.feature
             if f.type in (schema_pb2.INT, schema_pb2.FLOAT) and f.name != label_key}
  out = {}
  for feature in statistics.datasets[0].features:
    name = ".".join(feature.path.step)
    if name in numeric and feature.HasField("num_stats"):
      s = feature.num_stats
      out[name] = (float(s.std_dev), float(max(abs(s.min), abs(s.max))))
  return out


def distinct_counts(statistics: statistics_pb2.DatasetFeatureStatisticsList
                    ) -> Dict[str, Tuple[Optional[int], int, float]]:
  """Per feature: (distinct values if TFDV counted them, rows with a value, std dev if numeric)."""
  out = {}
  dataset = statistics.datasets[0]
  for feature in dataset.features:
    name = ".".join(feature.path.step)
    if feature.HasField("string_stats"):
      common = feature.string_stats.common_stats
      out[name] = (int(feature.string_stats.unique), int(common.tot_num_values), math.nan)
    elif feature.HasField("num_stats"):
      common = feature.num_stats.common_stats
      unique = None
      if feature.num_stats.std_dev == 0 and common.tot_num_values > 0:
        unique = 1
      out[name] = (unique, int(common.tot_num_values), float(feature.num_stats.std_dev))
  return out
