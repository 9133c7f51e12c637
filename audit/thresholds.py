"""The one test of whether coding another way is worth a finding or a flag: RW ratio and money at stake.

Shared by the coders' what-if findings (:mod:`audit.whatif`) and the payers' upcoding screen
(:mod:`audit.screens.case_rules`), with the thresholds each rule book sets.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import numpy as np


@lru_cache(maxsize=64)
def _exact(ratio, min_yuan) -> tuple[int, int, int]:
    """A ratio as an exact fraction (numerator, denominator) and an amount in 元 as whole fen, read once per rule
    book's values (one record's check would otherwise spend longer reading them than comparing)."""
    r = Fraction(str(ratio))
    return r.numerator, r.denominator, int(Fraction(str(min_yuan)) * 100)


def over_threshold(top: np.ndarray, bottom: np.ndarray, gain_fen: np.ndarray, same_adrg: np.ndarray,
                   params: dict) -> np.ndarray:
    """Where RW ``top`` against ``bottom`` (millionths) and the money at stake reach a rule's thresholds.

    ``ratio`` and ``min_gain_yuan`` apply to an alternative in the same ADRG (a severity split: what the
    MCC/CC are worth); ``other_adrg_ratio`` and ``other_adrg_min_gain_yuan`` to one in another ADRG (a
    different choice of principal diagnosis or procedure, weaker evidence on its own).
    """
    def hits(ratio, min_yuan):
        numerator, denominator, min_fen = _exact(ratio, min_yuan)
        return (top * denominator >= bottom * numerator) & (gain_fen >= min_fen)
    return (bottom > 0) & np.where(same_adrg, hits(params["ratio"], params["min_gain_yuan"]),
                                   hits(params["other_adrg_ratio"], params["other_adrg_min_gain_yuan"]))


__all__ = ["over_threshold"]
