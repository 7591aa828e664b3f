"""CsvExampleGen: stock CsvExampleGen's examples and splits, read by Arrow and encoded in C++."""
from trainguard.components.csv_example_gen.component import CsvExampleGen

__all__ = ["CsvExampleGen"]
