"""Defaults for the trainguard pipeline, in one place. Runners and the CLI override them by argument."""
import os

from trainguard.pipeline import beam_options

PIPELINE_NAME = "trainguard-penguins"

# The embedded default dataset and its curated schema (schemas/penguins/schema.pbtxt).
DATASET = "penguins"
LABEL_KEY = "species"

# Where runs write (pipeline root, ML Metadata, pushed models, staged data), unless --workdir says.
DEFAULT_WORKDIR = os.path.join(os.path.expanduser("~"), ".trainguard")

# A fixed hash split: the same row always lands in the same split, run after run. Eval is a third of
# the rows, as before; a sixth of the other two thirds is the validation split that early stopping
# and the training diagnosis read, so nothing that selects the model looks at the rows the
# Evaluator blesses on (train 5/9, validation 1/9, eval 3/9).
TRAIN_HASH_BUCKETS = 5
VALIDATION_HASH_BUCKETS = 1
EVAL_HASH_BUCKETS = 3
# Splits by role. Presplit input (data_root/train, data_root/eval) gets its validation split carved
# from the train file by the same share, before ExampleGen (see trainguard/preflight/staging.py).
TRAIN_SPLIT, VALIDATION_SPLIT, EVAL_SPLIT = "train", "validation", "eval"
VALIDATION_SHARE_OF_TRAIN = VALIDATION_HASH_BUCKETS / (TRAIN_HASH_BUCKETS + VALIDATION_HASH_BUCKETS)

# Model code, named by module path of the installed package: no wheel is built at run or compile
# time, and the same path resolves inside the Kubeflow image.
PREPROCESSING_FN = "trainguard.models.preprocessing.preprocessing_fn"
RUN_FN = "trainguard.models.keras_model.model.run_fn"
# `--model`: the model families, each a run_fn of the same Trainer on the same transformed features,
# exported with the same serving signature and blessed by the same Evaluator. Keras is the default;
# docs/benchmarks.md ("Model families") measures both.
KERAS, GRADIENT_BOOSTED_TREES = "keras", "gradient_boosted_trees"
MODEL = KERAS
MODEL_RUN_FNS = {
    KERAS: RUN_FN,
    GRADIENT_BOOSTED_TREES: "trainguard.models.decision_forests.model.run_fn",  # TF Decision Forests
}

# Training. Early stopping on the validation split ends most runs well before EPOCHS.
EPOCHS = 60
BATCH_SIZE = 32
LEARNING_RATE = 0.01
EARLY_STOPPING_PATIENCE = 8
HIDDEN_UNITS = (16, 8)  # the network's ReLU layers, input side first
# The trees (`--num-trees`): the most TF Decision Forests grows, its own default; early stopping on
# the validation split usually keeps fewer. Which flag reaches which family: models/model_flags.py.
NUM_TREES = 300
SEED = 42

# Blessing: the model must reach this eval accuracy to be pushed.
EVAL_ACCURACY_THRESHOLD = 0.6

# Beam: in-process for small data, one worker process per core for big data (beam_options.py says
# why and where the line is). This tuple is the small-data choice, used where no input size is known.
BEAM_PIPELINE_ARGS = beam_options.IN_PROCESS
