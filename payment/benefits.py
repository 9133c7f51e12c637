"""Patient share (个人负担) when a case has no ``patient_paid``: the benefit calculator of ``[benefits]``.

For a case at a hospital of level ℓ under insurance type t, with rule (起付线 D, 报销比例 r,
年度最高支付限额 cap) for (t, ℓ) — or for (``all``, ℓ):

* eligible = total_cost − self_pay_cost (自费部分);
* ratio = r − ``unreferred_ratio_cut`` for out-of-area cases without referral (异地未转诊备案,
  column ``out_of_area_unreferred`` true/1), never below 0;
* fund part = ⌊max(0, eligible − D) × ratio⌋ fen, then limited so that a patient's fund parts in
  the year (cases in month order, then input order; by ``patient_id`` when present, else per case)
  do not exceed the cap;
* patient share = total_cost − fund part.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from payment import _kernels
from payment.policy import Policy

TRUE_WORDS = ("1", "true", "yes", "y", "是", "t")


def _flags(column, n: int) -> np.ndarray:
    if column is None:
        return np.zeros(n, bool)
    values = pd.Series(column.cast(pa.string()).to_numpy(zero_copy_only=False)).fillna("")
    return values.str.strip().str.lower().isin(TRUE_WORDS).to_numpy()


def _rule_table(benefits, insurance_codes) -> np.ndarray:
    """insurance × level → (deductible, ratio, cap); deductible −1 where no rule applies."""
    rules = {(r.insurance_type, r.level): r for r in benefits}
    table = np.full((len(insurance_codes), 4, 3), -1, np.int64)
    for i, code in enumerate(insurance_codes):
        for level in (1, 2, 3):
            rule = rules.get((code, level)) or rules.get(("all", level))
            if rule is not None:
                table[i, level] = (rule.deductible_fen, rule.ratio_u, rule.annual_cap_fen)
    return table


def patient_shares(policy: Policy, cost, self_pay, insurance_codes, insurance, levels, patient_id, yyyymm,
                   unreferred, insured=None) -> tuple[np.ndarray, np.ndarray]:
    """Patient share in fen of each case, and whether a benefit rule applied to it.

    ``insured``: for 异地就医 (:mod:`payment.cross_region`), each case's insured region index (-1 = local)
    and the (rules, unreferred cut) of each region; an inbound case takes its insured region's table.
    """
    flags = _flags(unreferred, len(cost))
    parts = [(None, policy.benefits, policy.unreferred_cut_u)]
    if insured is not None:
        region, tables = insured
        parts = [(region == -1, policy.benefits, policy.unreferred_cut_u)] + [
            (region == k, rules, cut) for k, (rules, cut) in enumerate(tables) if (region == k).any()]
    fund = np.zeros(len(cost), np.int64)
    ok = np.zeros(len(cost), bool)
    cap = np.zeros(len(cost), np.int64)
    for mask, rules, cut in parts:
        table = _rule_table(rules, insurance_codes)
        if mask is None:  # every case local: the arrays as they are
            fund, ok = _kernels.patient_shares(cost, self_pay, insurance, levels, flags, table, cut)
            cap = table[insurance, levels, 2]
            continue
        fund[mask], ok[mask] = _kernels.patient_shares(cost[mask], self_pay[mask], insurance[mask], levels[mask],
                                                       flags[mask], table, cut)
        cap[mask] = table[insurance[mask], levels[mask], 2]
    if patient_id is not None:
        fund = _annual_cap(fund, cap, patient_id, yyyymm, ok)
    return cost - fund, ok


def _annual_cap(fund, cap, patient_id, yyyymm, ok) -> np.ndarray:
    """Limit each patient's fund parts in the year to the cap, cases in (month, input) order."""
    ids = pd.Series(patient_id.cast(pa.string()).to_numpy(zero_copy_only=False)).fillna("")
    frame = pd.DataFrame({"p": ids, "m": yyyymm, "f": fund, "c": cap, "k": np.arange(len(fund))})
    frame = frame[ok & (ids != "").to_numpy()]
    frame = frame.sort_values(["p", "m", "k"], kind="stable")
    totals = frame.groupby("p", sort=False)["f"].transform("sum")
    lowest = frame.groupby("p", sort=False)["c"].transform("min")
    out = fund.copy()
    over = frame[totals > lowest]
    for _, group in over.groupby("p", sort=False):
        spent = 0
        for f, c, k in zip(group["f"], group["c"], group["k"]):
            take = min(int(f), max(int(c) - spent, 0))
            out[k] = take
            spent += take
    return out


__all__ = ["patient_shares"]
