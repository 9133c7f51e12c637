"""Findings per hospital and department (质控汇总): counts, findings per 100 records, top rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from audit.findings import SEVERITIES, SEVERITY_ZH, severity_ranks, value_codes
from grouper.encode import to_arrow
from foundation.arrow_columns import plain_array

#: Label of the total row.
TOTAL = "合计 (total)"

SUMMARY_COLUMNS_ZH = {
    "hospital_id": "医疗机构编码",
    "dept": "科室",
    "records": "病案数",
    "records_flagged": "有问题病案数",
    "findings": "问题数",
    "per_100": "每百份病案问题数",
    **{s: SEVERITY_ZH[s] for s in SEVERITIES},
    "top_rules": "主要问题规则",
}


def _label_text(records: pa.Table, name: str, rows: np.ndarray | None = None) -> pa.Array:
    """Column ``name`` of ``records`` (at ``rows``, else every one) as text (``""`` for missing or absent)."""
    if name not in records.column_names:
        return pa.array([""] * (records.num_rows if rows is None else len(rows)), pa.string())
    column = plain_array(records.column(name))
    column = column if rows is None else column.take(pa.array(rows))
    try:
        text = column.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        text = pa.array([None if v is None else str(v) for v in column.to_pylist()], pa.string())
    return pc.fill_null(text, "")


def summarize(findings: pa.Table | pd.DataFrame, records, *, first_row_no: int = 1, top: int = 3,
              total: bool = True) -> pd.DataFrame:
    """Findings per ``hospital_id`` × ``dept``.

    Parameters
    ----------
    findings : pyarrow.Table or pandas.DataFrame
        Findings (:data:`audit.findings.FINDING_SCHEMA`) of ``records``.
    records : pyarrow.Table, pandas.DataFrame or list of dict
        The records the findings were made from; ``row_no`` of record ``i`` is
        ``first_row_no + i``.  Absent ``hospital_id``/``dept`` read as ``""``.
    first_row_no : int
    top : int
        How many rules ``top_rules`` lists.
    total : bool
        Append a row :data:`TOTAL` over all records.

    Returns
    -------
    pandas.DataFrame
        One row per hospital and department, sorted by both: ``hospital_id``,
        ``dept``, ``records``, ``records_flagged`` (records with a finding),
        ``findings``, ``per_100`` (findings × 100 / records, 2 decimals),
        ``fatal``, ``error``, ``warning``, ``info`` (findings by severity) and
        ``top_rules`` (``"RULE_ID n; …"``, most frequent first, ties by id).
        Chinese headers: :data:`SUMMARY_COLUMNS_ZH`.

    Raises
    ------
    ValueError
        When a finding's ``row_no`` is not a row of ``records``.
    """
    records = to_arrow(records)
    row_no, rule_id, severity = _finding_columns(findings)
    n = records.num_rows
    position = row_no - first_row_no
    outside = (position < 0) | (position >= n)
    if outside.any():
        raise ValueError(
            f"finding row_no {int(row_no[outside][0])} is not a row of the "
            f"{n:,} records (row numbers {first_row_no}–{first_row_no + n - 1})"
        )
    hospital, hospitals = value_codes(_label_text(records, "hospital_id"), ranked=True)
    dept, depts = value_codes(_label_text(records, "dept"), ranked=True)
    groups, group = np.unique(hospital * len(depts) + dept, return_inverse=True)  # by hospital, then department
    group = group.ravel()
    rule, rule_ids = value_codes(rule_id, ranked=True)
    found = group[position], position, rule, severity_ranks(severity)
    keys = [(hospitals[g // len(depts)], depts[g % len(depts)]) for g in groups]
    out = _rows(keys, np.bincount(group, minlength=len(keys)), found, rule_ids, top)
    if total:
        everything = _rows([(TOTAL, "")], np.array([n]), (np.zeros_like(position), *found[1:]), rule_ids, top)
        out = pd.concat([out, everything], ignore_index=True)
    return out


def _finding_columns(findings: pa.Table | pd.DataFrame) -> tuple[np.ndarray, pa.Array, pa.Array]:
    """``row_no``, ``rule_id`` and ``severity`` of the findings."""
    if isinstance(findings, pa.Table):
        return (findings.column("row_no").to_numpy().astype(np.int64, copy=False),
                plain_array(findings.column("rule_id")).cast(pa.string()),
                plain_array(findings.column("severity")).cast(pa.string()))
    frame = pd.DataFrame(findings)
    if not len(frame):
        return np.zeros(0, np.int64), pa.array([], pa.string()), pa.array([], pa.string())
    return (frame["row_no"].to_numpy(dtype=np.int64), pa.array(frame["rule_id"].astype(object), pa.string()),
            pa.array(frame["severity"].astype(object), pa.string()))


def _rows(keys: list[tuple[str, str]], records: np.ndarray, found: tuple, rule_ids: list[str],
          top: int) -> pd.DataFrame:
    """The summary rows of groups ``keys`` (hospital, department) of ``records`` records each: ``found`` holds,
    per finding, its group, record position, rule (rank of its id in ``rule_ids``) and severity (rank in
    :data:`SEVERITIES`)."""
    group, position, rule, severity = found
    k, s, r = len(keys), len(SEVERITIES) + 1, len(rule_ids)
    _, first = np.unique(position, return_index=True)  # a record is in one group: its first finding's
    by_severity = np.bincount(group * s + severity, minlength=k * s).reshape(k, s)[:, :len(SEVERITIES)]
    by_rule = np.bincount(group * r + rule, minlength=k * r).reshape(k, r)
    order = np.argsort(-by_rule, axis=1, kind="stable")[:, :top]  # most frequent first, ties by id
    out = pd.DataFrame({
        "hospital_id": [h for h, _ in keys], "dept": [d for _, d in keys],
        "records": records.astype(np.int64),
        "records_flagged": np.bincount(group[first], minlength=k).astype(np.int64),
        "findings": np.bincount(group, minlength=k).astype(np.int64),
    })
    out["per_100"] = (out["findings"] * 100 / out["records"]).round(2)
    for column, counts in zip(SEVERITIES, by_severity.T):
        out[column] = counts.astype(np.int64)
    out["top_rules"] = ["; ".join(f"{rule_ids[j]} {by_rule[g, j]}" for j in order[g] if by_rule[g, j])
                        for g in range(k)]
    return out


#: Columns of a department's case list (科室病例清单), with their Chinese headers.
CASE_LIST_COLUMNS = {"case_id": "病案号", "row_no": "行号", "severity_zh": "严重程度", "title_zh": "问题",
                     "field": "字段", "value": "填写内容", "message_zh": "说明", "suggestion": "修改建议"}
#: Severities a department is asked to act on (提示 info findings stay in the full findings file).
CASE_LIST_SEVERITIES = ("fatal", "error", "warning")


#: The case lists' message columns.
_MESSAGES = ("message_zh", "suggestion")


def department_lists(findings: pa.Table | pd.DataFrame, records: pa.Table, titles: dict[str, str],
                     *, first_row_no: int = 1) -> list[tuple[str, str, pa.Table]]:
    """One case list per hospital × department, for the 医保办 to send to each department.

    Parameters
    ----------
    findings : pyarrow.Table or pandas.DataFrame
        Findings with ``row_no``, ``case_id``, ``rule_id``, ``severity``, ``field``, ``value``,
        ``message_zh``, ``suggestion``.
    records : pyarrow.Table
        The records (``hospital_id`` and ``dept`` read as text, absent as ``""``); ``row_no`` of record
        ``i`` is ``first_row_no + i``.
    titles : dict
        Rule id → its Chinese title.

    Returns
    -------
    list of (hospital_id, dept, pyarrow.Table)
        Departments with the most flagged cases first; each list holds the fatal, error and warning
        findings by case, then severity (columns :data:`CASE_LIST_COLUMNS`, Chinese headers).  The
        lists are consecutive slices of one table.
    """
    if isinstance(findings, pd.DataFrame):
        findings = pa.Table.from_pandas(findings, preserve_index=False)
    columns = {name: plain_array(findings.column(name)).cast(pa.string()) if name != "row_no" else
               plain_array(findings.column(name)).cast(pa.int64()) for name in
               ("case_id", "row_no", "rule_id", "severity", "field", "value")}
    for name in _MESSAGES:  # long texts that repeat: a dictionary stays one until the rows are picked and ordered
        columns[name] = findings.column(name).combine_chunks()
    keep = pc.is_in(columns["severity"], pa.array(CASE_LIST_SEVERITIES)).to_numpy(zero_copy_only=False)
    picked = np.flatnonzero(keep)
    if not len(picked):
        return []
    if len(picked) < len(keep):
        columns = {name: column.take(pa.array(picked)) for name, column in columns.items()}
    row_no = columns["row_no"].to_numpy()
    index = row_no - first_row_no
    hospital, hospitals = value_codes(_label_text(records, "hospital_id", index))
    dept, depts = value_codes(_label_text(records, "dept", index))
    _, first, group = np.unique(hospital * len(depts) + dept, return_index=True, return_inverse=True)
    group = group.ravel()
    names = [(hospitals[hospital[k]], depts[dept[k]]) for k in first]
    case, _ = value_codes(columns["case_id"])
    width = np.int64(case.max() + 1)
    cases = np.bincount(np.unique(group * width + case) // width, minlength=len(names))  # distinct case ids
    # departments by flagged cases (most first), then hospital and department; within one, by case and severity
    order = np.array(sorted(range(len(names)), key=lambda g: (-cases[g], *names[g])), dtype=np.int64)
    place = np.empty(len(order), dtype=np.int64)
    place[order] = np.arange(len(order))
    rank = severity_ranks(columns["severity"])
    rows = pa.array(np.lexsort((np.arange(len(picked)), rank, row_no, place[group])))
    rule, rule_ids = value_codes(columns["rule_id"])
    table = pa.table({
        "case_id": columns["case_id"].take(rows), "row_no": columns["row_no"].take(rows),
        "severity_zh": pa.array([SEVERITY_ZH[s] for s in SEVERITIES]).take(pa.array(rank)).take(rows),
        "title_zh": pa.array([titles.get(r, r) for r in rule_ids], pa.string()).take(pa.array(rule)).take(rows),
        **{name: columns[name].take(rows) for name in ("field", "value")},
        **{name: plain_array(columns[name].take(rows)).cast(pa.string()) for name in _MESSAGES},
    }).rename_columns(list(CASE_LIST_COLUMNS.values()))
    bounds = np.r_[0, np.cumsum(np.bincount(place[group], minlength=len(order)))]
    return [(*names[g], table.slice(bounds[k], bounds[k + 1] - bounds[k])) for k, g in enumerate(order)]


__all__ = ["CASE_LIST_COLUMNS", "CASE_LIST_SEVERITIES", "department_lists", "SUMMARY_COLUMNS_ZH", "TOTAL", "summarize"]
