"""The one test of whether coding another way is worth a finding or a flag: RW ratio and money at stake.

Shared by the coders' what-if findings (:mod:`audit.whatif`) and the payers' upcoding screen
(:mod:`audit.screens.case_rules`), with the thresholds each rule book sets.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np


def over_threshold(top: np.ndarray, bottom: np.ndarray, gain_fen: np.ndarray, same_adrg: np.ndarray,
                   params: dict) -> np.ndarray:
    """Where RW ``top`` against ``bottom`` (millionths) and the money at stake reach a rule's thresholds.

    ``ratio`` and ``min_gain_yuan`` apply to an alternative in the same ADRG (a severity split: what the
    MCC/CC are worth); ``other_adrg_ratio`` and ``other_adrg_min_gain_yuan`` to one in another ADRG (a
    different choice of principal diagnosis or procedure, weaker evidence on its own).
    """
    def hits(ratio, min_yuan):
        r = Fraction(str(ratio))
        return (top * r.denominator >= bottom * r.numerator) & (gain_fen >= int(Fraction(str(min_yuan)) * 100))
    return (bottom > 0) & np.where(same_adrg, hits(params["ratio"], params["min_gain_yuan"]),
                                   hits(params["other_adrg_ratio"], params["other_adrg_min_gain_yuan"]))


__all__ = ["over_threshold"]
