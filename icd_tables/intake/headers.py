"""Column names of exported records → the canonical record schema (:mod:`icd_tables.schema`).

Hospital systems (病案首页) and the payers' platform (医保结算清单) export the
same fields under many names: ``性别`` or ``XB`` or ``gend``; ``其他诊断编码1`` …
``其他诊断编码15`` in wide layouts.  :data:`ALIASES` is the data table that
names them; :func:`plan_columns` turns an input header into a
:class:`ColumnPlan`, which builds the canonical columns of every batch:

* a header is compared after Unicode NFKC (full-width brackets and letters),
  without spaces and letter case, and, when the full name is not known, without a
  trailing unit in brackets (``新生儿出生体重（克）`` → ``新生儿出生体重``);
* numbered columns (``其他诊断编码1`` …, ``JBDM1`` …, ``手术操作编码1`` …) are joined
  into one ``|`` list in number order, empty cells skipped; ``主要手术操作编码``
  and ``其他手术操作编码`` are joined into ``procedures``, the principal first (an
  empty principal with other procedures keeps its empty first slot, so the record
  is reported rather than another procedure promoted);
* when several input columns name the same field, the canonical English name wins,
  then the alias listed first in :data:`ALIASES`; the others pass through;
* a user mapping (``--columns``: TOML, JSON or CSV of ``input header → field``)
  comes before the built-in aliases;
* columns that name no field pass through untouched (``--keep-input``).
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from foundation.arrow_columns import as_text, plain_array
from foundation.headers import header_key, without_unit
from icd_tables.schema import CODE_LIST_SEPARATOR, COLUMNS

#: Pseudo-fields that are joined into ``procedures``.
PRINCIPAL_PROC = "principal_procedure"
OTHER_PROCS = "other_procedures"

#: Field → header aliases, most specific first.  The canonical English name always matches too.
ALIASES: dict[str, tuple[str, ...]] = {
    "case_id": ("病案号/结算ID", "结算ID", "结算清单号", "医保结算ID", "setl_id", "病案号", "病案编号", "住院病案号",
                "BAH", "住院号", "住院流水号", "就诊ID", "mdtrt_id"),
    "sex": ("性别", "性别代码", "性别编码", "XB", "gend"),
    "age_years": ("年龄", "年龄(岁)", "年龄岁", "周岁", "NL", "age"),
    "age_days": ("年龄不足1周岁的天数", "年龄不足1周岁的年龄(天)", "(年龄不足1周岁的)年龄(天)", "年龄不足1周岁的年龄",
                 "不足1周岁年龄(天)", "不足一周岁年龄(天)", "年龄不足一周岁的天数", "年龄不足1周岁天数", "年龄(天)", "天龄",
                 "新生儿天龄", "BZYZS_NL", "XSRTL", "age_in_days"),
    "birth_weight_g": ("新生儿出生体重", "新生儿出生体重(克)", "新生儿出生体重(g)", "出生体重", "XSECSTZ", "CSTZ",
                       "nwb_bir_wt", "birth_weight"),
    "admission_weight_g": ("新生儿入院体重", "新生儿入院体重(克)", "新生儿入院体重(g)", "入院体重", "XSERYTZ", "XSRTZ",
                           "nwb_adm_wt", "admission_weight"),
    "principal_dx": ("主要诊断编码", "主要诊断代码", "主要诊断疾病编码", "主诊断编码", "主诊断代码", "出院主要诊断编码",
                     "主要诊断ICD编码", "JBDM", "ZYZD", "main_dx"),
    "secondary_dx": ("其他诊断编码", "其他诊断代码", "其它诊断编码", "其它诊断代码", "次要诊断编码", "次要诊断代码",
                     "出院其他诊断编码", "QTZD", "other_dx"),
    PRINCIPAL_PROC: ("主要手术操作编码", "主要手术及操作编码", "主要手术操作代码", "主要手术及操作代码", "主手术操作编码",
                     "主手术编码", "ZYSS", "principal_proc"),
    OTHER_PROCS: ("其他手术操作编码", "其他手术及操作编码", "其他手术操作代码", "其他手术及操作代码", "其它手术操作编码",
                  "其它手术及操作编码", "QTSS", "other_procs"),
    "procedures": ("手术操作编码", "手术及操作编码", "手术操作代码", "手术及操作代码", "手术编码", "procedure_codes"),
    "hospital_id": ("医疗机构编码", "医疗机构代码", "定点医疗机构编码", "定点医药机构编码", "机构编码", "组织机构代码",
                    "fixmedins_code"),
    "patient_id": ("参保人编码", "人员编号", "个人编号", "参保人员编号", "psn_no"),
    "los_days": ("实际住院天数", "住院天数", "实际住院(天)", "实际住院日", "SJZYTS", "act_ipt_days", "los"),
    "discharge_method": ("离院方式", "离院方式代码", "LYFS", "dscg_way"),
    "icu_hours": ("重症监护时长", "重症监护时长(小时)", "ICU时长", "ICU时长(小时)", "重症监护合计时长", "ICU小时数",
                  "重症监护室时长"),
    "admit_date": ("入院日期", "入院时间", "RYSJ", "adm_time", "adm_date"),
    "discharge_date": ("出院日期", "出院时间", "CYSJ", "dscg_time", "dscg_date"),
    "settlement_date": ("结算日期", "结算时间", "setl_time", "setl_date"),
    "insurance_type": ("险种类型", "险种", "险种类型代码", "insutype"),
    "insured_region": ("参保地", "参保地区划", "insuplc_admdvs", "参保地医保区划", "参保所属医保区划", "参保区划"),
    "out_of_area_unreferred": ("异地就医未备案", "未备案", "异地未备案", "异地未转诊备案", "未转诊备案"),
    "dept": ("科室", "出院科别", "出院科室", "科别", "CYKB", "dscg_caty"),
    "total_cost": ("总费用", "住院总费用", "医疗总费用", "总费用(元)", "费用合计", "ZFY", "medfee_sumamt"),
    "drug_cost": ("药品费", "药品费用", "药费"),
    "consumables_cost": ("耗材费", "耗材费用", "医用耗材费"),
    "self_pay_cost": ("自费金额", "全自费金额", "自费费用", "范围外费用", "基本医保支付范围外费用", "fulamt_ownpay_amt"),
    "patient_paid": ("个人支付", "个人支付金额", "个人负担", "个人负担金额"),
}

#: Numbered (wide) columns: base name → the field its cells join into.  ``JBDM`` alone is the
#: principal diagnosis, ``JBDM1`` … the others; ``SSJCZBM1`` is the principal procedure.
NUMBERED: dict[str, str] = {
    **{a: "secondary_dx" for a in ALIASES["secondary_dx"]},
    **{a: OTHER_PROCS for a in ALIASES[OTHER_PROCS]},
    **{a: "procedures" for a in ALIASES["procedures"]},
    "JBDM": "secondary_dx", "SSJCZBM": "procedures", "secondary_dx": "secondary_dx",
    "procedures": "procedures",
}

#: Fields a mapping may name: the schema's columns and the two procedure parts.
FIELDS = tuple(c.name for c in COLUMNS) + (PRINCIPAL_PROC, OTHER_PROCS)
CODE_LISTS = ("secondary_dx", OTHER_PROCS, "procedures")
ZH_NAMES = {c.name: c.name_zh for c in COLUMNS} | {PRINCIPAL_PROC: "主要手术操作编码", OTHER_PROCS: "其他手术操作编码"}


class ColumnMappingError(ValueError):
    """A ``--columns`` mapping file cannot be read or names an unknown field."""


_ALIAS_INDEX: dict[str, tuple[str, int]] = {}
for _field in FIELDS:
    for _rank, _alias in enumerate((_field, *ALIASES.get(_field, ()))):
        _ALIAS_INDEX.setdefault(header_key(_alias), (_field, _rank))
_NUMBERED_INDEX = {header_key(k): v for k, v in NUMBERED.items()}
_NUMBER = re.compile(r"^(.*?)[_\-.#]*(?:\((\d{1,3})\)|\[(\d{1,3})\]|(\d{1,3}))$")


def match_header(name: str) -> tuple[str, int, int | None] | None:
    """``(field, rank, number)`` a header names, or None.

    ``rank`` orders competing columns (lower wins); ``number`` is set for numbered columns.
    """
    key = header_key(name)
    if key in _ALIAS_INDEX:
        found, rank = _ALIAS_INDEX[key]
        return found, rank, None
    m = _NUMBER.match(key)
    if m:
        base = m.group(1)
        target = _NUMBERED_INDEX.get(base) or _NUMBERED_INDEX.get(without_unit(base))
        if target:
            return target, 0, int(next(g for g in m.groups()[1:] if g is not None))
    bare = without_unit(key)
    if bare in _ALIAS_INDEX:
        found, rank = _ALIAS_INDEX[bare]
        return found, rank, None
    return None


def read_mapping(path: Path) -> dict[str, str]:
    """Read a ``--columns`` file: input header → field, as TOML, JSON or CSV (two columns).

    TOML and JSON may hold the pairs at the top level or under a ``columns`` table.

    Raises
    ------
    ColumnMappingError
        Unreadable file, unknown format or a field name that does not exist.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ColumnMappingError(f"{path}: cannot read column mapping: {exc}") from exc
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10
                import tomli as tomllib  # type: ignore[no-redef]
            data = tomllib.loads(text)
        elif suffix == ".json":
            data = json.loads(text)
        elif suffix in (".csv", ".tsv", ".txt"):
            rows = [r for r in csv.reader(io.StringIO(text), delimiter="\t" if suffix == ".tsv" else ",") if r]
            if rows and len(rows[0]) >= 2 and rows[0][1].strip() not in FIELDS:
                rows = rows[1:]  # a header line such as "input,field"
            data = {r[0]: (r[1] if len(r) > 1 else "") for r in rows}
        else:
            raise ColumnMappingError(f"{path}: column mapping must be .toml, .json or .csv")
    except ColumnMappingError:
        raise
    except Exception as exc:  # tomllib.TOMLDecodeError, json.JSONDecodeError, csv.Error
        raise ColumnMappingError(f"{path}: cannot parse column mapping: {exc}") from exc
    if isinstance(data, dict) and isinstance(data.get("columns"), dict):
        data = data["columns"]
    if not isinstance(data, dict):
        raise ColumnMappingError(f"{path}: column mapping must be a table of 'input header = field'")
    mapping = {}
    for source, target in data.items():
        target = str(target).strip()
        if target not in FIELDS:
            raise ColumnMappingError(
                f"{path}: {source!r} maps to unknown field {target!r}; fields: {', '.join(FIELDS)}"
            )
        mapping[str(source)] = target
    return mapping


@dataclass
class ColumnPlan:
    """How the columns of an input header become canonical columns.

    Attributes
    ----------
    names : list of str
        The input header, in file order.
    sources : dict
        Field → input column indices, in join order (one index for a plain field).
    notes : list of str
        Human-readable remarks (columns left unused because another one won).
    """

    names: list[str]
    sources: dict[str, list[int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def mapped(self) -> dict[str, list[str]]:
        """Field → the input header names it is read from."""
        return {f: [self.names[i] for i in idx] for f, idx in self.sources.items()}

    def only(self, fields) -> "ColumnPlan":
        """The same plan restricted to ``fields`` (for instance the ones the grouper reads)."""
        return ColumnPlan(self.names, {f: i for f, i in self.sources.items() if f in fields}, list(self.notes))

    def used_columns(self) -> list[int]:
        """Input column indices any field reads."""
        return sorted({i for idx in self.sources.values() for i in idx})

    def missing(self, required) -> list[str]:
        present = set(self.sources)
        if PRINCIPAL_PROC in present or OTHER_PROCS in present:
            present.add("procedures")
        return [c for c in required if c not in present]

    def describe(self) -> str:
        """One line per mapped field: ``sex ← 性别``."""
        lines = []
        for name, headers in self.mapped.items():
            lines.append(f"  {name:<20} ← {', '.join(headers)}")
        return "\n".join(lines)

    def apply(self, table: pa.Table) -> pa.Table:
        """The canonical columns of one batch (read with the header this plan was made for).

        The batch needs the columns of :meth:`used_columns` (by name), no others.

        Code columns come out as ``string`` (wide columns joined with ``|``); the other
        fields as read (:func:`icd_tables.intake.values.canonical_records` types them).
        """
        out: dict[str, pa.Array] = {}
        n = table.num_rows
        get = lambda i: plain_array(table.column(self.names[i]))  # noqa: E731
        for name, idx in self.sources.items():
            if name in (PRINCIPAL_PROC, OTHER_PROCS, "procedures", "secondary_dx"):
                continue
            out[name] = get(idx[0])
        if "secondary_dx" in self.sources:
            out["secondary_dx"] = _join([as_text(get(i)) for i in self.sources["secondary_dx"]], n)
        if PRINCIPAL_PROC in self.sources or OTHER_PROCS in self.sources:
            principal = as_text(get(self.sources[PRINCIPAL_PROC][0])) if PRINCIPAL_PROC in self.sources else None
            others = _join([as_text(get(i)) for i in self.sources.get(OTHER_PROCS, [])], n)
            out["procedures"] = _principal_first(principal, others, n)
        elif "procedures" in self.sources:
            cells = [as_text(get(i)) for i in self.sources["procedures"]]
            out["procedures"] = _principal_first(cells[0], _join(cells[1:], n), n) if len(cells) > 1 else cells[0]
        return pa.table(out) if out else pa.table({"__empty__": pa.nulls(n)}).drop(["__empty__"])


def plan_columns(names: list[str], mapping: dict[str, str] | None = None) -> ColumnPlan:
    """Decide which input column feeds which field.

    Parameters
    ----------
    names : list of str
        Input header in file order.
    mapping : dict, optional
        User mapping ``input header → field`` (``--columns``); matched exactly,
        then in the compared form of :func:`header_key`.
    """
    plan = ColumnPlan(list(names))
    user = {}
    for source, target in (mapping or {}).items():
        user.setdefault(source, target)
        user.setdefault(header_key(source), target)
    singles: dict[str, list[tuple[tuple, int]]] = {}
    lists: dict[str, list[tuple[tuple, int]]] = {}
    for i, name in enumerate(names):
        if name in user or header_key(name) in user:
            target = user.get(name) or user[header_key(name)]
            (lists if target in CODE_LISTS else singles).setdefault(target, []).append(((-1, 0, i), i))
            continue
        found = match_header(name)
        if found is None:
            continue
        target, rank, number = found
        if number is not None or target in CODE_LISTS:
            # unnumbered list column first, then numbered ones in number order
            lists.setdefault(target, []).append(((rank, -1 if number is None else number, i), i))
        else:
            singles.setdefault(target, []).append(((rank, 0, i), i))
    for target, found in singles.items():
        found.sort()
        plan.sources[target] = [found[0][1]]
        for _, i in found[1:]:
            plan.notes.append(f"column {names[i]!r} also names {target}; {names[found[0][1]]!r} is used")
    for target, found in lists.items():
        found.sort()
        plan.sources[target] = [i for _, i in found]
    if "procedures" in plan.sources and (PRINCIPAL_PROC in plan.sources or OTHER_PROCS in plan.sources):
        unused = plan.sources.pop("procedures")
        plan.notes.append(f"column(s) {', '.join(names[i] for i in unused)} unused: "
                          "the principal/other procedure columns are used")
    return plan


# --- column conversion ---------------------------------------------------------------------

def _join(cells: list[pa.Array], n: int) -> pa.Array:
    """Join several code columns cell by cell with ``|``, skipping empty and null cells."""
    if not cells:
        return pa.nulls(n, pa.string())
    if len(cells) == 1:
        return cells[0]
    # (binary_join_element_wise(..., null_handling="skip") loses rows whose cells are all null
    # in pyarrow 26, so the cells are gathered row by row into a list array instead)
    k = len(cells)
    stacked = pa.concat_arrays(cells)
    keep = pc.fill_null(pc.not_equal(pc.utf8_trim_whitespace(stacked), ""), False).to_numpy(zero_copy_only=False)
    order = (np.arange(k, dtype=np.int64)[None, :] * n + np.arange(n, dtype=np.int64)[:, None]).ravel()
    order = order[keep[order]]
    counts = keep.reshape(k, n).sum(axis=0)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    lists = pa.ListArray.from_arrays(pa.array(offsets), stacked.take(pa.array(order)), mask=pa.array(counts == 0))
    return pc.binary_join(lists, CODE_LIST_SEPARATOR)


def _principal_first(principal: pa.Array | None, others: pa.Array, n: int) -> pa.Array:
    """``principal|others``; an empty principal with other codes keeps its empty slot."""
    if principal is None:
        return others
    has_others = pc.fill_null(pc.not_equal(pc.utf8_trim_whitespace(others), ""), False)
    both = pc.binary_join_element_wise(pc.fill_null(principal, ""), pc.fill_null(others, ""), CODE_LIST_SEPARATOR)
    return pc.if_else(has_others, both, principal)
