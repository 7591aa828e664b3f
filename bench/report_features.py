"""What the report's Features section costs as the schema grows: render seconds, file size and the
browser's load time for 50, 200 and 500 features, side by side in one process.

    .venv/bin/python -m bench.report_features [--features 50 200 500] [--browser]

The statistics are generated protos (`features_test.wide_statistics`: a third text features with
30 values, the rest numeric with TFDV's 10 buckets; train and eval), so the figures are the
report's own cost, not StatisticsGen's. `--browser` opens each page in headless Chromium (selenium,
as the report's browser test) and reads the navigation's load event. The issue's goal: 200
features in a report under ~5 MB that opens in a second.
"""
import argparse
import os
import tempfile
import time


def measure(columns: int, folder: str, browser: bool) -> dict:
  # pylint: disable=g-import-not-at-top
  from trainguard.report import features, features_test, report, report_test
  # pylint: enable=g-import-not-at-top
  statistics = features_test.wide_statistics(columns)
  data = report_test.full_data(folder)
  data.features = features.feature_cards(statistics, [], "species")
  start = time.perf_counter()
  path = report.save_report(data, os.path.join(folder, f"report-{columns}.html"))
  seconds = time.perf_counter() - start
  result = {"features": columns, "seconds": seconds, "megabytes": os.path.getsize(path) / 1e6}
  if browser:
    result["load_ms"] = _load_ms(path, folder)
  return result


def _load_ms(path: str, folder: str) -> float:
  # pylint: disable=g-import-not-at-top
  from trainguard.report import report_test
  # pylint: enable=g-import-not-at-top
  kind, chromium, chromedriver = report_test._browser()  # pylint: disable=protected-access
  found = []

  def check(_, page, console, requests):
    del console, requests
    found.append(page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd"))

  profile = os.path.join(folder, "chromium-profile")
  if kind == "selenium":
    report_test._open_in_selenium(chromium, chromedriver, profile, [path], check)  # pylint: disable=protected-access
  else:
    report_test._open_in_playwright(chromium, profile, [path], check)  # pylint: disable=protected-access
  return found[0]


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument("--features", type=int, nargs="+", default=[50, 200, 500])
  parser.add_argument("--browser", action="store_true")
  args = parser.parse_args()
  from bench import report as table  # pylint: disable=g-import-not-at-top
  rows = []
  with tempfile.TemporaryDirectory() as folder:
    results = [measure(n, folder, args.browser) for n in args.features]
  base = results[0]
  for r in results:
    rows.append([f"{r['features']}", f"{r['seconds']:.1f} s",
                 f"{r['seconds'] / base['seconds'] * base['features'] / r['features']:.2f}",
                 f"{r['megabytes']:.2f} MB",
                 f"{r['load_ms']:.0f} ms" if "load_ms" in r else "–"])
  table.emit(["features", "render + write", "time per feature vs the first row", "file",
              "Chromium load event"], rows, None)


if __name__ == "__main__":
  main()
