"""Independent plain-Python reference grouper for the national CHS-DRG 1.x tables.

This is the yardstick the fast paths are compared with, so it is written for
obvious correctness, not speed, and it imports nothing from the package
(``icd_tables``, ``grouper``, ...). It follows ``../shared/drg-tables/README.md``
section by section; the section numbers in the comments refer to that README.

It reads, at run time only, a version folder such as
``../shared/drg-tables/chs-drg-1.1``: ``rules.json`` and the ``.dat`` tables it
names, after checking every table against the SHA-256 listed in ``rules.json``.

    ref = ReferenceGrouper(Path("../shared/drg-tables/chs-drg-1.1"))
    ref.group({"sex": 1, "age_years": 60, "age_days": None, "birth_weight_g": None,
               "principal_dx": "J18.900", "secondary_dx": "J96.000", "procedures": ""})
    # {'mdc': 'E', 'adrg': 'ES3', 'drg': 'ES31', 'status': 'ok', 'status_zh': '分组成功', ...}
"""

from __future__ import annotations

import hashlib
import json
import numbers
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Section 3.6: the exact Chinese status strings.
STATUS_ZH_OK = "分组成功"
STATUS_ZH_QY = "歧义病案"
STATUS_ZH_UNGROUPABLE = "无法入组"
STATUS_ZH_DX_UNMAPPED = "诊断不能转换为分组器支持的编码"
STATUS_ZH_PROC_UNMAPPED = "手术操作不能转换为分组器支持的编码"
STATUS_ZH_RECORD_CHECK = "信息校验不通过"

SCHEMA = "chs-drg-rules/1"
TABLE_ROLES = (
    "mcc",
    "cc",
    "cc_exclusion",
    "or_procedures",
    "drg_names",
    "dx_names",
    "proc_names",
    "dx_map",
    "proc_map",
)
# Section 1: keys are unique in every file except SS_VALID.dat (identical repeated rows).
ROLES_WITH_REPEATED_ROWS = frozenset({"or_procedures"})

ENTRY_KINDS = frozenset({"principal_dx", "any_dx", "principal_proc_is_or"})
RULE_KINDS = frozenset(
    {
        "always",
        "principal_dx",
        "any_dx",
        "principal_proc",
        "any_proc",
        "principal_dx_and_principal_proc",
        "any_proc_in_both_lists",
        "principal_dx_and_any_proc_in_both_lists",
        "principal_proc_is_or",
        "any_dx_and_principal_proc_is_or",
        "no_or_proc",
        "proc_categories",
    }
)
SPLITS = frozenset({"none", "mcc", "mcc_or_cc"})
QY_KINDS = frozenset({"any_proc_is_or"})


class TableChecksumError(ValueError):
    """A table file differs from the SHA-256 recorded in rules.json."""


class TableFormatError(ValueError):
    """A table file or rules.json does not have the shape the README describes."""


# --------------------------------------------------------------------------- #
# Section 1: the .dat tables
# --------------------------------------------------------------------------- #


def read_dat(path: Path, *, allow_repeated_rows: bool = False) -> dict[str, str]:
    """Key = text before the first space, value = the rest of the line, verbatim.

    Lines are separated by ``\\n``; a final newline is optional. Nothing is
    trimmed. A key that occurs twice is an error, except where
    ``allow_repeated_rows`` is set and the repeated row has the same value.
    """
    text = path.read_bytes().decode("utf-8")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline, where the file has one
    table: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        key, space, value = line.partition(" ")
        if not space or key == "" or value == "":
            raise TableFormatError(f"{path}:{number}: expected 'KEY VALUE', got {line!r}")
        if key in table:
            if not (allow_repeated_rows and table[key] == value):
                raise TableFormatError(f"{path}:{number}: repeated key {key!r}")
            continue
        table[key] = value
    return table


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- #
# Reading record values
# --------------------------------------------------------------------------- #


def _is_missing(value: Any) -> bool:
    """None, NaN (float or NumPy), pandas NA / NaT: anything that is not equal to itself."""
    if value is None:
        return True
    try:
        return not bool(value == value)
    except (TypeError, ValueError):  # pandas.NA: bool(NA == NA) raises TypeError
        return True


def as_number(value: Any) -> int | float | None:
    """A record's numeric value: int when it is a whole number, None when missing.

    ``1``, ``1.0``, ``numpy.int64(1)``, ``"1"`` and ``"1.0"`` all read as ``1``;
    ``1.5`` stays ``1.5``. Missing values and strings that are no number read
    as ``None`` (missing). Booleans are not numbers here.
    """
    if _is_missing(value) or isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                return None
            if value != value:  # "nan"
                return None
    if isinstance(value, numbers.Real):
        number = float(value)
        if number.is_integer():
            return int(number)
        return number
    return None


def as_code(value: Any) -> str:
    """A single code; a missing value is the empty code ``""`` (section 3.1.1)."""
    if _is_missing(value):
        return ""
    return str(value)


def as_code_list(value: Any) -> list[str]:
    """Codes joined by ``|``; empty or missing gives ``[]``. Order and duplicates are kept."""
    if isinstance(value, str):
        return value.split("|") if value != "" else []
    if isinstance(value, (list, tuple)):  # a list column
        return [as_code(code) for code in value]
    if getattr(value, "ndim", None) == 1:  # a list column read as a NumPy array
        return [as_code(code) for code in value.tolist()]
    if _is_missing(value):
        return []
    return str(value).split("|")  # anything else is read as text, like a single code


# --------------------------------------------------------------------------- #
# Rules
# --------------------------------------------------------------------------- #


class _Rule:
    """One ADRG object of rules.json, its lists turned into sets (section 2)."""

    def __init__(self, obj: Mapping[str, Any]) -> None:
        self.id: str = obj["id"]
        self.adrg: str = obj["adrg"]
        self.kind: str = obj["rule"]["kind"]
        if self.kind not in RULE_KINDS:
            raise TableFormatError(f"ADRG rule {self.id}: unknown rule kind {self.kind!r}")
        self.dx = frozenset(obj["dx"])
        self.proc = frozenset(obj["proc"])
        self.proc2 = frozenset(obj["proc2"])
        self.proc_categories: dict[str, str] = dict(obj.get("proc_categories") or {})
        self.dx_required = bool(obj["rule"].get("dx_required", False))
        self.any_of = [frozenset(group) for group in obj["rule"].get("any_of", [])]
        if self.kind == "proc_categories" and not self.any_of:
            raise TableFormatError(f"ADRG rule {self.id}: proc_categories without any_of")
        self.age_days_max: int | None = obj["age_days_max"]
        weight = obj["birth_weight_g"]
        self.weight_min: int | None = None if weight is None else weight["min"]
        self.weight_max_exclusive: int | None = None if weight is None else weight["max_exclusive"]
        self.has_weight_rule = weight is not None
        self.drgs: list[tuple[str, str]] = [(d["drg"], d["split"]) for d in obj["drgs"]]
        for drg, split in self.drgs:
            if split not in SPLITS:
                raise TableFormatError(f"ADRG rule {self.id}: DRG {drg} has unknown split {split!r}")
        self.fallback_drg: str | None = obj["fallback_drg"]


class _Mdc:
    """One MDC object of rules.json (section 2)."""

    def __init__(self, obj: Mapping[str, Any]) -> None:
        self.mdc: str = obj["mdc"]
        entry = obj["entry"]
        self.entry_kind: str = entry["kind"]
        if self.entry_kind not in ENTRY_KINDS:
            raise TableFormatError(f"MDC {self.mdc}: unknown entry kind {self.entry_kind!r}")
        self.entry_sex: int | None = entry["sex"]
        self.entry_age_years: int | None = entry["age_years"]
        self.min_trauma_sites: int | None = entry["min_trauma_sites"]
        self.principal_dx = frozenset(obj["principal_dx"])
        self.trauma_site_of: dict[str, str] = {}
        for site in obj.get("trauma_sites") or []:
            for code in site["dx"]:
                if code in self.trauma_site_of:
                    raise TableFormatError(f"MDC {self.mdc}: {code} belongs to two trauma sites")
                self.trauma_site_of[code] = site["site"]
        if self.min_trauma_sites is not None and not self.trauma_site_of:
            raise TableFormatError(f"MDC {self.mdc}: min_trauma_sites without trauma_sites")
        qy = obj["qy"]
        self.qy_enabled = bool(qy["enabled"])
        self.qy_before_index: int = qy["before_index"]
        self.qy_drg: str = qy["drg"]
        if qy["kind"] not in QY_KINDS:
            raise TableFormatError(f"MDC {self.mdc}: unknown QY kind {qy['kind']!r}")
        self.rules = [_Rule(a) for a in obj["adrgs"]]
        if not 0 <= self.qy_before_index <= len(self.rules):
            raise TableFormatError(f"MDC {self.mdc}: QY before_index out of range")


# --------------------------------------------------------------------------- #
# The grouper
# --------------------------------------------------------------------------- #


class ReferenceGrouper:
    """Plain-Python CHS-DRG 1.x grouper following the README, section 3."""

    def __init__(self, table_dir: Path) -> None:
        table_dir = Path(table_dir)
        rules = json.loads((table_dir / "rules.json").read_text(encoding="utf-8"))
        if rules.get("schema") != SCHEMA:
            raise TableFormatError(f"{table_dir}/rules.json: schema {rules.get('schema')!r}, expected {SCHEMA!r}")
        self.pack: str = rules["pack"]

        # Every table the rules name must carry a checksum, and match it.
        checksums: dict[str, str] = rules["sha256"]
        tables: dict[str, dict[str, str]] = {}
        for role in TABLE_ROLES:
            relative = rules["tables"][role]
            if relative not in checksums:
                raise TableChecksumError(f"{table_dir}/rules.json lists no sha256 for {relative}")
            path = table_dir / relative
            actual = sha256_of(path)
            if actual != checksums[relative]:
                raise TableChecksumError(
                    f"{path}: sha256 {actual} differs from {checksums[relative]} in rules.json; "
                    "the table was changed or replaced"
                )
            tables[role] = read_dat(path, allow_repeated_rows=role in ROLES_WITH_REPEATED_ROWS)

        self.dx_map = tables["dx_map"]
        self.proc_map = tables["proc_map"]
        self.mcc = tables["mcc"]
        self.cc = tables["cc"]
        self.cc_exclusion = tables["cc_exclusion"]
        self.or_procedures = frozenset(tables["or_procedures"])
        self.drg_names = tables["drg_names"]

        self.ungroupable_drg: str = rules["ungroupable_drg"]
        by_letter = {m["mdc"]: _Mdc(m) for m in rules["mdcs"]}
        if list(by_letter) != list(rules["mdc_order"]):
            # README: mdcs are listed in evaluation order; mdc_order is that order.
            raise TableFormatError(f"{table_dir}/rules.json: mdcs are not in mdc_order")
        self.mdcs = [by_letter[letter] for letter in rules["mdc_order"]]
        for mdc in self.mdcs:
            for rule in mdc.rules:
                for drg, _ in rule.drgs:
                    if drg not in self.drg_names:
                        raise TableFormatError(f"ADRG rule {rule.id}: DRG {drg} is not in DRG.dat")

    # ----------------------------------------------------------------- #

    def group(self, record: Mapping[str, Any]) -> dict[str, str]:
        """Group one record (section 3). Never raises for bad record values."""
        # 3.1.1 code lists, as written on the record
        dx_input = [as_code(record.get("principal_dx"))] + as_code_list(record.get("secondary_dx"))
        proc_input = as_code_list(record.get("procedures"))

        # 3.1.2 diagnoses first, then 3.1.3 procedures; one step each
        for code in dx_input:
            if code not in self.dx_map:
                return self._invalid(STATUS_ZH_DX_UNMAPPED, code)
        for code in proc_input:
            if code not in self.proc_map:
                return self._invalid(STATUS_ZH_PROC_UNMAPPED, code)
        D = [self.dx_map[code] for code in dx_input]
        P = [self.proc_map[code] for code in proc_input]

        # 3.2 record checks
        sex = as_number(record.get("sex"))
        age_years = as_number(record.get("age_years"))
        age_days = as_number(record.get("age_days"))
        birth_weight_g = as_number(record.get("birth_weight_g"))
        if sex not in (1, 2):
            return self._invalid(STATUS_ZH_RECORD_CHECK, "sex")
        if age_years is None:
            return self._invalid(STATUS_ZH_RECORD_CHECK, "age_years")
        if age_years == 0 and age_days is None:
            return self._invalid(STATUS_ZH_RECORD_CHECK, "age_days")
        if age_years == 0 and age_days <= 28 and birth_weight_g is None:
            return self._invalid(STATUS_ZH_RECORD_CHECK, "birth_weight_g")

        # 3.5 complications, for every record that got this far
        mcc_dx, cc_dx = self._complications(D, dx_input)
        has_mcc = mcc_dx != ""
        has_cc = cc_dx != ""

        # 3.3 MDCs in order, with fall-through
        for mdc in self.mdcs:
            if not self._enters(mdc, D, P, sex, age_years):
                continue
            for index, rule in enumerate(mdc.rules):
                if mdc.qy_enabled and index == mdc.qy_before_index and self._any_or_proc(P):
                    return self._qy(mdc, mcc_dx, cc_dx)
                if self._rule_holds(rule, D, P) and self._newborn_holds(rule, age_days, birth_weight_g):
                    drg = self._drg(rule, has_mcc, has_cc)
                    return self._result(mdc.mdc, rule.adrg, drg, "ok", STATUS_ZH_OK, rule.id, mcc_dx, cc_dx)
            if mdc.qy_enabled and mdc.qy_before_index == len(mdc.rules) and self._any_or_proc(P):
                return self._qy(mdc, mcc_dx, cc_dx)
            # no ADRG rule held: continue with the next MDC as if this one had not been entered

        return self._result("", "", self.ungroupable_drg, "ungroupable", STATUS_ZH_UNGROUPABLE, "", mcc_dx, cc_dx)

    # ----------------------------------------------------------------- #
    # 3.3 MDC entry

    def _enters(self, mdc: _Mdc, D: list[str], P: list[str], sex: int, age_years: int | float) -> bool:
        if mdc.entry_kind == "principal_proc_is_or":
            if not (P and P[0] in self.or_procedures):
                return False
        elif mdc.entry_kind == "principal_dx":
            if D[0] not in mdc.principal_dx:
                return False
        elif mdc.entry_kind == "any_dx":
            if not any(code in mdc.principal_dx for code in D):
                return False
        if mdc.entry_sex is not None and sex != mdc.entry_sex:
            return False
        if mdc.entry_age_years is not None and age_years != mdc.entry_age_years:
            return False
        if mdc.min_trauma_sites is not None:
            sites = {mdc.trauma_site_of[code] for code in set(D) if code in mdc.trauma_site_of}
            if len(sites) < mdc.min_trauma_sites:
                return False
        return True

    # 3.4 ADRG rule kinds

    def _any_or_proc(self, P: list[str]) -> bool:
        return any(code in self.or_procedures for code in P)

    def _rule_holds(self, rule: _Rule, D: list[str], P: list[str]) -> bool:
        kind = rule.kind
        principal_dx_in = D[0] in rule.dx
        principal_proc_in = bool(P) and P[0] in rule.proc
        principal_proc_is_or = bool(P) and P[0] in self.or_procedures
        any_dx_in = any(code in rule.dx for code in D)
        any_proc_in = any(code in rule.proc for code in P)
        any_proc_in_both = any_proc_in and any(code in rule.proc2 for code in P)

        if kind == "always":
            return True
        if kind == "principal_dx":
            return principal_dx_in
        if kind == "any_dx":
            return any_dx_in
        if kind == "principal_proc":
            return principal_proc_in
        if kind == "any_proc":
            return any_proc_in
        if kind == "principal_dx_and_principal_proc":
            return principal_dx_in and principal_proc_in
        if kind == "any_proc_in_both_lists":
            return any_proc_in_both
        if kind == "principal_dx_and_any_proc_in_both_lists":
            return principal_dx_in and any_proc_in_both
        if kind == "principal_proc_is_or":
            return principal_proc_is_or
        if kind == "any_dx_and_principal_proc_is_or":
            return any_dx_in and principal_proc_is_or
        if kind == "no_or_proc":
            return not self._any_or_proc(P)
        if kind == "proc_categories":
            if rule.dx_required and not principal_dx_in:
                return False
            categories = {rule.proc_categories[code] for code in P if code in rule.proc_categories}
            return any(group <= categories for group in rule.any_of)
        raise AssertionError(f"unhandled rule kind {kind!r}")  # rejected in __init__

    @staticmethod
    def _newborn_holds(rule: _Rule, age_days: int | float | None, birth_weight_g: int | float | None) -> bool:
        if rule.age_days_max is not None:
            if age_days is None or age_days > rule.age_days_max:
                return False
        if rule.has_weight_rule:
            if birth_weight_g is None or birth_weight_g == 0:
                return False
            if rule.weight_min is not None and not rule.weight_min <= birth_weight_g:
                return False
            if rule.weight_max_exclusive is not None and not birth_weight_g < rule.weight_max_exclusive:
                return False
        return True

    # 3.5 DRG and the CC/MCC exclusion

    def _complications(self, D: list[str], dx_input: list[str]) -> tuple[str, str]:
        """Input codes of the first secondary diagnosis counting as MCC, and as CC ("" if none)."""
        exclusion = self.cc_exclusion.get(D[0])  # None when the principal has no exclusion table
        mcc_dx = cc_dx = ""
        for code, written in zip(D[1:], dx_input[1:]):
            if mcc_dx == "" and code in self.mcc and not (exclusion is not None and self.mcc[code] == exclusion):
                mcc_dx = written
            if cc_dx == "" and code in self.cc and not (exclusion is not None and self.cc[code] == exclusion):
                cc_dx = written
        return mcc_dx, cc_dx

    @staticmethod
    def _drg(rule: _Rule, has_mcc: bool, has_cc: bool) -> str:
        for drg, split in rule.drgs:
            if split == "none":
                return drg
            if split == "mcc" and has_mcc:
                return drg
            if split == "mcc_or_cc" and (has_mcc or has_cc):
                return drg
        if rule.fallback_drg is not None:
            return rule.fallback_drg
        raise AssertionError(f"ADRG rule {rule.id}: no DRG split held and no fallback_drg")

    # 3.6 results

    @staticmethod
    def _result(
        mdc: str, adrg: str, drg: str, status: str, status_zh: str, rule_id: str, mcc_dx: str, cc_dx: str,
        reason_detail: str = "",
    ) -> dict[str, str]:
        return {
            "mdc": mdc,
            "adrg": adrg,
            "drg": drg,
            "status": status,
            "status_zh": status_zh,
            "adrg_rule": rule_id,
            "mcc_dx": mcc_dx,
            "cc_dx": cc_dx,
            "reason_detail": reason_detail,
        }

    def _invalid(self, status_zh: str, reason_detail: str) -> dict[str, str]:
        return self._result("", "", self.ungroupable_drg, "invalid", status_zh, "", "", "", reason_detail)

    def _qy(self, mdc: _Mdc, mcc_dx: str, cc_dx: str) -> dict[str, str]:
        return self._result(mdc.mdc, "", mdc.qy_drg, "qy", STATUS_ZH_QY, "", mcc_dx, cc_dx)
