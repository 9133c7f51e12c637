"""Inputs of a settlement run: the hospital table, assessment scores, case lists, and the cases as arrays.

:func:`prepare_cases` turns a table of grouped cases (Arrow or pandas, as
``api.cases.read_cases`` returns it) into integer NumPy arrays once: hospitals,
DRGs, insurance types and departments factorised, costs in fen, RW in millionths,
months as ``YYYYMM``.  A case whose values cannot be settled (no cost, a negative
cost, no discharge date, no hospital) is kept with a rejection reason, never dropped.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from icd_tables.intake.bounds import implausible_rows
from foundation.decimals import unscaled
from foundation.files import InputError, read_text_table
from foundation.headers import find_columns
from foundation.remembered import per_object
from foundation.text_values import year_month
from icd_tables.intake.values import canonical_records
from payment.money import decimal_units
from icd_tables.schema import CODE_LIST_SEPARATOR
from payment.policy import LEVELS, Policy
from payment.prices import pick
from weights import WeightTable, lookup_units

LEVEL_WORDS = {"1": 1, "2": 2, "3": 3, "一级": 1, "二级": 2, "三级": 3}
HOSPITAL_HEADERS = {
    "hospital_id": ("hospital_id", "医疗机构编码", "机构编码", "医院编码", "定点医疗机构编码"),
    "level": ("level", "hospital_level", "医院等级", "等级", "医疗机构等级"),
    "coefficient": ("coefficient", "医院系数", "系数", "机构系数"),
    "name": ("name", "hospital_name", "医疗机构名称", "医院名称", "机构名称"),
    "region": ("region", "统筹区", "统筹地区"),
    "score": ("score", "考核得分", "得分", "考核分数"),
    "case_id": ("case_id", "病案号", "结算ID", "结算id", "setl_id"),
    "event": ("event", "事件", "突发事件", "除外事件"),
    "total": ("total", "总控额度", "总额控制指标", "总控指标"),
    "min_cases": ("min_cases", "最低服务人次", "最低人次"),
    "bonus_share": ("bonus_share", "奖励比例", "考核奖励比例"),
    "quota": ("quota", "定额标准", "定额", "次均定额"),
}
#: Status codes of a case, from the grouping result's ``status``.
STATUS_CODES = {"ok": 0, "qy": 1, "ungroupable": 2, "invalid": 3}
#: reject_reason of a case holding a value no stay can have (icd_tables/intake/bounds.toml).
DATA_ERROR = 9
#: Why a case cannot be settled (reject_reason codes) → message.
REJECT_REASONS = {
    1: "分组结果无效，请修正病案后重新分组 (grouping invalid: fix the record and group it again)",
    2: "总费用缺失、非数字或为负，请补正总费用后重新上传 (total_cost missing, not a number or negative: correct it and "
       "upload again)",
    3: "出院/结算日期缺失或无效，请补正日期后重新上传 (discharge/settlement date missing or invalid: correct it and upload "
       "again)",
    4: "医疗机构编码为空，请填写医疗机构编码后重新上传 (hospital_id empty: fill it in and upload again)",
    5: "个人支付缺失且政策未设待遇计算，请补报个人支付金额 (patient_paid missing and the policy has no [benefits] rule for "
       "it: report the patient's payment)",
    6: "个人支付为负或大于总费用，请核对个人支付与总费用 (patient_paid negative or above total_cost: check both amounts)",
    7: "床日付费病例缺少住院天数，请补填实际住院天数 (per-diem case without los_days: fill in the length of stay)",
    8: "险种类型为空，请填写险种类型（310 职工、390 居民）(insurance_type empty: fill it in, 310 or 390)",
    9: "数值超出合理范围，数据错误，请核对后重新上传 (a value no stay can have: age, days, weight, hours or an amount outside its "
       "plausible range: correct it and upload again)",
    10: "中途结算须填写入院日期与参保人编码且住院满政策规定月数，未满者出院时结算 (an interim record needs the admission date, "
        "the patient id and a stay of [tracks.interim] months or more; otherwise it is settled at discharge)",
}
#: reject_reason of an interim record (中途结算) that cannot be settled yet.
INTERIM_NOT_DUE = 10


class PaymentInputError(ValueError):
    """A hospital table, score file, case list or case table cannot be used; the message names the item."""


def _read_frame(path: Path, what: str) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise PaymentInputError(f"{path}: no such {what} file")
    try:
        return read_text_table(path).to_pandas()
    except InputError as exc:
        raise PaymentInputError(f"cannot read the {what} file: {exc}") from None


def _columns(frame: pd.DataFrame, path, what: str, required: tuple[str, ...]) -> dict[str, str]:
    found = find_columns(frame.columns, HOSPITAL_HEADERS)
    missing = [c for c in required if c not in found]
    if missing:
        names = " / ".join(HOSPITAL_HEADERS[missing[0]][:3])
        raise PaymentInputError(f"{path}: the {what} file has no {missing[0]} column ({names}); "
                                f"headers found: {', '.join(map(str, frame.columns))}")
    return found


@dataclass(frozen=True)
class Hospitals:
    """The hospital table (定点医疗机构): id, level, coefficient (1/10,000), name, region; sorted by id."""

    ids: tuple[str, ...]
    level: np.ndarray
    coef_u: np.ndarray
    names: tuple[str, ...]
    regions: tuple[str, ...]
    sha256: str = ""
    totals_fen: dict[str, int] = field(default_factory=dict)  # 总控额度 (column total), per hospital id
    min_cases: dict[str, int] = field(default_factory=dict)   # 最低服务人次 (column min_cases)
    bonus_u: dict[str, int] = field(default_factory=dict)     # 考核奖励比例 (column bonus_share), 1/10,000
    quota_fen: dict[str, int] = field(default_factory=dict)   # 定额标准 per discharge ([quota]), per hospital id

    def index(self) -> dict[str, int]:
        return {h: i for i, h in enumerate(self.ids)}


def _level(text, origin: str, row_no: int, hid: str) -> int:
    level = LEVEL_WORDS.get(str(text).strip().removesuffix(".0"))
    if level not in LEVELS:
        raise PaymentInputError(f"{origin}: row {row_no}: hospital {hid}: unknown hospital level {text!r} (医院等级); "
                                "use 1, 2 or 3 (一级/二级/三级)")
    return level


def read_hospital_levels(source) -> dict[str, int]:
    """Hospital id → level (医院等级) from a hospital table (file or DataFrame), as :func:`read_hospitals` reads them.

    Raises
    ------
    PaymentInputError
        A missing column, an empty id or an unknown level, naming the row.
    """
    origin = "hospital table" if isinstance(source, pd.DataFrame) else str(source)
    frame = source.astype(str) if isinstance(source, pd.DataFrame) else _read_frame(source, "hospital table")
    cols = _columns(frame, origin, "hospital table", ("hospital_id", "level"))
    out = {}
    for row_no, row in enumerate(frame.to_dict("records"), start=2):
        hid = str(row[cols["hospital_id"]]).strip()
        if not hid:
            raise PaymentInputError(f"{origin}: row {row_no}: empty hospital_id (医疗机构编码)")
        out[hid] = _level(row[cols["level"]], origin, row_no, hid)
    return out


def read_hospitals(source, policy: Policy) -> Hospitals:
    """Read a hospital table (CSV/XLSX/Parquet file or a DataFrame) and give each hospital its coefficient.

    Columns: ``hospital_id`` (医疗机构编码), ``level`` (医院等级: 1/2/3 or 一级/二级/三级), optional
    ``coefficient`` (医院系数, overrides the level's), ``name`` (医疗机构名称), ``region`` (统筹区),
    ``total`` (总控额度, 元), ``min_cases`` (最低服务人次; empty = none) and ``bonus_share`` (考核奖励比例:
    the year run pays ⌊share × the hospital's DRG fund payment⌋ per fund from the reserve; last year's
    ``next_year`` table sets it).  The policy's ``[coefficients] hospitals``, ``[totals] hospitals`` and
    ``[min_volume] hospitals`` override them.

    Raises
    ------
    PaymentInputError
        Naming the row of an unknown level, a duplicate id, a bad coefficient, or a missing column.
    """
    origin = "hospital table" if isinstance(source, pd.DataFrame) else str(source)
    frame = source.astype(str) if isinstance(source, pd.DataFrame) else _read_frame(source, "hospital table")
    cols = _columns(frame, origin, "hospital table", ("hospital_id", "level"))
    ids, levels, coefs, names, regions, seen, totals, minimum, bonus = [], [], [], [], [], {}, {}, {}, {}
    for row_no, row in enumerate(frame.to_dict("records"), start=2):
        hid = str(row[cols["hospital_id"]]).strip()
        if not hid:
            raise PaymentInputError(f"{origin}: row {row_no}: empty hospital_id (医疗机构编码)")
        if hid in seen:
            raise PaymentInputError(f"{origin}: row {row_no}: hospital {hid} listed twice (first at row {seen[hid]})")
        seen[hid] = row_no
        level = _level(row[cols["level"]], origin, row_no, hid)
        coef = policy.hospital_coef_u.get(hid)
        text = str(row.get(cols.get("coefficient"), "")).strip() if "coefficient" in cols else ""
        if coef is None and text and text.lower() not in ("nan", "none"):
            try:
                coef = decimal_units(text, 4, "coefficient")
            except ValueError as exc:
                raise PaymentInputError(f"{origin}: row {row_no}: hospital {hid}: {exc} (医院系数)") from None
            if coef <= 0:
                raise PaymentInputError(f"{origin}: row {row_no}: hospital {hid}: coefficient {text} must be positive")
        if coef is None:
            coef = policy.level_coef_u.get(level)
            if coef is None:
                raise PaymentInputError(f"{origin}: row {row_no}: hospital {hid}: the policy has no coefficient "
                                        f"for level {level} ([coefficients] levels)")
        ids.append(hid)
        levels.append(level)
        coefs.append(coef)
        names.append(str(row.get(cols["name"], "")) if "name" in cols else "")
        region = str(row.get(cols["region"], "")).strip() if "region" in cols else ""
        regions.append(region or policy.region)
        for key, places, out, what in (("total", 2, totals, "总控额度"), ("min_cases", 0, minimum, "最低服务人次"),
                                       ("bonus_share", 4, bonus, "考核奖励比例")):
            text = str(row.get(cols[key], "")).strip() if key in cols else ""
            if text and text.lower() not in ("nan", "none"):
                try:
                    out[hid] = decimal_units(text, places, key)
                except ValueError as exc:
                    raise PaymentInputError(f"{origin}: row {row_no}: hospital {hid}: {exc} ({what})") from None
                if out[hid] < 0:
                    raise PaymentInputError(f"{origin}: row {row_no}: hospital {hid}: {key} {text} is negative")
                if key == "bonus_share" and out[hid] > 10_000:
                    raise PaymentInputError(f"{origin}: row {row_no}: hospital {hid}: bonus_share {text} must be at "
                                            "most 1 (考核奖励比例)")
    order = np.argsort(np.array(ids, dtype=object), kind="stable")
    limits = [sorted(totals.items()), sorted(minimum.items())] if totals or minimum else []
    limits += [sorted(bonus.items())] if bonus else []
    quotas = hospital_quota_fen(policy, dict(zip(ids, levels)))
    limits += [sorted(quotas.items())] if quotas else []
    digest = hashlib.sha256(repr([ids, levels, coefs, names, regions] + limits).encode()).hexdigest()
    return Hospitals(tuple(ids[i] for i in order), np.array(levels, np.int64)[order],
                     np.array(coefs, np.int64)[order], tuple(names[i] for i in order),
                     tuple(regions[i] for i in order), digest,
                     {**totals, **policy.totals_fen}, {**minimum, **policy.min_cases}, bonus, quotas)


def read_quota_table(source) -> tuple[dict[str, int], dict[int, int]]:
    """A quota table (定额标准表, as ``drg calibrate --quota`` writes it): quotas per hospital and per level.

    Columns ``quota`` (定额标准, 元 per discharge) and ``hospital_id`` (医疗机构编码) or ``level`` (医院等级)
    or both: a row with a hospital id is that hospital's quota; a row with only a level is the level's.

    Returns
    -------
    (dict, dict)
        Hospital id → fen, level → fen.

    Raises
    ------
    PaymentInputError
        Naming the row of a missing, negative or zero quota, an unknown level, or a hospital/level listed twice.
    """
    origin = "quota table" if isinstance(source, pd.DataFrame) else str(source)
    frame = source.astype(str) if isinstance(source, pd.DataFrame) else _read_frame(source, "quota table")
    cols = _columns(frame, origin, "quota table", ("quota",))
    if "hospital_id" not in cols and "level" not in cols:
        raise PaymentInputError(f"{origin}: the quota table needs a hospital_id (医疗机构编码) or level (医院等级) "
                                f"column; headers found: {', '.join(map(str, frame.columns))}")
    by_hospital, by_level = {}, {}
    for row_no, row in enumerate(frame.to_dict("records"), start=2):
        hid = str(row[cols["hospital_id"]]).strip() if "hospital_id" in cols else ""
        hid = "" if hid.lower() in ("nan", "none") else hid
        try:
            quota = decimal_units(str(row[cols["quota"]]).strip(), 2, "quota")
        except ValueError as exc:
            raise PaymentInputError(f"{origin}: row {row_no}: {exc} (定额标准)") from None
        if quota <= 0:
            raise PaymentInputError(f"{origin}: row {row_no}: quota {row[cols['quota']]} must be positive (定额标准)")
        if hid:
            key, out = hid, by_hospital
        else:
            key = LEVEL_WORDS.get(str(row.get(cols.get("level"), "")).strip().removesuffix(".0"))
            if key is None:
                raise PaymentInputError(f"{origin}: row {row_no}: neither a hospital_id nor a level 1, 2 or 3 "
                                        "(一级/二级/三级)")
            out = by_level
        if key in out:
            raise PaymentInputError(f"{origin}: row {row_no}: {'hospital' if hid else 'level'} {key} listed twice")
        out[key] = quota
    return by_hospital, by_level


def hospital_quota_fen(policy: Policy, levels: dict[str, int]) -> dict[str, int]:
    """Each hospital's quota (定额标准) in fen: ``[quota] hospitals``, else the quota table's row of the hospital,
    else ``[quota] levels`` of its level, else the table's row of its level; hospitals without one are left out."""
    table_h, table_l = read_quota_table(policy.files["quota"]) if "quota" in policy.files else ({}, {})
    out = {}
    for hid, level in levels.items():
        quota = policy.quota_hospitals_fen.get(hid, table_h.get(hid, policy.quota_levels_fen.get(level,
                                                                                               table_l.get(level))))
        if quota is not None:
            out[hid] = quota
    return out


def read_scores(source, hospitals: Hospitals) -> dict[str, int]:
    """Assessment scores (考核得分, 0–100, whole or with decimals: kept in 1/100 points) per hospital.

    ``source``: a file (CSV/XLSX/Parquet) or a DataFrame with columns ``hospital_id`` and ``score``.
    """
    origin = "assessment scores" if isinstance(source, pd.DataFrame) else str(source)
    frame = source.astype(str) if isinstance(source, pd.DataFrame) else _read_frame(source, "assessment score")
    cols = _columns(frame, origin, "assessment score", ("hospital_id", "score"))
    known = set(hospitals.ids)
    scores = {}
    for row_no, row in enumerate(frame.to_dict("records"), start=2):
        hid = str(row[cols["hospital_id"]]).strip()
        if hid not in known:
            raise PaymentInputError(f"{origin}: row {row_no}: hospital {hid!r} is not in the hospital table")
        try:
            score = decimal_units(row[cols["score"]], 2, "score")
        except ValueError as exc:
            raise PaymentInputError(f"{origin}: row {row_no}: hospital {hid}: {exc} (考核得分)") from None
        if not 0 <= score <= 100_00:
            raise PaymentInputError(f"{origin}: row {row_no}: hospital {hid}: score {row[cols['score']]} "
                                    "must be between 0 and 100")
        scores[hid] = score
    return scores


def read_case_list(source, what: str) -> dict[str, str]:
    """A list of case ids (特病单议 approvals or 突发事件 exclusions) → its note (the ``event`` column), in file order."""
    origin = str(source)
    frame = _read_frame(source, what)
    cols = _columns(frame, origin, what, ("case_id",))
    out: dict[str, str] = {}
    for row_no, row in enumerate(frame.to_dict("records"), start=2):
        cid = str(row[cols["case_id"]]).strip()
        if not cid:
            raise PaymentInputError(f"{origin}: row {row_no}: empty case_id (病案号)")
        out.setdefault(cid, str(row[cols["event"]]).strip() if "event" in cols else "")
    return out


@dataclass(frozen=True)
class Period:
    """A settlement period: a year, or one month of it (``2024`` or ``2024-03``)."""

    year: int
    month: int | None = None

    @classmethod
    def parse(cls, text: str) -> "Period":
        text = str(text).strip()
        try:
            if len(text) == 4:
                return cls(int(text))
            year, month = text.split("-")
            if len(year) == 4 and 1 <= int(month) <= 12:
                return cls(int(year), int(month))
        except ValueError:
            pass
        raise PaymentInputError(f"period {text!r}: expected a year (2024) or a month (2024-03)")

    def __str__(self) -> str:
        return f"{self.year}" if self.month is None else f"{self.year}-{self.month:02d}"

    def contains(self, yyyymm: np.ndarray) -> np.ndarray:
        if self.month is None:
            return yyyymm // 100 == self.year
        return yyyymm == self.year * 100 + self.month


@dataclass
class Cases:
    """The cases of one period as arrays (one entry per case, in input order)."""

    case_id: pa.Array
    row_no: np.ndarray
    hosp: np.ndarray          # index into Hospitals.ids
    drg: np.ndarray           # index into drg_codes
    drg_codes: list[str]
    status: np.ndarray        # STATUS_CODES
    drg_rw: np.ndarray        # per DRG: RW in millionths; -1 = no weight
    drg_mean: np.ndarray      # per DRG: mean cost per case in fen (0 without a weight)
    cost_fen: np.ndarray
    patient_fen: np.ndarray
    patient_source: np.ndarray  # 0 patient_paid, 1 benefit calculator, 2 unknown
    los: np.ndarray           # -1 unknown
    yyyymm: np.ndarray
    insurance: np.ndarray     # index into insurance_codes
    insurance_codes: list[str]
    dept: np.ndarray
    dept_codes: list[str]
    fund: np.ndarray          # index into funds
    funds: list[tuple[str, str]]
    reject: np.ndarray        # REJECT_REASONS code, 0 = none
    special: np.ndarray       # bool: on the 特病单议 list
    special_rank: np.ndarray  # position in the 特病单议 list (-1 when not on it)
    event: np.ndarray         # bool: on the 突发事件 list
    event_notes: dict[str, str] = field(default_factory=dict)
    fingerprint: str = ""
    pack_version: str = ""
    outside_period: int = 0
    # 异地就医 ([cross_region], payment.cross_region): insured region index into insured_codes (-1 = local),
    # the inbound mask, and the funds that are clearing funds (pool = "outside"); None/empty for local runs
    insured: np.ndarray | None = None
    insured_codes: list[str] = field(default_factory=list)
    inbound: np.ndarray | None = None
    clearing_funds: frozenset = frozenset()
    per_diem_rate: np.ndarray | None = None   # fen per day of the case's per-diem rate; -1 = not per diem
    single_price: np.ndarray | None = None    # fen: the case's 单病种 price; -1 = not 单病种
    interim: np.ndarray | None = None         # bool: an interim record (中途结算: settlement date, no discharge)
    stay: pa.Array | None = None              # the stay (hospital|patient|admission date) or null: interim netting
    self_pay_fen: np.ndarray | None = None  # self_pay_cost (自费/范围外费用), 0 where absent

    def __post_init__(self):
        n = len(self.row_no)
        for name, fill in (("per_diem_rate", -1), ("single_price", -1), ("interim", False)):
            if getattr(self, name) is None:
                setattr(self, name, np.full(n, fill, bool if fill is False else np.int64))
        if self.stay is None:
            self.stay = pa.nulls(n, pa.string())

    @property
    def n(self) -> int:
        return len(self.row_no)

    @property
    def rw_u(self) -> np.ndarray:
        """RW of each case in millionths (-1 = no weight)."""
        return self.drg_rw[self.drg]

    @property
    def mean_fen(self) -> np.ndarray:
        """Mean cost of each case's DRG in fen (0 = none)."""
        return self.drg_mean[self.drg]


def _column(table: pa.Table, name: str):
    index = table.schema.get_field_index(name)  # not column_names: Arrow builds that list afresh on every access
    return table.column(index) if index >= 0 else None


def _mean_costs(weights: WeightTable) -> dict:
    """DRG → 例均费用 of a weight table, made once per table (a service prices one case at a time)."""
    frame = weights.frame
    if "mean_cost" not in frame:
        return {}
    return per_object("mean costs", (weights,), lambda: dict(zip(frame["drg"], frame["mean_cost"])))


def _factorize(column, n: int) -> tuple[np.ndarray, list[str]]:
    """Strings → (int32 codes, values in order of first appearance); missing → ``""``."""
    if column is None:
        return np.zeros(n, np.int32), [""]
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    encoded = pc.dictionary_encode(pc.fill_null(column.cast(pa.string()), "")).combine_chunks()
    return encoded.indices.to_numpy(zero_copy_only=False), encoded.dictionary.to_pylist()


def _money(column, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A canonical money column → fen and validity (present, not negative)."""
    if column is None:
        return np.zeros(n, np.int64), np.zeros(n, bool)
    fen = unscaled(column)
    valid = column.is_valid().to_numpy(zero_copy_only=False) & (fen >= 0)
    return np.where(valid, fen, 0), valid


def _integers(column, n: int) -> np.ndarray:
    """A canonical whole-number column → int64, -1 where missing or negative."""
    if column is None:
        return np.full(n, -1, np.int64)
    values = pc.fill_null(column, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return np.where(values >= 0, values, -1)


def _months(column, n: int) -> np.ndarray:
    """A canonical date column → YYYYMM; 0 where missing."""
    return np.zeros(n, np.int64) if column is None else year_month(column)


def _hash_arrays(parts) -> str:
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            digest.update(np.ascontiguousarray(part))
        elif isinstance(part, pa.Array):
            for buf in part.buffers():
                if buf is not None:
                    digest.update(buf)
        else:
            digest.update(repr(part).encode())
    return digest.hexdigest()


def _listed(case_id: pa.Array, listed: dict[str, str] | None) -> np.ndarray:
    if not listed:
        return np.zeros(len(case_id), bool)
    return pc.is_in(case_id, value_set=pa.array(list(listed), pa.string())).to_numpy(zero_copy_only=False)


def _funds(policy: Policy, hospitals: Hospitals, hosp, insurance, insurance_codes):
    """Each case's fund (region × insurance type with a budget), sorted; -1 for an empty insurance type."""
    n_ins = len(insurance_codes)
    pair = np.where(hosp >= 0, hosp * n_ins + insurance, -1)
    present = np.flatnonzero(np.bincount(pair[pair >= 0], minlength=len(hospitals.ids) * n_ins))
    keys = {}
    for p in present:
        h, i = divmod(int(p), n_ins)
        key = policy.fund_key(hospitals.regions[h], insurance_codes[i])
        if key is None and insurance_codes[i]:
            raise PaymentInputError(f"insurance type {insurance_codes[i]!r} of region {hospitals.regions[h]!r} "
                                    f"(hospital {hospitals.ids[h]}) has no [[budget]] in the policy")
        keys[int(p)] = key
    funds = sorted({k for k in keys.values() if k is not None})
    number = {k: i for i, k in enumerate(funds)}
    lookup = np.full(len(hospitals.ids) * n_ins + 1, -1, np.int64)
    for p, key in keys.items():
        if key is not None:
            lookup[p] = number[key]
    return lookup[pair], funds


def _fund_names(policy: Policy, funds) -> list[tuple[str, ...]]:
    """Each fund's names a price row may use: its budget's name, insurance type and region (a 异地就医 clearing
    fund has no budget: its insurance type and region)."""
    out = []
    for region, ins in funds:
        budget = next((b for b in policy.budgets if (b.region, b.insurance_type) == (region, ins)), None)
        out.append(((budget.fund_name,) if budget is not None else ()) + (ins, region))
    return out


def _prices(rows, items: list[str], item_of: np.ndarray, procedures, fund, insurance, insurance_codes, hosp,
            hospitals: Hospitals, names) -> np.ndarray:
    """Each case's amount from a price table (:func:`payment.prices.pick`), -1 where no row matches.

    ``items``: the distinct item values (DRG codes, diagnoses) indexed by ``item_of``; ``procedures``: the
    procedure codes column (text ``a|b``) or None.  Only the cases whose item has a row are looked at.
    """
    out = np.full(len(item_of), -1, np.int64)
    by_item: dict[str, list] = {}
    for r in rows:
        by_item.setdefault(r.item, []).append(r)
    wanted = np.array([by_item.get(str(v).strip().upper()) is not None for v in items] or [False], bool)
    candidates = np.flatnonzero(wanted[item_of] & (fund >= 0) & (hosp >= 0))
    if not len(candidates):
        return out
    proc_of, proc_texts = (np.zeros(len(candidates), np.int64), [None]) if procedures is None else \
        _factorize(procedures.take(pa.array(candidates)), len(candidates))
    # one lookup per distinct (item, procedures, fund, insurance type, hospital), not per case
    keys = np.stack([item_of[candidates], proc_of, fund[candidates], insurance[candidates], hosp[candidates]], axis=1)
    distinct, inverse = np.unique(keys.astype(np.int64), axis=0, return_inverse=True)
    amounts = np.empty(len(distinct), np.int64)
    for k, (item, proc, f, ins, h) in enumerate(distinct.tolist()):
        text = proc_texts[proc] or ""
        amounts[k] = pick(by_item[str(items[item]).strip().upper()],
                          tuple(c.strip().upper() for c in text.split(CODE_LIST_SEPARATOR) if c.strip()),
                          names[f] + (insurance_codes[ins],), int(hospitals.level[h]), hospitals.ids[h])
    out[candidates] = amounts[inverse.ravel()]
    return out


def _whole_months(start, end) -> np.ndarray:
    """Whole months from ``start`` to ``end`` (date columns); -1 where either is missing."""
    parts = [pc.fill_null(f(c), 0).to_numpy(zero_copy_only=False).astype(np.int64) for c in (start, end)
             for f in (pc.year, pc.month, pc.day)]
    y1, m1, d1, y2, m2, d2 = parts
    months = (y2 - y1) * 12 + (m2 - m1) - (d2 < d1)
    valid = pc.and_(pc.is_valid(start), pc.is_valid(end)).to_numpy(zero_copy_only=False)
    return np.where(valid, months, -1)


def prepare_cases(cases, weights: WeightTable, policy: Policy, hospitals: Hospitals, period: Period,
                  special: dict[str, str] | None = None, events: dict[str, str] | None = None,
                  require_cases: bool = True) -> Cases:
    """The cases of ``period`` as arrays ready to settle.

    Parameters
    ----------
    cases : pyarrow.Table or pandas.DataFrame
        Grouped cases: ``case_id``, ``hospital_id``, ``drg``, ``status``, ``total_cost``, the period's
        date column, ``insurance_type``; optional ``patient_paid``, ``self_pay_cost``, ``los_days``,
        ``dept``, ``patient_id``, ``out_of_area_unreferred``, ``pack_version``.
    weights : WeightTable
    policy : Policy
    hospitals : Hospitals
    period : Period
    special, events : dict, optional
        Case ids on the 特病单议 list and the 突发事件 list (→ event name).
    require_cases : bool
        Refuse a table without a case dated in the period (default); off for one part of a larger
        table (``scaleout.settlement`` prepares each Spark partition on its own).

    Raises
    ------
    PaymentInputError
        A required column is missing, a hospital is not in the hospital table, an insurance type
        has no budget, or the period has no cases.
    """
    table = canonical_records(cases if isinstance(cases, pa.Table) else pa.Table.from_pandas(cases, preserve_index=False))
    for name in ("case_id", "drg", "status", "total_cost", "hospital_id", policy.period_by):
        if name not in table.column_names:
            raise PaymentInputError(f"the cases have no {name!r} column; give grouped cases "
                                    "(drg group --keep-input) or raw records with --pack")
    yyyymm_all = _months(_column(table, policy.period_by), table.num_rows)
    interim_all = np.zeros(table.num_rows, bool)
    if policy.interim_months is not None and "settlement_date" in table.column_names:
        # 中途结算: a record with a settlement date and no discharge date is dated by its settlement
        discharge = _column(table, "discharge_date")
        interim_all = (pc.is_valid(table.column("settlement_date")).to_numpy(zero_copy_only=False)
                       & (np.ones(table.num_rows, bool) if discharge is None
                          else pc.is_null(discharge).to_numpy(zero_copy_only=False)))
        yyyymm_all = np.where(interim_all, _months(table.column("settlement_date"), table.num_rows), yyyymm_all)
    inside = period.contains(yyyymm_all) | (yyyymm_all == 0)
    outside = int((~inside).sum())
    if require_cases and not (inside & (yyyymm_all > 0)).any():
        found = sorted({int(m) // (100 if period.month is None else 1) for m in np.unique(yyyymm_all) if m})
        raise PaymentInputError(f"period {period}: no cases with a {policy.period_by} in it "
                                f"(periods found: {', '.join(map(str, found[:12])) or 'none'})")
    if outside:
        selected = np.flatnonzero(inside)
        table = table.take(pa.array(selected))
        yyyymm, row_no, interim = yyyymm_all[selected], selected + 1, interim_all[selected]
    else:
        yyyymm, row_no, interim = yyyymm_all, np.arange(1, table.num_rows + 1), interim_all
    n = table.num_rows

    hosp_codes, hosp_values = _factorize(_column(table, "hospital_id"), n)
    index = hospitals.index()
    unknown = [h for h in hosp_values if h and h not in index]
    if unknown:
        raise PaymentInputError(f"hospital {unknown[0]} is not in the hospital table"
                                f"{f' (and {len(unknown) - 1} more)' if len(unknown) > 1 else ''}; "
                                "add it with its level (医院等级)")
    hosp_map = np.array([index.get(h, -1) for h in hosp_values], np.int64)
    hosp = hosp_map[hosp_codes]

    drg, drg_codes = _factorize(_column(table, "drg"), n)
    per_drg_rw = lookup_units(np.array(drg_codes, dtype=object), weights) if drg_codes else np.zeros(0, np.int64)
    mean_table = _mean_costs(weights)
    per_drg_mean = np.zeros(len(drg_codes), np.int64)
    for k, code in enumerate(drg_codes):
        mean = mean_table.get(code)
        if mean is not None and mean > 0:
            per_drg_mean[k] = int(mean * 100)
        elif per_drg_rw[k] > 0:
            if policy.average_cost_fen is None:
                raise PaymentInputError(f"DRG {code} has no mean_cost (例均费用) in weight table {weights.meta.name}; "
                                        "set average_cost (全部病例例均费用) in the policy")
            per_drg_mean[k] = max(int(per_drg_rw[k]) * policy.average_cost_fen // 1_000_000, 1)
    status_codes, status_values = _factorize(_column(table, "status"), n)
    bad_status = [s for s in status_values if s not in STATUS_CODES]
    if bad_status:
        raise PaymentInputError(f"unknown grouping status {bad_status[0]!r}; expected ok, qy, ungroupable, invalid")
    status = np.array([STATUS_CODES[s] for s in status_values], np.int64)[status_codes]

    cost, cost_ok = _money(_column(table, "total_cost"), n)
    paid, paid_ok = _money(_column(table, "patient_paid"), n)
    self_pay, _ = _money(_column(table, "self_pay_cost"), n)
    los = _integers(_column(table, "los_days"), n)
    insurance, insurance_codes = _factorize(_column(table, "insurance_type"), n)
    dept, dept_codes = _factorize(_column(table, "dept"), n)

    levels = hospitals.level[np.maximum(hosp, 0)]
    fund, funds = _funds(policy, hospitals, hosp, insurance, insurance_codes)
    found = None
    if policy.cross_region is not None and "insured_region" in table.column_names:
        from payment import cross_region

        found = cross_region.inbound_cases(policy, hospitals.regions, hosp,
                                           *_factorize(_column(table, "insured_region"), n))
        fund, funds, clearing = cross_region.clearing_funds(policy, found, fund, funds, insurance, insurance_codes)

    reject = np.zeros(n, np.int64)
    patient_source = np.where(paid_ok, 0, 2)
    if not paid_ok.all() and (policy.benefits or found is not None):
        from payment.benefits import patient_shares

        insured = None if found is None else (found.region, cross_region.benefit_tables(policy, found))
        calc, calc_ok = patient_shares(policy, cost, self_pay, insurance_codes, insurance, levels,
                                       _column(table, "patient_id"), yyyymm, _column(table, "out_of_area_unreferred"),
                                       insured)
        use = ~paid_ok & calc_ok
        paid = np.where(use, calc, paid)
        patient_source = np.where(use, 1, patient_source)
    reject[patient_source == 2] = 5
    reject[(patient_source == 0) & (paid > cost)] = 6
    names = _fund_names(policy, funds)
    per_diem_rate = _prices(policy.per_diem_rates, drg_codes, drg, None, fund, insurance, insurance_codes, hosp,
                            hospitals, names)
    single_price = np.full(n, -1, np.int64)
    if policy.single_disease and "principal_dx" in table.column_names:
        dx, dx_codes = _factorize(_column(table, "principal_dx"), n)
        procs = _column(table, "procedures")
        single_price = _prices(policy.single_disease, dx_codes, dx, procs, fund, insurance, insurance_codes, hosp,
                               hospitals, names)
    reject[((status == 0) | interim) & (per_diem_rate >= 0) & (los < 0)] = 7
    stay = pa.nulls(n, pa.string())
    if policy.interim_months is not None:
        admit, patient = _column(table, "admit_date"), _column(table, "patient_id")
        if admit is not None and patient is not None:
            stay = pc.binary_join_element_wise(_column(table, "hospital_id").cast(pa.string()),
                                               patient.cast(pa.string()), admit.cast(pa.string()), "|")
            stay = stay.combine_chunks() if isinstance(stay, pa.ChunkedArray) else stay
            months = _whole_months(admit, table.column("settlement_date"))
        else:
            months = np.full(n, -1, np.int64)
        reject[interim & (months < policy.interim_months)] = INTERIM_NOT_DUE
        reject[interim & ~pc.is_valid(stay).to_numpy(zero_copy_only=False)] = INTERIM_NOT_DUE
    reject[implausible_rows(table)] = DATA_ERROR
    reject[fund < 0] = 8
    reject[hosp < 0] = 4
    reject[yyyymm == 0] = 3
    reject[~cost_ok] = 2
    reject[status == STATUS_CODES["invalid"]] = 1

    case_id = pc.cast(table.column("case_id"), pa.string()).combine_chunks()
    special_mask = _listed(case_id, special)
    special_rank = (pc.index_in(case_id, value_set=pa.array(list(special), pa.string())).fill_null(-1)
                    .to_numpy(zero_copy_only=False).astype(np.int64) if special else np.full(n, -1, np.int64))
    event_mask = _listed(case_id, events)
    pack = _column(table, "pack_version")
    pack_version = ""
    if pack is not None and len(pack):
        versions = pc.unique(pack.cast(pa.string())).to_pylist()
        pack_version = ", ".join(sorted(str(v) for v in versions if v))
    fingerprint = _hash_arrays([case_id, row_no, hosp, drg, drg_codes, status, cost, paid, patient_source, los,
                                yyyymm, insurance, insurance_codes, dept, dept_codes, special_mask, event_mask,
                                reject, per_diem_rate, single_price, interim, stay]
                               + ([] if found is None else [found.region, found.codes])
                               + ([self_pay] if policy.covered_cost else []))
    prepared = Cases(case_id, row_no, hosp, drg, drg_codes, status, per_drg_rw, per_drg_mean, cost, paid,
                     patient_source, los, yyyymm, insurance, insurance_codes, dept, dept_codes, fund, funds, reject,
                     special_mask, special_rank, event_mask, dict(events or {}), fingerprint, pack_version, outside,
                     self_pay_fen=self_pay, per_diem_rate=per_diem_rate, single_price=single_price, interim=interim,
                     stay=stay)
    if found is not None:
        prepared.insured, prepared.insured_codes, prepared.inbound = found.region, found.codes, found.inbound
        prepared.clearing_funds = clearing
    return prepared


__all__ = ["DATA_ERROR", "INTERIM_NOT_DUE", "Cases", "Hospitals", "PaymentInputError", "Period", "REJECT_REASONS",
           "prepare_cases", "read_case_list", "read_hospital_levels", "read_hospitals", "read_quota_table", "read_scores"]
