"""`trainguard run --repair` end to end with the real LocalDagRunner: 196 penguins rows trained at a
learning rate of 1e-7 for 2 epochs learn nothing (NOT_LEARNING, whose repair raises the learning
rate to 0.01 and doubles the epochs); the repair run retrains once in the same work directory,
takes every data stage from the cache, learns, and both runs are reported side by side."""
import json
import os

import pytest

from trainguard import cli
from trainguard.pipeline import results

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def repaired(tmp_path_factory):
  folder = tmp_path_factory.mktemp("repair")
  with open(os.path.join(REPO, "pipeline", "penguins.csv"), encoding="utf-8") as f:
    header, *rows = f.read().splitlines()
  # Every species (the file is sorted by species), 196 of 344 rows.
  rows = [row for i, row in enumerate(rows) if i % 7 in (0, 1, 2, 4)]
  path = folder / "slow.csv"
  path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
  workdir = str(folder / "work")
  return str(path), workdir


def test_repair_retrains_once_from_the_cache_and_reports_both_runs(repaired, capsys):
  path, workdir = repaired
  code = cli.main(["run", path, "--label", "species", "--workdir", workdir, "--learning-rate",
                   "1e-7", "--epochs", "2", "--batch-size", "8", "--repair"])
  out = capsys.readouterr()
  text = out.out + out.err
  assert code == cli.EXIT_OK, text[-4000:]
  paths = results.RunPaths(os.path.abspath(workdir), "trainguard-slow")
  first_id, second_id = results.run_ids(paths)  # exactly two runs: the first and the repair
  first, second = results.run_by_id(paths, first_id), results.run_by_id(paths, second_id)

  planted = {f.kind: f for f in first.training_findings.findings}
  assert planted["NOT_LEARNING"].repair == {"--learning-rate": 0.01, "--epochs": 4}
  assert "raise --learning-rate (now 1e-07) to 0.01" in planted["NOT_LEARNING"].fix
  retrain = next(line for line in text.splitlines() if "retraining once with" in line)
  # The merged repair: NOT_LEARNING's (the block) first; an untrained network may also trail the
  # trees (BASELINE_GAP, whose --epochs loses to NOT_LEARNING's).
  assert "--learning-rate 0.01" in retrain and "--epochs 4" in retrain and "NOT_LEARNING" in retrain
  assert "NOT_LEARNING" not in {f.kind for f in second.training_findings.findings}
  assert first.blessed is False and second.blessed is True

  # The data stages came from ML Metadata's cache; only the model's stages ran again.
  states = {node: e.state for node, e in second.executions.items()}
  for node in ("CsvExampleGen", "StatisticsGen", "ImportSchemaGen", "DataGuard", "Transform",
               "Rebalance"):
    assert states[node] == "CACHED", states
  for node in ("Trainer", "Evaluator"):
    assert states[node] == "COMPLETE", states
  trainer = json.loads(second.executions["Trainer"].properties["custom_config"])
  assert (trainer["learning_rate"], trainer["epochs"], trainer["batch_size"]) == (0.01, 4, 8)

  # Before/after in the terminal: findings, metrics (both runs' accuracy), blessing.
  table = text[text.index("first run vs repair run"):]
  assert f"{first_id}" in table and f"{second_id}" in table
  row = next(line for line in table.splitlines() if line.strip().startswith("NOT_LEARNING"))
  assert row.split()[1:] == ["block", "—"]
  accuracy = next(line for line in table.splitlines() if "eval accuracy" in line).split()[-2:]
  assert accuracy == [f"{first.eval_metrics['sparse_categorical_accuracy']:.3f}",
                      f"{second.eval_metrics['sparse_categorical_accuracy']:.3f}"]
  assert "blessed" in table and "took from the cache: " in table

  # The repair run's report compares it with the first run.
  reports = os.path.join(paths.workdir, "reports")
  html_path = max((os.path.join(reports, name) for name in os.listdir(reports)),
                  key=os.path.getmtime)
  with open(html_path, encoding="utf-8") as f:
    html = f.read()
  assert "Since the previous run" in html and f'id="previous-run">{first_id}<' in html
