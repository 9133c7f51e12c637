"""The review queue (待审队列): the cases most worth a human look, plus a random sample for unbiased audit.

Priority = money at stake (fen; a case without a known amount counts 0) × risk score.  The
queue holds the ``top`` flagged cases by priority (ties: higher score, then lower row
number), then ``sample`` cases drawn uniformly, without replacement, from all other current
cases, flagged or not (随机抽查: the share of violations found among them estimates the
rate among unflagged cases).  The draw uses ``numpy.random.default_rng(seed)``, so a seed
gives the same queue on every run.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from audit.screens.engine import ScreenResult
from foundation.decimals import decimal_array, unscaled

QUEUE_SCHEMA = pa.schema([
    ("rank", pa.int64()), ("selection", pa.string()), ("case_id", pa.string()), ("row_no", pa.int64()),
    ("hospital_id", pa.string()), ("score", pa.float64()), ("money_at_stake", pa.decimal128(18, 2)),
    ("priority", pa.float64()), ("n_flags", pa.int64()), ("rules", pa.string()),
])
SELECTION_ZH = {"top": "高风险", "random": "随机抽查"}


def review_queue(result: ScreenResult, *, top: int = 200, sample: int = 50, seed: int = 0) -> pa.Table:
    """The review queue of a screening (see the module docstring).

    Parameters
    ----------
    result : ScreenResult
    top : int
        Flagged cases taken by priority.
    sample : int
        Further cases drawn at random from the rest (fewer when fewer remain).
    seed : int

    Returns
    -------
    pyarrow.Table
        :data:`QUEUE_SCHEMA`: ``rank`` from 1, ``selection`` (``top`` 高风险 / ``random`` 随机抽查), the case,
        its ``score``, ``money_at_stake``, ``priority`` (money in 元 × score), ``n_flags`` and ``rules``.
    """
    if top < 0 or sample < 0:
        raise ValueError("top and sample must not be negative")
    risk = result.case_risk
    fen = np.maximum(unscaled(risk.column("money_at_stake")), 0)
    score = risk.column("score").to_numpy()
    rows = risk.column("row_no").to_numpy()
    priority = fen * score
    chosen = np.lexsort((rows, -score, -priority))[:top]
    cases = result.cases
    all_rows = cases.column("row_no").to_numpy()
    rest = np.flatnonzero(~np.isin(all_rows, rows[chosen]))
    rng = np.random.default_rng(seed)
    drawn = np.sort(rng.choice(rest, size=min(sample, len(rest)), replace=False)) if len(rest) else rest
    position = {int(r): i for i, r in enumerate(rows.tolist())}
    flagged = np.array([position.get(int(r), -1) for r in all_rows[drawn]], np.int64)
    d_fen = _where_flagged(fen, flagged, -1).astype(np.int64)
    d_score = _where_flagged(score, flagged, 0.0).astype(np.float64)
    rules = risk.column("rules").to_pylist()
    n_flags = risk.column("n_flags").to_numpy()
    money = np.concatenate([fen[chosen], d_fen]).astype(np.int64)
    n = len(chosen) + len(drawn)
    return pa.table({
        "rank": pa.array(np.arange(1, n + 1), pa.int64()),
        "selection": pa.array(["top"] * len(chosen) + ["random"] * len(drawn), pa.string()),
        "case_id": pa.concat_arrays([risk.column("case_id").combine_chunks().take(pa.array(chosen, pa.int64())),
                                     cases.column("case_id").combine_chunks().take(pa.array(drawn, pa.int64()))]),
        "row_no": pa.array(np.concatenate([rows[chosen], all_rows[drawn]]).astype(np.int64)),
        "hospital_id": pa.concat_arrays([
            risk.column("hospital_id").combine_chunks().take(pa.array(chosen, pa.int64())),
            cases.column("hospital_id").combine_chunks().take(pa.array(drawn, pa.int64()))]),
        "score": pa.array(np.concatenate([score[chosen], d_score]).astype(np.float64)),
        "money_at_stake": decimal_array(np.maximum(money, 0), 2, valid=np.concatenate([np.ones(len(chosen), bool),
                                                                                      d_fen >= 0])),
        "priority": pa.array(np.round(np.concatenate([priority[chosen], np.maximum(d_fen, 0) * d_score]) / 100, 2)),
        "n_flags": pa.array(np.concatenate([n_flags[chosen], _where_flagged(n_flags, flagged, 0)]).astype(np.int64)),
        "rules": pa.array([rules[i] for i in chosen] + [rules[i] if i >= 0 else "" for i in flagged], pa.string()),
    }, schema=QUEUE_SCHEMA)


def _where_flagged(values: np.ndarray, flagged: np.ndarray, default) -> np.ndarray:
    """``values[flagged]`` where a drawn case is flagged (index ≥ 0), else ``default`` (no flags at all included)."""
    out = np.full(len(flagged), default, dtype=np.result_type(values.dtype, np.asarray(default).dtype))
    hit = flagged >= 0
    out[hit] = values[flagged[hit]]
    return out


__all__ = ["QUEUE_SCHEMA", "SELECTION_ZH", "review_queue"]
