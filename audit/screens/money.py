"""Money at stake (涉及金额) in integer fen: relative weight × base rate.

A case's DRG payment standard is taken as ``RW × rate`` (费率法): the rate in 元 per RW
is ``--rate`` (one amount, or one per insurance type ``310=12252.70,390=9649.24``),
else the weight table's ``base_rates`` for the case's ``insurance_type``.  The
budget-based point value of :mod:`payment` is only known after a settlement, so the
screens do not use it.

The rounding rule: ``payment_fen = ⌊rw_units × rate_fen ÷ 10^6⌋`` (RW in millionths,
rate in fen), rounded down to the fen like :mod:`payment.money`; a payment difference
is ``⌊(rw_a − rw_b) × rate_fen ÷ 10^6⌋`` of the exact RW difference.  Unknown = ``-1``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from foundation.text_values import exact_decimal

from weights import RW_UNITS, WeightTable

#: A rate above this (元 per RW) is refused: the products must stay exact in int64.
MAX_RATE_YUAN = 10_000_000
#: RW above this is refused for the same reason.
MAX_RW_UNITS = 2**31


class RateError(ValueError):
    """A base rate that cannot be used (the message names it)."""


def _fen(text: str, what: str) -> int:
    try:
        value = exact_decimal(text)
    except ValueError:
        raise RateError(f"{what}: {text!r} is not an amount in 元") from None
    if value <= 0 or value > MAX_RATE_YUAN:
        raise RateError(f"{what}: {text} must be a positive amount in 元 up to {MAX_RATE_YUAN:,}")
    fen = value * 100
    if fen != fen.to_integral_value():
        raise RateError(f"{what}: {text} has more than 2 decimals")
    return int(fen)


@dataclass(frozen=True)
class Rates:
    """Base rates in fen per RW: one for every case (``default``) and/or per insurance type."""

    default: int | None = None
    by_insurance: dict[str, int] = field(default_factory=dict)
    source: str = ""

    @classmethod
    def parse(cls, text: str | None, weights: WeightTable | None = None) -> "Rates":
        """``--rate`` text (``12252.70`` or ``310=12252.70,390=9649.24``), else the weight table's base rates.

        Raises
        ------
        RateError
            An amount that is not positive, has more than 2 decimals, or a malformed item.
        """
        if text:
            default, by = None, {}
            for part in filter(None, (p.strip() for p in text.split(","))):
                key, sep, value = part.partition("=")
                if sep:
                    if not key.strip():
                        raise RateError(f"--rate {part!r}: expected INSURANCE_TYPE=AMOUNT, e.g. 310=12252.70")
                    by[key.strip()] = _fen(value, f"--rate {key.strip()}")
                else:
                    default = _fen(part, "--rate")
            return cls(default, by, f"--rate {text}")
        if weights is not None and weights.meta.base_rates:
            by = {k: _fen(v, f"weight table {weights.meta.name} base rate {k}")
                  for k, v in weights.meta.base_rates.items()}
            return cls(None, by, f"weight table {weights.meta.name} base_rates")
        return cls()

    @property
    def known(self) -> bool:
        return self.default is not None or bool(self.by_insurance)

    def per_case(self, insurance_codes: np.ndarray, insurance_values: list[str]) -> np.ndarray:
        """Rate in fen of each case (``-1`` where none applies), from its coded insurance type."""
        table = np.array([self.by_insurance.get(str(v), -1 if self.default is None else self.default)
                          for v in insurance_values] + [-1 if self.default is None else self.default], np.int64)
        insurance_codes = np.asarray(insurance_codes, dtype=np.int64)
        return table[np.where(insurance_codes >= 0, insurance_codes, len(insurance_values))]

    def describe(self) -> str:
        parts = ([f"{self.default / 100:.2f}"] if self.default is not None else []) + \
                [f"{k}={v / 100:.2f}" for k, v in sorted(self.by_insurance.items())]
        return f"{', '.join(parts)} 元/RW ({self.source})" if parts else "none"


def payment_fen(rw_units: np.ndarray, rate_fen: np.ndarray) -> np.ndarray:
    """``⌊rw_units × rate_fen ÷ 10^6⌋`` per case, ``-1`` where either is unknown (negative).

    Raises
    ------
    ValueError
        An RW above :data:`MAX_RW_UNITS` millionths (the product would not be exact).
    """
    rw_units = np.asarray(rw_units, dtype=np.int64)
    rate_fen = np.asarray(rate_fen, dtype=np.int64)
    if rw_units.size and rw_units.max() >= MAX_RW_UNITS:
        raise ValueError(f"RW {rw_units.max() / RW_UNITS} is too large for exact money arithmetic")
    known = (rw_units >= 0) & (rate_fen >= 0)
    return np.where(known, np.maximum(rw_units, 0) * np.maximum(rate_fen, 0) // RW_UNITS, -1)


__all__ = ["MAX_RATE_YUAN", "RateError", "Rates", "payment_fen"]
