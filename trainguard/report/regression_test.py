"""A regression's report, from `ReportData` built here: the predictions charts replace the
per-class sections, and Rebalancing says why it did not run."""
from trainguard.report import charts, report, report_test
from trainguard.report.data import Evaluation, MetricRow


def _regression(tmp_path):
  data = report_test.full_data(tmp_path)
  data.task, data.rebalance, data.class_names = "regression", None, []
  data.steps = [s for s in data.steps if s.node_id != "Rebalance"]
  data.evaluation = Evaluation(overall=[MetricRow("r2", 0.52), MetricRow("mean_absolute_error",
                                                                          42.7)],
                               validation_ok=True)
  actual = [float(v) for v in range(25, 346, 3)]
  data.regression_predictions = {"actual": actual,
                                 "predicted": [0.6 * a + 60 for a in actual],
                                 "rows_total": len(actual), "rows_sampled": len(actual)}
  return data


def test_predictions_charts_and_no_class_sections(tmp_path):
  page = report.render_report(_regression(tmp_path))
  evaluation = page[page.index('<section id="evaluation">'):]
  evaluation = evaluation[:evaluation.index("</section>")]
  assert 'id="regression-charts"' in evaluation and "107 of 107 eval rows" in evaluation
  assert "Per class" not in evaluation and "Confusion matrix" not in evaluation
  rebalance = page[page.index('<section id="rebalance">'):]
  rebalance = rebalance[:rebalance.index("</section>")]
  assert "class rebalancing does not apply to a numeric label" in rebalance
  report_test._assert_self_contained(page)  # pylint: disable=protected-access


def test_predictions_chart_draws_both_panels_and_a_missing_sample_is_named(tmp_path):
  svg = charts.regression_svg([1.0, 2.0, 3.0], [1.5, 2.0, 2.5])
  assert "Predicted vs actual" in svg and "Residuals" in svg
  data = _regression(tmp_path)
  data.regression_predictions = None
  assert "the Trainer wrote no sample of eval predictions" in report.render_report(data)
