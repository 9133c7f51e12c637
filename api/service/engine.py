"""What the service computes with: the pack, weights and policy, loaded once at start-up.

:class:`Engine` groups (``drg group``'s semantics: codes reformatted only where the pack does not
know them as written), validates (:class:`audit.validate.Validator`) and prices cases: the
**expected payment** (预计支付) of a case is its settlement standard at a reference point value,
before the period's budget is known:

* case type and points come from the payment layer (:func:`payment.engine.classify`), as in a
  settlement run; non-DRG tracks (床日, 按项目 …) keep their own standard;
* the reference point value (参考点值), in order: the policy's forecast ``[monthly] provisional``
  value; for the rate method the weight table's base rate of the insurance type; else the neutral
  value ``average_cost ÷ 100`` 元 per point (a case of RW 1 is paid the average cost);
* standard = ⌊points × point value⌋ fen, expected fund payment = standard − patient share,
  rounded down to the fen like every settlement amount (:mod:`payment.money`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from icd_tables.intake.headers import plan_columns
from api.grouping import BatchGrouper
from api.cli.settle import _weights as read_weight_file
from audit.validate import Validator
from grouper import Grouper
from payment import Hospitals, PaymentInputError, Period, Policy, load_policy, prepare_cases, read_hospitals
from payment.engine import CASE_TYPES, DRG_TRACK, classify
from payment.money import POINT_UNITS, mul_div_floor
from weights import WeightTable

#: Case types paid nothing (暂缓/不予支付).
UNPAID_TYPES = ("ungroupable_held", "held", "rejected")


@dataclass(frozen=True)
class Priced:
    """Expected payment of each case: standard and fund payment in fen (-1 where not priced), case type, note."""

    standard_fen: np.ndarray
    fund_fen: np.ndarray
    case_type: list[str]
    basis: str
    note: list[str]


def _sha256(path: Path | None) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if path else ""


class Engine:
    """The loaded pack, weights, policy and hospital table.

    Parameters
    ----------
    pack : str
        Pack name or folder.
    weights, policy, hospitals : Path, optional
        Without weights and a policy the service groups and validates but prices nothing.
    """

    def __init__(self, pack: str, weights: Path | None = None, policy: Path | None = None,
                 hospitals: Path | None = None):
        self.grouper = Grouper(pack)
        self.weights: WeightTable | None = read_weight_file(Path(weights)) if weights else None
        self.validator = Validator(self.grouper, weights=self.weights)
        self.policy: Policy | None = load_policy(policy) if policy else None
        hospitals_path = hospitals or (self.policy.files.get("hospitals") if self.policy else None)
        self.hospitals: Hospitals | None = (read_hospitals(hospitals_path, self.policy)
                                            if self.policy is not None and hospitals_path else None)
        self.weights_version = (f"{self.weights.meta.name}@{_sha256(weights)[:12]}" if self.weights else "")
        self.policy_version = f"{self.policy.version}@{self.policy.sha256[:12]}" if self.policy else ""
        self.rw = ({d: str(v) for d, v in self.weights.rw().items()} if self.weights else {})

    @property
    def pack_version(self) -> str:
        return self.grouper.pack_version

    @property
    def can_price(self) -> bool:
        return self.weights is not None and self.policy is not None and self.hospitals is not None

    def group(self, records: pa.Table, first_row_no: int = 1) -> pa.Table:
        """Group like ``drg group`` (code formatting fixed where needed), with its ``warnings`` column."""
        return BatchGrouper(self.grouper, plan_columns(records.column_names))(records, first_row_no)

    def price(self, cases: pa.Table) -> Priced | None:
        """Expected payment of grouped cases (records with ``drg`` and ``status``); None without weights/policy."""
        if not self.can_price:
            return None
        n = cases.num_rows
        standard = np.full(n, -1, np.int64)
        fund = np.full(n, -1, np.int64)
        case_type = [""] * n
        note = [""] * n
        policy = self.policy
        dates = cases.column(policy.period_by) if policy.period_by in cases.column_names else pa.nulls(n, pa.string())
        month = pc.utf8_slice_codeunits(pc.cast(dates, pa.string()), 0, 7)
        months = [m for m in pc.unique(month).to_pylist() if m]
        no_month = np.flatnonzero(~pc.fill_null(pc.is_valid(month), False).to_numpy(zero_copy_only=False))
        for i in no_month:
            note[i] = f"{policy.period_by} 缺失，无法预计支付 (no {policy.period_by}: not priced)"
        point_value, basis = self._point_value()
        for m in months:
            rows = np.flatnonzero(pc.fill_null(pc.equal(month, m), False).to_numpy(zero_copy_only=False))
            part = cases.take(pa.array(rows))
            try:
                prepared = prepare_cases(part, self.weights, policy, self.hospitals, Period.parse(m))
            except PaymentInputError as exc:
                for i in rows:
                    note[i] = f"未能预计支付 (not priced): {exc}"
                continue
            cl = classify(prepared, policy, self.hospitals)
            picked = rows[prepared.row_no - 1]
            s = cl.track_standard.copy()
            drg = np.isin(cl.case_type, DRG_TRACK)
            if drg.any():
                if point_value is None:
                    s[drg] = -1
                else:
                    values = self._per_case_point_value(prepared, point_value)
                    q, _ = mul_div_floor(cl.points[drg], values[drg, 0], values[drg, 1])
                    s[drg] = q
            names = [CASE_TYPES[int(t)][0] for t in cl.case_type]
            unpaid = np.isin(np.array(names, dtype=object), UNPAID_TYPES)
            s[unpaid] = 0
            standard[picked] = s
            fund[picked] = np.where(s >= 0, np.where(unpaid, 0, s - prepared.patient_fen), -1)
            for k, i in enumerate(picked):
                case_type[i] = names[k]
        return Priced(standard, fund, case_type, basis, note)

    def _point_value(self) -> tuple[object, str]:
        """The reference point value (fen per 1/10,000 point as N/D, or per-insurance rates) and its basis."""
        policy = self.policy
        if policy.provisional is not None:
            return policy.provisional, "policy forecast 政策预测点值"
        if policy.method == "rate":
            rates = {k: v for k, v in self.weights.meta.base_rates.items()}
            if rates:
                return rates, "base rate 基础费率"
        if policy.average_cost_fen:
            return (policy.average_cost_fen, 100 * POINT_UNITS), "neutral: average cost ÷ 100 中性点值（例均费用÷100）"
        return None, "none 无参考点值"

    @staticmethod
    def _per_case_point_value(prepared, point_value) -> np.ndarray:
        out = np.zeros((prepared.n, 2), np.int64)
        if isinstance(point_value, dict):  # base rate in 元 per RW: fen per point unit = rate × 100 ÷ (100 × 10^4)
            from payment.money import decimal_units

            for k, code in enumerate(prepared.insurance_codes):
                rate = point_value.get(code)
                if rate is not None:
                    out[prepared.insurance == k] = (decimal_units(rate, 2, "base rate"), 100 * POINT_UNITS)
            out[out[:, 1] == 0] = (0, 1)
        else:
            out[:] = point_value
        return out


__all__ = ["Engine", "Priced"]
