"""Shared fixtures of the Kubeflow tests. Each is expensive, so each is built once per session:

- `compiled`: the runner's output (pipeline.json, pipeline.yaml) with every optional node compiled in,
  and the `tfx.dsl.Pipeline` objects it was compiled from, to derive what the specs must hold;
- `image_env`: a fresh venv holding what the image holds (requirements.lock, then the wheel built
  from this checkout; no editable install), created with the uv the Makefile installs;
- `theirs`: `their_pipeline()`, a pipeline of stock components that is not ours, compiled by
  kfp_backend.compile_for_kfp_backend;
- `reference_run`: one LocalDagRunner run of every node the container tests run again in the
  container (the custom components and everything upstream of them), on 172 penguins rows.
"""
import argparse
import contextlib
import csv
import dataclasses
import fcntl
import glob
import json
import os
import re
import subprocess
import sys
from typing import Any, Dict, List

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE = "registry.example.com/trainguard/trainguard:test"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@dataclasses.dataclass
class Compiled:
  args: argparse.Namespace
  output_dir: str
  job: Dict[str, Any]  # pipeline.json: a PipelineJob (Vertex)
  kfp_spec: Dict[str, Any]  # pipeline.yaml: a PipelineSpec (Kubeflow Pipelines 2 backend)
  pipelines: Dict[str, Any]  # "json" / "yaml" -> the tfx.dsl.Pipeline each was compiled from

  @property
  def vertex_spec(self) -> Dict[str, Any]:
    return self.job["pipelineSpec"]


def compile_into(output_dir: str, *extra: str) -> Compiled:
  from trainguard.kubeflow import kubeflow_v2_runner as runner
  from trainguard.pipeline import pipeline
  argv = ["--image", IMAGE, "--output-dir", output_dir, *extra]
  assert runner.main(argv) == 0
  args = runner.parse_args(argv)
  with open(os.path.join(output_dir, "pipeline.json"), encoding="utf-8") as f:
    job = json.load(f)
  with open(os.path.join(output_dir, "pipeline.yaml"), encoding="utf-8") as f:
    kfp_spec = yaml.safe_load(f)
  pipelines = {
      "json": pipeline.create_pipeline(**runner.pipeline_arguments(args)),
      "yaml": pipeline.create_pipeline(**runner.pipeline_arguments(args),
                                       baseline_model_resolver=False),
  }
  return Compiled(args, output_dir, job, kfp_spec, pipelines)


@pytest.fixture(scope="session")
def compiled(tmp_path_factory) -> Compiled:
  """Compiled with the optional serving and previous-span nodes, so every node is in the specs."""
  return compile_into(str(tmp_path_factory.mktemp("spec")),
                      "--serving-data-root", "gs://bucket/serving",
                      "--previous-span-root", "gs://bucket/previous")


# ---------------------------------------------------------------------------------------------
# A pipeline that is not ours: what a TFX user's own `create_pipeline` looks like. CsvExampleGen on
# a runtime parameter with a default, StatisticsGen, SchemaGen, ImportSchemaGen of a file of this
# checkout (a compile-machine path spec_check must flag), Trainer by module path, the
# latest-blessed-model Resolver as the Evaluator's baseline, Pusher. Compiled only, never run.

DATA_DEFAULT = "gs://their-bucket/data"
ROOT = "gs://their-bucket/root"
LOCAL_SCHEMA = os.path.join(REPO, "schemas", "penguins", "schema.pbtxt")


def their_pipeline(schema_file=LOCAL_SCHEMA, serving_dir="gs://their-bucket/serving",
                   change_threshold=False):
  import tensorflow_model_analysis as tfma
  from tfx import v1 as tfx
  example_gen = tfx.components.CsvExampleGen(input_base=tfx.dsl.experimental.RuntimeParameter(
      name="data_root", ptype=str, default=DATA_DEFAULT))
  statistics = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
  inferred = tfx.components.SchemaGen(statistics=statistics.outputs["statistics"])
  curated = tfx.components.ImportSchemaGen(schema_file=schema_file)
  trainer = tfx.components.Trainer(
      run_fn="their_project.model.run_fn", examples=example_gen.outputs["examples"],
      schema=curated.outputs["schema"], train_args=tfx.proto.TrainArgs(num_steps=10),
      eval_args=tfx.proto.EvalArgs(num_steps=5))
  latest_blessed = tfx.dsl.Resolver(
      strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
      model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
      model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
  ).with_id("latest_blessed_model_resolver")
  threshold = tfma.MetricThreshold(value_threshold=tfma.GenericValueThreshold(
      lower_bound={"value": 0.5}))
  if change_threshold:
    threshold.change_threshold.CopyFrom(tfma.GenericChangeThreshold(
        direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={"value": -1e-10}))
  evaluator = tfx.components.Evaluator(
      examples=example_gen.outputs["examples"], model=trainer.outputs["model"],
      baseline_model=latest_blessed.outputs["model"],
      eval_config=tfma.EvalConfig(
          model_specs=[tfma.ModelSpec(label_key="species")],
          metrics_specs=[tfma.MetricsSpec(metrics=[tfma.MetricConfig(
              class_name="SparseCategoricalAccuracy", threshold=threshold)])]))
  pusher = tfx.components.Pusher(
      model=trainer.outputs["model"], model_blessing=evaluator.outputs["blessing"],
      push_destination=tfx.proto.PushDestination(
          filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_dir)))
  return tfx.dsl.Pipeline(
      pipeline_name="their-pipeline", pipeline_root=ROOT,
      components=[example_gen, statistics, inferred, curated, trainer, latest_blessed, evaluator,
                  pusher])


@pytest.fixture(scope="session")
def theirs(tmp_path_factory):
  """(the pipeline, the spec compile_for_kfp_backend returned, the YAML file it wrote)."""
  from trainguard.kubeflow import kfp_backend
  pipeline = their_pipeline()
  path = str(tmp_path_factory.mktemp("theirs") / "pipeline.yaml")
  spec = kfp_backend.compile_for_kfp_backend(pipeline, image=IMAGE, output_file=path)
  return pipeline, spec, path


# ---------------------------------------------------------------------------------------------
# The image's environment


@dataclasses.dataclass
class ImageEnv:
  bin_dir: str

  @property
  def python(self) -> str:
    return os.path.join(self.bin_dir, "python")

  def env(self) -> Dict[str, str]:
    """Like the container: `python` is the image's interpreter and nothing else is on the path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = self.bin_dir + os.pathsep + env.get("PATH", "")
    return env


def uv_binary() -> str:
  """The uv the Makefile installs (same version), or $UV."""
  with open(os.path.join(REPO, "Makefile"), encoding="utf-8") as f:
    version = re.search(r"^UV_VERSION := (\S+)$", f.read(), re.M).group(1)
  return os.environ.get("UV") or os.path.expanduser(
      f"~/.cache/trainguard/uv-{version}/bin/uv")


@contextlib.contextmanager
def wheel_build_lock():
  """Held while `pip wheel` builds from the checkout, which writes build/ in it: the image here
  and tests/adopting_e2e_test.py may build at once on two pytest-xdist workers."""
  os.makedirs(os.path.join(REPO, "build"), exist_ok=True)
  with open(os.path.join(REPO, "build", ".wheel-build.lock"), "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def image_env(tmp_path_factory) -> ImageEnv:
  uv = uv_binary()
  if not os.access(uv, os.X_OK):
    message = f"uv not found at {uv} (run `make setup`, or set UV=/path/to/uv)"
    if IN_CI:
      pytest.fail(message + "; CI must build the image environment")
    pytest.skip(message)
  root = tmp_path_factory.mktemp("image")
  dist, venv = str(root / "dist"), str(root / "venv")
  with wheel_build_lock():
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir", "-q",
                    REPO, "-w", dist], check=True, cwd=str(root))
  wheels = glob.glob(os.path.join(dist, "trainguard-*.whl"))
  assert len(wheels) == 1, wheels
  base_python = os.path.join(sys.base_prefix, "bin", "python3.10")
  # The same two installs as the Dockerfile: every pin of the lock, then the wheel alone.
  for command in ([uv, "venv", "-q", "--seed", "--python", base_python, venv],
                  [uv, "pip", "install", "-q", "--python", f"{venv}/bin/python",
                   "-r", os.path.join(REPO, "requirements.lock")],
                  [uv, "pip", "install", "-q", "--python", f"{venv}/bin/python", "--no-deps",
                   wheels[0]]):
    proc = subprocess.run(command, capture_output=True, text=True, cwd=str(root))
    assert proc.returncode == 0, f"{' '.join(command)}:\n{proc.stderr[-3000:]}"
  return ImageEnv(os.path.join(venv, "bin"))


# ---------------------------------------------------------------------------------------------
# The LocalDagRunner reference


# Ours only by a small wrapper around stock's executor, checked in their own tests, and not run by
# the container comparison: Evaluator (TFMA's output, after a model is trained, plus the training
# diagnosis's veto: components/evaluator/executor_test.py).
WRAPPED_STOCK_TASKS = ("Evaluator",)


def custom_task_names(spec: Dict[str, Any]) -> List[str]:
  """Tasks whose executor is ours (trainguard.*) and not a wrapped stock one: what the container
  tests must run."""
  from trainguard.kubeflow import spec_check
  names = []
  for task_name, task in spec["root"]["dag"]["tasks"].items():
    label = spec["components"][task["componentRef"]["name"]]["executorLabel"]
    container = spec["deploymentSpec"]["executors"][label].get("container", {})
    if (spec_check.executor_class_path(container).startswith("trainguard.")
        and task_name not in WRAPPED_STOCK_TASKS):
      names.append(task_name)
  return names


@dataclasses.dataclass
class ReferenceRun:
  pipeline: Any  # the tfx.dsl.Pipeline that ran
  metadata_path: str
  data: Dict[str, str]  # runtime parameter name -> local folder

  def outputs(self, node_id: str):
    """{output key: TFX artifact} of the node's execution, read back from ML Metadata."""
    from ml_metadata import metadata_store
    from ml_metadata.proto import metadata_store_pb2
    from tfx.types import artifact_utils
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = self.metadata_path
    store = metadata_store.MetadataStore(config)
    context = store.get_context_by_type_and_name(
        "node", f"{self.pipeline.pipeline_info.pipeline_name}.{node_id}")
    assert context is not None, f"{node_id} did not run"
    execution = max(store.get_executions_by_context(context.id), key=lambda e: e.id)
    events = [e for e in store.get_events_by_execution_ids([execution.id])
              if e.type == metadata_store_pb2.Event.OUTPUT]
    artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
    types = {t.id: t for t in store.get_artifact_types_by_id(
        list({a.type_id for a in artifacts.values()}))}
    return {e.path.steps[0].key: artifact_utils.deserialize_artifact(
        types[artifacts[e.artifact_id].type_id], artifacts[e.artifact_id]) for e in events}


def _write_penguins(folder: str, rows: List[Dict[str, str]], columns: List[str]) -> str:
  """Stages rows as `trainguard run` does (missing cells empty), via its own staging code."""
  from trainguard import preflight
  os.makedirs(folder, exist_ok=True)
  raw = os.path.join(folder, "raw.csv")  # beside data/, which is all ExampleGen reads
  with open(raw, "w", newline="", encoding="utf-8") as f:
    writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
  label = "species" if "species" in columns else None
  preflight.stage(preflight.inspect(raw, label), os.path.join(folder, "data", "data.csv"))
  os.remove(raw)
  return os.path.join(folder, "data")


@pytest.fixture(scope="session")
def reference_run(compiled, tmp_path_factory) -> ReferenceRun:
  """The compiled pipeline's own arguments with local paths, run by LocalDagRunner up to the
  custom components: the same execution properties the container receives from the spec."""
  from tfx import v1 as tfx
  from tfx.orchestration import pipeline as pipeline_lib
  from trainguard.kubeflow import kubeflow_v2_runner as runner
  from trainguard.pipeline import datasets, pipeline
  root = str(tmp_path_factory.mktemp("reference"))
  with open(datasets.penguins_source_csv(), encoding="utf-8") as f:
    reader = csv.DictReader(f)
    columns, rows = list(reader.fieldnames), list(reader)[::2]  # 172 rows, every species
  data = {
      "data_root": _write_penguins(os.path.join(root, "main"), rows, columns),
      # Serving sample and previous span from the same rows: no skew or drift, the gate passes.
      "serving_data_root": _write_penguins(os.path.join(root, "serving"), rows,
                                           [c for c in columns if c != "species"]),
      "previous_span_root": _write_penguins(os.path.join(root, "previous"), rows, columns),
  }
  kwargs = runner.pipeline_arguments(compiled.args)
  for name, value in list(kwargs.items()):
    if isinstance(value, tfx.dsl.experimental.RuntimeParameter):
      kwargs[name] = data[value.name]
  metadata_path = os.path.join(root, "metadata.sqlite")
  kwargs.update(
      pipeline_root=os.path.join(root, "pipeline_root"),
      serving_model_dir=os.path.join(root, "serving_model"),
      runtime_schema_path=None,  # ImportSchemaGen reads the checkout's copy of the same schema
      metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
          metadata_path))
  local = pipeline.create_pipeline(**kwargs)
  tfx.orchestration.LocalDagRunner().run(
      local, run_options=pipeline_lib.RunOptions(to_nodes=custom_task_names(compiled.vertex_spec)))
  return ReferenceRun(local, metadata_path, data)
