"""End to end: docs/adopting.md's example (the TFX penguin pipeline with DataGuard and Rebalance),
run as a user runs it: from the built wheel, outside the checkout, with stock SchemaGen.

One subprocess runs the example twice under LocalDagRunner (≤ 200 rows, a few training steps) and
compiles it for Kubeflow Pipelines 2: a clean file trains, is blessed and pushed; the same file with
a few `n/a` cells in a numeric column is blocked by DataGuard before Transform (stock CsvExampleGen
reads that column as text and SchemaGen infers a string feature, so without DataGuard Transform's
`tft.scale_to_z_score` fails on it). The results are read back from ML Metadata and the artifacts.
"""
import csv
import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from trainguard.kubeflow.conftest import wheel_build_lock
from trainguard.pipeline import results
from trainguard.pipeline.datasets import penguins_source_csv

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "docs", "examples", "penguin")
FEATURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
CLASSES = {"Adelie": 0, "Chinstrap": 1, "Gentoo": 2}
ROWS = 200

_DRIVER = """
import json, os, sys
from tfx import v1 as tfx
import trainguard
from penguin_pipeline import create_pipeline
out = {"trainguard": trainguard.__file__}
work = sys.argv[1]
for name, data in (("blocked", "data-planted"), ("clean", "data-clean")):
  root = os.path.join(work, name)
  tfx.orchestration.LocalDagRunner().run(create_pipeline(
      name, os.path.join(root, "pipelines", name), os.path.join(work, data),
      os.path.join(root, "serving_model", name),
      serving_data_root=os.path.join(work, "data-serving"), train_steps=30, min_accuracy=0.4,
      metadata_path=os.path.join(root, "metadata.sqlite")))
from penguin_pipeline import main
main(["--data-root", "gs://bucket/data", "--pipeline-root", "gs://bucket/penguin",
      "--kubeflow", os.path.join(work, "penguin.yaml"), "--image", "ghcr.io/example/penguin:1"])
print("DRIVER " + json.dumps(out))
"""


def _write(path, rows, header):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w", newline="", encoding="utf-8") as f:
    writer = csv.writer(f)
    writer.writerow(header)
    writer.writerows(rows)


def _penguins():
  """The TFX example's data: the four measurements and the class id, rows with no gap."""
  with open(penguins_source_csv(), encoding="utf-8") as f:
    rows = [r for r in csv.DictReader(f) if all(r[k] != "NA" for k in FEATURES)]
  return [[r[k] for k in FEATURES] + [CLASSES[r["species"]]] for r in rows]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
  """Builds and installs the wheel, writes the data, runs the driver outside the checkout."""
  dist = tmp_path_factory.mktemp("dist")
  with wheel_build_lock():
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-q", ROOT, "-w", str(dist)], capture_output=True, text=True, timeout=300)
  assert build.returncode == 0, build.stderr[-3000:]
  (wheel,) = dist.glob("trainguard-*.whl")
  site = tmp_path_factory.mktemp("site")
  install = subprocess.run(
      [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target",
       str(site), str(wheel)], capture_output=True, text=True, timeout=300)
  assert install.returncode == 0, install.stderr[-3000:]
  user = tmp_path_factory.mktemp("user")  # the user's project: the example's two files
  for name in ("penguin_pipeline.py", "penguin_utils.py"):
    shutil.copy(os.path.join(EXAMPLE, name), user / name)
  work = tmp_path_factory.mktemp("work")
  rows = _penguins()[::2][:ROWS]  # every other row: all three species, in file order
  header = FEATURES + ["species"]
  _write(str(work / "data-clean" / "data.csv"), rows, header)
  planted = [list(r) for r in rows]
  for i in (3, 40, 77, 120):
    planted[i][0] = "n/a"
  _write(str(work / "data-planted" / "data.csv"), planted, header)
  _write(str(work / "data-serving" / "data.csv"), [r[:4] for r in _penguins()[1::6]], FEATURES)
  (user / "driver.py").write_text(_DRIVER)
  env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(user)]))
  proc = subprocess.run([sys.executable, "driver.py", str(work)], cwd=str(user), env=env,
                        capture_output=True, text=True, timeout=1500)
  assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
  line = next(l for l in proc.stdout.splitlines() if l.startswith("DRIVER "))
  return {"work": str(work), "site": str(site), "log": proc.stderr,
          **json.loads(line[len("DRIVER "):])}


def _summary(run, name):
  return results.latest_run(results.RunPaths(os.path.join(run["work"], name), name))


def test_the_example_runs_from_the_installed_wheel(run):
  assert run["trainguard"].startswith(run["site"]), run["trainguard"]


def test_a_numeric_column_with_text_is_blocked_before_transform(run):
  summary = _summary(run, "blocked")
  assert {"CsvExampleGen", "StatisticsGen", "SchemaGen", "DataGuard"} <= set(summary.executions)
  assert not {"Transform", "Rebalance", "Trainer", "Evaluator", "Pusher"} & set(
      summary.executions)
  assert {e.state for e in summary.executions.values()} == {"COMPLETE"}
  assert summary.blocked and summary.pushed_model is None
  # The train split's text cells, and the serving sample's numbers where the inferred schema now
  # says BYTES: nothing else (the sample is drawn from the same rows, so no skew).
  assert {(f.kind, f.feature, f.split) for f in summary.findings.blocking} == {
      ("NUMERIC_COLUMN_WITH_TEXT", "bill_length_mm", "train"),
      ("UNEXPECTED_DATA_TYPE", "bill_length_mm", "serving-train"),
      ("UNEXPECTED_DATA_TYPE", "bill_length_mm", "serving-eval")}
  (finding,) = [f for f in summary.findings.blocking if f.kind == "NUMERIC_COLUMN_WITH_TEXT"]
  assert re.search(r"'n/a' ×\d", finding.found), finding.found
  assert "--na-values" not in finding.fix and "tft.scale_to_z_score" in finding.fix
  assert "DataGuard blocked" in run["log"] or "NUMERIC_COLUMN_WITH_TEXT" in run["log"]


def test_clean_data_passes_with_class_checks_trains_and_is_pushed(run):
  summary = _summary(run, "clean")
  assert {"Transform", "Rebalance", "Trainer", "Evaluator", "Pusher"} <= set(summary.executions)
  assert {e.state for e in summary.executions.values()} == {"COMPLETE"}, {
      n: e.state for n, e in summary.executions.items()}
  assert not summary.blocked, [(f.kind, f.feature, f.found) for f in summary.findings.blocking]
  # The 0/1/2 label of an inferred schema (INT, no domain) is read as classes: the serving
  # sample (no label, split 2:1 by its ExampleGen) does not block on it, on either split.
  splits = {f.split for f in summary.findings.findings}
  assert not {"serving", "serving-train", "serving-eval"} & {
      f.split for f in summary.findings.blocking}
  assert "regression" not in json.dumps([f.fix for f in summary.findings.findings])
  assert splits  # the clean penguins still warn (e.g. scale disparity) — never block
  assert summary.pushed_model is not None


def test_the_example_compiles_for_kubeflow_pipelines_2(run):
  with open(os.path.join(run["work"], "penguin.yaml"), encoding="utf-8") as f:
    spec = yaml.safe_load(f)
  tasks = spec["root"]["dag"]["tasks"]
  assert {"DataGuard", "Transform", "Rebalance", "Trainer", "Pusher"} <= set(tasks)
  gated = [name for name, task in tasks.items() if "triggerPolicy" in task]
  assert "Transform" in gated and "Pusher" in gated
  assert spec["defaultPipelineRoot"] == "gs://bucket/penguin"
  assert "penguin_utils.run_fn" in json.dumps(spec)  # the model code's path in the image
