"""The compile notice: said when loading the kernels takes long (compiling), not when they come from the cache."""

from __future__ import annotations

import time

from api.cli.progress import COMPILING, compile_notice


def test_notice_when_the_block_outlasts_the_wait(capsys):
    with compile_notice(after=0.01):
        time.sleep(0.3)
    assert capsys.readouterr().err.strip() == COMPILING


def test_no_notice_when_the_block_is_quick(capsys):
    with compile_notice(after=5.0):
        pass
    time.sleep(0.05)
    assert capsys.readouterr().err == ""


def test_no_notice_after_a_failing_block(capsys):
    try:
        with compile_notice(after=0.2):
            raise KeyError("x")
    except KeyError:
        pass
    time.sleep(0.3)
    assert capsys.readouterr().err == ""
