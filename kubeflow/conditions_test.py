"""A Pusher under its own blessing `Cond`, inside `Cond(data_guard.passed())`, fails on blocked
runs; `Pusher(model_blessing=)` does not (docs/kubeflow-conditions.md).

One LocalDagRunner run of stock CsvExampleGen, StatisticsGen and ImportSchemaGen (the curated
penguins schema) and DataGuard on 111 penguins rows without `body_mass_g`, which DataGuard blocks
on. Inside its Cond, two python-function stand-ins for Trainer and Evaluator (what they are does not
matter: they never run) and both Pushers.

Why a Pusher fails: TFX gives the inner Pusher both predicates, and evaluates them in the
iteration order of a protobuf map, which changes from process to process. When the blessing's
predicate comes first, it reads `blessing[0]` of an Evaluator that never ran, gets None, and TFX
raises `FailedPreconditionError: Invalid conditional expression` for the Pusher: a FAILED execution
and an ERROR traceback. When DataGuard's comes first, it is false and the Pusher is skipped. So
about half of the blocked runs fail. This test pins the failing order (each predicate that reads
DataGuard's output last); the Pusher with `model_blessing=` has the one predicate and is skipped
whatever the order.
"""
import csv
import logging
import os

import pytest
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact
from tfx.dsl.component.experimental.decorators import component
from tfx.types import standard_artifacts

from trainguard.kubeflow.conftest import REPO
from trainguard.pipeline import datasets

SCHEMA = "schemas/penguins/schema.pbtxt"


# Module-level: the runner imports a component's executor by the function's module path.
@component
def StandInTrainer(model: OutputArtifact[standard_artifacts.Model]):  # pylint: disable=invalid-name
  with open(os.path.join(model.uri, "saved_model.pb"), "w", encoding="utf-8") as f:
    f.write("never written: the data blocks")


@component
def StandInEvaluator(  # pylint: disable=invalid-name
    model: InputArtifact[standard_artifacts.Model],  # pylint: disable=unused-argument
    blessing: OutputArtifact[standard_artifacts.ModelBlessing]):
  blessing.set_int_custom_property("blessed", 1)


def _pipeline(root):
  from tfx import v1 as tfx

  from trainguard import DataGuard

  def pusher(model, folder, **blessing):
    return tfx.components.Pusher(model=model, push_destination=tfx.proto.PushDestination(
        filesystem=tfx.proto.PushDestination.Filesystem(base_directory=os.path.join(root, folder))),
                                 **blessing)

  example_gen = tfx.components.CsvExampleGen(input_base=os.path.join(root, "data"))
  statistics = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
  schema = tfx.components.ImportSchemaGen(schema_file=os.path.join(REPO, SCHEMA))
  data_guard = DataGuard(statistics=statistics.outputs["statistics"],
                         examples=example_gen.outputs["examples"], schema=schema.outputs["schema"],
                         policy=None, label_key="species")
  with tfx.dsl.Cond(data_guard.passed()):
    trainer = StandInTrainer()
    evaluator = StandInEvaluator(model=trainer.outputs["model"])
    # The pattern of our create_pipeline: the blessing is an input, Pusher pushes only if blessed.
    with_blessing = pusher(trainer.outputs["model"], "served_with_blessing",
                           model_blessing=evaluator.outputs["blessing"]).with_id(
                               "pusher_with_blessing")
    with tfx.dsl.Cond(evaluator.outputs["blessing"].future()[0].custom_property("blessed") == 1):
      nested = pusher(trainer.outputs["model"], "served_nested").with_id("pusher_in_nested_cond")
  return tfx.dsl.Pipeline(
      pipeline_name="nested-cond", pipeline_root=os.path.join(root, "pipeline_root"),
      components=[example_gen, statistics, schema, data_guard, trainer, evaluator, with_blessing,
                  nested],
      metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
          os.path.join(root, "metadata.sqlite")),
      beam_pipeline_args=["--direct_running_mode=in_memory", "--direct_num_workers=1"])


def _write_blocked_data(folder):
  """Complete penguins rows, every third, without body_mass_g: a column the schema requires."""
  with open(datasets.penguins_source_csv(), encoding="utf-8") as f:
    rows = [r for r in csv.DictReader(f) if "NA" not in r.values()][::3]
  os.makedirs(folder)
  with open(os.path.join(folder, "data.csv"), "w", newline="", encoding="utf-8") as f:
    writer = csv.DictWriter(f, [c for c in rows[0] if c != "body_mass_g"], extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
  return len(rows)


def _executions(metadata_path):
  """{node id: [execution state]} from ML Metadata."""
  from ml_metadata import metadata_store
  from ml_metadata.proto import metadata_store_pb2
  config = metadata_store_pb2.ConnectionConfig()
  config.sqlite.filename_uri = metadata_path
  store = metadata_store.MetadataStore(config)
  states = {}
  for context in store.get_contexts_by_type("node"):
    node = context.name.split(".", 1)[1]
    states[node] = [metadata_store_pb2.Execution.State.Name(e.last_known_state)
                    for e in store.get_executions_by_context(context.id)]
  return states


@pytest.fixture(scope="module")
def blocked_run(tmp_path_factory):
  from tfx import v1 as tfx
  from tfx.orchestration.portable.input_resolution import node_inputs_resolver
  root = str(tmp_path_factory.mktemp("nested_cond"))
  assert _write_blocked_data(os.path.join(root, "data")) <= 200
  # pylint: disable-next=protected-access
  filter_conditionals = node_inputs_resolver._filter_conditionals

  def blessing_predicate_first(artifact_maps, conditionals):
    ordered = dict(sorted(conditionals.items(), key=lambda c: "_DataGuard." in str(c[1])))
    return filter_conditionals(artifact_maps, ordered)

  records = []
  handler = logging.Handler(logging.ERROR)
  handler.emit = records.append
  logging.getLogger().addHandler(handler)
  mp = pytest.MonkeyPatch()
  mp.setattr(node_inputs_resolver, "_filter_conditionals", blessing_predicate_first)
  try:
    tfx.orchestration.LocalDagRunner().run(_pipeline(root))
  finally:
    mp.undo()
    logging.getLogger().removeHandler(handler)
  return root, _executions(os.path.join(root, "metadata.sqlite")), records


def test_data_guard_blocked_and_nothing_in_its_cond_ran(blocked_run):
  root, executions, _ = blocked_run
  assert executions["DataGuard"] == ["COMPLETE"]
  for node in ("StandInTrainer", "StandInEvaluator", "pusher_with_blessing"):
    assert executions.get(node, []) == [], node
  assert not os.path.exists(os.path.join(root, "served_with_blessing"))


def test_the_pusher_in_a_nested_blessing_cond_fails_with_an_error_traceback(blocked_run):
  root, executions, records = blocked_run
  assert executions["pusher_in_nested_cond"] == ["FAILED"]
  assert not os.path.exists(os.path.join(root, "served_nested"))
  failures = [r for r in records if r.exc_info and "Invalid conditional expression" in str(
      r.exc_info[1])]
  assert failures, [r.getMessage() for r in records]
  assert "Expected boolean type but got <class 'NoneType'>" in str(failures[0].exc_info[1])
