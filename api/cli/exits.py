"""Exit codes of every ``drg`` command, and the usage error they share."""

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INPUT, EXIT_FAIL_ON = 0, 1, 2, 3, 4


class UsageError(Exception):
    """A command-line option that cannot be used as given (exit 2)."""


__all__ = ["EXIT_ERROR", "EXIT_FAIL_ON", "EXIT_INPUT", "EXIT_OK", "EXIT_USAGE", "UsageError"]
