"""NUMERIC_COLUMN_WITH_TEXT and MIXED_NUMBER_TEXT from TFDV statistics of small frames (every
column read as text, as a stock CsvExampleGen reads a column with any text cell)."""
import numpy as np
import pandas as pd
import pytest
import tensorflow_data_validation as tfdv

from trainguard.components.data_guard import fixes, numeric_text
from trainguard.pipeline import datasets
from trainguard.policy import Policy


def _findings(frame, label="y", context=fixes.CLI):
  stats = tfdv.generate_statistics_from_dataframe(frame.astype(str))
  schema = tfdv.infer_schema(stats)
  return numeric_text.numeric_text_findings(stats, schema, Policy.from_dict({}, schema=schema),
                                            label, "train", context)


@pytest.mark.parametrize("value, number", [
    ("$73k", 73000.0), ("€1,200.50", 1200.5), ("45%", 45.0), ("73 kg", 73.0), ("1.2M", 1.2e6),
    ("-3", -3.0), ("unknown", None), ("3 Main St", None), ("A1", None), ("1,20", None)])
def test_numbers_with_units(value, number):
  assert numeric_text.parse_with_units(value) == number


def test_a_column_of_numbers_and_numbers_with_units_mixes_them():
  rng = np.random.default_rng(5)
  income = [str(int(v)) for v in rng.integers(20_000, 90_000, 79)]
  income += [f"${int(v)}k" for v in rng.integers(20, 90, 21)]
  frame = pd.DataFrame({"income": income, "y": rng.choice(["p", "q"], 100)})
  (finding,) = _findings(frame)
  assert (finding.kind, finding.feature, finding.severity) == ("MIXED_NUMBER_TEXT", "income",
                                                               "warn")
  assert finding.measured == pytest.approx(1.0) and finding.threshold == 0.5
  assert finding.found.startswith("79% of 100 value(s) are numbers; 21% more are numbers written "
                                  "with units or separators ('$")
  assert "trains as a category" in finding.found
  assert "at the source" in finding.fix and "features.income.info" in finding.fix
  assert "schema.pbtxt" in _findings(frame, context=fixes.PIPELINE)[0].fix


def test_text_left_over_is_named_and_under_half_numbers_is_a_category():
  values = ["12"] * 30 + ["15"] * 30 + ["n/a"] * 25 + ["missing"] * 15
  (finding,) = _findings(pd.DataFrame({"x": values, "y": ["p", "q"] * 50}))
  assert finding.kind == "MIXED_NUMBER_TEXT" and "'n/a' ×25" in finding.found
  sizes = ["1"] * 20 + ["2"] * 20 + ["small"] * 30 + ["large"] * 30
  assert _findings(pd.DataFrame({"size": sizes, "y": ["p", "q"] * 50})) == []


def test_ninety_percent_numbers_is_a_numeric_column_with_text_instead():
  values = [str(v) for v in range(91)] + ["?"] * 9
  (finding,) = _findings(pd.DataFrame({"x": values, "y": ["p", "q"] * 50}))
  assert finding.kind == "NUMERIC_COLUMN_WITH_TEXT"


def test_the_raw_penguins_file_read_as_text_has_no_mixed_column():
  frame = pd.read_csv(datasets.penguins_source_csv(), dtype=str, keep_default_na=False)
  kinds = {(f.kind, f.feature) for f in _findings(frame, label="species")}
  assert all(kind == "NUMERIC_COLUMN_WITH_TEXT" for kind, _ in kinds), kinds
  assert ("NUMERIC_COLUMN_WITH_TEXT", "bill_length_mm") in kinds
