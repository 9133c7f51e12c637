"""The payment policy file (付费政策文件, TOML): read, validate, fingerprint.

Every key is documented in ``payment/policies/example.toml`` and the README.  Numbers are
written as strings or TOML numbers; money in 元 with at most 2 decimals, coefficients, shares
and multipliers with at most 4 decimals (they become integer units, see :mod:`payment.money`).
An unknown key, a missing required key or a value out of range is a :class:`PolicyError`
naming the key, e.g. ``policy.toml: [reserve] share: -0.05 must be between 0 and 1``.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path

from payment.lifecycle import LifecycleRules, parse_lifecycle
from foundation.files import InputError, read_text_table
from payment.money import decimal_units
from payment.prices import PriceRow, price_rows

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

METHODS = {"point": "点数法", "rate": "费率法", "quota": "定额法"}
MISSING_WEIGHT = ("hold", "fee_for_service", "error")
PERIOD_COLUMNS = ("discharge_date", "settlement_date")
#: Hospital levels (医院等级) a policy and a hospital table may name.
LEVELS = (1, 2, 3)
#: Default RW tiers for the high-cost multiple K (高倍率判定倍数).
DEFAULT_RW_TIERS = (("1", "3"), ("2", "2.5"), ("3", "2"), ("5", "1.5"), (None, "1.3"))
#: How a corridor band pays (``[corridor] bands … pay``), see :func:`payment.engine.corridor_parts`.
CORRIDOR_PAY = ("standard", "cost", "cost_plus_reward", "excess", "capped")
#: Withhold release schedules (``[assessment] schedule``) → months per period.
SCHEDULES = {"year": 12, "half": 6, "quarter": 3, "month": 1}


class PolicyError(ValueError):
    """A policy file is malformed; the message names the file and the key."""


@dataclass(frozen=True)
class Budget:
    """One fund's annual DRG budget (统筹基金预算): pooling region × insurance type (``all`` = every type)."""

    region: str
    insurance_type: str
    amount_fen: int
    name: str = ""

    @property
    def fund_name(self) -> str:
        """The fund as people say it: the budget's ``name``, else 职工/居民 for the national insurance types
        310/390, else the insurance type code."""
        return self.name or FUND_NAMES.get(self.insurance_type, self.insurance_type)


#: Names of the national insurance types (险种类型): 310 职工基本医疗保险, 390 城乡居民基本医疗保险.
FUND_NAMES = {"310": "职工", "390": "居民", "all": "全部险种"}


@dataclass(frozen=True)
class BenefitRule:
    """起付线, reimbursement ratio and annual cap for an insurance type at a hospital level."""

    insurance_type: str
    level: int
    deductible_fen: int
    ratio_u: int
    annual_cap_fen: int


@dataclass(frozen=True)
class CrossRegion:
    """``[cross_region]``: 异地就医, cases treated here whose insured region (参保地) is elsewhere.

    Ratios in 1/10,000; ``reference`` in fen per 1/10,000 point as ``(N, D)``.
    """

    local: tuple[str, ...]                  # other names/codes of the treating region (its own insured)
    pool: str                               # "inside" 纳入本地点值 | "outside" 不纳入, paid at the reference value
    reference: tuple[int, int] | None       # pool = "outside": the reference point value
    difference: str                         # who bears DRG fund payment − clearing: pool, reserve, hospital,
    #                                         insured_region
    benefits: dict[str, tuple[tuple["BenefitRule", ...], int]]  # insured region → (rules, unreferred cut)
    outbound_growth_u: int                  # growth applied to last year's outbound clearing (shadow run)
    files_sha256: dict[str, str] = field(default_factory=dict)  # benefit files per region → SHA-256


#: ``[cross_region] pool`` → its Chinese name.
CROSS_REGION_POOL = {"inside": "纳入本地点值", "outside": "不纳入本地点值，按参考点值支付"}
#: ``[cross_region] difference`` → who bears DRG fund payment − what clearing recovers.
CROSS_REGION_DIFFERENCE = {"pool": "本地统筹基金 (点值内)", "reserve": "就医地调剂金", "hospital": "医疗机构",
                           "insured_region": "参保地 (按DRG清算)"}


@dataclass(frozen=True)
class CorridorBand:
    """One corridor band that says how it pays (``pay``): ratio bound in 1/10,000 (None = above the last)."""

    upto_u: int | None
    pay: str
    include_upto: bool  # a ratio exactly at ``upto`` belongs to this band (以下/以内 含本数)
    fund_share_u: int
    reward_share_u: int | None  # cost_plus_reward: share of the saving; or
    reward_fen: int | None      # a fixed amount


@dataclass(frozen=True)
class Policy:
    """A validated payment policy; amounts in fen, ratios in 1/10,000 (see :mod:`payment.money`)."""

    version: str
    name: str
    region: str
    method: str
    period_by: str
    budgets: tuple[Budget, ...]
    reserve_u: int
    level_coef_u: dict[int, int]
    hospital_coef_u: dict[str, int]
    average_cost_fen: int | None
    high_by: str
    rw_tiers: tuple[tuple[int | None, int], ...]  # (RW below, in millionths; None = the rest) → K
    level_k_u: dict[int, int]
    low_u: int
    missing_weight: str
    ungroupable_pay: str
    ungroupable_ratio_u: int
    long_stay_days: int | None
    long_stay_ratio_u: int
    special_ratio_u: int
    special_max_share_u: int
    event_ratio_u: int
    provisional: tuple[int, int] | None  # fen per point unit as N/D; None = distributable ÷ 12 ÷ month's points
    withhold_u: int
    release_bands: tuple[tuple[int, int], ...] | None  # (min score, share released); None = score / 100
    default_score: int | None
    corridor: tuple[tuple[int | None, int], ...] | None  # (ratio up to; None = above) → fund share
    carry_balance: bool
    benefits: tuple[BenefitRule, ...]
    unreferred_cut_u: int
    far_below_u: int
    far_above_u: int
    # year-end mechanics (issue 18); the defaults are the behaviour before them
    corridor_pay: tuple[CorridorBand, ...] | None = None  # None: the bands act on the margin (fund_share)
    excess_from: str = "band_edge"        # "excess" bands: the excess above the band's lower edge or the standard
    reward_from: str = "reserve"          # a reward is paid from the reserve (调剂金) or outside the budget
    carry_from_month: int = 1             # carried balance settled in next year's months from … (1–12)
    carry_months: int = 1                 # … over this many months
    coefficient_applies_to: str = "standard"  # hospital coefficient on the standard (points) or the fund amount
    point_value_fixed: tuple[int, int] | None = None  # year point value fixed (N/D fen per point unit); None = budget
    release_schedule: str = "year"
    totals_fen: dict[str, int] = field(default_factory=dict)   # 总控额度 per hospital
    totals_over: str = "cap"
    totals_fund_share_u: int = 0
    min_cases: dict[str, int] = field(default_factory=dict)     # 最低服务人次 per hospital
    min_case_deduction_fen: int = 0
    # 奖优罚劣: (min score, next year's coefficient adjustment, bonus share) per band, highest first; None = none
    next_year_bands: tuple[tuple[int, int, int], ...] | None = None
    # tracks (issue 19); the defaults are the behaviour before them, except the 特病单议 cap rounding up
    per_diem_rates: tuple[PriceRow, ...] = ()   # every daily rate: ``rates`` (any fund, level) + table/file rows
    per_diem_from: str = "reserve"               # paid from the reserve (调剂金) or the DRG budget (预算内)
    single_disease: tuple[PriceRow, ...] = ()    # 单病种 fixed prices
    single_disease_budget: str = "outside"       # "outside" 预算外 | "inside" 预算内 (taken off the distributable)
    special_rounding: str = "up"                 # 特病单议 cap ⌈share × cases⌉ ("up") or ⌊⌋ ("down")
    special_min_count: int = 0                   # … and at least this many per hospital
    interim_months: int | None = None            # 中途结算 every this many months (None: no interim records)
    tables_sha256: dict[str, str] = field(default_factory=dict)  # SHA-256 of the price files it read
    # 定额 (issue 19): quota per discharge in fen, per hospital id and per hospital level ([quota]; the table file
    # in files["quota"]); covered_cost: the quota method's corridor compares covered cost (total − self_pay_cost)
    quota_hospitals_fen: dict[str, int] = field(default_factory=dict)
    quota_levels_fen: dict[int, int] = field(default_factory=dict)
    covered_cost: bool = False
    cross_region: CrossRegion | None = None  # 异地就医 (issue 22); None: every case counts as local
    lifecycle: LifecycleRules = field(default_factory=LifecycleRules)  # [lifecycle]: returns, deadlines, deductions
    files: dict[str, Path] = field(default_factory=dict)
    path: str = ""
    sha256: str = ""

    def fund_name(self, region: str, insurance_type: str) -> str:
        """A fund's name for statements: ``示例市 职工``, from its budget (:attr:`Budget.fund_name`)."""
        budget = next((b for b in self.budgets if (b.region, b.insurance_type) == (region, insurance_type)), None)
        name = budget.fund_name if budget is not None else FUND_NAMES.get(insurance_type, insurance_type)
        if budget is None and self.cross_region is not None and region not in (self.region, ""):
            name += " 异地就医清算"  # a clearing fund (pool = "outside"): the insured region pays
        return f"{region} {name}".strip()

    def fund_key(self, region: str, insurance_type: str) -> tuple[str, str] | None:
        """The budget a case of ``region`` and ``insurance_type`` is paid from, or None."""
        for b in self.budgets:
            if b.region == region and b.insurance_type in (insurance_type, "all"):
                return (b.region, b.insurance_type)
        return None


class _Table:
    """One TOML table: typed getters naming the key in errors, and a check for unknown keys."""

    def __init__(self, data, where: str, origin: str):
        if not isinstance(data, dict):
            raise PolicyError(f"{origin}: {where} must be a table")
        self.data, self.where, self.origin, self.used = data, where, origin, set()

    def fail(self, key: str, message: str):
        raise PolicyError(f"{self.origin}: {self.where}{' ' if self.where else ''}{key}: {message}")

    def get(self, key, default=None):
        self.used.add(key)
        return self.data.get(key, default)

    def table(self, key) -> "_Table":
        return _Table(self.get(key, {}), f"[{key}]" if not self.where else f"{self.where[:-1]}.{key}]", self.origin)

    def units(self, key, places: int, default=None, low=None, high=None, required=False, value=None):
        raw = self.get(key, default) if value is None else value
        if raw is None:
            if required:
                self.fail(key, "missing")
            return None
        if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
            self.fail(key, f"{raw!r} is not a number")
        if isinstance(raw, float):
            raw = repr(raw)
        try:
            units = decimal_units(raw, places, "value")
        except ValueError as exc:
            self.fail(key, str(exc).removeprefix("value: "))
        scale = 10**places
        if low is not None and units < low * scale or high is not None and units > high * scale:
            bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
            self.fail(key, f"{raw} must be {bounds}")
        return units

    def choice(self, key, options, default):
        value = self.get(key, default)
        if value not in options:
            self.fail(key, f"{value!r} is not one of {', '.join(map(str, options))}")
        return value

    def close(self):
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            self.fail(unknown[0], "unknown key (check the spelling; keys are listed in payment/policies/example.toml)")


def _level(table: _Table, key) -> int:
    try:
        level = int(str(key))
    except ValueError:
        level = None
    if level not in LEVELS:
        table.fail(str(key), "unknown hospital level; use 1, 2 or 3 (一级/二级/三级)")
    return level


def _per_level(table: _Table, key, places: int, default) -> dict[int, int]:
    raw = table.get(key, default)
    if not isinstance(raw, dict):
        table.fail(key, "must be a table of level = value, e.g. { 1 = \"0.5\", 2 = \"0.75\", 3 = \"1.15\" }")
    sub = _Table(raw, f"{table.where} {key}".strip(), table.origin)
    return {_level(sub, k): sub.units(k, places, low=0, value=v) for k, v in raw.items()}


def _ratio(table: _Table, key, default, high=1):
    return table.units(key, 4, default, low=0, high=high)


def _mapping(table: _Table, key: str, places: int, usage: str) -> dict[str, int]:
    """A TOML table ``name = number`` → {name: units}."""
    raw = table.get(key, {})
    if not isinstance(raw, dict):
        table.fail(key, f"must be a table of {usage}")
    sub = _Table(raw, f"{table.where} {key}", table.origin)
    return {str(k): sub.units(k, places, low=0, value=v) for k, v in raw.items()}


def _bands(table: _Table, key: str, bound: str, places: int, value: str, usage: str, *, bound_required=False,
           bound_high=None, value_low=0, value_high=1, default=None):
    """A list of ``{ bound = …, value = … }`` tables (tiers, bands) → [(bound units or None, value units)]."""
    raw = table.get(key, default)
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw:
        table.fail(key, usage)
    out = []
    for k, item in enumerate(raw, start=1):
        t = _Table(item, f"{table.where} {key} #{k}", table.origin)
        out.append((t.units(bound, places, low=0, high=bound_high, required=bound_required),
                    t.units(value, 4, low=value_low, high=value_high, required=True)))
        t.close()
    return out


def _next_year_bands(table: _Table) -> tuple[tuple[int, int, int], ...] | None:
    """``[assessment.next_year] bands``: score bands → next year's coefficient adjustment and bonus share."""
    raw = table.get("bands")
    table.close()
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw:
        table.fail("bands", "must be a list of { min_score = S, coefficient_adjustment = \"0.02\", "
                            "bonus_share = \"0.01\" }")
    out = []
    for k, item in enumerate(raw, start=1):
        t = _Table(item, f"{table.where} bands #{k}", table.origin)
        band = (t.units("min_score", 0, low=0, high=100, required=True),
                t.units("coefficient_adjustment", 4, default=0, low=-1, high=1),
                t.units("bonus_share", 4, default=0, low=0, high=1))
        if "coefficient_adjustment" not in item and "bonus_share" not in item:
            t.fail("coefficient_adjustment", "give coefficient_adjustment or bonus_share (or both)")
        t.close()
        out.append(band)
    out.sort(reverse=True)
    if len({b[0] for b in out}) != len(out):
        table.fail("bands", "two bands with the same min_score")
    if out[-1][0] != 0:
        table.fail("bands", "the lowest band must start at min_score = 0")
    return tuple(out)


def _rising(table: _Table, key: str, bands, bound: str) -> None:
    """Bounds increase and only the last band is open (no bound)."""
    bounds = [b for b, _ in bands]
    if bounds[-1] is not None or any(b is None for b in bounds[:-1]) or bounds[:-1] != sorted(set(bounds[:-1])):
        table.fail(key, f"must rise ('{bound}' increasing) and the last one has no '{bound}'")


def _whole(table: _Table, key, default, low: int, high: int | None) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < low or high is not None and value > high:
        table.fail(str(key), f"{value!r} must be a whole number {f'from {low} to {high}' if high else f'≥ {low}'}")
    return value


def _benefits(table: _Table) -> tuple[tuple[BenefitRule, ...], int]:
    """A ``[benefits]`` table (rules and ``unreferred_ratio_cut``), closed."""
    rules = []
    rules_raw = table.get("rules", [])
    if not isinstance(rules_raw, list):
        table.fail("rules", "must be a list of [[benefits.rules]] tables")
    for k, item in enumerate(rules_raw, start=1):
        t = _Table(item, f"{table.where[:-1]}.rules]] #{k}".replace("[", "[[", 1), table.origin)
        levels = t.get("level", list(LEVELS))
        deductible = t.units("deductible", 2, "0", low=0)
        ratio = t.units("ratio", 4, low=0, high=1, required=True)
        cap = t.units("annual_cap", 2, low=0, required=True)
        for level in levels if isinstance(levels, list) else [levels]:
            rules.append(BenefitRule(str(t.get("insurance_type", "all")), _level(t, level), deductible, ratio, cap))
        t.close()
    unreferred = _ratio(table, "unreferred_ratio_cut", "0")
    table.close()
    return tuple(rules), unreferred


def _region_benefits(table: _Table, key: str, folder: Path) -> tuple[tuple[tuple[BenefitRule, ...], int], str]:
    """``[cross_region.benefits] REGION``: a table like ``[benefits]``, or a TOML file (relative to the policy)
    holding one → (rules, cut) and the file's SHA-256 ("" inline)."""
    raw = table.get(key)
    if isinstance(raw, dict):
        return _benefits(_Table(raw, f"[cross_region.benefits.{key}]", table.origin)), ""
    if not isinstance(raw, str) or not raw.strip():
        table.fail(key, "must be a [benefits]-style table or the name of a TOML file holding one "
                        "(参保地待遇表：内联表或文件)")
    path = folder / raw
    try:
        data = path.read_bytes()
        parsed = tomllib.loads(data.decode("utf-8-sig"))
    except OSError as exc:
        table.fail(key, f"cannot read {path} ({exc.strerror}) / 无法读取参保地待遇文件")
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        table.fail(key, f"{path} is not a valid TOML file: {exc} / 参保地待遇文件格式错误")
    inner = parsed.get("benefits", parsed) if isinstance(parsed, dict) else parsed
    return _benefits(_Table(inner, "[benefits]", str(path))), hashlib.sha256(data).hexdigest()


def _cross_region(table: _Table, method: str, folder: Path, origin: str) -> CrossRegion | None:
    """``[cross_region]`` (异地就医), or None when the policy has none."""
    if not table.data:
        table.close()
        return None
    local = table.get("local", [])
    if not isinstance(local, list) or not all(isinstance(x, (str, int)) and str(x).strip() for x in local):
        table.fail("local", "must be a list of region codes or names, e.g. [\"330100\"] (本地参保地区划)")
    pool = table.choice("pool", tuple(CROSS_REGION_POOL), "inside")
    reference = None
    if pool == "outside":
        value = table.units("reference_value", 6, low=0, required=True)
        if value == 0:
            table.fail("reference_value", "must be positive / 参考点值须为正数")
        reference = (value, 10**8 if method == "point" else 10**10)
    elif table.get("reference_value") is not None:
        table.fail("reference_value", "only with pool = \"outside\" (纳入本地点值时按本地点值支付，不用参考点值)")
    raw_difference = table.get("difference")
    if pool == "inside" and raw_difference not in (None, "pool"):
        table.fail("difference", f"{raw_difference!r}: with pool = \"inside\" the cases share the local point "
                                 "value, so the local pool bears the difference (\"pool\") / 纳入本地点值时差额由本地统筹基金承担")
    difference = "pool" if pool == "inside" else table.choice("difference", ("reserve", "hospital",
                                                                            "insured_region"), "reserve")
    growth = table.units("outbound_growth", 4, "0", low=-1, high=10)
    regions = table.get("benefits", {})
    if not isinstance(regions, dict):
        table.fail("benefits", "must be a table of insured region = [benefits]-style table or file name "
                               "(参保地待遇表)")
    sub = _Table(regions, "[cross_region.benefits]", origin)
    benefits, hashes = {}, {}
    for key in regions:
        benefits[str(key)], digest = _region_benefits(sub, str(key), folder)
        if digest:
            hashes[f"benefits:{key}"] = digest
    sub.close()
    table.close()
    return CrossRegion(tuple(str(x).strip() for x in local), pool, reference, difference, benefits, growth, hashes)


def _corridor_pay(corridor: _Table) -> tuple[CorridorBand, ...] | None:
    """Bands that say how they pay (``pay`` on every band), or None for margin bands (``fund_share`` only)."""
    raw = corridor.data.get("bands")
    if not isinstance(raw, list) or not raw or not any(isinstance(b, dict) and "pay" in b for b in raw):
        return None
    corridor.get("bands")
    out = []
    for k, item in enumerate(raw, start=1):
        t = _Table(item, f"{corridor.where} bands #{k}", corridor.origin)
        if "pay" not in item:
            t.fail("pay", f"missing: when one band says how it pays, every band does ({', '.join(CORRIDOR_PAY)})")
        pay = t.choice("pay", CORRIDOR_PAY, None)
        upto = t.units("upto", 4, low=0)
        include = t.get("include_upto")
        if upto is not None and not isinstance(include, bool):
            t.fail("include_upto", "missing or not true/false: say whether a ratio of exactly 'upto' belongs to this "
                   "band (true, 以下/以内 含本数) or the next (false)")
        if upto is None and include is not None:
            t.fail("include_upto", "the last band has no 'upto'")
        share = _ratio(t, "fund_share", "0")
        reward_share = _ratio(t, "reward_share", None)
        reward = t.units("reward", 2, low=0)
        if pay == "cost_plus_reward" and (reward_share is None) == (reward is None):
            t.fail("reward_share", "give reward_share (share of the saving) or reward (元), one of them")
        if pay != "cost_plus_reward" and (reward_share is not None or reward is not None):
            t.fail("reward_share" if reward_share is not None else "reward", "only with pay = \"cost_plus_reward\"")
        if pay != "excess" and share:
            t.fail("fund_share", "only with pay = \"excess\" (the fund's share of the excess)")
        if pay == "capped" and k == 1:
            t.fail("pay", "\"capped\" pays what the band below pays at its upper edge; the first band has none")
        t.close()
        out.append(CorridorBand(upto, pay, bool(include), share, reward_share, reward))
    return tuple(out)


def _price_table(table: _Table, key: str, item: str, amount: str, folder: Path, budgets,
                 digests: dict[str, str]) -> tuple[PriceRow, ...]:
    """A track's price rows: inline (``key = [ {…}, … ]``) and/or a file (``file = "…csv"``), validated."""
    rows = table.get(key, [])
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        table.fail(key, f"must be a list of {{ {item} = …, fund = …, level = …, hospital_id = …, {amount} = \"元\" }}")
    out = _checked_rows(table, key, rows, item, amount, budgets)
    name = table.get("file")
    if name is not None:
        path = folder / str(name)
        try:
            frame = read_text_table(path)
        except (InputError, OSError) as exc:
            table.fail("file", f"cannot read {name}: {getattr(exc, 'strerror', None) or exc} (价格表无法读取)")
        digests[f"{table.where} file"] = hashlib.sha256(path.read_bytes()).hexdigest()
        out += _checked_rows(table, f"file {name}", frame.to_pylist(), item, amount, budgets)
    return out


def _checked_rows(table: _Table, where: str, rows, item: str, amount: str, budgets) -> tuple[PriceRow, ...]:
    def fail(row: str, message: str):
        table.fail(f"{where} {row}", message)

    def units(text: str, at: str) -> int:
        try:
            fen = decimal_units(text, 2, "value")
        except ValueError as exc:
            fail(at, f"{text!r}: {str(exc).removeprefix('value: ')} (金额须为元，最多两位小数)")
        if fen < 0:
            fail(at, f"{text} must not be negative (金额不能为负)")
        return fen

    out = price_rows(rows, item, amount, units, fail)
    names = {n for b in budgets for n in (b.fund_name, b.insurance_type, b.region)}
    for n, row in enumerate(out, start=1):
        if row.fund and row.fund not in names:
            fail(f"row {n}", f"fund {row.fund!r} names no [[budget]] (by name, insurance_type or region: "
                             f"{', '.join(sorted(names))}) / 基金名称不在预算中")
    return out


def load_policy(path) -> Policy:
    """Read and validate a policy TOML file.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    Policy
        With ``sha256`` of the file's bytes and the referenced files resolved against its folder.

    Raises
    ------
    PolicyError
        Unreadable TOML, an unknown or missing key, a value out of range; naming the key.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read the policy file ({exc.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(f"{path}: not a valid TOML file: {exc}") from None
    return parse_policy(data, str(path), hashlib.sha256(raw).hexdigest(), path.parent)


def parse_policy(data: dict, origin: str = "policy", sha256: str = "", folder: Path | None = None) -> Policy:
    """Validate a policy already parsed from TOML (see :func:`load_policy`)."""
    top = _Table(data, "", origin)
    folder = folder or Path(".")
    version = top.get("version")
    if not isinstance(version, str) or not version.strip():
        top.fail("version", "missing; every policy names its version, e.g. version = \"2024.1\"")
    region = str(top.get("region", ""))
    method = top.choice("method", tuple(METHODS), "point")
    period_by = top.choice("period_by", PERIOD_COLUMNS, "discharge_date")
    missing_weight = top.choice("missing_weight", MISSING_WEIGHT, "hold")
    average_cost = top.units("average_cost", 2, low=0)
    if average_cost == 0:
        top.fail("average_cost", "must be positive")

    raw_budgets = top.get("budget")
    if not isinstance(raw_budgets, list) or not raw_budgets:
        top.fail("[[budget]]", "missing; give at least one [[budget]] with insurance_type and amount")
    budgets, seen = [], set()
    for k, item in enumerate(raw_budgets, start=1):
        t = _Table(item, f"[[budget]] #{k}", origin)
        amount = t.units("amount", 2, required=True)
        if amount <= 0:
            t.fail("amount", f"{t.get('amount')} must be positive (统筹基金预算)")
        b = Budget(str(t.get("region", region)), str(t.get("insurance_type", "all")), amount, str(t.get("name", "")))
        if (b.region, b.insurance_type) in seen:
            t.fail("insurance_type", f"{b.insurance_type} of region {b.region!r} has two budgets")
        seen.add((b.region, b.insurance_type))
        t.close()
        budgets.append(b)

    reserve = top.table("reserve")
    reserve_u = _ratio(reserve, "share", "0.05")
    reserve.close()

    coef = top.table("coefficients")
    level_coef = _per_level(coef, "levels", 4, {"1": "0.5", "2": "0.75", "3": "1.15"})
    hospital_coef = _mapping(coef, "hospitals", 4, "hospital id = coefficient")
    applies_to = coef.choice("applies_to", ("standard", "fund"), "standard")
    coef.close()

    point_value = top.table("point_value")
    pv_mode = point_value.choice("mode", ("budget", "fixed"), "budget")
    fixed = None
    if pv_mode == "fixed":
        fixed = (point_value.units("value", 6, low=0, required=True), 10**8 if method == "point" else 10**10)
        if fixed[0] == 0:
            point_value.fail("value", "must be positive")
    elif point_value.get("value") is not None:
        point_value.fail("value", "only with mode = \"fixed\"")
    point_value.close()
    if applies_to == "fund" and fixed is None:
        coef.fail("applies_to", "\"fund\" applies the coefficient to each case's fund amount, which cannot be "
                  "rescaled to the budget exactly; set [point_value] mode = \"fixed\" and value")

    high = top.table("high_cost")
    high_by = high.choice("by", ("rw_tier", "hospital_level"), "rw_tier")
    tiers = _bands(high, "rw_tiers", "below", 6, "k", "must be a list of { below = RW, k = multiple }, the last "
                   "without 'below'", value_low=1, value_high=None,
                   default=[{"below": b, "k": k} if b else {"k": k} for b, k in DEFAULT_RW_TIERS])
    _rising(high, "rw_tiers", tiers, "below")
    level_k = _per_level(high, "levels", 4, {}) if high_by == "hospital_level" else {}
    if high_by == "hospital_level" and set(level_k) != set(LEVELS):
        high.fail("levels", "give K for every hospital level 1, 2 and 3 when by = \"hospital_level\"")
    high.close()

    low = top.table("low_cost")
    low_u = _ratio(low, "l", "0.4")
    low.close()

    tracks = top.table("tracks")
    ungroupable = tracks.table("ungroupable")
    ungroupable_pay = ungroupable.choice("pay", ("fee_for_service", "hold"), "fee_for_service")
    ungroupable_ratio = _ratio(ungroupable, "ratio", "1", high=10)
    ungroupable.close()
    long_stay = tracks.table("long_stay")
    long_days = long_stay.get("days")
    if long_days is not None and (isinstance(long_days, bool) or not isinstance(long_days, int) or long_days < 1):
        long_stay.fail("days", f"{long_days!r} must be a whole number of days ≥ 1")
    long_ratio = _ratio(long_stay, "ratio", "1", high=10)
    long_stay.close()
    special = tracks.table("special")
    special_ratio = _ratio(special, "ratio", "1", high=10)
    special_share = _ratio(special, "max_share", "0.05")
    special_rounding = special.choice("rounding", ("up", "down"), "up")
    special_min = _whole(special, "min_count", 0, 0, None)
    special_file = special.get("file")
    special.close()
    interim = tracks.table("interim")
    interim_on = interim.get("enabled", False)
    if not isinstance(interim_on, bool):
        interim.fail("enabled", "must be true or false (中途结算: 是否启用)")
    interim_months = _whole(interim, "months", 6, 1, 120)
    interim.close()
    event = tracks.table("event")
    event_ratio = _ratio(event, "ratio", "1", high=10)
    events_file = event.get("file")
    event.close()
    per_diem = tracks.table("per_diem")
    per_diem_fen = _mapping(per_diem, "rates", 2, "DRG = daily rate in 元")
    per_diem_from = per_diem.choice("paid_from", ("reserve", "budget"), "reserve")
    tables_sha256: dict[str, str] = {}
    per_diem_rows = tuple(PriceRow(code.upper(), "", "", 0, "", fen) for code, fen in per_diem_fen.items()) + \
        _price_table(per_diem, "table", "drg", "rate", folder, budgets, tables_sha256)
    per_diem.close()
    single = tracks.table("single_disease")
    single_rows = _price_table(single, "prices", "diagnosis", "price", folder, budgets, tables_sha256)
    single_budget = single.choice("budget", ("outside", "inside"), "outside")
    single.close()
    tracks.close()

    monthly = top.table("monthly")
    provisional_raw = monthly.get("provisional", "budget")
    provisional = None
    if provisional_raw != "budget":
        value = monthly.units("provisional", 6, low=0)
        # yuan per point (point method) or per RW (rate method) → fen per 1/10,000 point
        provisional = (value, 10**8 if method == "point" else 10**10)
    elif fixed is not None:
        provisional = fixed
    withhold_u = _ratio(monthly, "withhold", "0.10")
    monthly.close()

    assessment = top.table("assessment")
    release = _bands(assessment, "release", "min_score", 0, "share",
                     "must be a list of { min_score = S, share = released share }", bound_required=True, bound_high=100)
    if release is not None:
        release.sort(reverse=True)
        if release[-1][0] != 0:
            assessment.fail("release", "the lowest band must start at min_score = 0")
    default_score = assessment.units("default_score", 0, low=0, high=100)
    scores_file = assessment.get("scores")
    schedule = assessment.choice("schedule", tuple(SCHEDULES), "year")
    next_year = _next_year_bands(assessment.table("next_year"))
    assessment.close()

    corridor = top.table("corridor")
    corridor_pay = _corridor_pay(corridor)
    corridor_bands = _bands(corridor, "bands", "upto", 4, "fund_share",
                            "must be a list of { upto = ratio, fund_share = share }, the last without 'upto'") \
        if corridor_pay is None else [(b.upto_u, b.fund_share_u) for b in corridor_pay]
    if corridor_bands is not None:
        _rising(corridor, "bands", corridor_bands, "upto")
    excess_from = corridor.choice("excess_from", ("band_edge", "standard"), "band_edge")
    reward_from = corridor.choice("reward_from", ("reserve", "outside"), "reserve")
    carry = corridor.get("carry_balance", False)
    if not isinstance(carry, bool):
        corridor.fail("carry_balance", "must be true or false")
    carry_from = _whole(corridor, "carry_from_month", 1, 1, 12)
    carry_months = _whole(corridor, "carry_months", 1, 1, 13 - carry_from)
    corridor.close()

    totals = top.table("totals")
    totals_fen = _mapping(totals, "hospitals", 2, "hospital id = 总控额度 in 元")
    totals_over = totals.choice("over", ("cap", "share"), "cap")
    totals_share = _ratio(totals, "fund_share", "0")
    if totals_over == "cap" and totals_share:
        totals.fail("fund_share", "only with over = \"share\"")
    totals.close()
    volume = top.table("min_volume")
    raw_min = volume.get("hospitals", {})
    if not isinstance(raw_min, dict):
        volume.fail("hospitals", "must be a table of hospital id = 最低服务人次")
    sub = _Table(raw_min, "[min_volume] hospitals", origin)
    min_cases = {str(k): _whole(sub, k, None, 0, None) for k in raw_min}
    deduction = volume.units("deduction", 2, "0", low=0)
    volume.close()

    rules, unreferred = _benefits(top.table("benefits"))
    cross_region = _cross_region(top.table("cross_region"), method, folder or Path("."), origin)

    quota = top.table("quota")
    quota_hospitals = _mapping(quota, "hospitals", 2, "hospital id = 定额标准 in 元")
    quota_levels = _per_level(quota, "levels", 2, {})
    quota_file = quota.get("table")
    if quota_file is not None and (not isinstance(quota_file, str) or not quota_file.strip()):
        quota.fail("table", "must be a file name (定额标准表: hospital_id or level, quota)")
    covered = quota.get("covered_cost", method == "quota")
    if not isinstance(covered, bool):
        quota.fail("covered_cost", "must be true or false (按医保范围内费用 total − self_pay_cost)")
    if any(v == 0 for v in [*quota_hospitals.values(), *quota_levels.values()]):
        quota.fail("hospitals" if 0 in quota_hospitals.values() else "levels", "a quota (定额标准) must be positive")
    quota.close()
    if method == "quota":
        if not (quota_hospitals or quota_levels or quota_file):
            quota.fail("table", "missing: method = \"quota\" (定额法) needs quotas: [quota] table, hospitals or "
                       "levels / 定额法须给出定额标准")
        if cross_region is not None:
            top.fail("cross_region", "not with method = \"quota\": 异地就医 cases are cleared at a DRG reference value "
                     "/ 定额法暂不支持异地就医清算")
        if applies_to == "fund":
            coef.fail("applies_to", "method = \"quota\" applies no hospital coefficient (a quota per level or "
                      "hospital carries it); remove applies_to = \"fund\" / 定额法不使用医院系数")

    shadow = top.table("shadow")
    far_below = _ratio(shadow, "far_below", "0.5")
    far_above = _ratio(shadow, "far_above", "2", high=100)
    shadow.close()

    hospitals_file = top.get("hospitals")
    name = str(top.get("name", ""))
    folder = folder or Path(".")
    lifecycle = parse_lifecycle(top.table("lifecycle"), folder)
    if lifecycle.deductions_to == "pool" and (fixed is not None or method == "quota"):
        top.fail("[lifecycle] deductions_to", "\"pool\" returns deductions to the budget the point value shares; "
                 "a fixed point value or the quota method shares none / 固定点值或定额法时扣款无法回流基金池")
    top.close()
    files = {key: (folder / value) for key, value in (("hospitals", hospitals_file), ("special", special_file),
                                                      ("events", events_file), ("scores", scores_file),
                                                      ("quota", quota_file)) if value}
    return Policy(
        version=version.strip(), name=name, region=region, method=method, period_by=period_by,
        budgets=tuple(budgets), reserve_u=reserve_u, level_coef_u=level_coef, hospital_coef_u=hospital_coef,
        average_cost_fen=average_cost, high_by=high_by, rw_tiers=tuple(tiers), level_k_u=level_k, low_u=low_u,
        missing_weight=missing_weight, ungroupable_pay=ungroupable_pay, ungroupable_ratio_u=ungroupable_ratio,
        long_stay_days=long_days, long_stay_ratio_u=long_ratio, special_ratio_u=special_ratio,
        special_max_share_u=special_share, event_ratio_u=event_ratio,
        provisional=provisional, withhold_u=withhold_u, release_bands=tuple(release) if release else None,
        default_score=default_score, corridor=tuple(corridor_bands) if corridor_bands else None,
        carry_balance=carry, benefits=rules, unreferred_cut_u=unreferred, far_below_u=far_below,
        far_above_u=far_above, corridor_pay=corridor_pay, excess_from=excess_from, reward_from=reward_from,
        carry_from_month=carry_from, carry_months=carry_months, coefficient_applies_to=applies_to,
        point_value_fixed=fixed, release_schedule=schedule, totals_fen=totals_fen, totals_over=totals_over,
        totals_fund_share_u=totals_share, min_cases=min_cases, min_case_deduction_fen=deduction,
        next_year_bands=next_year, per_diem_rates=per_diem_rows, per_diem_from=per_diem_from,
        single_disease=single_rows, single_disease_budget=single_budget, special_rounding=special_rounding,
        special_min_count=special_min, interim_months=interim_months if interim_on else None,
        tables_sha256=tables_sha256, quota_hospitals_fen=quota_hospitals, quota_levels_fen=quota_levels,
        covered_cost=covered, cross_region=cross_region, lifecycle=lifecycle, files=files, path=origin, sha256=sha256,
    )


__all__ = ["BenefitRule", "Budget", "CORRIDOR_PAY", "CROSS_REGION_DIFFERENCE", "CROSS_REGION_POOL", "CorridorBand",
           "CrossRegion", "FUND_NAMES", "LEVELS", "METHODS", "Policy",
           "PolicyError", "SCHEDULES", "load_policy", "parse_policy"]
