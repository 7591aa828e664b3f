"""The model flags reach the Trainer (issue 26): `trainguard run`'s argv → RunOptions →
`run.model_arguments` → `create_pipeline` → the Trainer's custom_config, which each run_fn reads
(models/decision_forests/model.py: `config["num_trees"]`). The pipeline is built, never run: no
LocalDagRunner, no Beam job."""
import json

import pytest

from trainguard import cli, run, schema_folder, schemas
from trainguard.models import features
from trainguard.pipeline import configs, pipeline
from trainguard.policy import Policy


def _trainer_config(tmp_path, argv):
  options = cli.run_options_of(cli.build_parser().parse_args(["run", "x.csv", "--label",
                                                              configs.LABEL_KEY, *argv]))
  folder = schemas.schema_dir(configs.DATASET)
  path = schema_folder.schema_path(folder)
  schema = schema_folder.read_schema(path)
  tfx_pipeline = pipeline.create_pipeline(
      pipeline_name="trainer-config", pipeline_root=str(tmp_path / "root"),
      data_root=str(tmp_path / "data"), schema_path=path, policy=Policy.load(folder, schema),
      label_key=configs.LABEL_KEY,
      label_classes=features.label_classes_from_schema(schema, configs.LABEL_KEY),
      serving_model_dir=str(tmp_path / "serving"), preprocessing_fn=configs.PREPROCESSING_FN,
      **run.model_arguments(options))
  trainer = next(c for c in tfx_pipeline.components if c.id == "Trainer")
  return trainer.exec_properties["run_fn"], json.loads(trainer.exec_properties["custom_config"])


@pytest.mark.parametrize("argv, num_trees", [
    (["--model", "gradient_boosted_trees", "--num-trees", "40"], 40),
    (["--model", "gradient_boosted_trees"], configs.NUM_TREES),
])
def test_num_trees_reaches_the_trees_trainer_config(tmp_path, argv, num_trees):
  run_fn, config = _trainer_config(tmp_path, argv)
  assert run_fn == configs.MODEL_RUN_FNS[configs.GRADIENT_BOOSTED_TREES]
  assert config["num_trees"] == num_trees


def test_the_networks_flags_reach_its_trainer_config_as_before(tmp_path):
  run_fn, config = _trainer_config(tmp_path, ["--learning-rate", "0.003", "--hidden-units",
                                              "32,16", "--epochs", "7", "--batch-size", "64"])
  assert run_fn == configs.RUN_FN
  assert (config["learning_rate"], config["hidden_units"], config["epochs"],
          config["batch_size"], config["num_trees"]) == (0.003, [32, 16], 7, 64,
                                                         configs.NUM_TREES)
