"""The report's Features section: cards from TFDV statistics protos built here (no TFX run, no
TensorFlow), their rendering, hostile names, a 200-feature report's size, and the page in
headless Chromium (finding links land on their card, the filter narrows the cards)."""
import html.parser
import os
import re

import pytest
from tensorflow_metadata.proto.v0 import statistics_pb2

from trainguard.components.data_guard.findings import Finding, FindingsReport
from trainguard.report import charts, features, report, report_test

STANDARD = statistics_pb2.Histogram.STANDARD


def numeric(name, values_per_bucket, low, high, rows, missing=0, nan=0):
  """A numeric feature's statistics as StatisticsGen writes them: equal-width buckets."""
  feature = statistics_pb2.FeatureNameStatistics(type=statistics_pb2.FeatureNameStatistics.FLOAT)
  feature.path.step.append(name)
  stats = feature.num_stats
  present = sum(values_per_bucket)
  stats.common_stats.num_non_missing = present
  stats.common_stats.num_missing = missing
  stats.common_stats.tot_num_values = present
  width = (high - low) / len(values_per_bucket)
  centre = [low + width * (i + 0.5) for i in range(len(values_per_bucket))]
  stats.mean = sum(c * n for c, n in zip(centre, values_per_bucket)) / present
  stats.std_dev = width
  stats.min, stats.max, stats.median = low, high, (low + high) / 2
  histogram = stats.histograms.add(type=STANDARD, num_nan=nan)
  for i, count in enumerate(values_per_bucket):
    histogram.buckets.add(low_value=low + width * i, high_value=low + width * (i + 1),
                          sample_count=count)
  del rows
  return feature


def categorical(name, counts, rows, missing=0, listed=None):
  """A text feature: `counts` value -> rows; `listed` keeps only that many rank buckets (TFDV
  lists at most 1,000 by default)."""
  feature = statistics_pb2.FeatureNameStatistics(type=statistics_pb2.FeatureNameStatistics.STRING)
  feature.path.step.append(name)
  stats = feature.string_stats
  stats.common_stats.num_non_missing = sum(counts.values())
  stats.common_stats.num_missing = missing
  stats.common_stats.tot_num_values = sum(counts.values())
  stats.unique = len(counts)
  ranked = sorted(counts.items(), key=lambda kv: -kv[1])
  for i, (value, count) in enumerate(ranked[:listed]):
    stats.rank_histogram.buckets.add(low_rank=i, high_rank=i, label=value, sample_count=count)
    if i < 20:
      stats.top_values.add(value=value, frequency=count)
  return feature


def dataset(rows, *feature_list):
  out = statistics_pb2.DatasetFeatureStatistics(num_examples=rows)
  out.features.extend(feature_list)
  return out


def penguin_like():
  train = dataset(
      200,
      numeric("bill_length_mm", [10, 40, 80, 50, 18], 32.0, 60.0, 200, missing=2),
      categorical("island", {"Biscoe": 100, "Dream": 70, "Torgersen": 30}, 200),
      categorical("species", {"Adelie": 90, "Gentoo": 70, "Chinstrap": 40}, 200),
      numeric("body_mass_g", [30, 90, 60, 20], 2700.0, 6300.0, 200))
  eval_ = dataset(
      60,
      numeric("bill_length_mm", [2, 10, 30, 12, 6], 33.0, 59.0, 60),
      categorical("island", {"Biscoe": 30, "Dream": 20, "Torgersen": 7, "Atlantis": 3}, 60),
      categorical("species", {"Adelie": 27, "Gentoo": 20, "Chinstrap": 13}, 60),
      numeric("body_mass_g", [10, 25, 20, 5], 2800.0, 6000.0, 60))
  return {"train": train, "eval": eval_}


def _finding(kind, feature, split, severity):
  return Finding(kind=kind, feature=feature, split=split, severity=severity,
                 expected="e", found=f"found {kind}", fix="f")


FINDINGS = [_finding("OUTLIERS", "body_mass_g", "train", "warn"),
            _finding("MISSING_VALUES", "bill_length_mm", "train", "info"),
            _finding("ENUM_TYPE_UNEXPECTED_STRING_VALUES", "island", "eval", "block")]


def test_cards_order_profiles_and_findings():
  cards = features.feature_cards(penguin_like(), FINDINGS, label_key="species")
  # Worst finding first, then by name; a feature without findings last.
  assert [c.name for c in cards] == ["island", "body_mass_g", "bill_length_mm", "species"]
  island, mass, bill, species = cards
  assert island.severity == "block" and [f.kind for f in island.findings] == [
      "ENUM_TYPE_UNEXPECTED_STRING_VALUES"]
  assert species.is_label and species.severity == "" and species.kind == "categorical"
  assert [p.split for p in bill.profiles] == ["train", "eval"]
  train = bill.profiles[0]
  assert train.missing == pytest.approx(2 / 200) and len(train.histogram) == 5
  assert train.min == 32.0 and train.max == 60.0
  # 3 of eval's 60 island values never occur in train.
  eval_island = island.profiles[1]
  assert eval_island.unseen == pytest.approx(3 / 60) and not eval_island.unseen_lower_bound
  assert island.profiles[0].unseen is None  # train against itself: not shown
  assert mass.kind == "numeric"


def test_unseen_share_is_a_lower_bound_or_unknown_when_lists_are_cut():
  train_values = {f"v{i}": 10 for i in range(30)}
  eval_values = {**{f"v{i}": 2 for i in range(10)}, **{f"new{i}": 1 for i in range(20)}}
  statistics = {"train": dataset(300, categorical("code", train_values, 300)),
                "eval": dataset(40, categorical("code", eval_values, 40, listed=15))}
  profile = features.feature_cards(statistics)[0].profiles[1]
  # Eval lists 15 of its 30 values (10 seen in train, 5 new): at least 5 of 40 are unseen.
  assert profile.unseen == pytest.approx(5 / 40) and profile.unseen_lower_bound
  statistics["train"] = dataset(300, categorical("code", train_values, 300, listed=10))
  assert features.feature_cards(statistics)[0].profiles[1].unseen is None


def test_serving_and_previous_span_are_drawn_and_a_constant_column_has_one_bar():
  statistics = penguin_like()
  statistics["serving"] = dataset(50, numeric("bill_length_mm", [5, 20, 25], 35.0, 55.0, 50))
  statistics["previous span"] = dataset(
      100, numeric("bill_length_mm", [10, 40, 50], 33.0, 58.0, 100))
  card = next(c for c in features.feature_cards(statistics) if c.name == "bill_length_mm")
  assert [p.split for p in card.profiles] == ["train", "eval", "serving", "previous span"]
  svg = charts.feature_histogram_svg(card, features.anchor(card.name))
  for split in ("train", "eval", "serving", "previous span"):
    assert charts.split_color(split) in svg, split
  constant = dataset(10, numeric("flag", [10], 1.0, 1.0, 10))
  svg = charts.feature_histogram_svg(features.feature_cards({"train": constant})[0], "c")
  assert svg.startswith("<svg") and "<path" in svg


def test_non_finite_buckets_are_left_out():
  feature = numeric("x", [5, 5], 0.0, 2.0, 10, nan=3)
  feature.num_stats.histograms[0].buckets.add(low_value=2.0, high_value=float("inf"),
                                              sample_count=1)
  profile = features.feature_cards({"train": dataset(13, feature)})[0].profiles[0]
  assert len(profile.histogram) == 2 and profile.nan == 3


def test_anchor_is_unique_and_safe():
  names = ["a b", "a-b", "<script>", "x\"y", "\u202eevil", "é" * 80]
  anchors = [features.anchor(n) for n in names]
  assert len(set(anchors)) == len(names)
  assert all(re.fullmatch(r"feature-[A-Za-z0-9_-]+-[0-9a-f]{8}", a) for a in anchors), anchors


def _page(tmp_path, statistics, findings, name="report.html"):
  data = report_test.full_data(tmp_path)
  data.findings = FindingsReport(findings, "policy.yaml")
  data.features = features.feature_cards(statistics, findings, "species")
  path = report.save_report(data, str(tmp_path / name))
  with open(path, encoding="utf-8") as f:
    return path, f.read()


class _Elements(html.parser.HTMLParser):

  def __init__(self):
    super().__init__()
    self.ids, self.links, self.scripts = [], [], []
    self._in_script = False

  def handle_starttag(self, tag, attrs):
    attrs = dict(attrs)
    if "id" in attrs:
      self.ids.append(attrs["id"])
    if tag == "a" and (attrs.get("href") or "").startswith("#"):
      self.links.append(attrs["href"][1:])
    if tag == "script":
      self.scripts.append(attrs)
      self._in_script = True


def test_every_finding_links_to_its_card_and_cards_show_badges(tmp_path):
  _, page = _page(tmp_path, penguin_like(), FINDINGS)
  elements = _Elements()
  elements.feed(page)
  assert len(elements.ids) == len(set(elements.ids)), "duplicate element ids"
  for finding in FINDINGS:
    target = features.anchor(finding.feature)
    assert target in elements.links and target in elements.ids, finding.feature
    card = page[page.index(f'id="{target}"'):]
    card = card[:card.index("</article>")]
    assert f"{finding.kind} · {finding.split}" in card
  # The one script is inline: nothing is loaded.
  assert elements.scripts == [{}]
  assert "Atlantis" in page  # the eval-only value is listed in the island card


HOSTILE = ["<img src=x onerror=alert(1)>", 'quote"d\'name', "line\nbreak", "\u202etxet",
           "w" * 300, "$x^2$"]


def test_hostile_names_and_values_stay_text(tmp_path):
  statistics = {"train": dataset(20, *[numeric(name, [5, 5], 0.0, 1.0, 10) for name in HOSTILE],
                                 categorical("cat", {v: 2 for v in HOSTILE}, 20))}
  findings = [_finding("OUTLIERS", name, "train", "warn") for name in HOSTILE]
  _, page = _page(tmp_path, statistics, findings)
  assert "<img" not in page and "onerror=alert" not in page.replace("onerror=alert(1)&gt;", "")
  assert "&lt;img src=x onerror=alert(1)&gt;" in page
  assert 'quote&#34;d&#39;name' in page or "quote&quot;d&#x27;name" in page
  elements = _Elements()
  elements.feed(page)
  for name in HOSTILE:
    assert features.anchor(name) in elements.ids, name
  report_test._assert_self_contained(page, inline_scripts=1)


def wide_statistics(columns=200, rows=10_000):
  """200 features, a third text with 30 values, the rest numeric with TFDV's 10 buckets."""
  splits = {}
  for split, n in (("train", rows), ("eval", rows // 4)):
    cards = []
    for i in range(columns):
      if i % 3 == 0:
        cards.append(categorical(f"code_{i:03d}", {f"value-{j}": n // 30 for j in range(30)}, n))
      else:
        cards.append(numeric(f"measure_{i:03d}", [(j * 37 + i) % 50 + 1 for j in range(10)],
                             float(i), float(i + 10 + (split == "eval")), n))
    splits[split] = dataset(n, *cards)
  return splits


@pytest.fixture(scope="module")
def wide_report(tmp_path_factory):
  """One 200-feature report for the size and the browser tests (rendering it is most of their
  time: a histogram per numeric feature)."""
  return _page(tmp_path_factory.mktemp("wide"), wide_statistics(), [
      _finding("OUTLIERS", "measure_151", "train", "warn"),
      _finding("NUMERIC_COLUMN_WITH_TEXT", "code_198", "eval", "block")])


def test_two_hundred_features_stay_under_five_megabytes(wide_report):
  _, page = wide_report
  size = len(page.encode("utf-8"))
  print(f"200-feature report: {size / 1e6:.2f} MB")
  assert page.count('class="feature-card') == 200
  assert page.count("<svg") >= 133  # a histogram per numeric feature, and the other charts
  assert size < 5_000_000, size


def test_features_in_headless_chromium(wide_report, tmp_path):
  kind, chromium, chromedriver = report_test._browser()
  path, _ = wide_report
  checked = []

  def check(_, page, console, requests):
    assert not console, console
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    resources = page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
    assert all(u.startswith(("file:", "data:")) for u in resources), resources
    # Worst first: the blocking card leads, then the warning, then the rest by name.
    order = page.evaluate("Array.from(document.querySelectorAll('.feature-card'))"
                          ".slice(0, 3).map(c => c.dataset.feature)")
    assert order == ["code_198", "measure_151", "code_000"], order
    assert page.box("#" + features.anchor("measure_151") + " svg")[1] > 40  # histogram drawn
    # Each finding's link lands on its card.
    for feature in ("measure_151", "code_198"):
      target = features.anchor(feature)
      top = page.evaluate(
          f"(() => {{ document.querySelector('tr.finding[data-feature=\"{feature}\"] "
          f"a.feature-link').click(); const r = document.getElementById('{target}')"
          ".getBoundingClientRect(); return [location.hash, Math.round(r.top)]; })()")
      assert top[0] == "#" + target and -2 <= top[1] < 200, (feature, top)
    # The filter narrows the cards, and clearing it brings them back.
    typed = ("(q => { const i = document.getElementById('feature-filter'); i.value = q; "
             "i.dispatchEvent(new Event('input')); return [document.querySelectorAll("
             "'.feature-card:not([hidden])').length, document.getElementById('feature-count')"
             ".textContent]; })")
    narrowed = sum("measure_15" in f"measure_{i:03d}" for i in range(200) if i % 3)
    assert page.evaluate(typed + "('measure_15')") == [narrowed, f"{narrowed} of 200"]
    assert page.evaluate(typed + "('outliers')") == [1, "1 of 200"]
    assert page.evaluate(typed + "('block code')") == [1, "1 of 200"]
    assert page.evaluate(typed + "('')") == [200, "200 of 200"]
    # A finding's link reveals its card even when the filter hides it.
    page.evaluate(typed + "('measure_15')")
    page.evaluate("document.querySelector('tr.finding[data-feature=\"code_198\"] "
                  "a.feature-link').click()")
    assert page.evaluate(f"!document.getElementById('{features.anchor('code_198')}').hidden")
    timing = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
    print(f"200-feature report: load event at {timing:.0f} ms ({kind})")
    checked.append(timing)

  profile = str(tmp_path / "chromium-profile")
  if kind == "selenium":
    report_test._open_in_selenium(chromium, chromedriver, profile, [path], check)
  else:
    report_test._open_in_playwright(chromium, profile, [path], check)
  assert checked
  assert os.path.getsize(os.path.splitext(path)[0] + ".png") > 10_000


def test_hostile_class_names_stay_text_in_charts_and_tables(tmp_path):
  data = report_test.full_data(tmp_path)
  classes = ["<b>bold</b>", "$x^2$", "tab\there", "\u202eevil", "c" * 200]
  data.class_names = classes
  data.rebalance.splits[0].before = {c: 10 + i for i, c in enumerate(classes)}
  data.rebalance.splits[0].after = {c: 20 for c in classes}
  data.evaluation.confusion.actual = data.evaluation.confusion.predicted = classes
  data.evaluation.confusion.counts = [[5 if i == j else 1 for j in range(5)] for i in range(5)]
  data.evaluation.per_class = {c: {"recall": 0.9} for c in classes}
  page = report.render_report(data)
  assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page
  # Shown as written, not typeset as TeX; a long name is cut on the chart's axis only.
  chart = page[page.index('<figure class="chart" id="class-counts">'):]
  assert "$x^2$" in chart[:chart.index("</figure>")]
  assert "c" * 23 + "…" in chart and "c" * 200 in page
  report_test._assert_self_contained(page)
