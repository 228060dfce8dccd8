"""The one error type the CLI turns into a single clear line instead of a traceback."""


class LadderError(Exception):
    """Bad input or an unmet precondition; the message names the file/field and the fix."""
