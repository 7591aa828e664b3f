"""Tests of the run report: small inputs made here, no TFX run.

The browser test opens the report in Debian's headless Chromium (selenium + chromium-driver, else
the playwright package pointed at the system Chromium). Without them it skips, except under
CI=true, where it fails: CI must prove the page renders, loads nothing and shows what matters.
"""
import html.parser
import importlib.util
import json
import os
import re
import shutil

import pytest
from ml_metadata.proto import metadata_store_pb2

from trainguard import artifacts
from trainguard.components.data_guard.findings import Finding, FindingsReport
from trainguard.pipeline import results
from trainguard.report import evaluation as report_evaluation
from trainguard.report import gathering, report
from trainguard.report.data import (ClassCounts, ConfusionMatrix, Evaluation, MetricRow,
                                    RebalanceInfo, ReportData, StepTiming, TransformFeature,
                                    TransformInfo)

CLASSES = ["Adelie", "Chinstrap", "Gentoo"]
BROWSER_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking")
# Also keep Chromium's own services quiet on a closed network.
EXTRA_BROWSER_FLAGS = ("--disable-component-update", "--disable-sync", "--disable-quic",
                       "--disable-default-apps", "--disable-extensions")


def _blocking(split: str) -> Finding:
  return Finding(kind="UNEXPECTED_DATA_TYPE", feature="bill_length_mm", split=split,
                 severity="block", expected="FLOAT values", found="STRING values ('broken')",
                 fix="clean the offending values at the source.")


def _note() -> Finding:
  return Finding(kind="MISSING_VALUES", feature="sex", split="train", severity="info",
                 expected="a value in every row", found="7 of 204 rows missing (3.4%)",
                 fix="Transform imputes them (most_frequent).", source="statistics",
                 measured=0.0343, threshold=None)


def _skew() -> Finding:
  return Finding(kind="COMPARATOR_L_INFTY_HIGH", feature="island", split="serving",
                 severity="warn", expected="L-infinity distance at most 0.3",
                 found="L-infinity distance 0.41", fix="check the serving sample's island mix.",
                 measured=0.41, threshold=0.3)


def _steps(*names: str, state: str = "COMPLETE"):
  return [StepTiming(n, state, 1.5 + i) for i, n in enumerate(names)]


UPSTREAM = ("CsvExampleGen", "ImportSchemaGen", "StatisticsGen", "DataGuard")
DOWNSTREAM = ("Transform", "Rebalance", "Trainer", "Evaluator", "Pusher")


def blocked_data(tmp_path) -> ReportData:
  return ReportData(
      pipeline_name="trainguard-penguins", run_id="2026-11-25T15:07:14.809426",
      steps=_steps(*UPSTREAM), workdir=str(tmp_path),
      findings=FindingsReport([_note(), _blocking("train"), _blocking("eval")], "policy.yaml"))


def full_data(tmp_path) -> ReportData:
  """A run that trained, was blessed and pushed, with every section filled."""
  epochs = 12
  history = {
      "loss": [1.1 * 0.7 ** e for e in range(epochs)],
      "val_loss": [1.0 * 0.75 ** e + 0.02 for e in range(epochs)],
      "accuracy": [min(0.99, 0.5 + 0.06 * e) for e in range(epochs)],
      "val_accuracy": [min(0.98, 0.48 + 0.055 * e) for e in range(epochs)],
  }
  return ReportData(
      pipeline_name="trainguard-penguins", run_id="2026-11-25T15:05:07.735177",
      steps=_steps(*UPSTREAM, *DOWNSTREAM), workdir=str(tmp_path),
      findings=FindingsReport([_note(), _skew()], "policy.yaml"),
      transform=TransformInfo([
          TransformFeature("bill_length_mm", kind="numeric", imputation="mean: 43.92",
                           scaling="z_score: mean=43.92, std=5.46", missing_fraction=0.0049),
          TransformFeature("sex", kind="categorical", imputation="most_frequent: male (id 0)",
                           scaling="vocabulary of 2; top: male, female", missing_fraction=0.034)]),
      rebalance=RebalanceInfo(strategy="smotenc", splits=[ClassCounts(
          "train", before={"Adelie": 96, "Chinstrap": 45, "Gentoo": 63},
          after={"Adelie": 96, "Chinstrap": 96, "Gentoo": 96}, strategy="smotenc",
          requested_strategy="auto", resampled=True, exact=True)], copied_splits=["eval"]),
      history=history,
      evaluation=Evaluation(
          overall=[MetricRow("sparse_categorical_accuracy", 0.9714, 0.9643, 0.0071),
                   MetricRow("recall (macro average)", 0.9655)],
          per_class={c: {"precision": 0.95 + i / 100, "recall": 0.96, "f1_score": 0.955}
                     for i, c in enumerate(CLASSES)},
          confusion=ConfusionMatrix(CLASSES, CLASSES, [[60, 1, 0], [2, 26, 0], [0, 0, 51]], 0.0),
          validation_ok=True),
      blessed=True, pushed_model="/tmp/serving_model/trainguard-penguins/1795619187",
      label_key="species", class_names=CLASSES)


class _Links(html.parser.HTMLParser):
  """Every src / href in a page, and every tag name."""

  def __init__(self):
    super().__init__()
    self.links, self.tags = [], []

  def handle_starttag(self, tag, attrs):
    self.tags.append(tag)
    self.links += [(tag, name, value or "") for name, value in attrs
                   if name in ("src", "href", "xlink:href", "srcset", "action", "data")]


def _assert_self_contained(page: str, inline_scripts: int = 0):
  """Nothing leaves the file; `inline_scripts` scripts (no src) are expected (the features
  filter)."""
  parser = _Links()
  parser.feed(page)
  remote = [l for l in parser.links if re.match(r"\s*(https?:)?//", l[2], re.I)]
  assert not remote, f"links leaving the file: {remote}"
  assert all(v.startswith(("#", "data:")) for _, _, v in parser.links), parser.links
  assert "http://" not in page and "https://" not in page
  assert not {"img", "iframe", "object", "embed"} & set(parser.tags)
  assert parser.tags.count("script") == inline_scripts
  assert not re.search(r"url\((?!#)", page), "CSS url() other than an SVG fragment"
  assert "@import" not in page


# ---------------------------------------------------------------------------------------------
# Verdict and page content
# ---------------------------------------------------------------------------------------------


def test_blocked_run_says_why_it_was_blocked(tmp_path):
  data = blocked_data(tmp_path)
  assert report.verdict(data).headline == "blocked: 2 problems"
  page = report.render_report(data)
  verdict = page[page.index('id="verdict"'):page.index('<nav class="toc"')]
  assert "blocked: 2 problems" in verdict
  assert "bill_length_mm (train): expected FLOAT values; found STRING values" in verdict
  row = re.search(r'<tr class="finding sev-block".*?</tr>', page, re.S).group(0)
  for text in ("bill_length_mm", "UNEXPECTED_DATA_TYPE", "FLOAT values", "STRING values",
               "clean the offending values at the source."):
    assert text in row
  assert "DataGuard blocked the run before Trainer" in page
  assert "DataGuard blocked the run before Rebalance" in page
  assert 'id="class-counts"' not in page
  _assert_self_contained(page)


def test_full_run_shows_every_section(tmp_path):
  data = full_data(tmp_path)
  assert report.verdict(data).headline == "trained, blessed and pushed"
  page = report.render_report(data)
  measured = re.search(r'data-feature="island">.*?</tr>', page, re.S).group(0)
  assert "0.41 / 0.3" in measured  # measured value / threshold
  assert "L-infinity distance 0.41" in measured and "check the serving sample" in measured
  chart = re.search(r'<figure class="chart" id="class-counts">(.*?)</figure>', page, re.S)
  assert chart and "<svg" in chart.group(1) and "Chinstrap" in chart.group(1)
  assert '<b id="rebalance-strategy">smotenc</b>' in page
  assert re.search(r"<td>Chinstrap</td><td class=\"num\">45</td><td class=\"num\">96</td>"
                   r"<td class=\"num\">\+51</td>", page)
  assert "z_score: mean=43.92, std=5.46" in page and "3.4%" in page
  assert "most_frequent: male (id 0)" in page
  assert 'id="training-curves"' in page and "lowest validation loss at epoch 12" in page
  assert 'id="confusion-matrix"' in page and "f1_score" in page
  assert "/tmp/serving_model/trainguard-penguins/1795619187" in page
  ids = re.findall(r'\sid="([^"]+)"', page)
  assert len(ids) == len(set(ids)), "element ids collide between charts"
  _assert_self_contained(page)


def test_the_training_diagnosis_shows_its_findings_chart_and_withheld_blessing(tmp_path):
  data = full_data(tmp_path)
  not_learning = Finding(kind="NOT_LEARNING", feature="", split="validation", severity="block",
                         expected="validation loss below the class-prior loss 1.020 by 2%",
                         found="best validation loss 1.090 (epoch 3)", fix="check --label",
                         source="training", measured=1.09, threshold=1.0)
  data.training_findings = FindingsReport([not_learning], "policy.yaml")
  data.training_record = {"layers": ["dense", "probabilities"], "epochs": [
      {"epoch": e, "layer_grad_norms": {"dense": 0.5 / e, "probabilities": 1.0 / e},
       "val_recall": {"Adelie": 1.0, "Chinstrap": 0.0, "Gentoo": 0.2 * e}}
      for e in range(1, 5)]}
  data.blessed, data.pushed_model = False, None
  got = report.verdict(data)
  assert (got.outcome, got.headline) == (
      "not_blessed", "trained but not blessed: the training diagnosis found NOT_LEARNING")
  page = report.render_report(data)
  section = re.search(r'<h3 id="training-diagnosis">.*?</section>', page, re.S).group(0)
  assert "The model did not train well: it is not blessed." in section
  assert "<b>NOT_LEARNING</b> · validation" in section and "1.09 / 1" in section
  chart = re.search(r'<figure class="chart" id="gradient-norms">(.*?)</figure>', section, re.S)
  assert chart and "<svg" in chart.group(1) and "probabilities" in chart.group(1)
  assert 'id="training-causes"' not in section  # no data finding can cause NOT_LEARNING here
  data.findings = FindingsReport([_note(), _skew(), Finding(
      kind="CONFLICTING_LABELS", feature="species", split="train", severity="warn",
      expected="< 1% of rows", found="12 rows in 5 groups", fix="f")], "policy.yaml")
  causes = re.search(r'<div id="training-causes">.*?</div>', report.render_report(data), re.S)
  assert causes and "<b>NOT_LEARNING</b>" in causes.group(0)
  assert 'data-kind="CONFLICTING_LABELS"' in causes.group(0) and "12 rows in 5 groups" in (
      causes.group(0))
  recall = re.search(r'<figure class="chart" id="class-recall">(.*?)</figure>', section, re.S)
  assert recall and "Chinstrap" in recall.group(1) and "never the eval split" in recall.group(1)
  data.training_findings, data.training_record = FindingsReport([], ""), None
  assert ("No training finding: gradients, units, the loss curve and the gradient-boosted baseline "
          "look sound.") in report.render_report(data)
  # The trees (issue 26) have no gradients, units or baseline: the line says what was judged.
  data.training_record = {"model": "gradient_boosted_trees",
                          "settings": {"model": "gradient_boosted_trees", "num_trees": 40}}
  trees = html.unescape(report.render_report(data))  # autoescaped: the apostrophe is &#39;
  assert ("No training finding: the trees' validation loss beats the class prior's and their "
          "predictions do not collapse onto one class.") in trees
  assert "gradients, units" not in trees
  _assert_self_contained(page)


@pytest.mark.parametrize("change, outcome, headline", [
    (dict(blessed=False, pushed_model=None, evaluation=Evaluation(
        validation_ok=False, failures=["sparse_categorical_accuracy 0.55 is below the required "
                                       "minimum 0.6"])),
     "not_blessed",
     "trained but not blessed: sparse_categorical_accuracy 0.55 is below the required minimum "
     "0.6"),
    (dict(blessed=None, pushed_model=None, evaluation=None,
          steps=_steps(*UPSTREAM, "Transform", "Trainer")), "trained", "trained, not evaluated"),
    (dict(blessed=None, pushed_model=None, evaluation=None, history=None,
          steps=_steps(*UPSTREAM, "Transform")), "ready", "ready to train"),
    (dict(blessed=None, pushed_model=None, evaluation=None,
          history={"loss": [0.9, float("nan")]},
          steps=_steps(*UPSTREAM, "Transform") + [StepTiming("Trainer", "FAILED", 3.0)]),
     "failed", "failed: Trainer failed"),
    (dict(findings=None, blessed=None, pushed_model=None, evaluation=None, history=None,
          steps=[]), "unknown", "no verdict: DataGuard's findings are not available"),
])
def test_verdicts(tmp_path, change, outcome, headline):
  data = full_data(tmp_path)
  for key, value in change.items():
    setattr(data, key, value)
  got = report.verdict(data)
  assert (got.outcome, got.headline) == (outcome, headline)
  page = report.render_report(data)
  assert headline in html.unescape(page)
  _assert_self_contained(page)


def test_missing_files_say_not_run_or_not_available(tmp_path):
  data = full_data(tmp_path)
  data.transform, data.rebalance = None, None
  data.steps = [s for s in data.steps if s.node_id != "Rebalance"]
  data.evaluation = Evaluation(overall=[MetricRow("example_count", 140.0)])
  page = report.render_report(data)
  assert "Transform ran but this run has no transform_summary.json" in page
  assert "this pipeline has no Rebalance step" in page
  assert "the eval config computes no per-class metrics" in page
  assert "the evaluation holds no confusion matrix" in page
  assert 'id="class-counts"' not in page


def test_text_is_escaped(tmp_path):
  data = blocked_data(tmp_path)
  data.findings = FindingsReport([Finding(
      kind="UNEXPECTED_DATA_TYPE", feature="<script>alert(1)</script>", split="train",
      severity="block", expected="FLOAT", found="<b>x</b>", fix="x")])
  page = report.render_report(data)
  assert "<script>" not in page and "&lt;script&gt;" in page


# ---------------------------------------------------------------------------------------------
# From a RunSummary: files in artifact folders
# ---------------------------------------------------------------------------------------------


def _artifact(tmp_path, key: str, files=None, **properties) -> metadata_store_pb2.Artifact:
  uri = tmp_path / "pipeline" / key.replace(".", "/")
  uri.mkdir(parents=True)
  for name, content in (files or {}).items():
    (uri / name).write_text(json.dumps(content))
  artifact = metadata_store_pb2.Artifact(uri=str(uri))
  for name, value in properties.items():
    if isinstance(value, int):
      artifact.custom_properties[name].int_value = value
    else:
      artifact.custom_properties[name].string_value = value
  return artifact


def _summary(tmp_path, artifacts, nodes, findings) -> results.RunSummary:
  executions = {n: results.ExecutionRecord(n, "COMPLETE", 2.0, i) for i, n in enumerate(nodes)}
  return results.RunSummary(
      paths=results.RunPaths(str(tmp_path / "work"), "trainguard-penguins"),
      run_id="2026-11-25T15:05:07.735177", executions=executions,
      artifacts={k: [a] for k, a in artifacts.items()}, blessed=True,
      pushed_model="/srv/models/1", findings=findings)


def test_write_report_reads_the_run_files(tmp_path):
  history = {"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.6, 0.4], "accuracy": [0.5, 0.8, 0.9],
             "val_accuracy": [0.4, 0.7, 0.85]}
  rebalance = {"strategy": "smote", "copied_splits": ["eval"], "parameters": {"seed": 42},
               "splits": {"train": {"strategy": "smote", "requested_strategy": "auto",
                                    "resampled": True, "exact": True,
                                    "class_counts_before": {"0": 80, "1": 20, "2": 50},
                                    "class_counts_after": {"0": 80, "1": 80, "2": 80}}}}
  # As trainguard.models.preprocessing_summary writes it (version 1).
  transform = {"version": 1, "dropped": ["tag"], "warnings": ["tag: no variation"], "features": {
      "body_mass_g": {"kind": "numeric", "output": "body_mass_g_xf", "dropped": False,
                      "missing_indicator": False,
                      "imputation": {"method": "mean", "value": 4201.75},
                      "scaling": {"method": "z_score", "mean": 4201.75, "std": 801.95}},
      "sex": {"kind": "categorical", "output": "sex_xf", "dropped": False,
              "missing_indicator": True, "vocabulary_size": 2, "top_values": ["MALE", "FEMALE"],
              "num_ids": 3, "unseen_id": 2,
              "imputation": {"method": "most_frequent", "id": 0, "value": "MALE"}},
      "tag": {"kind": "numeric", "output": "tag_xf", "dropped": True, "reason": "no variation",
              "missing_indicator": False, "policy": {"impute": "mean"}}}}
  findings = FindingsReport([_note()], "policy.yaml")
  summary = _summary(tmp_path, {
      "Trainer.model_run": _artifact(tmp_path, "Trainer.model_run", {
          artifacts.HISTORY_FILE: history, artifacts.TRANSFORM_SUMMARY_FILE: transform}),
      "Rebalance.rebalanced_examples": _artifact(
          tmp_path, "Rebalance.rebalanced_examples", {artifacts.REBALANCE_FILE: rebalance}),
  }, UPSTREAM + ("Transform", "Rebalance", "Trainer", "Evaluator", "Pusher"), findings)

  data = gathering.gather(summary)
  assert data.history == history and not data.notes
  assert data.rebalance.strategy == "smote"
  assert data.rebalance.splits[0].before == {"0": 80, "1": 20, "2": 50}
  assert data.rebalance.splits[0].after == {"0": 80, "1": 80, "2": 80}
  by_name = {f.name: f for f in data.transform.features}
  assert by_name["body_mass_g"].imputation == "mean: 4201.75"
  assert by_name["body_mass_g"].scaling == "z_score: mean=4201.75, std=801.95"
  assert by_name["body_mass_g"].missing_fraction is None  # no finding, not invented
  sex = by_name["sex"]
  assert sex.imputation == "most_frequent: MALE (id 0)"
  assert sex.scaling == "vocabulary of 2; top: MALE, FEMALE; num_ids=3, unseen_id=2"
  assert sex.missing_fraction == 0.0343  # from DataGuard's train-split finding
  assert sex.notes == "adds a missing-value indicator"
  assert by_name["tag"].dropped and by_name["tag"].notes == "dropped: no variation"
  assert data.transform.warnings == ["tag: no variation"]

  path = report.write_report(summary)
  assert path == os.path.join(str(tmp_path / "work"), "reports",
                              "trainguard-penguins-2026-11-25T15-05-07.735177.html")
  page = open(path, encoding="utf-8").read()
  assert "trained, blessed and pushed" in page and "/srv/models/1" in page
  assert '<figure class="chart" id="class-counts">' in page
  _assert_self_contained(page)
  assert report.write_report(summary, str(tmp_path / "x" / "r.html")) == str(
      tmp_path / "x" / "r.html")


def test_rebalance_counts_from_custom_properties_and_unreadable_files(tmp_path):
  counts_before = json.dumps({"train": {"0": 10, "1": 4}})
  counts_after = json.dumps({"train": {"0": 10, "1": 10}})
  summary = _summary(tmp_path, {
      "Rebalance.examples": _artifact(tmp_path, "Rebalance.examples", strategy="random_over",
                                      class_counts_before=counts_before,
                                      class_counts_after=counts_after),
      "Trainer.model_run": _artifact(tmp_path, "Trainer.model_run"),
  }, UPSTREAM + ("Transform", "Rebalance", "Trainer"), FindingsReport([]))
  with open(os.path.join(summary.artifacts["Trainer.model_run"][0].uri, artifacts.HISTORY_FILE),
            "w") as f:
    f.write("{not json")
  data = gathering.gather(summary)
  assert data.rebalance.strategy == "random_over"
  assert data.rebalance.splits[0].after == {"0": 10, "1": 10}
  assert data.history is None and "history.json" in data.notes[0]
  page = report.render_report(data)
  assert "Some of this run could not be read" in page and "history.json" in page


# ---------------------------------------------------------------------------------------------
# TFMA evaluation files (imports TFMA, and with it TensorFlow: the slowest test here)
# ---------------------------------------------------------------------------------------------


def test_read_evaluation_from_tfma_files(tmp_path):
  # pylint: disable=g-import-not-at-top
  import tensorflow as tf
  from tensorflow_model_analysis.proto import metrics_for_slice_pb2 as mfs
  from tensorflow_model_analysis.proto import validation_result_pb2 as vr
  # pylint: enable=g-import-not-at-top

  def add(slice_metrics, name, value, class_id=None, model="candidate", diff=False, macro=False):
    item = slice_metrics.metric_keys_and_values.add()
    item.key.name, item.key.model_name, item.key.is_diff = name, model, diff
    if class_id is not None:
      item.key.sub_key.class_id.value = class_id
    if macro:
      item.key.aggregation_type.macro_average = True
    item.value.double_value.value = value

  overall = mfs.MetricsForSlice()
  overall.slice_key.SetInParent()
  add(overall, "sparse_categorical_accuracy", 0.90)
  add(overall, "sparse_categorical_accuracy", 0.95, model="baseline")
  add(overall, "sparse_categorical_accuracy", -0.05, diff=True)
  add(overall, "recall", 0.80, macro=True)
  for class_id, (precision, recall) in enumerate([(0.9, 0.8), (0.7, 0.6), (1.0, 1.0)]):
    add(overall, "precision", precision, class_id)
    add(overall, "recall", recall, class_id)
    add(overall, "recall", 0.0, class_id, model="baseline")  # not shown per class
  island = mfs.MetricsForSlice()
  island.slice_key.single_slice_keys.add(column="island", bytes_value=b"Dream")
  add(island, "sparse_categorical_accuracy", 0.1)  # another slice: ignored

  plots = mfs.PlotsForSlice()
  plots.slice_key.SetInParent()
  plot = plots.plot_keys_and_values.add()
  plot.key.name, plot.key.model_name = "multi_class_confusion_matrix_plot", "candidate"
  matrix = plot.value.multi_class_confusion_matrix_at_thresholds.matrices.add(threshold=0.0)
  for actual, predicted, n in [(0, 0, 8), (0, 1, 2), (1, 1, 3), (1, -1, 1), (2, 2, 5)]:
    matrix.entries.add(actual_class_id=actual, predicted_class_id=predicted,
                       num_weighted_examples=n)

  validation = vr.ValidationResult(validation_ok=False)
  failure = validation.metric_validations_per_slice.add()
  failure.slice_key.SetInParent()
  fail = failure.failures.add()
  fail.metric_key.name, fail.metric_key.model_name = "sparse_categorical_accuracy", "candidate"
  fail.metric_key.is_diff = True
  fail.metric_threshold.change_threshold.absolute.value = -0.01
  fail.metric_threshold.change_threshold.direction = 2  # HIGHER_IS_BETTER
  fail.metric_value.double_value.value = -0.05

  for name, protos in (("metrics-00000-of-00001.tfrecord", [overall, island]),
                       ("plots-00000-of-00001.tfrecord", [plots]),
                       ("validations.tfrecord", [validation])):
    with tf.io.TFRecordWriter(str(tmp_path / name)) as writer:
      for proto in protos:
        writer.write(proto.SerializeToString())
  (tmp_path / "eval_config.json").write_text(json.dumps({"evalConfig": {"modelSpecs": [
      {"name": "candidate"}, {"name": "baseline", "isBaseline": True}]}}))

  def label(class_id):
    return CLASSES[int(class_id)] if 0 <= int(class_id) < len(CLASSES) else str(class_id)

  evaluation = report_evaluation.read_evaluation(str(tmp_path), label)
  rows = {r.name: r for r in evaluation.overall}
  accuracy = rows["sparse_categorical_accuracy"]
  assert (accuracy.value, accuracy.baseline, accuracy.change) == (0.90, 0.95, -0.05)
  assert rows["recall (macro average)"].value == 0.80
  assert evaluation.per_class == {"Adelie": {"precision": 0.9, "recall": 0.8},
                                  "Chinstrap": {"precision": 0.7, "recall": 0.6},
                                  "Gentoo": {"precision": 1.0, "recall": 1.0}}
  assert evaluation.confusion.actual == CLASSES
  assert evaluation.confusion.predicted == CLASSES + ["no class"]
  assert evaluation.confusion.counts == [[8, 2, 0, 0], [0, 3, 0, 1], [0, 0, 5, 0]]
  assert evaluation.validation_ok is False
  assert evaluation.failures == [
      "sparse_categorical_accuracy changed by -0.05 vs the latest blessed model; the change "
      "must be at least -0.01 (absolute)"]

  data = full_data(tmp_path)
  data.evaluation, data.blessed, data.pushed_model = evaluation, False, None
  assert report.verdict(data).headline.startswith(
      "trained but not blessed: sparse_categorical_accuracy changed by -0.05")
  page = report.render_report(data)
  assert "Latest blessed model" in page and "no class" in page
  _assert_self_contained(page)


# ---------------------------------------------------------------------------------------------
# In a real browser
# ---------------------------------------------------------------------------------------------


def _browser():
  """(driver kind, chromium, chromedriver); skips, or fails under CI=true, when none is usable."""
  chromium = (os.environ.get("TRAINGUARD_CHROMIUM") or shutil.which("chromium")
              or shutil.which("chromium-browser"))
  chromedriver = os.environ.get("TRAINGUARD_CHROMEDRIVER") or shutil.which("chromedriver")
  has_selenium = importlib.util.find_spec("selenium") is not None
  has_playwright = importlib.util.find_spec("playwright") is not None
  wanted = os.environ.get("TRAINGUARD_BROWSER_DRIVER")  # "selenium" or "playwright"
  if has_selenium and chromium and chromedriver and wanted in (None, "", "selenium"):
    return "selenium", chromium, chromedriver
  if has_playwright and chromium and wanted in (None, "", "playwright"):
    return "playwright", chromium, None
  has_driver = (has_selenium and chromedriver) or has_playwright
  missing = [what for what, there in (
      ("the chromium browser (apt-get install chromium)", chromium),
      ("a driver: the selenium package with chromedriver (apt-get install chromium-driver), "
       "or the playwright package", has_driver)) if not there]
  reason = "no headless browser to test the report in: missing " + "; ".join(missing or [wanted])
  if os.environ.get("CI") == "true":
    pytest.fail(reason + " (CI=true: the browser test must run in CI)")
  pytest.skip(reason)


def _open_in_selenium(chromium, chromedriver, profile, pages, check):
  from selenium import webdriver  # pylint: disable=g-import-not-at-top
  from selenium.webdriver.chrome.options import Options  # pylint: disable=g-import-not-at-top
  from selenium.webdriver.chrome.service import Service  # pylint: disable=g-import-not-at-top
  from selenium.webdriver.common.by import By  # pylint: disable=g-import-not-at-top
  options = Options()
  options.binary_location = chromium
  for flag in BROWSER_FLAGS + EXTRA_BROWSER_FLAGS:
    options.add_argument(flag)
  options.add_argument(f"--user-data-dir={profile}")
  options.add_argument("--window-size=1280,900")
  options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
  driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
  try:
    for path in pages:
      driver.set_window_size(1280, 900)
      driver.get_log("browser"), driver.get_log("performance")  # drop the start page's entries
      url = "file://" + path
      driver.get(url)
      console = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
      requests = []
      for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
          params = message["params"]
          # The report's own requests, and anything at all that goes to the network.
          if params.get("documentURL") == url or params["request"]["url"].startswith(
              ("http:", "https:", "ws:", "wss:", "ftp:")):
            requests.append(params["request"]["url"])
      page = _SeleniumPage(driver, By)
      check(path, page, console, requests)
      height = driver.execute_script("return document.documentElement.scrollHeight")
      driver.set_window_size(1280, min(int(height) + 120, 16000))
      assert driver.save_screenshot(os.path.splitext(path)[0] + ".png")
  finally:
    driver.quit()


class _SeleniumPage:

  def __init__(self, driver, by):
    self._driver, self._by = driver, by

  def evaluate(self, script: str):
    return self._driver.execute_script("return " + script)

  def visible_text(self, selector: str) -> str:
    element = self._driver.find_element(self._by.CSS_SELECTOR, selector)
    assert element.is_displayed(), f"{selector} is not visible"
    return element.text

  def box(self, selector: str):
    element = self._driver.find_element(self._by.CSS_SELECTOR, selector)
    assert element.is_displayed(), f"{selector} is not visible"
    return element.size["width"], element.size["height"]

  def set_width(self, width: int):
    self._driver.set_window_size(width, 900)


def _open_in_playwright(chromium, profile, pages, check):
  from playwright.sync_api import sync_playwright  # pylint: disable=g-import-not-at-top
  with sync_playwright() as playwright:
    browser = playwright.chromium.launch(
        executable_path=chromium, headless=True,
        args=list(BROWSER_FLAGS[1:] + EXTRA_BROWSER_FLAGS))
    try:
      for path in pages:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        tab = context.new_page()
        console, requests = [], []
        tab.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
        tab.on("pageerror", lambda e: console.append(str(e)))
        tab.on("request", lambda r: requests.append(r.url))
        tab.goto("file://" + path)
        check(path, _PlaywrightPage(tab), console, requests)
        tab.set_viewport_size({"width": 1280, "height": 900})
        tab.screenshot(path=os.path.splitext(path)[0] + ".png", full_page=True)
        context.close()
    finally:
      browser.close()
  del profile


class _PlaywrightPage:

  def __init__(self, tab):
    self._tab = tab

  def evaluate(self, script: str):
    return self._tab.evaluate(script)

  def visible_text(self, selector: str) -> str:
    element = self._tab.locator(selector).first
    assert element.is_visible(), f"{selector} is not visible"
    return element.inner_text()

  def box(self, selector: str):
    element = self._tab.locator(selector).first
    assert element.is_visible(), f"{selector} is not visible"
    box = element.bounding_box()
    return box["width"], box["height"]

  def set_width(self, width: int):
    self._tab.set_viewport_size({"width": width, "height": 900})


def test_report_in_headless_chromium(tmp_path):
  kind, chromium, chromedriver = _browser()
  full = report.save_report(full_data(tmp_path), str(tmp_path / "full" / "report.html"))
  blocked = report.save_report(blocked_data(tmp_path), str(tmp_path / "blocked" / "report.html"))
  expected = {
      full: ("trained, blessed and pushed", 'tr.finding[data-feature="island"]', "island"),
      blocked: ("blocked: 2 problems", 'tr.finding[data-severity="block"]', "bill_length_mm"),
  }
  checked = []

  def check(path, page, console, requests):
    headline, finding, feature = expected[path]
    assert not console, f"console errors in {path}: {console}"
    leaving = [u for u in requests if not u.startswith(("file:", "data:"))]
    assert not leaving, f"requests leaving {path}: {leaving}"
    resources = page.evaluate(
        "performance.getEntriesByType('resource').map(e => e.name)")
    assert all(u.startswith(("file:", "data:")) for u in resources), resources
    assert headline in page.visible_text("#verdict")
    row = page.visible_text(finding)
    assert feature in row
    if path == full:
      width, height = page.box("#class-counts svg")
      assert width > 200 and height > 100, (width, height)
      assert page.box("#class-counts svg rect, #class-counts svg path")  # bars were drawn
      assert "Chinstrap" in page.visible_text("#class-counts")
    # Readable without scrolling sideways, on a laptop and on a narrow window.
    for width in (1280, 800):
      page.set_width(width)
      overflow = page.evaluate(
          "document.documentElement.scrollWidth - document.documentElement.clientWidth")
      assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at {width}px"
    checked.append(path)

  profile = str(tmp_path / "chromium-profile")
  if kind == "selenium":
    _open_in_selenium(chromium, chromedriver, profile, [full, blocked], check)
  else:
    _open_in_playwright(chromium, profile, [full, blocked], check)
  assert checked == [full, blocked]
  for path in checked:
    screenshot = os.path.splitext(path)[0] + ".png"
    assert os.path.getsize(screenshot) > 10_000, screenshot
    print(f"screenshot ({kind}): {screenshot}")
