"""DataGuard: the validation gate in front of Transform.

    data_guard = DataGuard(
        statistics=statistics_gen.outputs["statistics"],
        schema=schema_importer.outputs["schema"],
        policy="schemas/penguins",    # a Policy, a schema folder (its policy.yaml), or None
        label_key="species",
        serving_statistics=serving_statistics_gen.outputs["statistics"],   # optional
        baseline_statistics=previous_span_statistics_gen.outputs["statistics"])  # optional
    with tfx.dsl.Cond(data_guard.passed()):
      transform = Transform(...)   # and everything after it

The output is a standard `ExampleAnomalies` artifact (TFDV's `SchemaDiff.pb` per split, plus
`serving` when a serving sample is given) with `findings.json` beside the splits and the number of
blocking findings as the `blocking_findings` custom property. A blocked run therefore still
publishes its findings (the executor does not raise, which would make TFX delete the outputs), and
the `Cond` skips every downstream node: no Transform execution, no model.
"""
import dataclasses
import json
import os
from typing import Optional, Sequence, Union

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import standard_artifacts

from trainguard.components.data_guard import executor, fixes, spec
from trainguard.components.data_guard.findings import Finding
from trainguard.policy import Policy, as_policy


class DataGuard(base_beam_component.BaseBeamComponent):
  SPEC_CLASS = spec.DataGuardSpec
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

  def __init__(self,
               statistics: types.BaseChannel,
               schema: types.BaseChannel,
               policy: Union[Policy, str, "os.PathLike[str]", None],
               label_key: str,
               examples: Optional[types.BaseChannel] = None,
               serving_statistics: Optional[types.BaseChannel] = None,
               baseline_statistics: Optional[types.BaseChannel] = None,
               preflight_findings: Sequence[Finding] = (),
               fix_context: str = fixes.COMPONENTS):
    """`fix_context`: where this DataGuard runs, so each fix names only what exists there
    (`fixes.py`): `components` (a pipeline of your own: the default), `pipeline` (trainguard's
    create_pipeline) or `cli` (the trainguard CLI)."""
    super().__init__(spec=spec.DataGuardSpec(
        statistics=statistics,
        schema=schema,
        examples=examples,
        serving_statistics=serving_statistics,
        baseline_statistics=baseline_statistics,
        # A folder's policy.yaml is read (and validated) now, at pipeline construction; its
        # feature names meet the schema in the executor, where the schema is data.
        policy=as_policy(policy).to_json(),
        label_key=label_key,
        preflight_findings=json.dumps([dataclasses.asdict(f) for f in preflight_findings],
                                      sort_keys=True) if preflight_findings else None,
        fix_context=fixes.check(fix_context),
        anomalies=types.Channel(type=standard_artifacts.ExampleAnomalies)))

  def passed(self):
    """A predicate for `tfx.dsl.Cond`: true when DataGuard found nothing that blocks."""
    anomalies = self.outputs[spec.ANOMALIES_KEY].future()[0]
    return anomalies.custom_property(spec.BLOCKING_FINDINGS_PROPERTY) == 0
