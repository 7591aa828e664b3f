"""schema_review.propose on generated data (one TFDV computation shared by the module)."""
import csv
import errno
import json
import os
import shutil

import numpy as np
import pytest
from tensorflow_metadata.proto.v0 import schema_pb2

from trainguard import schema_review
from trainguard.errors import WriteError
from trainguard.schema_review.diff_test import BASE, _folder

CURATED = BASE + """
feature {
  name: "served" type: INT value_count { max: 1 } presence { min_fraction: 1.0 min_count: 1 }
  not_in_environment: "TRAINING"
}
feature {
  name: "code" type: INT value_count { max: 1 } presence { min_fraction: 1.0 min_count: 1 }
}
"""
CURATED_POLICY = """# Shop policy: reviewed with schema.pbtxt.
version: 1
features:
  # counts are skewed
  count: {impute: median}
rebalance:
  strategy: auto
"""
ROWS = 120


def _write_new_data(path):
  """New data (seed 7): color gains "purple", a new column "weight", "size" is missing in ~30% of
  rows, and "code" holds text where the schema says INT."""
  rng = np.random.default_rng(7)
  missing = 0
  with open(path, "w", newline="", encoding="utf-8") as f:
    writer = csv.writer(f)
    writer.writerow(["label", "color", "size", "count", "code", "weight"])
    for _ in range(ROWS):
      gone = rng.random() < 0.3
      missing += gone
      writer.writerow([rng.choice(["a", "b"]), rng.choice(["blue", "green", "red", "purple"]),
                       "" if gone else f"{rng.normal(1.5, 0.3):.3f}",
                       int(rng.integers(0, 50)), f"x{rng.integers(0, 3)}",
                       f"{rng.normal(70, 10):.2f}"])
  return (ROWS - missing) / ROWS


@pytest.fixture(scope="module")
def proposed(tmp_path_factory):
  root = tmp_path_factory.mktemp("propose")
  folder = _folder(root, "shop", "# Curated shop schema.\n" + CURATED, CURATED_POLICY)
  data = os.path.join(str(root), "new.csv")
  present = _write_new_data(data)
  with open(os.path.join(folder, "schema.pbtxt"), encoding="utf-8") as f:
    curated_text = f.read()
  proposal = schema_review.propose(folder, data)
  return {"root": str(root), "folder": folder, "data": data, "present": present,
          "proposal": proposal, "curated_text": curated_text,
          "out": os.path.join(folder, "proposed")}


def _features(schema):
  return {f.name: f for f in schema.feature}


def test_propose_writes_the_proposal_and_keeps_the_curated_schema(proposed):
  out = proposed["out"]
  assert sorted(os.listdir(out)) == ["REVIEW.md", "anomalies.json", "policy.yaml", "schema.pbtxt"]
  with open(os.path.join(proposed["folder"], "schema.pbtxt"), encoding="utf-8") as f:
    assert f.read() == proposed["curated_text"]
  with open(os.path.join(proposed["folder"], "policy.yaml"), encoding="utf-8") as f:
    assert f.read() == CURATED_POLICY
  written = schema_review.read_schema(os.path.join(out, "schema.pbtxt"))
  assert written == proposed["proposal"].schema
  with open(os.path.join(out, "schema.pbtxt"), encoding="utf-8") as f:
    assert f.readline() == "# Curated shop schema.\n"


def test_propose_new_category_new_column_and_lower_presence(proposed):
  features = _features(proposed["proposal"].schema)
  domains = {d.name: list(d.value) for d in proposed["proposal"].schema.string_domain}
  assert domains["color"] == ["blue", "green", "red", "purple"]
  assert features["weight"].type == schema_pb2.FLOAT
  assert features["size"].presence.min_fraction == pytest.approx(proposed["present"])
  assert proposed["present"] < 0.9


def test_propose_guards_update_schema(proposed):
  features = _features(proposed["proposal"].schema)
  curated = _features(schema_review.read_schema(os.path.join(proposed["folder"], "schema.pbtxt")))
  # A serving-only feature is not in training data: left as curated (update_schema deprecates it).
  assert features["served"] == curated["served"]
  # A type mismatch is not silenced by deprecation: left as curated, named as a decision.
  assert features["code"] == curated["code"]
  assert any(line.startswith("`code`: UNEXPECTED_DATA_TYPE stays open.")
             for line in proposed["proposal"].needs_decision)


def test_propose_note_names_the_anomalies_behind_each_change(proposed):
  with open(os.path.join(proposed["out"], "anomalies.json"), encoding="utf-8") as f:
    payload = json.load(f)
  by_feature = {(a["feature"], a["kind"]): a for a in payload["anomalies"]}
  assert set(by_feature) == {
      ("color", "ENUM_TYPE_UNEXPECTED_STRING_VALUES"), ("weight", "SCHEMA_NEW_COLUMN"),
      ("size", "FEATURE_TYPE_LOW_FRACTION_PRESENT"), ("code", "UNEXPECTED_DATA_TYPE")}
  assert by_feature[("color", "ENUM_TYPE_UNEXPECTED_STRING_VALUES")]["changes"] == [
      'domain: added "purple"']
  assert by_feature[("code", "UNEXPECTED_DATA_TYPE")]["resolved"] is False
  assert by_feature[("code", "UNEXPECTED_DATA_TYPE")]["severity"] == "block"
  assert all(a["resolved"] for k, a in by_feature.items() if k[0] != "code")
  assert payload["policy_entries"] == {"weight": {"impute": "mean", "scale": "z_score"}}

  with open(os.path.join(proposed["out"], "REVIEW.md"), encoding="utf-8") as f:
    review = f.read()
  color = review.split("#### `color` (BYTES)\n\n", 1)[1].split("\n####", 1)[0].splitlines()
  assert color[:2] == ["Anomalies in the new data:", ""]
  assert color[2].startswith("- ENUM_TYPE_UNEXPECTED_STRING_VALUES (policy: warn, findings.warn): "
                             "Examples contain values missing from the schema: purple")
  assert color[2].endswith(" — resolved by the proposal")
  assert color[3:] == ["", "Proposed changes:", "", '- domain: added "purple"',
                       '  - allows ENUM_TYPE_UNEXPECTED_STRING_VALUES for "purple" '
                       "(policy: warn, findings.warn)"]
  assert "- SCHEMA_NEW_COLUMN (policy: warn, findings.default): New column" in review
  assert "FEATURE_TYPE_LOW_FRACTION_PRESENT (policy: warn, findings.warn)" in review


def test_propose_adds_policy_entries_for_new_features_keeping_comments(proposed):
  with open(os.path.join(proposed["out"], "policy.yaml"), encoding="utf-8") as f:
    text = f.read()
  assert text == CURATED_POLICY.replace(
      "  count: {impute: median}\n",
      "  count: {impute: median}\n  weight: {impute: mean, scale: z_score}  # new in new.csv: "
      "review (trainguard schema propose)\n")
  # The proposal is a valid schema folder, and its review is the same diff the CLI prints.
  assert schema_review.check(os.path.dirname(proposed["folder"])) == []
  assert "### `weight` (FLOAT, added)" in schema_review.diff(proposed["folder"], proposed["out"])


def test_propose_from_statistics_gen_output(proposed, tmp_path):
  artifact = tmp_path / "StatisticsGen" / "statistics" / "7"
  (artifact / "Split-train").mkdir(parents=True)
  (artifact / "Split-train" / "FeatureStats.pb").write_bytes(
      proposed["proposal"].statistics.SerializeToString())
  result = schema_review.propose(proposed["folder"], str(artifact), out=str(tmp_path / "out"))
  assert result.schema == proposed["proposal"].schema
  with pytest.raises(schema_review.ReviewError, match=r"no Split-eval/FeatureStats.pb in it "
                     r"\(splits: train\)"):
    schema_review.propose(proposed["folder"], str(artifact), split="eval",
                          out=str(tmp_path / "out"))


def test_propose_write_updates_the_curated_folder_in_place(proposed, tmp_path):
  folder = str(tmp_path / "shop")
  shutil.copytree(proposed["folder"], folder, ignore=shutil.ignore_patterns("proposed"))
  artifact = tmp_path / "stats.pb"
  artifact.write_bytes(proposed["proposal"].statistics.SerializeToString())
  result = schema_review.propose(folder, str(artifact), write=True)
  assert sorted(os.listdir(folder)) == ["policy.yaml", "schema.pbtxt"]
  assert schema_review.read_schema(os.path.join(folder, "schema.pbtxt")) == result.schema
  assert "weight: {impute: mean, scale: z_score}" in (tmp_path / "shop" / "policy.yaml").read_text()
  assert "updated in place (--write)" in result.review


def test_propose_write_on_a_full_disk_leaves_the_curated_schema_intact(proposed, tmp_path,
                                                                       monkeypatch):
  folder = str(tmp_path / "shop")
  shutil.copytree(proposed["folder"], folder, ignore=shutil.ignore_patterns("proposed"))
  artifact = tmp_path / "stats.pb"
  artifact.write_bytes(proposed["proposal"].statistics.SerializeToString())
  schema_path = os.path.join(folder, "schema.pbtxt")
  with open(schema_path, encoding="utf-8") as f:
    curated = f.read()
  replace = os.replace

  def full_disk(src, dst):
    if dst == schema_path:
      raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    replace(src, dst)

  monkeypatch.setattr(os, "replace", full_disk)
  with pytest.raises(WriteError, match=f"^{schema_path}: cannot write it"):
    schema_review.propose(folder, str(artifact), write=True)
  with open(schema_path, encoding="utf-8") as f:
    assert f.read() == curated
  assert sorted(os.listdir(folder)) == ["policy.yaml", "schema.pbtxt"]  # no temporary file left
