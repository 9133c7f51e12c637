"""The ``drg`` command line: one module per command (argument handling and printing only)."""

from api.cli.main import (EXIT_ERROR, EXIT_FAIL_ON, EXIT_INPUT, EXIT_OK, EXIT_USAGE, UsageError, build_parser,
                          main)

__all__ = ["EXIT_ERROR", "EXIT_FAIL_ON", "EXIT_INPUT", "EXIT_OK", "EXIT_USAGE", "UsageError", "build_parser", "main"]
