"""Schema review: propose schema updates from new data, show schema changes as a readable diff, and
check every curated schema folder.

Curated schemas (`schemas/<name>/schema.pbtxt` + `policy.yaml`) change by pull request. A raw
protobuf text diff hides what matters (a reordered domain looks like a change, a lowered
`min_fraction` looks like noise) and says nothing about which anomalies a change silences. Here:

- `propose`: statistics of new data (a CSV, or a pipeline run's StatisticsGen output), validated
  against the curated schema in the TRAINING environment; `tfdv.update_schema` writes the proposed
  schema, new features get a `policy.yaml` entry, and a note names the anomalies behind each change.
  Two guards on `update_schema`, which knows no environments: features not expected in TRAINING
  data are left as curated, and so is a feature it would deprecate because of a type mismatch, with
  the anomaly open (deprecating silences every check on the feature; the fix is a decision).
- `diff`: per feature, what changed, which anomaly kinds TFDV would now raise ("blocks") or no
  longer raise ("allows"), with the policy's severity for each, and the policy entries affected.
  Pure proto/dict comparison: no TensorFlow, any schema size.
- `check`: every schema folder under a root parses, its policy validates against it, the label is
  identifiable and has classes, and environments are consistent.

Modules: `side` (a schema and its policy, what a feature means there), `flatten` (protos and
policies as comparable leaves, and their text), `diff` and `diff_policy` (the schema and the policy
halves of a review), `review` (the review and its markdown), `check`, `propose` (with
`policy_yaml`, the comment-keeping policy.yaml edit). Importing the package imports no TensorFlow:
TFDV and Beam are imported inside `propose`'s functions.

CLI: `trainguard schema propose|diff|check` (`trainguard/cli.py`). Docs: docs/schema-review.md.
"""
from trainguard.errors import ReviewError
from trainguard.policy import POLICY_FILE
from trainguard.schema_folder import SCHEMA_FILE, SERVING, TRAINING, label_features
from trainguard.schema_review.check import check, check_folder, schema_folders
from trainguard.schema_review.diff import compare, diff, review_sides
from trainguard.schema_review.propose import (ANOMALIES_FILE, PROPOSED_DIR, REVIEW_FILE,
                                              Proposal, propose)
from trainguard.schema_review.review import NO_CHANGES, Review, render
from trainguard.schema_review.side import ReviewSide, expected_environments, read_schema

__all__ = [
    "ANOMALIES_FILE", "NO_CHANGES", "POLICY_FILE", "PROPOSED_DIR", "REVIEW_FILE", "SCHEMA_FILE",
    "SERVING", "TRAINING", "Proposal", "Review", "ReviewError", "ReviewSide", "check",
    "check_folder", "compare", "diff", "expected_environments", "label_features", "propose",
    "read_schema", "render", "review_sides", "schema_folders",
]
