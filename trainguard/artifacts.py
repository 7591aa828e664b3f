"""The names of the files components write and the run report and tests read back.

A writer and its readers import the name from here, instead of each spelling it (the report kept
`HISTORY_FILE = "history.json"  # trainguard.models.keras_model.model.HISTORY_FILE` in sync by a
comment). TensorFlow-free, so the report and the CLI can import it cheaply.
"""

FINDINGS_FILE = "findings.json"              # DataGuard.anomalies: the findings (findings.py)
DATASET_CHECKS_FILE = "dataset_checks.json"  # DataGuard.anomalies: the dataset pass's measures
SCHEMA_DIFF_FILE = "SchemaDiff.pb"           # DataGuard.anomalies/Split-*: TFDV anomalies
REBALANCE_FILE = "rebalance.json"            # Rebalance.rebalanced_examples: counts before/after
HISTORY_FILE = "history.json"                # Trainer.model_run: the Keras history
TRANSFORM_SUMMARY_FILE = "transform_summary.json"  # Trainer.model_run: what Transform learned
TRAINING_RECORD_FILE = "training_record.json"      # Trainer.model_run: what TrainingMonitor measured
TRAINING_FINDINGS_FILE = "training_findings.json"  # Trainer.model_run: the training diagnosis
# Trainer.model_run: a seeded sample of a regression's eval predictions, for the report's charts
REGRESSION_PREDICTIONS_FILE = "regression_predictions.json"
