"""CsvExampleGen: stock CsvExampleGen's examples and splits, read by Arrow and encoded in C++."""
