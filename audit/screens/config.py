"""The audit screens' configuration (智能审核规则): ``audit/screens.toml`` with a user's file merged onto it.

The file has the format of the coding-validation rule book (:mod:`audit.rulebook`):
one ``[rules.RULE_ID]`` table per screen with ``severity``, ``enabled``, texts and
parameters; a user's file names only what it changes.  Beyond the rule book's
checks, ``match`` must be ``adrg`` or ``mdc`` and every ratio a number.
"""

from __future__ import annotations

import os
from pathlib import Path

from audit.rulebook import RuleBook, RuleBookError

BUNDLED_SCREENS = Path(__file__).resolve().parents[1] / "screens.toml"
MATCH_KEYS = {"adrg": ("ADRG", "ADRG"), "mdc": ("MDC", "MDC")}


def load_screens(path: str | os.PathLike | RuleBook | None = None) -> RuleBook:
    """The bundled screens, with the TOML file ``path`` merged onto them.

    Raises
    ------
    RuleBookError
        Naming the file, screen and key of the first problem.
    """
    book = path if isinstance(path, RuleBook) else RuleBook.load(path, bundled=BUNDLED_SCREENS)
    match = book.rule("SPLIT_READMISSION").params["match"]
    if match not in MATCH_KEYS:
        raise RuleBookError(f"{book.sources[-1]}: rule SPLIT_READMISSION, key 'match': {match!r} is not one of "
                            f"{', '.join(MATCH_KEYS)}")
    for rule in book:
        if "score" not in rule.params:
            raise RuleBookError(f"{book.sources[0]}: rule {rule.id}: missing key 'score'")
    return book


__all__ = ["BUNDLED_SCREENS", "MATCH_KEYS", "load_screens"]
