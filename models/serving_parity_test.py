"""Serving parity: raw serialized examples through the exported transform layer (what the model's
serving signature runs) give exactly what the Beam Transform wrote for the same rows, including
missing values, NaN, ±inf, blank strings, unseen categories and values outside the train range."""
import numpy as np
import tensorflow as tf

from trainguard.models import fixtures as data


def test_serving_layer_transforms_raw_requests_exactly_as_beam_did(transform_run):
  output = transform_run.output
  serving_spec = output.raw_feature_spec()
  serving_spec.pop(data.LABEL)  # serving requests carry no label
  rows = data.ROWS + data.SERVING_ROWS
  requests = [data.serialize({k: v for k, v in r.items() if k != data.LABEL}, serving_spec)
              for r in rows]
  layer = output.transform_features_layer()
  served = layer(tf.io.parse_example(tf.constant(requests), serving_spec))
  expected = transform_run.rows + transform_run.serving_rows
  assert [r["row_id"] for r in expected] == [float(r["row_id"]) for r in rows]
  compared = sorted(set(expected[0]) - {data.LABEL + "_xf"})
  assert sorted(served) == compared
  for name in compared:
    np.testing.assert_allclose(
        np.asarray(served[name]).reshape(-1), [r[name] for r in expected], rtol=1e-6, atol=1e-7,
        err_msg=name)


def test_unseen_categories_take_the_out_of_vocabulary_id_at_serving(transform_run):
  unseen = transform_run.serving_rows[2]  # purple, hexagon, XL: not in any train row
  for name in ("colour", "shape", "size"):
    assert unseen[name + "_xf"] == transform_run.output.vocabulary_size_by_name(name)


def test_missing_values_and_clipping_at_serving_equal_training(value_fixes_run):
  # The clip bounds and the imputed values are analyzer outputs in the graph: a request is
  # clipped and imputed at exactly the values Beam used on the train rows.
  output = value_fixes_run.output
  serving_spec = output.raw_feature_spec()
  serving_spec.pop(data.LABEL)
  rows = data.VALUES_ROWS + data.VALUES_SERVING_ROWS
  requests = [data.serialize({k: v for k, v in r.items() if k != data.LABEL}, serving_spec)
              for r in rows]
  served = output.transform_features_layer()(tf.io.parse_example(tf.constant(requests),
                                                                 serving_spec))
  expected = value_fixes_run.rows + value_fixes_run.serving_rows
  for name in ("sentinel_f_xf", "sentinel_f_was_missing_xf", "sentinel_c_xf", "clipped_f_xf",
               "clipped_i_xf"):
    np.testing.assert_array_equal(np.asarray(served[name]).reshape(-1),
                                  [r[name] for r in expected], err_msg=name)


def test_the_defect_fixes_at_serving_equal_training(defect_fixes_run):
  # `normalize` runs in the serving graph: a request spelled another way gets training's id; the
  # label's `label.map` runs in the graph the Evaluator applies to raw eval examples.
  output = defect_fixes_run.output
  serving_spec = output.raw_feature_spec()
  serving_spec.pop(data.LABEL)
  rows = data.DEFECTS_ROWS + data.DEFECTS_SERVING_ROWS
  requests = [data.serialize({k: v for k, v in r.items() if k != data.LABEL}, serving_spec)
              for r in rows]
  served = output.transform_features_layer()(tf.io.parse_example(tf.constant(requests),
                                                                 serving_spec))
  expected = defect_fixes_run.rows + defect_fixes_run.serving_rows
  compared = sorted(set(expected[0]) - {data.LABEL + "_xf"})
  assert sorted(served) == compared
  for name in compared:
    np.testing.assert_array_equal(np.asarray(served[name]).reshape(-1),
                                  [r[name] for r in expected], err_msg=name)
  # The Evaluator's transform_features signature parses the label too: label.map applies there.
  labelled = [data.serialize(r, output.raw_feature_spec()) for r in rows]
  evaluated = output.transform_features_layer()(tf.io.parse_example(
      tf.constant(labelled), output.raw_feature_spec()))
  np.testing.assert_array_equal(np.asarray(evaluated[data.LABEL + "_xf"]).reshape(-1),
                                [r[data.LABEL + "_xf"] for r in expected])
