"""DataGuard's inputs, outputs and parameters."""
from tfx import types
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

STATISTICS_KEY = "statistics"
SCHEMA_KEY = "schema"
EXAMPLES_KEY = "examples"
SERVING_STATISTICS_KEY = "serving_statistics"
BASELINE_STATISTICS_KEY = "baseline_statistics"
ANOMALIES_KEY = "anomalies"
POLICY_KEY = "policy"
LABEL_KEY = "label_key"
PREFLIGHT_FINDINGS_KEY = "preflight_findings"
FIX_CONTEXT_KEY = "fix_context"

# Custom properties on the output ExampleAnomalies artifact; the pipeline's Cond reads the first.
BLOCKING_FINDINGS_PROPERTY = "blocking_findings"
WARNING_FINDINGS_PROPERTY = "warning_findings"


class DataGuardSpec(types.ComponentSpec):
  PARAMETERS = {
      # The validated policy (trainguard.policy.Policy.to_json()): a parameter, so a policy change
      # invalidates the cache and shows in ML Metadata.
      POLICY_KEY: ExecutionParameter(type=str),
      LABEL_KEY: ExecutionParameter(type=str),
      # Findings of the CLI's pre-flight over the raw CSV (row numbers ExampleGen drops), as a JSON
      # list of findings; merged into findings.json with severities from the policy.
      PREFLIGHT_FINDINGS_KEY: ExecutionParameter(type=str, optional=True),
      # Where DataGuard runs (fixes.CONTEXTS: cli, pipeline, components), so each fix names only
      # the flags and policy keys that exist there; a user's own pipeline by default.
      FIX_CONTEXT_KEY: ExecutionParameter(type=str, optional=True),
  }
  INPUTS = {
      STATISTICS_KEY: ChannelParameter(type=standard_artifacts.ExampleStatistics),
      SCHEMA_KEY: ChannelParameter(type=standard_artifacts.Schema),
      EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples, optional=True),
      SERVING_STATISTICS_KEY: ChannelParameter(
          type=standard_artifacts.ExampleStatistics, optional=True),
      BASELINE_STATISTICS_KEY: ChannelParameter(
          type=standard_artifacts.ExampleStatistics, optional=True),
  }
  OUTPUTS = {
      ANOMALIES_KEY: ChannelParameter(type=standard_artifacts.ExampleAnomalies),
  }
