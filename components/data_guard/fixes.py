"""The fix a finding prints, by where DataGuard runs, so that it names only what exists there.

Why by context: the same finding needs a different fix in each setting. Run by the `trainguard`
CLI, a fix may name its flags (`--label`, `--na-values`, `--eval-data`, `--rebalance`) and the
policy keys our Transform and Rebalance read (`features.X.missing_values`, `rebalance.strategy`).
From trainguard's `create_pipeline` called in Python there are no flags, but the policy keys still
hold. In a user's own pipeline (stock SchemaGen and Transform, their `preprocessing_fn`, our
Rebalance configured by its arguments) neither holds: "Transform imputes them" is a promise their
preprocessing_fn may not keep, and `rebalance.strategy` in policy.yaml is read by nobody. The
policy's severities (`findings.*`, `features.X.info`) are DataGuard's own and hold everywhere.

Also here: the fixes of TFDV's anomaly kinds, which `validation.py` attaches.
"""
import dataclasses
import re
from typing import List, Sequence


# Policy keys that trainguard's Transform applies (policy_format's per-feature keys); DataGuard
# itself reads them too (an excluded feature, or a value listed as missing, is not reported).
_TRANSFORM_KEY = re.compile(
    r"features\.[^\s:]+?\.(impute|scale|encode|exclude|missing_indicator|missing_values|"
    r"clip)\b")
_OWN_TRANSFORM_NOTE = (" (trainguard's own Transform applies that policy key; with your own "
                       "preprocessing_fn, do the same there: DataGuard then stops reporting it)")

CLI = "cli"                # the trainguard CLI: its flags and the policy keys
PIPELINE = "pipeline"      # trainguard's create_pipeline from Python: the policy keys, no flags
COMPONENTS = "components"  # a user's own pipeline with DataGuard (the component's default)
CONTEXTS = (CLI, PIPELINE, COMPONENTS)


def for_context(findings: Sequence, context: str) -> List:
  """`findings` whose fixes name a policy key only trainguard's Transform applies, marked so
  outside our pipeline (the findings of `preflight`, `tfdv`, `statistics` and `dataset` alike)."""
  if ours(context):
    return list(findings)
  return [dataclasses.replace(f, fix=f.fix.rstrip(".") + _OWN_TRANSFORM_NOTE + ".")
          if _TRANSFORM_KEY.search(f.fix or "") and _OWN_TRANSFORM_NOTE not in f.fix else f
          for f in findings]


def check(context: str) -> str:
  if context not in CONTEXTS:
    raise ValueError(f"fix_context={context!r}: expected one of {', '.join(CONTEXTS)}.")
  return context


def ours(context: str) -> bool:
  """True where trainguard's Transform and Rebalance act on the policy file."""
  return context in (CLI, PIPELINE)


def label_key(context: str) -> str:
  return {CLI: "--label", PIPELINE: "create_pipeline's label_key"}.get(
      context, "DataGuard's label_key")


def imputation(context: str, done_by_ours: str) -> str:
  """What happens to missing values: `done_by_ours` where our Transform runs, else what the
  user's preprocessing_fn must do (TFX's stock examples fill them before scaling)."""
  if ours(context):
    return done_by_ours
  return ("your preprocessing_fn must fill them before scaling or a vocabulary (e.g. "
          "tft.sparse_tensor_to_dense_with_shape with a default, or the train mean from tft.mean); "
          "trainguard's own pipeline imputes them as policy.yaml says")


def rebalance(context: str, policy_text: str) -> str:
  """The imbalance fix: `policy_text` in our pipeline; elsewhere Rebalance's own arguments."""
  if ours(context):
    return policy_text
  return ("add trainguard's Rebalance after Transform (Rebalance(strategy='auto', ...): its "
          "arguments decide; policy.yaml's rebalance section is read only by trainguard's own "
          "pipeline), or weight the classes in your Trainer, so every class weighs the same in "
          "training; eval keeps the real mix.")


def missing_values(context: str, name: str, settings: dict) -> str:
  """MISSING_VALUES: what fills them. `settings`: {setting: (value, policy key)} of the feature's
  treatment (an excluded feature is not in the model, so nothing imputes it)."""
  if "exclude" in settings:
    return (f"none needed: {name} is excluded from the model ({settings['exclude'][1]} in "
            "policy.yaml), so Transform does not impute it.")
  return imputation(context, f"Transform imputes them ({settings['impute'][0]}, learned from the "
                             "train split)") + "."


def nan_values(context: str) -> str:
  return ("NaN counts as missing and " + imputation(context, "Transform imputes it")
          + "; fix the producer if NaN is not expected.")


_SHIFT_FIX = ("compare how this feature is produced for training and for serving (or since the "
              "previous span); retrain on recent data if the shift is real, and raise its "
              "threshold in the policy only if expected.")
_FIXES = {
    "UNEXPECTED_DATA_TYPE": "clean the offending values at the source (a numeric column with text "
                            "in it is read as text); if the new type is right, change the type in "
                            "the schema.",
    "SCHEMA_MISSING_COLUMN": "add the column back to the data, or remove the feature from the "
                             "schema if it was dropped on purpose.",
    "COMPARATOR_L_INFTY_HIGH": _SHIFT_FIX,
    "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH": _SHIFT_FIX,
}
_LABEL_FIXES = {
    "ENUM_TYPE_UNEXPECTED_STRING_VALUES": "the label has classes the schema does not list: fix the "
                                          "data, or add the class to the label's domain in the "
                                          "schema (a new class needs a retrained model).",
    "FEATURE_TYPE_LOW_FRACTION_PRESENT": "rows without a label cannot train: drop them or fill the "
                                         "label at the source.",
    "FEATURE_TYPE_LOW_NUMBER_VALUES": "rows without a label cannot train: drop them or fill the "
                                      "label at the source.",
    "INVALID_FEATURE_SHAPE": "the schema gives the label a fixed shape, which a row without one "
                             "breaks (Transform cannot parse it): fill the label at the source, or "
                             "remove shape from the label's entry in the schema so those rows are "
                             "dropped (LABEL_MISSING_ROWS_DROPPED).",
}


def anomaly(kind: str, feature: str, is_label: bool, split: str, context: str) -> str:
  """The fix of one of TFDV's anomaly kinds."""
  if is_label and kind == "SCHEMA_MISSING_COLUMN":
    if split.startswith("serving"):
      return ("the label is absent at serving, as it should be: declare it in the schema's "
              "environments (default_environment: TRAINING and SERVING; not_in_environment: "
              "SERVING on the label), or pass serving statistics without it.")
    return (f"the label column is missing: check {label_key(context)} (names are "
            "case-sensitive) and the data's header.")
  if is_label and kind in _LABEL_FIXES:
    return _LABEL_FIXES[kind]
  if kind == "ENUM_TYPE_UNEXPECTED_STRING_VALUES":
    return (("Transform maps unseen categories to the out-of-vocabulary id" if ours(context) else
             "a vocabulary maps unseen categories to its out-of-vocabulary id (if your "
             "preprocessing_fn gives it num_oov_buckets)")
            + "; add them to the feature's domain in the schema if they are valid.")
  if kind == "FEATURE_TYPE_LOW_FRACTION_PRESENT":
    return (imputation(context, "Transform imputes the gaps") + "; lower presence.min_fraction "
            "in the schema if this rate is expected.")
  if kind.startswith(("STRING_TYPE_NOW_", "INT_TYPE_", "FLOAT_TYPE_", "BOOL_TYPE_")):
    return _FIXES["UNEXPECTED_DATA_TYPE"]
  return _FIXES.get(kind, f"review {feature or 'the data'} against the schema.")


def label_transform(context: str) -> str:
  """A positive regression label's log transform: the policy key where our Transform and Trainer
  read it; elsewhere what the user's preprocessing_fn and serving must do."""
  if ours(context):
    return ("set regression.label_transform: log in policy.yaml (log1p in Transform, expm1 in the "
            "serving signature, so the model still answers in the label's units)")
  return ("fit log1p of the label in your preprocessing_fn and invert it with expm1 where you "
          "serve (trainguard's own pipeline does both for regression.label_transform: log)")


def robust_loss(context: str) -> str:
  """A loss that a few far label values do not dominate."""
  if ours(context):
    return "set regression.loss: huber in policy.yaml (squared error near the bulk, linear beyond)"
  return ("train with a Huber loss in your Trainer (trainguard's own pipeline does for "
          "regression.loss: huber)")


def split_source(context: str, split: str) -> str:
  """Where a split's rows come from, for a finding that the split differs from train."""
  if context == CLI:
    return (f"check how the {split} rows were drawn (a random hash split of one file, or the "
            "file you passed as --eval-data)")
  return (f"check how the {split} rows were drawn (ExampleGen's hash split, or the files its "
          "input_config names for that split)")
