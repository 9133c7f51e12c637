"""Findings per hospital and department (质控汇总): counts, findings per 100 records, top rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from audit.findings import SEVERITIES
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
    **{s: {"fatal": "致命", "error": "错误", "warning": "警告", "info": "提示"}[s] for s in SEVERITIES},
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
    frame = findings.to_pandas() if isinstance(findings, pa.Table) else pd.DataFrame(findings)
    n = records.num_rows
    position = frame["row_no"].to_numpy(dtype=np.int64) - first_row_no if len(frame) else np.zeros(0, np.int64)
    outside = (position < 0) | (position >= n)
    if outside.any():
        raise ValueError(
            f"finding row_no {int(frame['row_no'].to_numpy()[outside][0])} is not a row of the "
            f"{n:,} records (row numbers {first_row_no}–{first_row_no + n - 1})"
        )
    labels = pa.table({"hospital_id": _label_text(records, "hospital_id"), "dept": _label_text(records, "dept")})
    keys = ["hospital_id", "dept"]
    per_group = labels.group_by(keys).aggregate([([], "count_all")]).to_pandas()
    base = pd.DataFrame({"hospital_id": per_group["hospital_id"].to_numpy(dtype=object),
                         "dept": per_group["dept"].to_numpy(dtype=object),
                         "records": per_group["count_all"].to_numpy(dtype=np.int64)})
    at = pa.array(position)
    found = pd.DataFrame({
        "hospital_id": labels.column("hospital_id").take(at).to_numpy(zero_copy_only=False).astype(object),
        "dept": labels.column("dept").take(at).to_numpy(zero_copy_only=False).astype(object), "row": position,
        "rule_id": frame["rule_id"].to_numpy(dtype=object), "severity": frame["severity"].to_numpy(dtype=object),
    })
    out = _rows(base, found, keys, top)
    if total:
        everything = _rows(pd.DataFrame({"hospital_id": [TOTAL], "dept": [""], "records": [np.int64(n)]}),
                           found.assign(hospital_id=TOTAL, dept=""), keys, top)
        out = pd.concat([out, everything], ignore_index=True)
    return out


def _rows(records: pd.DataFrame, found: pd.DataFrame, keys: list[str], top: int) -> pd.DataFrame:
    """The summary rows of ``found`` by ``keys``: ``records`` holds the keys and each group's record count."""
    out = records.sort_values(keys, ignore_index=True)
    counts = found.groupby(keys).agg(records_flagged=("row", "nunique"), findings=("row", "size"))
    severity = pd.crosstab([found[k] for k in keys], found["severity"]).reindex(columns=list(SEVERITIES), fill_value=0)
    severity.columns = list(SEVERITIES)
    by_rule = found.groupby([*keys, "rule_id"]).size().rename("n").reset_index()
    by_rule = by_rule.sort_values([*keys, "n", "rule_id"], ascending=[True] * len(keys) + [False, True])
    tops: dict[tuple, list[str]] = {}
    for hospital, dept, rule_id, n in by_rule.itertuples(index=False):  # one row per group and rule
        listed = tops.setdefault((hospital, dept), [])
        if len(listed) < top:
            listed.append(f"{rule_id} {n}")
    out = out.merge(counts, left_on=keys, right_index=True, how="left") \
        .merge(severity, left_on=keys, right_index=True, how="left")
    out["top_rules"] = ["; ".join(tops.get(key, ())) for key in zip(out["hospital_id"], out["dept"])]
    for column in ("records_flagged", "findings", *SEVERITIES):
        out[column] = out[column].fillna(0).astype(np.int64)
    out["per_100"] = (out["findings"] * 100 / out["records"]).round(2)
    return out[[*keys, "records", "records_flagged", "findings", "per_100", *SEVERITIES, "top_rules"]]


#: Columns of a department's case list (科室病例清单), with their Chinese headers.
CASE_LIST_COLUMNS = {"case_id": "病案号", "row_no": "行号", "severity_zh": "严重程度", "title_zh": "问题",
                     "field": "字段", "value": "填写内容", "message_zh": "说明", "suggestion": "修改建议"}
#: Severities a department is asked to act on (提示 info findings stay in the full findings file).
CASE_LIST_SEVERITIES = ("fatal", "error", "warning")


def _codes(column) -> tuple[np.ndarray, list]:
    """Integer code of each value and the distinct values."""
    encoded = pc.dictionary_encode(column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column)
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), encoded.dictionary.to_pylist()


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
               ("case_id", "row_no", "rule_id", "severity", "field", "value", "message_zh", "suggestion")}
    keep = pc.is_in(columns["severity"], pa.array(CASE_LIST_SEVERITIES)).to_numpy(zero_copy_only=False)
    picked = np.flatnonzero(keep)
    if not len(picked):
        return []
    columns = {name: column.take(pa.array(picked)) for name, column in columns.items()}
    row_no = columns["row_no"].to_numpy()
    index = row_no - first_row_no
    hospital, hospitals = _codes(_label_text(records, "hospital_id", index))
    dept, depts = _codes(_label_text(records, "dept", index))
    _, first, group = np.unique(hospital * len(depts) + dept, return_index=True, return_inverse=True)
    group = group.ravel()
    names = [(hospitals[hospital[k]], depts[dept[k]]) for k in first]
    case, _ = _codes(columns["case_id"])
    width = np.int64(case.max() + 1)
    cases = np.bincount(np.unique(group * width + case) // width, minlength=len(names))  # distinct case ids
    # departments by flagged cases (most first), then hospital and department; within one, by case and severity
    order = np.array(sorted(range(len(names)), key=lambda g: (-cases[g], *names[g])), dtype=np.int64)
    place = np.empty(len(order), dtype=np.int64)
    place[order] = np.arange(len(order))
    severity, severities = _codes(columns["severity"])
    rank = np.array([SEVERITIES.index(s) for s in severities], dtype=np.int64)[severity]
    rows = pa.array(np.lexsort((np.arange(len(picked)), rank, row_no, place[group])))
    rule, rule_ids = _codes(columns["rule_id"])
    zh = {"fatal": "致命", "error": "错误", "warning": "警告"}
    table = pa.table({
        "case_id": columns["case_id"].take(rows), "row_no": columns["row_no"].take(rows),
        "severity_zh": pa.array([zh[s] for s in severities]).take(pa.array(severity)).take(rows),
        "title_zh": pa.array([titles.get(r, r) for r in rule_ids], pa.string()).take(pa.array(rule)).take(rows),
        **{name: columns[name].take(rows) for name in ("field", "value", "message_zh", "suggestion")},
    }).rename_columns(list(CASE_LIST_COLUMNS.values()))
    bounds = np.r_[0, np.cumsum(np.bincount(place[group], minlength=len(order)))]
    return [(*names[g], table.slice(bounds[k], bounds[k + 1] - bounds[k])) for k, g in enumerate(order)]


__all__ = ["CASE_LIST_COLUMNS", "CASE_LIST_SEVERITIES", "department_lists", "SUMMARY_COLUMNS_ZH", "TOTAL", "summarize"]
