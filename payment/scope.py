"""Runs on part of a region's hospitals (部分医院): where the point value comes from.

A month's or a shadow run's point value shares a fund's budget over the points of the cases in
the run.  Run on one hospital's file, the whole region's budget would be shared over that
hospital's points alone (a point value of tens of thousands of 元 where a few hundred is right).
Such a run needs one of:

* the region's point values (``--point-value``): ``241.5`` for every fund,
  ``310=241.5,390=198.25`` per insurance type (元 per point, or per RW for the rate method), or a
  region-wide run's folder, whose ``run.json`` holds the exact values; each case's standard is then
  ⌊points × value⌋ as in the region-wide run, and no budget is shared;
* the subset's share of every budget (``--budget-share 0.05``), for a shadow or year run of a
  part of the region with a budget of its own.

:func:`coverage_warning` says when a run looks partial: hospitals of the hospital table without a
case in the run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from foundation.text_values import exact_decimal
from payment.inputs import Cases, Hospitals, PaymentInputError
from payment.money import RATIO_UNITS
from payment.policy import Policy

#: Decimals a point value may have (as ``[monthly] provisional``).
PLACES = 6


@dataclass(frozen=True)
class Scope:
    """Point values (fen per 1/10,000 point as ``(N, D)``) by fund ``(region, insurance_type)`` or by
    insurance type (region ``""``: every region), and the share of every budget, for a partial run."""

    point_values: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    budget_share: Fraction | None = None

    def budgets(self, budgets: dict[int, tuple[int, int, int]], policy: Policy) -> dict[int, tuple[int, int, int]]:
        """The budgets scaled by :attr:`budget_share` (floored to the fen; reserve recomputed)."""
        if self.budget_share is None:
            return budgets
        out = {}
        for f, (budget, _, _) in budgets.items():
            part = budget * self.budget_share.numerator // self.budget_share.denominator
            reserve = part * policy.reserve_u // RATIO_UNITS
            out[f] = (part, reserve, part - reserve)
        return out

    def fund_values(self, funds, policy: Policy) -> dict[int, tuple[int, int]]:
        """The fixed point value of each fund index, ``{}`` without :attr:`point_values`.

        ``funds`` may hold None for a fund whose value comes from elsewhere (a clearing fund of
        :mod:`payment.cross_region`); it is left out.

        Raises
        ------
        PaymentInputError
            A fund of the run with no value given.
        """
        if not self.point_values:
            return {}
        out = {}
        for f, key in enumerate(funds):
            if key is None:
                continue
            region, insurance = key
            value = next((self.point_values[k] for k in ((region, insurance), ("", insurance), ("", ""))
                          if k in self.point_values), None)
            if value is None:
                raise PaymentInputError(f"--point-value: no value for fund {region} {insurance} "
                                        f"(give {insurance}=VALUE) 未给出该基金的点值")
            out[f] = value
        return out


def parse_point_value(text: str, policy: Policy) -> dict[tuple[str, str], tuple[int, int]]:
    """``--point-value``: ``241.5``, ``310=241.5,390=198.25`` or a run folder (its ``run.json``).

    Raises
    ------
    PaymentInputError
        A value that is not a positive number with at most 6 decimals, or a folder without ``run.json``.
    """
    folder = Path(text)
    if folder.is_dir():
        meta_path = folder / "run.json"
        if not meta_path.is_file():
            raise PaymentInputError(f"--point-value {folder.name}: no run.json in that folder (a 'drg settle' run)")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        out = {}
        for f in meta.get("funds", []):
            exact = f.get("point_value_exact")
            if exact:
                out[(f["region"], f["insurance_type"])] = (int(exact["numerator_fen"]),
                                                           int(exact["denominator_point_units"]))
        if not out:
            raise PaymentInputError(f"--point-value {folder.name}: that run has no point values")
        return out
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.rpartition("=")
        out[("", key.strip() if sep else "")] = _value(value, policy)
    if not out:
        raise PaymentInputError("--point-value: give a value such as 241.5, or 310=241.5,390=198.25")
    return out


def _value(text: str, policy: Policy) -> tuple[int, int]:
    try:
        value = exact_decimal(text)
    except ValueError:
        raise PaymentInputError(f"--point-value {text!r}: not a number (元 per point, e.g. 241.5)") from None
    units = value.scaleb(PLACES)
    if value <= 0 or units != units.to_integral_value():
        raise PaymentInputError(f"--point-value {text}: must be above 0 with at most {PLACES} decimals")
    # 元 per point (point method) or per RW (rate method) → fen per 1/10,000 point, as [monthly] provisional
    return int(units), 10 ** (PLACES + 2) if policy.method == "point" else 10 ** (PLACES + 4)


def parse_budget_share(text: str) -> Fraction:
    """``--budget-share``: a share above 0 and at most 1 (``0.05`` or ``5%``)."""
    try:
        share = Fraction(str(exact_decimal(text.rstrip("%")))) / (100 if text.endswith("%") else 1)
    except ValueError:
        raise PaymentInputError(f"--budget-share {text!r}: not a share (e.g. 0.05 or 5%)") from None
    if not 0 < share <= 1:
        raise PaymentInputError(f"--budget-share {text}: must be above 0 and at most 1")
    return share


def coverage_warning(cases: Cases, hospitals: Hospitals, kind: str, scope: Scope, policy: Policy) -> str | None:
    """A warning when the run's cases come from only part of the hospital table and the point value
    would share the whole region's budget over them; ``None`` otherwise (also when the policy shares no
    budget over points: the quota method or a fixed point value)."""
    if scope.point_values or scope.budget_share is not None or kind == "year":
        return None
    if policy.method == "quota" or policy.point_value_fixed is not None:
        return None
    present = np.unique(cases.hosp[cases.hosp >= 0])
    missing = len(hospitals.ids) - len(present)
    if missing <= 0:
        return None
    return (f"警告：本次结算只含 {len(present)}/{len(hospitals.ids)} 家医院的病例，点值按全统筹区预算除以这些医院的点数计算，"
            f"会严重偏高。请用 --point-value 给出全统筹区的点值（或全区结算的运行目录），或用 --budget-share 给出这部分医院的预算份额。"
            f" Warning: the cases come from {len(present)} of the {len(hospitals.ids)} hospitals in the hospital "
            f"table; the point value would share the whole region's budget over their points alone. Give the "
            f"region's point value with --point-value VALUE (or a region-wide run folder), or the subset's "
            f"budget share with --budget-share SHARE.")


__all__ = ["PLACES", "Scope", "coverage_warning", "parse_budget_share", "parse_point_value"]
