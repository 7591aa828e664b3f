"""schema_review.flatten: what makes two protos or policies compare equal, and how leaves read."""
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from trainguard.schema_review import flatten


def _schema(text):
  return text_format.Parse(text, schema_pb2.Schema())


def test_named_repeated_messages_are_keyed_by_name_so_order_is_no_change():
  one = _schema('feature { name: "a" type: INT } feature { name: "b" type: BYTES }')
  two = _schema('feature { name: "b" type: BYTES } feature { name: "a" type: INT }')
  assert flatten.flatten_proto(one) == flatten.flatten_proto(two) == {
      'feature["a"].name': ("a", '"a"'), 'feature["a"].type': (schema_pb2.INT, "INT"),
      'feature["b"].name': ("b", '"b"'), 'feature["b"].type': (schema_pb2.BYTES, "BYTES")}


def test_an_empty_sub_message_is_a_leaf_of_its_own():
  assert flatten.flatten_proto(_schema('feature { name: "a" int_domain {} }')) == {
      'feature["a"].name': ("a", '"a"'), 'feature["a"].int_domain': ("{}", "{}")}


def test_numbers_and_lists_read_as_a_review_shows_them():
  assert [flatten.fmt_number(v) for v in (True, 0.1 + 0.2, 3)] == ["true", "0.3", "3"]
  assert flatten.fmt_optional(None) == "(none)" and flatten.fmt_percent(0.905) == "90.5%"
  assert flatten.quoted_values(["x", ""], limit=1) == '"x", … (+1 more)'
  assert flatten.fmt_added_removed(*flatten.added_removed(["a", "b"], ["b", "c"])) == (
      'added "c"; removed "a"')
  assert flatten.dict_changes(flatten.flatten_dict({"s": {"k": 1, "l": ["a"]}}),
                              flatten.flatten_dict({"s": {"k": 2, "l": []}}), "p.") == [
      "- p.s.k: 1 → 2", '- p.s.l: removed "a"']
