"""C++ output into Python's streams, for TFDF: YDF, its C++ core, writes its warnings and model
loading notes straight to file descriptors 1 and 2, past `trainguard run`'s redirection of
sys.stdout and sys.stderr into the run's log, which broke its one line per component. Shared by the
trees' Trainer and the Evaluator (TFMA loads the trees' SavedModel). TensorFlow-free."""
import contextlib
import sys


@contextlib.contextmanager
def to_python_streams():
  """Within: what C++ writes to descriptors 1 and 2 goes through wurlitzer (a TFDF dependency)
  into sys.stdout and sys.stderr, so it lands where the rest of the run's output does (the log;
  the terminal with --verbose). Nothing changes when those streams are the process's own."""
  try:
    import wurlitzer  # pylint: disable=g-import-not-at-top
  except ImportError:
    wurlitzer = None
  if wurlitzer is None or (sys.stdout is sys.__stdout__ and sys.stderr is sys.__stderr__):
    yield
    return
  with wurlitzer.pipes(stdout=sys.stdout, stderr=sys.stderr):
    yield
