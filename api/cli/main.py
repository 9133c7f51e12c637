"""The ``drg`` command line: the parser of every subcommand, and the mapping of errors to exit codes.

Exit codes: 0 every input row got an output row (whatever the statuses);
1 an unexpected failure (such as a full disk), with a one-line message;
2 usage error (bad option, column mapping or output); 3 unreadable input or pack;
4 ``--fail-on`` statuses present.
"""

from __future__ import annotations

import argparse
import os
import sys

from api.cli import audit, calibrate, group, packs, serve, settle, spark, validate, weights
from api.cli.exits import EXIT_ERROR, EXIT_FAIL_ON, EXIT_INPUT, EXIT_OK, EXIT_USAGE, UsageError
from audit.rulebook import RuleBookError
from foundation.files import InputError, OutputError
from grouper import RecordSchemaError
from icd_tables.errors import NoPackChosenError, PackError
from icd_tables.intake.headers import ColumnMappingError
from weights import WeightTableError


def build_parser() -> argparse.ArgumentParser:
    """The ``drg`` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="drg", description="CHS-DRG 分组与支付引擎 grouping and payment engine")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in (group, packs, weights, settle, serve, calibrate, validate, audit):
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse: usage errors exit 2, --help exits 0
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return args.func(args)
    except (UsageError, OutputError, ColumnMappingError, NoPackChosenError, settle.SettleUsageError,
            serve.ServeUsageError, *audit.USAGE_ERRORS, *spark.USAGE_ERRORS) as exc:
        print(f"drg: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (InputError, PackError, RecordSchemaError, WeightTableError, RuleBookError,
            calibrate.CalibrationError, *settle.INPUT_ERRORS, *audit.INPUT_ERRORS) as exc:
        print(f"drg: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("\ndrg: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("DRG_DEBUG"):
            raise
        print(f"drg: {type(exc).__name__}: {exc} (set DRG_DEBUG=1 to see where)", file=sys.stderr)
        return EXIT_ERROR


__all__ = ["EXIT_ERROR", "EXIT_FAIL_ON", "EXIT_INPUT", "EXIT_OK", "EXIT_USAGE", "UsageError",
           "build_parser", "main"]
