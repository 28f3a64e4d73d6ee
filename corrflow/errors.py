"""The errors corrflow raises for a user's mistake, one type per kind of input.

The command-line tools print each as one ``error: ...`` line with exit code 1;
any other exception is a bug and keeps its traceback. Library code raises these
and imports them from here, never from the command-line helpers.
"""

__all__ = ['ConfigError', 'DataError', 'CheckpointError', 'PrecisionError']


class ConfigError(ValueError):
    """A config or a command-line override is invalid."""


class DataError(RuntimeError):
    """A data file or list entry is missing, unreadable or malformed."""


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, unsafe or of the wrong architecture."""


class PrecisionError(ValueError):
    """A precision that the device cannot run (e.g. fp16 autocast on a CPU)."""
