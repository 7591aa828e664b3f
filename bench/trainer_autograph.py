"""The Trainer's run_fn alone, with and without autograph skipping the graph-mode libraries.

    .venv/bin/python -m bench.trainer_autograph --workdir W [--pipeline trainguard-penguins]

W is the work directory of a finished `trainguard run` (its Transform and Rebalance outputs are the
inputs). Each variant runs in a fresh process, alternating, and prints run_fn's wall time and how
much of it went to `fit`, the serving signatures and `save` (models/autograph_rules.py says why).
"""
import argparse
import json
import subprocess
import sys
import tempfile

from bench import report

CHILD = r'''
import json, os, sys, time
from tfx.components.trainer import fn_args_utils
from tfx.types import standard_artifacts
import tf_keras as keras
from trainguard.models import autograph_rules
from trainguard.models.keras_model import model as model_module
from trainguard.pipeline import results
from tensorflow.python.autograph.core import config as autograph_config

workdir, pipeline_name, out, variant = sys.argv[1:5]
if variant == "autograph everywhere":  # TensorFlow 2.16's own rules
  autograph_config.CONVERSION_RULES = tuple(
      r for r in autograph_config.CONVERSION_RULES
      if getattr(r, "_prefix", None) not in autograph_rules.LIBRARIES)
summary = results.latest_run(results.RunPaths(workdir, pipeline_name))
store = results.metadata_store(summary.paths.metadata_path)
execution = store.get_executions_by_id([summary.executions["Trainer"].execution_id])[0]
props = {k: v.string_value for k, v in execution.custom_properties.items()}
inputs = {}
for key, node_output, artifact_type in (
    ("examples", "Rebalance.rebalanced_examples", standard_artifacts.Examples),
    ("transform_graph", "Transform.transform_graph", standard_artifacts.TransformGraph),
    ("schema", "ImportSchemaGen.schema", standard_artifacts.Schema)):
  artifact = artifact_type()
  artifact.set_mlmd_artifact(summary.artifacts[node_output][-1])
  inputs[key] = [artifact]
fn_args = fn_args_utils.get_common_fn_args(
    inputs, {k: props[k] for k in ("train_args", "eval_args", "custom_config")},
    working_dir=os.path.join(out, "work"))
fn_args.transform_output = inputs["transform_graph"][0].uri
fn_args.serving_model_dir = os.path.join(out, "serving")
fn_args.model_run_dir = os.path.join(out, "run")
timings = {}
def timed(owner, name):
  original = getattr(owner, name)
  def wrapper(*args, **kwargs):
    started = time.time()
    try:
      return original(*args, **kwargs)
    finally:
      timings[name] = timings.get(name, 0.0) + time.time() - started
  setattr(owner, name, wrapper)
timed(keras.Model, "fit"); timed(keras.Model, "save"); timed(model_module, "_signatures")
started = time.time()
model_module.run_fn(fn_args)
print(json.dumps({"run_fn": time.time() - started, **timings}))
'''

VARIANTS = ("autograph everywhere", "libraries skipped")


def main(argv=None) -> int:
  parser = argparse.ArgumentParser()
  parser.add_argument("--workdir", required=True, help="a finished trainguard run's --workdir")
  parser.add_argument("--pipeline", default="trainguard-penguins")
  parser.add_argument("--repeats", type=int, default=1)
  parser.add_argument("--out")
  args = parser.parse_args(argv)
  rows = []
  for repeat in range(args.repeats):
    for variant in VARIANTS:
      out = tempfile.mkdtemp(prefix="bench-trainer-")
      proc = subprocess.run([sys.executable, "-c", CHILD, args.workdir, args.pipeline, out,
                             variant], capture_output=True, text=True)
      if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
      seconds = json.loads(proc.stdout.strip().splitlines()[-1])
      rows.append([str(repeat + 1), variant] + [f"{seconds.get(k, 0.0):.1f}" for k in (
          "run_fn", "fit", "_signatures", "save")])
  report.emit(["repeat", "variant", "run_fn (s)", "fit (s)", "serving signatures (s)",
               "save (s)"], rows, args.out)
  return 0


if __name__ == "__main__":
  sys.exit(main())
