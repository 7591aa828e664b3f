"""One hierarchy for the errors a user can act on, so the CLI picks an exit code by type.

Every class here means "your input, your flag, your policy or your disk": the message names the
file, the line, the flag or the key, and the fix; `main` prints it without a traceback. The exit
code is the class's, not the raising module's: before, `main` listed user-error classes from four
modules and `failure_message` matched two more by class *name*, which the tests then had to imitate
with stand-in classes. This module imports nothing, so TensorFlow-free code (the pre-flight, the
policy, schema review) and the components (Rebalance, the Trainer) can all raise from it.
"""

EXIT_OK, EXIT_BLOCKED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class UserError(ValueError):
  """Something the user gave that cannot be used as given (exit 2)."""

  exit_code = EXIT_USAGE
  # What was going on, for an error raised inside a component ("training diverged"): the CLI
  # puts it before the message, so the user knows which step the data stopped.
  context = ""


class UsageError(UserError):
  """A flag that cannot be used as given: its value, or its combination with another flag."""


class InputError(UserError):
  """Input that cannot be used as given; the message names the file, the row/column and the fix."""


class ReviewError(UserError):
  """A schema review that cannot be made: a folder without a schema, unreadable statistics."""


class ModuleCodeError(UserError):
  """A model-code flag that does not name a function of an importable module."""


class PolicyError(UserError):
  """A policy file that cannot be used; the message names the file, the key, the value and the fix."""


class WriteError(UserError, OSError):
  """A file trainguard must write could not be written (disk full, read-only, not a folder).

  Also an OSError (with the errno of the failure), so code that handles OS errors still sees it."""

  def __init__(self, path: str, error: OSError):
    OSError.__init__(self, error.errno, f"{path}: cannot write it ({error.strerror}); free space "
                     "on that disk or pass another --workdir.")
    self.path = path

  def __str__(self) -> str:
    return self.strerror


class DataError(UserError):
  """The data stopped a component mid-run in a way only the data can fix (exit 1, like a block):
  a training loss that diverged."""

  exit_code = EXIT_BLOCKED


class StateError(UserError):
  """The work directory's own state cannot be used as it is: the ML Metadata store is damaged or
  held by another process. Exit 2, like any input the user must repair: no component has run, and
  the message names the path and the repair."""

  def __init__(self, path: str, message: str):
    super().__init__(f"{path}: {message}")
    self.path = path


class StoreDamagedError(StateError):
  """`metadata.sqlite` is not a whole SQLite file (truncated, overwritten, malformed pages)."""

  def __init__(self, path: str, problem: str):
    super().__init__(path, f"the ML Metadata store is damaged ({problem}), so what earlier runs "
                     "did cannot be read. Restore it from a backup, or move it aside to start a "
                     f"new store (every component then runs again): mv {path} {path}.damaged")


class StoreLockedError(StateError):
  """Another process holds `metadata.sqlite`'s write lock and has not let go."""

  def __init__(self, path: str, waited: float):
    super().__init__(path, f"the ML Metadata store is locked by another process (waited "
                     f"{waited:g} s): a sqlite3 shell or database browser with an open "
                     f"transaction, or a stuck run. Find it with `fuser {path}`, end its "
                     "transaction or stop it, then run again.")
