"""What C++ writes to descriptor 2 reaches a redirected sys.stderr (the run's log), not the
terminal: how YDF's warnings stay out of `trainguard run`'s one line per component."""
import contextlib
import io
import os

from trainguard.models.decision_forests import native_output


def test_descriptor_output_goes_to_the_redirected_python_stream():
  log = io.StringIO()
  with contextlib.redirect_stderr(log), native_output.to_python_streams():
    os.write(2, b"[WARNING gradient_boosted_trees.cc] goss_alpha set\n")
  assert "goss_alpha set" in log.getvalue()
