"""The report's charts: matplotlib figures rendered to inline SVG, ready to paste into HTML.

Text stays text (`svg.fonttype: none`), so it is searchable, selectable and drawn in the page's own
font; nothing is fetched. Each SVG is cleaned for inlining: no XML prolog, DOCTYPE, metadata or
namespace URLs, element ids prefixed with the chart's name (several SVGs share one document), and a
height left to the `viewBox`, so that CSS can shrink it to its column. Output is deterministic for
the same input.
"""
import io
import re
from typing import Dict, List, Optional, Sequence

import matplotlib
import matplotlib.ticker
from matplotlib.figure import Figure

from trainguard.report.data import ClassCounts, ConfusionMatrix, FeatureCard

# The page's palette (kept in step with the template's CSS).
BEFORE = "#9aa5b1"
AFTER = "#2f6fde"
TRAIN = "#2f6fde"
VALIDATION = "#e0782f"
INK = "#1f2933"
GRID = "#e4e7eb"
# A feature's splits, as the card's table marks them (kept in step with the template's CSS).
SPLIT_COLORS = {"train": TRAIN, "eval": VALIDATION, "validation": "#b8860b",
                "serving": "#1f7a4d", "previous span": "#7c5cbf"}
OTHER_SPLIT = "#7b8794"

_RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "trainguard-report",
    "font.family": "sans-serif",
    "font.size": 10,
    "axes.edgecolor": "#cbd2d9",
    "axes.labelcolor": INK,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": GRID,
    "xtick.color": INK,
    "ytick.color": INK,
    "legend.frameon": False,
    # Class names and feature names are data: "$x^2$" is text to show, not TeX to typeset.
    "text.parse_math": False,
}
LABEL_CHARS = 24  # a class name on an axis is cut to this many characters (the tables show it whole)
# Text drawn by the browser: the page's font stack, not matplotlib's DejaVu Sans.
_FONT_STACK = ("system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, "
               "sans-serif")


def class_counts_svg(splits: Sequence[ClassCounts], name: str = "class-counts") -> str:
  """Grouped bars, rows per class before and after rebalancing, one panel per split."""
  splits = [s for s in splits if s.before or s.after]
  if not splits:
    return ""
  with matplotlib.rc_context(_RC):
    fig = Figure(figsize=(min(10.5, 6.4 + 4.0 * (len(splits) - 1)), 3.2), layout="constrained")
    axes = fig.subplots(1, len(splits), squeeze=False)[0]
    for ax, counts in zip(axes, splits):
      classes = list(dict.fromkeys(list(counts.before) + list(counts.after)))
      x = range(len(classes))
      width = 0.38
      before = [counts.before.get(c, 0) for c in classes]
      after = [counts.after.get(c, 0) for c in classes]
      bars_before = ax.bar([i - width / 2 for i in x], before, width, label="before",
                           color=BEFORE)
      bars_after = ax.bar([i + width / 2 for i in x], after, width, label="after", color=AFTER)
      ax.bar_label(bars_before, fontsize=8, padding=2, color=INK)
      ax.bar_label(bars_after, fontsize=8, padding=2, color=INK)
      ax.set_xticks(list(x), [_label(c) for c in classes])
      ax.set_ylabel("rows")
      ax.set_title(f"{counts.split} split" + (f": {counts.strategy}" if counts.strategy else ""))
      ax.grid(axis="x", visible=False)
      ax.margins(y=0.12)
    fig.legend(handles=[bars_before, bars_after], loc="outside lower center", ncols=2,
               fontsize=9)
    return _to_svg(fig, name, "Rows per class before and after rebalancing")


def training_curves_svg(history: Dict[str, List[float]], name: str = "training-curves") -> str:
  """One panel per metric (loss first, then accuracy, then the rest): train vs validation."""
  metrics = [m for m in history if not m.startswith("val_") and history[m]]
  metrics += [m[4:] for m in history if m.startswith("val_") and m[4:] not in history]
  order = {"loss": 0, "accuracy": 1}
  metrics = sorted(dict.fromkeys(metrics), key=lambda m: (order.get(m, 2), m))[:4]
  if not metrics:
    return ""
  best_epoch = _best_epoch(history.get("val_loss"))
  with matplotlib.rc_context(_RC):
    cols, rows = min(2, len(metrics)), (len(metrics) + 1) // 2
    fig = Figure(figsize=(5.0 * cols, 3.1 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).flatten()
    for unused in axes[len(metrics):]:
      unused.set_visible(False)
    for ax, metric in zip(axes, metrics):
      for key, label, color in ((metric, "train", TRAIN), (f"val_{metric}", "validation",
                                                            VALIDATION)):
        values = history.get(key)
        if values:
          ax.plot(range(1, len(values) + 1), values, label=label, color=color, linewidth=1.8)
      if best_epoch is not None:
        ax.axvline(best_epoch, color="#7b8794", linestyle=":", linewidth=1.2,
                   label=f"lowest val loss (epoch {best_epoch})")
      ax.set_title(metric.replace("_", " "))
      ax.set_xlabel("epoch")
      ax.legend(fontsize=8)
    return _to_svg(fig, name, "Training curves: " + ", ".join(metrics) + ", train vs validation")


def gradient_norms_svg(record: Dict, name: str = "gradient-norms") -> str:
  """Per layer, the gradient norm on the monitor's fixed probe batches, per epoch (log scale):
  exploding and vanishing gradients, and the layer they start in, at a glance."""
  epochs = [e for e in record.get("epochs", []) if e.get("layer_grad_norms")]
  layers = [l for l in record.get("layers", []) if any(
      (e["layer_grad_norms"].get(l) or 0) > 0 for e in epochs)]
  if not epochs or not layers:
    return ""
  with matplotlib.rc_context(_RC):
    fig = Figure(figsize=(6.4, 3.1), layout="constrained")
    ax = fig.subplots()
    for layer in layers:
      points = [(e["epoch"], e["layer_grad_norms"].get(layer)) for e in epochs]
      points = [(x, y) for x, y in points if y]
      ax.plot([x for x, _ in points], [y for _, y in points], marker="o", markersize=3,
              linewidth=1.5, label=layer)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("gradient norm")
    ax.set_title("Gradient norm per layer (probe batches)")
    ax.legend(fontsize=8)
    return _to_svg(fig, name, "Gradient norm per layer per epoch, log scale")


def class_recall_svg(record: Dict, name: str = "class-recall") -> str:
  """Per class, the recall on the monitor's validation sample, per epoch: a class that stays at 0
  while the others rise is a majority collapse seen as it happens."""
  epochs = [e for e in record.get("epochs", []) if e.get("val_recall")]
  classes = list(dict.fromkeys(c for e in epochs for c in e["val_recall"]))
  if not epochs or not classes:
    return ""
  with matplotlib.rc_context(_RC):
    fig = Figure(figsize=(6.4, 3.1), layout="constrained")
    ax = fig.subplots()
    for label in classes[:12]:
      points = [(e["epoch"], e["val_recall"].get(label)) for e in epochs]
      points = [(x, y) for x, y in points if y is not None]
      ax.plot([x for x, _ in points], [y for _, y in points], marker="o", markersize=3,
              linewidth=1.5, label=_label(label))
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("epoch")
    ax.set_ylabel("recall")
    ax.set_title("Recall per class (validation sample)")
    ax.legend(fontsize=8)
    return _to_svg(fig, name, "Recall per class per epoch on the validation sample")


def _best_epoch(val_loss: Optional[List[float]]) -> Optional[int]:
  finite = [(v, i) for i, v in enumerate(val_loss or []) if v == v]  # drops NaN
  return min(finite)[1] + 1 if finite else None


def confusion_matrix_svg(matrix: ConfusionMatrix, name: str = "confusion-matrix") -> str:
  """A heatmap of example counts, rows actual class, columns predicted class, counts written in."""
  if not matrix.counts:
    return ""
  rows, cols = len(matrix.actual), len(matrix.predicted)
  with matplotlib.rc_context({**_RC, "axes.grid": False}):
    fig = Figure(figsize=(1.1 * cols + 2.2, 0.8 * rows + 1.4), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(matrix.counts, cmap="Blues", vmin=0, aspect="auto")
    peak = max((max(r) for r in matrix.counts), default=0) or 1
    for i, row in enumerate(matrix.counts):
      for j, count in enumerate(row):
        ax.text(j, i, f"{count:g}", ha="center", va="center", fontsize=10,
                color="white" if count > peak * 0.6 else INK)
    ax.set_xticks(range(cols), [_label(c) for c in matrix.predicted])
    ax.set_yticks(range(rows), [_label(c) for c in matrix.actual])
    ax.set_xlabel("predicted class")
    ax.set_ylabel("actual class")
    ax.tick_params(length=0)
    for spine in ax.spines.values():
      spine.set_visible(False)
    fig.colorbar(image, ax=ax, shrink=0.8, label="examples")
    return _to_svg(fig, name, "Confusion matrix: actual class by predicted class")


def regression_svg(actual: Sequence[float], predicted: Sequence[float],
                   name: str = "regression") -> str:
  """Two panels on the eval sample: predicted against actual (the diagonal is a perfect model)
  and the residual (actual − predicted) against the prediction (a trend or a funnel is error the
  model could still learn; the dashed line is the mean residual)."""
  if not actual:
    return ""
  residuals = [a - p for a, p in zip(actual, predicted)]
  low, high = min(min(actual), min(predicted)), max(max(actual), max(predicted))
  with matplotlib.rc_context(_RC):
    fig = Figure(figsize=(9.6, 3.4), layout="constrained")
    left, right = fig.subplots(1, 2)
    size = 9 if len(actual) < 500 else 4
    left.scatter(actual, predicted, s=size, color=TRAIN, alpha=0.6, linewidths=0)
    left.plot([low, high], [low, high], color="#7b8794", linestyle=":", linewidth=1.2)
    left.set_xlabel("actual")
    left.set_ylabel("predicted")
    left.set_title("Predicted vs actual")
    right.scatter(predicted, residuals, s=size, color=VALIDATION, alpha=0.6, linewidths=0)
    right.axhline(0, color="#7b8794", linewidth=1)
    right.axhline(sum(residuals) / len(residuals), color=INK, linestyle="--", linewidth=1)
    right.set_xlabel("predicted")
    right.set_ylabel("actual − predicted")
    right.set_title("Residuals")
    return _round_coordinates(_to_svg(fig, name, "Predicted vs actual, and residuals, on the "
                                      "eval sample"))


def _label(text: str) -> str:
  """A class name as an axis label: one line, at most `LABEL_CHARS` characters (a 200-character
  name would squeeze the plot to nothing; the page's tables show it whole)."""
  text = " ".join(str(text).split())
  return text if len(text) <= LABEL_CHARS else text[:LABEL_CHARS - 1] + "…"


def split_color(split: str) -> str:
  """The colour of a split in the feature cards ("serving-eval" is drawn as serving)."""
  return SPLIT_COLORS.get(split, SPLIT_COLORS.get(split.split("-", 1)[0], OTHER_SPLIT))


def feature_histogram_svg(card: FeatureCard, name: str) -> str:
  """One card's histogram (see `feature_histograms_svg`)."""
  return feature_histograms_svg([card], [name]).get(card.name, "")


def feature_histograms_svg(cards: Sequence[FeatureCard], names: Sequence[str]) -> Dict[str, str]:
  """Each card's TFDV histograms, one outline per split over a shared value axis, as densities
  (rows per bucket / bucket width / rows with a value): splits of different sizes and ranges
  compare by shape. Train is filled. Small (3.6 × 1.3 in) and light, since a report may hold
  hundreds: no grid, no y ticks, about four x ticks, coordinates rounded. One figure is reused for
  every card (making a figure and its axes was 40% of the time per chart); card name -> SVG, for
  the cards that have a histogram."""
  out: Dict[str, str] = {}
  with matplotlib.rc_context({**_RC, "axes.grid": False, "font.size": 8}):
    fig = Figure(figsize=(3.6, 1.3))
    ax = fig.subplots()
    # Fixed margins: the layout never changes (no title, no y labels).
    fig.subplots_adjust(left=0.03, right=0.97, bottom=0.2, top=0.97)
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="x", labelsize=7.5, length=2, pad=1)
    for card, name in zip(cards, names):
      drawn = [p for p in card.profiles if sum(b.count for b in p.histogram) > 0]
      if not drawn:
        continue
      for profile in drawn:
        edges, heights = _densities(profile.histogram)
        ax.stairs(heights, edges, color=split_color(profile.split), linewidth=1.3,
                  fill=profile.split == "train", alpha=0.35 if profile.split == "train" else 1.0)
      ax.relim()
      ax.autoscale()
      ax.set_ylim(bottom=0)
      ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4))
      out[card.name] = _round_coordinates(
          _to_svg(fig, name, f"Histogram of {card.name}, by split"))
      for patch in list(ax.patches):
        patch.remove()
  return out


def _densities(buckets) -> tuple:
  total = sum(b.count for b in buckets)
  edges = [buckets[0].low] + [b.high for b in buckets]
  if edges[-1] == edges[0]:  # one value: TFDV's single bucket has no width
    return [edges[0] - 0.5, edges[0] + 0.5], [1.0]
  heights = [b.count / total / max(b.high - b.low, 1e-12) for b in buckets]
  return edges, heights


def _round_coordinates(svg: str) -> str:
  """Path coordinates to one decimal (a tenth of a point): the SVG of a small chart shrinks by a
  third and draws the same."""
  def shorten(match):
    return match.group(1) + re.sub(r"(\d+\.\d)\d+", r"\1", match.group(2)) + '"'
  return re.sub(r'(\s(?:d|x|y|x1|x2|y1|y2|width|height|transform)=")([^"]*)"', shorten, svg)


def _to_svg(fig: Figure, name: str, title: str) -> str:
  buffer = io.StringIO()
  fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None, "Format": None,
                                               "Type": None})
  return inline_svg(buffer.getvalue(), name, title)


def inline_svg(svg: str, name: str, title: str) -> str:
  """matplotlib's SVG document made fit to paste into an HTML page (see the module docstring)."""
  svg = svg[svg.index("<svg"):]
  svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
  svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
  svg = re.sub(r'\s+version="[^"]*"', "", svg, count=1)
  # Several SVGs share one document: their ids (clip paths, markers) must not collide.
  svg = re.sub(r'(\sid="|url\(#|href="#)([^")]+)', lambda m: f"{m.group(1)}{name}-{m.group(2)}",
               svg)
  # Natural width kept (the page's CSS caps it at the column's width); the height follows from
  # the viewBox, so a narrow window shrinks the chart instead of cropping it.
  head_end = svg.index(">")
  head = re.sub(r'\s+height="[^"]*"', "", svg[:head_end])
  svg = (f'{head} role="img" aria-labelledby="{name}-title" class="chart-svg">'
         f'<title id="{name}-title">{_escape(title)}</title>{svg[head_end + 1:]}')
  svg = re.sub(r"font-family:[^;\"]*", f"font-family: {_FONT_STACK}", svg)
  return svg.strip()


def _escape(text: str) -> str:
  return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
