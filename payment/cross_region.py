"""异地就医: cases treated here whose patient is insured elsewhere — benefits, pooling, clearing, outbound forecast.

The national rule is 就医地目录、参保地政策、就医地管理: a stay is grouped with the treating region's pack
and managed here; its patient share follows the insured region's benefit table; the insured region's fund
pays, through clearing between settlement centres.  With ``[cross_region]`` in the policy:

* a case is *inbound* when its ``insured_region`` (参保地) is not empty, not its hospital's region and not
  one of ``[cross_region] local`` (the policy's ``region`` always counts as local);
* its patient share (when it has no ``patient_paid``) is computed with the insured region's benefit table
  (``[cross_region.benefits.REGION]``, inline or a file), ``out_of_area_unreferred`` lowering that
  region's ratio; a region without a table leaves the case unsettled (reason 5) unless ``patient_paid`` is
  given;
* ``pool = "inside"``: it counts in the local point value like any case (the local pool bears the
  difference between its DRG payment and what clearing recovers);
  ``pool = "outside"``: it is paid from a clearing fund of its own, (insured region, insurance type), at
  ``reference_value`` (⌊points × value⌋; no budget, no corridor), and ``difference`` says who bears
  DRG fund payment − clearing: ``reserve`` (the local fund's 调剂金; a reconciliation line),
  ``hospital`` (the hospital is paid what clearing recovers: standard = cost, so fund = cost − patient
  share) or ``insured_region`` (clearing recovers the DRG fund payment itself);
* the clearing table (清算表) gives, per insured region × insurance type × month (and the year), the cases,
  DRG standards, patient shares, the fund amount owed as computed at discharge under the insured
  region's policy (cost − patient share), what the hospitals were paid, what clearing recovers and the
  difference; the ledger check compares it with the run ledger's entries of the clearing funds;
* a shadow run with last year's clearing tables forecasts the outbound spending of the region's own
  insured treated elsewhere (外出就医预留): Σ last year's clearing amounts × (1 + ``outbound_growth``),
  rounded down to the fen, as a reconciliation line per fund.

A policy without ``[cross_region]``, or cases that are all local, settle exactly as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from foundation.decimals import decimal_array
from foundation.headers import find_columns
from foundation.text_values import exact_decimal
from payment._kernels import CAT_DRG, CAT_UNPAID
from payment.inputs import Cases, PaymentInputError
from payment.money import RATIO_UNITS
from payment.policy import CROSS_REGION_DIFFERENCE, Policy

#: Column → Chinese label of the clearing tables (merged into the XLSX labels by ``api.cli.labels``).
CLEARING_LABELS_ZH = {
    "insured_region": "参保地", "n_drg": "DRG病例数", "n_unpaid": "暂缓/不予支付病例", "drg_standard": "DRG支付标准",
    "fund_at_discharge": "出院结算基金应付（参保地政策）", "clearing_amount": "清算金额（参保地应付）",
    "difference": "差额（医疗机构基金支付−清算金额）", "borne_by": "差额承担方", "pool": "是否纳入本地点值",
    "ledger_amount": "台账拨付（预结+预算外）", "ledger_withheld": "台账预留金", "last_year_cases": "上年病例数",
    "last_year_amount": "上年清算金额", "growth": "增长率", "forecast": "预测支出", "budget": "统筹基金预算",
    "budget_share": "占预算比例", "n_cases": "病例数",
}
#: Headers of a clearing table read back for the outbound forecast (English or the Chinese labels).
_OUTBOUND_HEADERS = {"insured_region": ("insured_region", "参保地"), "insurance_type": ("insurance_type", "险种类型"),
                     "month": ("month", "结算月份"), "n_cases": ("n_cases", "病例数"),
                     "clearing_amount": ("clearing_amount", "清算金额", "清算金额（参保地应付）")}


@dataclass(frozen=True)
class Inbound:
    """Where each case's patient is insured: ``region`` indexes ``codes`` (-1 = local); ``inbound`` marks the
    cases insured elsewhere."""

    region: np.ndarray
    codes: list[str]
    inbound: np.ndarray


def inbound_cases(policy: Policy, hospital_regions: tuple[str, ...], hosp: np.ndarray, codes: np.ndarray,
                  values: list[str]) -> Inbound | None:
    """The inbound cases of a run, or None (no ``[cross_region]``, no ``insured_region``, or all local).

    Parameters
    ----------
    policy : Policy
    hospital_regions : tuple of str
        Each hospital's region (:attr:`payment.Hospitals.regions`).
    hosp : numpy.ndarray
        Each case's hospital index (-1 = none).
    codes, values : numpy.ndarray, list of str
        The factorised ``insured_region`` column (``""`` = empty).
    """
    cr = policy.cross_region
    if cr is None:
        return None
    names = [str(v).strip() for v in values]
    local = {policy.region, *cr.local, ""}
    known_local = np.array([v in local for v in names] or [True], bool)
    index = {v: k for k, v in enumerate(names)}
    own = np.array([index.get(r, -1) for r in hospital_regions] + [-1], np.int64)
    same = codes == own[np.where(hosp >= 0, hosp, len(hospital_regions))]
    inbound = ~known_local[codes] & ~same & (hosp >= 0)
    if not inbound.any():
        return None
    return Inbound(np.where(inbound, codes, -1).astype(np.int64), names, inbound)


def benefit_tables(policy: Policy, found: Inbound) -> list[tuple]:
    """The benefit table (rules, unreferred cut) of each insured region code; ``((), 0)`` when the policy has
    none (the case then needs ``patient_paid``)."""
    return [policy.cross_region.benefits.get(code, ((), 0)) for code in found.codes]


def clearing_funds(policy: Policy, found: Inbound | None, fund: np.ndarray, funds: list, insurance: np.ndarray,
                   insurance_codes: list[str]) -> tuple[np.ndarray, list, frozenset]:
    """``pool = "outside"``: each inbound case moves to the clearing fund (insured region, insurance type),
    numbered after the budget funds.

    Returns
    -------
    (numpy.ndarray, list, frozenset)
        Each case's fund, the funds, and the indices of the clearing funds.

    Raises
    ------
    PaymentInputError
        An insured region that has a budget of its own in this policy (its cases belong to that pool).
    """
    if found is None or policy.cross_region.pool != "outside":
        return fund, funds, frozenset()
    moving = found.inbound & (fund >= 0)
    keys = sorted({(found.codes[r], insurance_codes[i]) for r, i in zip(found.region[moving], insurance[moving])})
    budgeted = {b.region for b in policy.budgets}
    for region, _ in keys:
        if region in budgeted:
            raise PaymentInputError(f"insured region {region!r} has a [[budget]] in this policy: its cases are "
                                    f"local to that pool; list it in [cross_region] local or remove the budget / "
                                    f"参保地 {region} 在本政策中有预算，不能按异地就医清算")
    number = {k: len(funds) + n for n, k in enumerate(keys)}
    n_ins = max(len(insurance_codes), 1)
    lookup = np.array([number.get((region, ins), -1) for region in found.codes for ins in insurance_codes] or [-1],
                      np.int64)
    out = fund.copy()
    out[moving] = lookup[found.region[moving] * n_ins + insurance[moving]]
    return out, list(funds) + keys, frozenset(number.values())


def reference_values(cases: Cases, policy: Policy) -> dict[int, tuple[int, int]]:
    """The reference point value (N, D) of each clearing fund of the run (``{}`` without any)."""
    return {f: policy.cross_region.reference for f in cases.clearing_funds}


def clearing_mask(cases: Cases) -> np.ndarray:
    """The cases of a clearing fund (inbound cases outside the local pool)."""
    if not cases.clearing_funds:
        return np.zeros(cases.n, bool)
    return np.isin(cases.fund, np.fromiter(cases.clearing_funds, np.int64))


def paid_as_cleared(standard: np.ndarray, cases: Cases, policy: Policy, category: np.ndarray) -> np.ndarray:
    """``difference = "hospital"``: a clearing-fund case is paid what clearing recovers, the fund amount at
    discharge (cost − patient share), i.e. its standard becomes its cost; other cases unchanged."""
    if not cases.clearing_funds or policy.cross_region.difference != "hospital":
        return standard
    return np.where(clearing_mask(cases) & (category != CAT_UNPAID), cases.cost_fen, standard)


def _per_case(s) -> dict[str, np.ndarray]:
    """The clearing figures of every inbound case that was paid (held and rejected ones count only as cases)."""
    c, cl = s.cases, s.classified
    paid = c.inbound & (cl.category != CAT_UNPAID) & (c.fund >= 0)
    at_discharge = np.where(paid, c.cost_fen - c.patient_fen, 0)
    fund = np.where(paid, s.fund_payment, 0)
    cleared = fund if s.policy.cross_region.difference == "insured_region" else at_discharge
    drg_standard = s.inbound_standard if s.inbound_standard is not None else s.standard
    return {"paid": paid, "n_drg": paid & (cl.category == CAT_DRG), "total_cost": np.where(paid, c.cost_fen, 0),
            "drg_standard": np.where(paid & (cl.category == CAT_DRG), drg_standard, 0),
            "patient_share": np.where(paid, c.patient_fen, 0), "fund_at_discharge": at_discharge,
            "fund_payment": fund, "clearing_amount": cleared, "difference": fund - cleared}


MONEY = ("total_cost", "drg_standard", "patient_share", "fund_at_discharge", "fund_payment", "clearing_amount",
         "difference")


def clearing_rows(s) -> list[dict]:
    """Clearing lines per insured region × insurance type × month (and the year, for a year period), fen.

    Each row: insured_region, insurance_type, month (``2024-03``; ``2024`` for the year), n_cases, n_drg,
    n_unpaid, the amounts of :data:`MONEY`, pool and borne_by.
    """
    c = s.cases
    if c.inbound is None or not c.inbound.any():
        return []
    per = _per_case(s)
    cr = s.policy.cross_region
    idx = np.flatnonzero(c.inbound)
    # one group per (insured region, insurance type, month); the year row per (region, type) when a year is run
    keys = np.stack([c.insured[idx], c.insurance[idx], c.yyyymm[idx]], axis=1)
    groups, group = np.unique(keys, axis=0, return_inverse=True)
    group = group.ravel()
    values = {"n_cases": np.ones(len(idx), np.int64), "n_drg": per["n_drg"][idx].astype(np.int64),
              "n_unpaid": (~per["paid"][idx]).astype(np.int64), **{m: per[m][idx] for m in MONEY}}
    sums = {k: np.bincount(group, weights=v, minlength=len(groups)).astype(np.int64) if np.abs(v).sum() < 2**53
            else _exact_sum(v, group, len(groups)) for k, v in values.items()}
    pool = "内 inside" if cr.pool == "inside" else "外 outside"
    borne = f"{cr.difference} {CROSS_REGION_DIFFERENCE[cr.difference]}"
    rows = []
    for g, (region, ins, yyyymm) in enumerate(groups):
        rows.append({"insured_region": c.insured_codes[region], "insurance_type": c.insurance_codes[ins],
                     "month": f"{yyyymm // 100:04d}-{yyyymm % 100:02d}", **{k: int(v[g]) for k, v in sums.items()},
                     "pool": pool, "borne_by": borne})
    if s.period.month is None:
        totals: dict[tuple, dict] = {}
        for r in rows:
            total = totals.setdefault((r["insured_region"], r["insurance_type"]), {**r, "month": str(s.period.year),
                                                                                   **{k: 0 for k in sums}})
            for k in sums:
                total[k] += r[k]
        rows += totals.values()
    return sorted(rows, key=lambda r: (r["insured_region"], r["insurance_type"], len(r["month"]) == 4, r["month"]))


def _exact_sum(values: np.ndarray, group: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, np.int64)
    np.add.at(out, group, values)
    return out


def _table(rows: list[dict], text: tuple[str, ...], counts: tuple[str, ...], money: tuple[str, ...],
           ratios: tuple[str, ...] = ()) -> pa.Table:
    columns = {}
    for name in rows[0] if rows else text + counts + money + ratios:
        values = [r[name] for r in rows]
        if name in money:
            columns[name] = decimal_array(np.array(values, np.int64), 2)
        elif name in ratios:
            columns[name] = decimal_array(np.array(values, np.int64), 4)
        elif name in counts:
            columns[name] = pa.array(values, pa.int64())
        else:
            columns[name] = pa.array(values, pa.string())
    return pa.table(columns)


def clearing_table(s) -> pa.Table:
    """The clearing statement for the clearing centre (清算表): :func:`clearing_rows` as a table (元)."""
    return _table(clearing_rows(s), ("insured_region", "insurance_type", "month", "pool", "borne_by"),
                  ("n_cases", "n_drg", "n_unpaid"), MONEY)


def clearing_cases(s) -> pa.Table:
    """The inbound cases one by one (清算明细): ids, insured region, month and the clearing amounts (元)."""
    c = s.cases
    idx = np.flatnonzero(c.inbound)
    per = _per_case(s)
    months = [f"{m // 100:04d}-{m % 100:02d}" for m in c.yyyymm[idx]]
    take = pa.array(idx)
    return pa.table({
        "case_id": c.case_id.take(take), "row_no": pa.array(c.row_no[idx]),
        "hospital_id": pa.array([s.hospitals.ids[h] if h >= 0 else "" for h in c.hosp[idx]], pa.string()),
        "insured_region": pa.array([c.insured_codes[r] for r in c.insured[idx]], pa.string()),
        "insurance_type": pa.array([c.insurance_codes[i] for i in c.insurance[idx]], pa.string()),
        "month": pa.array(months, pa.string()), "drg": pa.array([c.drg_codes[d] for d in c.drg[idx]], pa.string()),
        **{m: decimal_array(per[m][idx], 2) for m in MONEY},
    })


def fund_lines(s) -> tuple[dict[int, list[tuple[str, str, int]]], dict[int, int]]:
    """Reconciliation of the cross-region cases: the lines of each clearing fund (replacing the budget lines
    it has not got), and the difference each local fund's reserve bears (``difference = "reserve"``)."""
    c = s.cases
    if c.inbound is None or not c.inbound.any():
        return {}, {}
    per = _per_case(s)
    lines, borne = {}, {}
    for f in sorted(c.clearing_funds):
        own = c.fund == f
        lines[f] = [("clearing:fund_payment", "异地就医基金支付 (池外，按参考点值) fund payment outside the pool",
                     int(per["fund_payment"][own].sum())),
                    ("clearing:fund_at_discharge", "出院结算基金应付 (参保地政策) fund amount at discharge",
                     int(per["fund_at_discharge"][own].sum())),
                    ("clearing:recovered", "清算回收 (参保地应付) recovered by clearing",
                     int(per["clearing_amount"][own].sum())),
                    ("clearing:difference", f"差额 (承担方: {CROSS_REGION_DIFFERENCE[s.policy.cross_region.difference]})"
                                            " difference", int(per["difference"][own].sum()))]
    if s.policy.cross_region.difference == "reserve" and c.clearing_funds:
        # the local fund of the hospital's region and the case's insurance type bears it
        index = {tuple(k): f for f, k in enumerate(c.funds)}
        n_ins = max(len(c.insurance_codes), 1)
        local = np.array([index.get(s.policy.fund_key(region, ins), -1) for region in s.hospitals.regions
                          for ins in c.insurance_codes] or [-1], np.int64)
        chosen = clearing_mask(c) & per["paid"] & (c.hosp >= 0)
        owner = local[c.hosp[chosen] * n_ins + c.insurance[chosen]]
        amounts = per["difference"][chosen]
        for f in np.unique(owner[owner >= 0]):
            borne[int(f)] = int(amounts[owner == f].sum())
    return lines, borne


def ledger_rows(s, ledger) -> list[dict]:
    """The clearing funds' fund payments per month against the run ledger's entries for them (provisional +
    events paid, withheld), summed over hospitals; ``difference`` ≠ 0 names a month recorded with other figures."""
    c = s.cases
    if ledger is None or not c.clearing_funds:
        return []
    per = _per_case(s)
    rows = []
    for f in sorted(c.clearing_funds):
        region, ins = c.funds[f]
        own = c.fund == f
        for m in sorted({int(v) for v in c.yyyymm[own]}):
            run = f"{m // 100:04d}-{m % 100:02d}"
            amount = int(per["fund_payment"][own & (c.yyyymm == m)].sum())
            entries = [e for e in ledger.entries if e["run"] == run and (e["region"], e["insurance_type"]) == (
                region, ins)]
            recorded = sum(e["provisional"] + e["event_fund"] for e in entries)
            rows.append({"insured_region": region, "insurance_type": ins, "month": run, "fund_payment": amount,
                         "ledger_amount": recorded, "ledger_withheld": sum(e["withheld"] for e in entries),
                         "difference": amount - recorded})
    return rows


def ledger_table(s, ledger) -> pa.Table:
    """:func:`ledger_rows` as a table (元)."""
    return _table(ledger_rows(s, ledger), ("insured_region", "insurance_type", "month"), (),
                  ("fund_payment", "ledger_amount", "ledger_withheld", "difference"))


def outbound_rows(policy: Policy, last_year: pa.Table) -> list[dict]:
    """外出就医预测: the region's own insured treated elsewhere last year (clearing tables of the treating
    regions, month rows), per insurance type: forecast = S + ⌊S × outbound_growth⌋, S = Σ clearing amounts.

    Raises
    ------
    PaymentInputError
        A clearing table without the columns insured_region, insurance_type, month and clearing_amount, or
        an amount that is not money.
    """
    cols = find_columns(last_year.column_names, _OUTBOUND_HEADERS)
    missing = [k for k in ("insured_region", "insurance_type", "month", "clearing_amount") if k not in cols]
    if missing:
        names = " / ".join(_OUTBOUND_HEADERS[missing[0]])
        raise PaymentInputError(f"last year's clearing table has no {missing[0]} column ({names}); give the clearing "
                                "tables written by drg settle (clearing.csv) / 上年清算表缺少该列")
    local = {policy.region, *policy.cross_region.local}
    growth = policy.cross_region.outbound_growth_u
    sums: dict[str, list[int]] = {}
    for n, row in enumerate(last_year.select([cols[k] for k in cols]).to_pylist(), start=2):
        row = {k: row[cols[k]] for k in cols}
        if str(row["insured_region"]).strip() not in local or "-" not in str(row["month"]):
            continue  # another region's insured, or a year total row
        try:
            fen = int(exact_decimal(str(row["clearing_amount"])).scaleb(2))
        except ValueError:
            raise PaymentInputError(f"last year's clearing table, row {n}: clearing_amount {row['clearing_amount']!r}"
                                    " is not an amount / 清算金额不是金额") from None
        ins = str(row["insurance_type"]).strip()
        entry = sums.setdefault(ins, [0, 0])
        entry[0] += int(str(row.get("n_cases") or 0).split(".")[0] or 0)
        entry[1] += fen
    rows = []
    for ins, (n, amount) in sorted(sums.items()):
        key = policy.fund_key(policy.region, ins)
        budget = next((b.amount_fen for b in policy.budgets if key and (b.region, b.insurance_type) == key), 0)
        forecast = amount + amount * growth // RATIO_UNITS
        rows.append({"region": policy.region, "insurance_type": ins, "last_year_cases": n, "last_year_amount": amount,
                     "growth": growth, "forecast": forecast, "budget": budget,
                     "budget_share": forecast * RATIO_UNITS // budget if budget else 0, "fund": key})
    return rows


def outbound_table(rows: list[dict]) -> pa.Table:
    """:func:`outbound_rows` as a table (元; growth and budget_share as decimals)."""
    return _table([{k: v for k, v in r.items() if k != "fund"} for r in rows], ("region", "insurance_type"),
                  ("last_year_cases",), ("last_year_amount", "forecast", "budget"), ("growth", "budget_share"))


def outbound_lines(rows: list[dict]) -> list[dict]:
    """The shadow run's reconciliation line of each fund's outbound forecast (fen)."""
    return [{"region": r["fund"][0], "insurance_type": r["fund"][1], "line": "outbound_forecast",
             "line_zh": "异地就医支出预测 (本地参保人外地就医，上年清算×(1+增长率))", "amount_fen": r["forecast"]}
            for r in rows if r["fund"] is not None]


__all__ = ["CLEARING_LABELS_ZH", "Inbound", "MONEY", "benefit_tables", "clearing_cases", "clearing_funds",
           "clearing_mask", "clearing_rows", "clearing_table", "fund_lines", "inbound_cases", "ledger_rows",
           "ledger_table", "outbound_lines", "outbound_rows", "outbound_table", "paid_as_cleared",
           "reference_values"]
