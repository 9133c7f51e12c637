"""The flags table: one row per audit flag raised on a case or a hospital (智能审核疑点).

Every screen of :mod:`audit.screens` produces rows of this shape, so they
concatenate into one table that ``drg audit`` writes and the service returns.

Columns
-------
``flag_id`` (疑点编号): stable text id, ``RULE_ID:case_id#row_no`` for a case flag,
``RULE_ID:hospital_id:subject`` for a hospital flag (subject: the ADRG or ``all``);
appeals (:mod:`audit.appeals`) refer to it.
``case_id`` (病案号), ``row_no`` (行号, the case's input row from 1): null for a
hospital flag.  ``hospital_id`` (医疗机构编码).
``rule_id`` (规则编号), ``severity`` (严重程度: ``error`` 疑似违规, ``warning`` 可疑,
``info`` 提示), ``message_zh``, ``message_en`` (the rule and the figures in words).
``evidence`` (证据): JSON text, an object with the figures the rule compared and
the related case ids and dates (keys per rule, documented in the README).
``money_at_stake`` (涉及金额): decimal(18, 2) 元, the payment difference the flag
puts in question, computed in integer fen (:mod:`audit.screens.money`); null
where it does not apply (chains, hospital shares, dumping) or no rate is known.
``score`` (风险分): the rule's ``score``; a case's risk is the sum over its flags.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

from foundation.decimals import units_or_null

SEVERITY_ZH = {"error": "疑似违规", "warning": "可疑", "info": "提示"}

FLAG_SCHEMA = pa.schema([
    ("flag_id", pa.string()),
    ("case_id", pa.string()),
    ("row_no", pa.int64()),
    ("hospital_id", pa.string()),
    ("rule_id", pa.string()),
    ("severity", pa.string()),
    ("message_zh", pa.string()),
    ("message_en", pa.string()),
    ("evidence", pa.string()),
    ("money_at_stake", pa.decimal128(18, 2)),
    ("score", pa.float64()),
])

#: Chinese column labels (report and XLSX headers).
FLAG_LABELS_ZH = {"flag_id": "疑点编号", "case_id": "病案号", "row_no": "行号", "hospital_id": "医疗机构编码",
                  "rule_id": "规则编号", "severity": "严重程度", "message_zh": "疑点说明", "message_en": "message",
                  "evidence": "证据", "money_at_stake": "涉及金额（元）", "score": "风险分"}


def empty_flags() -> pa.Table:
    """A flags table with no rows."""
    return FLAG_SCHEMA.empty_table()


def evidence_json(items: list[dict]) -> pa.Array:
    """Evidence objects as compact JSON text (keys sorted, Chinese kept as is, so re-runs give the same bytes)."""
    return pa.array([json.dumps(item, ensure_ascii=False, sort_keys=True, separators=(",", ":")) for item in items],
                    pa.string())


def share_text(value: float) -> str:
    """A share as a percentage for messages: ``0.4567`` → ``46%``, ``0.0123`` → ``1.2%``."""
    return f"{value:.0%}" if value >= 0.1 else f"{value:.1%}"


def flags_table(*, rule, case_id: pa.Array | None, row_no: np.ndarray | None, hospital_id: pa.Array,
                subject: list[str] | None = None, texts, evidence: list[dict], money_fen: np.ndarray | None) -> pa.Table:
    """Flags of one rule.

    Parameters
    ----------
    rule : audit.rulebook.Rule
        The screen (id, severity and ``score``).
    case_id : pyarrow.Array or None
        Case id of each flag (text); None for hospital flags.
    row_no : numpy.ndarray or None
        Row number of each flag's case; None for hospital flags.
    hospital_id : pyarrow.Array
        Hospital of each flag.
    subject : list of str, optional
        Hospital flags: what the flag is about (an ADRG, or ``all``), part of ``flag_id``.
    texts : tuple of pyarrow.Array
        ``message_zh``, ``message_en`` (as :meth:`audit.rulebook.Rule.render` gives them).
    evidence : list of dict
        One evidence object per flag.
    money_fen : numpy.ndarray or None
        Money at stake in fen per flag, -1 where unknown; None when it does not apply.
    """
    n = len(evidence)
    hospital_id = hospital_id.cast(pa.string())
    if case_id is not None:
        case_id = case_id.cast(pa.string())
        ids = [f"{rule.id}:{c}#{r}" for c, r in zip(case_id.to_pylist(), np.asarray(row_no).tolist())]
        rows = pa.array(np.asarray(row_no, dtype=np.int64))
    else:
        ids = [f"{rule.id}:{h}:{s}" for h, s in zip(hospital_id.to_pylist(), subject)]
        case_id, rows = pa.nulls(n, pa.string()), pa.nulls(n, pa.int64())
    if money_fen is None:
        money = pa.nulls(n, pa.decimal128(18, 2))
    else:
        money_fen = np.asarray(money_fen, dtype=np.int64)
        money = units_or_null(money_fen, 2)
    return pa.table({
        "flag_id": pa.array(ids, pa.string()),
        "case_id": case_id,
        "row_no": rows,
        "hospital_id": hospital_id,
        "rule_id": pa.array([rule.id] * n, pa.string()),
        "severity": pa.array([rule.severity] * n, pa.string()),
        "message_zh": texts[0].cast(pa.string()),
        "message_en": texts[1].cast(pa.string()),
        "evidence": evidence_json(evidence),
        "money_at_stake": money,
        "score": pa.array(np.full(n, float(rule.params["score"]))),
    }, schema=FLAG_SCHEMA)


__all__ = ["FLAG_LABELS_ZH", "FLAG_SCHEMA", "SEVERITY_ZH", "empty_flags", "evidence_json", "flags_table", "share_text"]
