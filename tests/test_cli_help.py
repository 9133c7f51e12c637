"""The command line helps (issue 20): suggestions for mistyped commands and options, every argument
described, every subcommand with worked examples."""

from __future__ import annotations

import argparse

import pytest

from api.cli import main
from api.cli.main import build_parser


def _parsers(parser, path=()):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, (*path, name))


def test_mistyped_command_suggests_the_nearest(capsys):
    assert main(["grup", "cases.csv"]) == 2
    err = capsys.readouterr().err
    assert "drg: error: argument command: invalid choice: 'grup'" in err
    assert err.rstrip().endswith("; did you mean 'group'? 您是否要输入 group？")


def test_mistyped_subcommand_suggests_the_nearest(capsys):
    assert main(["packs", "improt", "x"]) == 2
    assert "; did you mean 'import'? 您是否要输入 import？" in capsys.readouterr().err


def test_mistyped_option_suggests_the_nearest_and_shows_the_subcommands_usage(capsys):
    assert main(["group", "cases.csv", "-o", "out.csv", "--outptu", "x.csv"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: drg group ")
    assert ("drg group: error: unrecognized arguments 无法识别的参数: --outptu x.csv; did you mean '--output'? "
            "您是否要输入 --output？") in err
    assert main(["validate", "r.csv", "-o", "f.csv", "--wieghts=w.parquet"]) == 2
    assert "did you mean '--weights'?" in capsys.readouterr().err


def test_nothing_close_suggests_nothing(capsys):
    assert main(["group", "cases.csv", "-o", "out.csv", "--zzzzzz"]) == 2
    assert "did you mean" not in capsys.readouterr().err


@pytest.mark.parametrize("path,parser", list(_parsers(build_parser())), ids=lambda v: " ".join(v) or "drg"
                         if isinstance(v, tuple) else "")
def test_every_argument_is_described_and_every_command_has_examples(path, parser):
    for action in parser._actions:
        if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            assert action.help, f"drg {' '.join(path)}: {action.dest} has no help"
    assert parser.epilog and "example" in parser.epilog, f"drg {' '.join(path)} shows no examples"
    examples = [line.strip() for line in parser.epilog.splitlines() if line.strip().startswith("drg ")]
    assert examples and all(line.startswith("drg " + " ".join(path[:1])) for line in examples if path)
