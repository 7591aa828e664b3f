"""The Evaluator executor: stock TFMA evaluation and blessing, then the training diagnosis's veto.

Why here and not in the Trainer: a model that did not learn (NOT_LEARNING, MAJORITY_COLLAPSE) is
still a model; failing the Trainer would hide its metrics and curves, which are what the user needs
to see. The Trainer writes its findings into the SavedModel (`assets.extra/`, which serving
ignores), so the verdict travels with the model artifact the Evaluator already reads; a blocking
one turns BLESSED into NOT_BLESSED, and `not_blessed_reason` on the blessing says why, so the
Pusher, the CLI and the report need nothing else.
"""
import json
import os
from typing import Any, Dict, List, Optional

import tensorflow_model_analysis as tfma
from absl import logging
from tfx import types
from tfx.components.evaluator import constants
from tfx.components.evaluator import executor as stock
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import json_utils, path_utils, proto_utils

from trainguard import artifacts
from trainguard.components.data_guard import findings as findings_lib
from trainguard.components.evaluator import labelled
from trainguard.models.decision_forests import native_output

NOT_BLESSED_REASON = "not_blessed_reason"
TRAINING_FINDINGS_IN_MODEL = os.path.join("assets.extra", artifacts.TRAINING_FINDINGS_FILE)


def training_findings(model_uri: str) -> Optional[findings_lib.FindingsReport]:
  """The training diagnosis the Trainer saved with the model, or None (a model trained by another
  run_fn)."""
  path = os.path.join(path_utils.serving_model_path(model_uri), TRAINING_FINDINGS_IN_MODEL)
  if not fileio.exists(path):
    return None
  with fileio.open(path, "r") as f:
    return findings_lib.FindingsReport.from_dict(json.load(f))


def veto(blessing: types.Artifact, report: Optional[findings_lib.FindingsReport]) -> bool:
  """Withholds a blessing from a model with blocking training findings; returns whether it did."""
  if report is None or not report.blocked:
    return False
  reason = "; ".join(f"{f.kind}: {f.found}" for f in report.blocking)
  blessing.set_string_custom_property(NOT_BLESSED_REASON, f"training diagnosis: {reason}")
  if not blessing.get_int_custom_property(constants.ARTIFACT_PROPERTY_BLESSED_KEY):
    return False  # TFMA already withheld it; the reason still says what training found
  blessed = os.path.join(blessing.uri, constants.BLESSED_FILE_NAME)
  if fileio.exists(blessed):
    fileio.remove(blessed)
  with fileio.open(os.path.join(blessing.uri, constants.NOT_BLESSED_FILE_NAME), "w") as f:
    f.write("")
  blessing.set_int_custom_property(constants.ARTIFACT_PROPERTY_BLESSED_KEY,
                                   constants.NOT_BLESSED_VALUE)
  logging.warning("Evaluator: blessing withheld by the training diagnosis: %s", reason)
  return True


class Executor(stock.Executor):
  """Stock's evaluation and blessing; then `veto` on the model's training findings."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
    input_dict = self._without_unlabelled_rows(input_dict, exec_properties)
    with native_output.to_python_streams():  # TFDF's C++ notes as TFMA loads a trees model
      super().Do(input_dict, output_dict, exec_properties)
    blessings = output_dict.get(standard_component_specs.BLESSING_KEY)
    if not blessings or not fileio.listdir(blessings[0].uri):
      return  # no threshold configured: stock wrote no blessing
    model = artifact_utils.get_single_instance(input_dict[standard_component_specs.MODEL_KEY])
    veto(blessings[0], training_findings(model.uri))

  def _without_unlabelled_rows(self, input_dict: Dict[str, List[types.Artifact]],
                               exec_properties: Dict[str, Any]) -> Dict[str, List[types.Artifact]]:
    """`input_dict` with the examples TFMA scores minus their rows without a label
    (`labelled.py` says why), when there are any."""
    key = standard_component_specs.EXAMPLES_KEY
    config_json = exec_properties.get(standard_component_specs.EVAL_CONFIG_KEY)
    if not input_dict.get(key) or not config_json:
      return input_dict
    label = labelled.raw_label(proto_utils.json_to_proto(config_json, tfma.EvalConfig()))
    if label is None:
      return input_dict
    splits = json_utils.loads(
        exec_properties.get(standard_component_specs.EXAMPLE_SPLITS_KEY) or "null") or ["eval"]
    folder = os.path.join(self._get_tmp_dir(), "labelled_examples")
    copy = labelled.labelled_copy(artifact_utils.get_single_instance(input_dict[key]), splits,
                                  label, folder)
    return input_dict if copy is None else {**input_dict, key: [copy]}
