"""The ``drg`` command line: the parser of every subcommand, and the mapping of errors to exit codes.

Exit codes: 0 every input row got an output row (whatever the statuses);
1 an unexpected failure (such as a full disk), with a one-line message;
2 usage error (bad option, column mapping or output); 3 unreadable input or pack;
4 ``--fail-on`` statuses present.
"""

from __future__ import annotations

import argparse
import difflib
import gc
import os
import re
import sys

import importlib

from api.cli.commands import COMMANDS
from api.cli.examples import epilog
from api.cli.exits import EXIT_ERROR, EXIT_FAIL_ON, EXIT_INPUT, EXIT_OK, EXIT_USAGE, UsageError


class HelpfulParser(argparse.ArgumentParser):
    """An argument parser whose errors suggest the nearest command or option (difflib; the equivalent of
    Python 3.14's ``suggest_on_error``) and show the usage of the subcommand that was meant."""

    def parse_known_args(self, args=None, namespace=None):
        self._argv = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def error(self, message):
        target, hint = self, ""
        choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if choice:
            hint = _nearest(choice.group(1), re.findall(r"'([^']*)'", choice.group(2)))
        unknown = re.match(r"unrecognized arguments: (.*)", message)
        if unknown:
            target = _chosen(self, getattr(self, "_argv", []))
            options = [o for a in target._actions for o in a.option_strings]
            for word in unknown.group(1).split():
                if word.startswith("-"):
                    hint = hint or _nearest(word.split("=")[0], options)
            message = message.replace("unrecognized arguments", "unrecognized arguments 无法识别的参数")
        target.print_usage(sys.stderr)
        target.exit(2, f"{target.prog}: error: {message}{hint}\n")


def _nearest(word: str, candidates: list[str]) -> str:
    """``"; did you mean 'group'? 您是否要输入 group？"`` for the closest candidate, ``""`` when none is close."""
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'? 您是否要输入 {close[0]}？" if close else ""


def _chosen(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.ArgumentParser:
    """The (sub)parser the words of ``argv`` lead to: ``settle month …`` → the ``settle month`` parser."""
    for word in argv:
        action = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        if action is None:
            break
        if word in action.choices:
            parser = action.choices[word]
    return parser


def _add_examples(parser: argparse.ArgumentParser, path: str) -> None:
    """Give every (sub)command whose epilog shows no examples its ``examples:`` block (:mod:`api.cli.examples`)."""
    examples = epilog(path or "drg")
    if examples and "examples:" not in (parser.epilog or ""):
        parser.epilog = examples + ("\n\n" + parser.epilog if parser.epilog else "")
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                _add_examples(child, f"{path} {name}".strip())


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The ``drg`` argument parser.

    Given the command line, only the chosen command's module is imported and its options defined; the
    other commands are listed with their one-line help (:data:`api.cli.commands.COMMANDS`).  Without
    it, every command is defined in full.
    """
    parser = HelpfulParser(prog="drg", description="CHS-DRG 分组与支付引擎 grouping and payment engine")
    sub = parser.add_subparsers(dest="command", required=True)
    words = [w for w in (argv or []) if not w.startswith("-")]
    wanted = {COMMANDS[words[0]][0]} if words and words[0] in COMMANDS else set()
    if argv is None:
        wanted = {module for module, _ in COMMANDS.values()}
    for module in dict.fromkeys(module for module, _ in COMMANDS.values()):
        if module in wanted:
            importlib.import_module(module).add_parser(sub)
    for name, (_, help_text) in COMMANDS.items():
        if name not in sub.choices:
            sub.add_parser(name, help=help_text)
    sub._choices_actions.sort(key=lambda action: list(COMMANDS).index(action.dest))  # the table's order in --help
    _add_examples(parser, "")
    return parser


def _errors(command_module) -> tuple[tuple, tuple]:
    """The exceptions that mean a usage error (exit 2) and unreadable input (exit 3) for one command."""
    from foundation.files import InputError, OutputError
    from grouper import RecordSchemaError
    from icd_tables.errors import NoPackChosenError, PackError
    from icd_tables.intake.headers import ColumnMappingError
    from weights import WeightTableError

    usage = (UsageError, OutputError, ColumnMappingError, NoPackChosenError,
             *getattr(command_module, "USAGE_ERRORS", ()))
    inputs = (InputError, PackError, RecordSchemaError, WeightTableError, *getattr(command_module, "INPUT_ERRORS", ()))
    return usage, inputs


def main(argv: list[str] | None = None) -> int:
    """Run one ``drg`` command; returns its exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser(argv).parse_args(argv)
    except SystemExit as exc:  # argparse: usage errors exit 2, --help exits 0
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    usage_errors, input_errors = _errors(sys.modules[args.func.__module__])
    # The modules just imported (NumPy, pyarrow, pandas, Numba…) live as long as the process: left out of the
    # collector's full passes, which would otherwise walk them again and again while the records are worked
    # on (``drg group`` on 1M records: 12% less wall time, measured); given back when the command ends, for a
    # caller in the same process.
    gc.freeze()
    try:
        return args.func(args)
    except usage_errors as exc:
        print(f"drg: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except input_errors as exc:
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
    finally:
        gc.unfreeze()


__all__ = ["EXIT_ERROR", "EXIT_FAIL_ON", "EXIT_INPUT", "EXIT_OK", "EXIT_USAGE", "UsageError",
           "build_parser", "main"]
