"""Command-line value parsers shared by every ``drg`` subcommand (argparse ``type=``)."""

from __future__ import annotations

import argparse
from typing import Callable


def number(kind: type = int, minimum: float = 0, *, above: bool = False) -> Callable[[str], float]:
    """A parser for whole (``kind=int``) or decimal numbers not below ``minimum`` (above it with ``above``)."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a {'whole ' if kind is int else ''}number: {text!r}") from None
        if value < minimum or (above and value == minimum):
            raise argparse.ArgumentTypeError(f"must be {'above' if above else 'at least'} {minimum}")
        return value

    parse.__name__ = f"{kind.__name__}_from_{minimum}"
    return parse


#: Whole numbers ≥ 1 (counts, batch sizes) and ≥ 0.
positive = number(int, 1)
non_negative = number(int, 0)

__all__ = ["non_negative", "number", "positive"]
