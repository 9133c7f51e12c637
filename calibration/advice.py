"""Split advice (细分建议), advice only: where a further split of an ADRG would reduce cost variance.

Within each ADRG, a scikit-learn regression tree of depth 1 is fitted to the kept
cases' inflated costs with the features CC/MCC level (0 none, 1 CC, 2 MCC, from the
``cc_dx``/``mcc_dx`` columns), age and length of stay.  Its one split is the proposal;
``reduction`` = 1 − (n_L·Var_L + n_R·Var_R) ÷ (n·Var) is the share of the ADRG's cost
variance it removes.  Fitted on a sample of ``sample`` kept cases (fixed seed), so its
cost stays bounded on large histories.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.tree import DecisionTreeRegressor

from calibration._columns import categories, column_or_none, numbers
from calibration.history import History

FEATURES = {"cc_level": "并发症级别 (0 无, 1 CC, 2 MCC)", "age_years": "年龄", "los_days": "住院天数"}
ADVICE_COLUMNS = ["adrg", "n_sample", "feature", "feature_zh", "threshold", "reduction", "n_left", "n_right",
                  "mean_cost_left", "mean_cost_right"]


def _cc_level(table: pa.Table, rows: np.ndarray) -> np.ndarray | None:
    level = None
    for name, value in (("cc_dx", 1), ("mcc_dx", 2)):
        column = column_or_none(table, name)
        if column is None:
            continue
        codes, _ = categories(column.take(pa.array(rows)))
        level = np.zeros(len(rows)) if level is None else level
        level = np.where(codes >= 0, value, level)
    return level


def split_advice(table: pa.Table, history: History, kept: np.ndarray, adrgs: list[str], *, sample: int,
                 random_state: int, min_leaf: int = 30) -> pd.DataFrame:
    """One proposed split per ADRG with at least 2·``min_leaf`` sampled kept cases, best reduction first."""
    rows = np.flatnonzero(kept)
    if len(rows) > sample:
        rows = np.sort(np.random.default_rng(random_state).choice(rows, sample, replace=False))
    features = {"cc_level": _cc_level(table, rows),
                "age_years": numbers(table.column("age_years").take(pa.array(rows)))
                if "age_years" in table.column_names else None,
                "los_days": history.los[rows]}
    names = [k for k, v in features.items() if v is not None]
    x = np.column_stack([np.nan_to_num(features[k], nan=-1.0) for k in names])
    y = history.fen[rows] / 100
    adrg_of = np.array(adrgs, dtype=object)[history.drg[rows]]
    out = []
    for adrg in sorted(set(adrg_of)):
        members = adrg_of == adrg
        if members.sum() < 2 * min_leaf:
            continue
        tree = DecisionTreeRegressor(max_depth=1, min_samples_leaf=min_leaf, random_state=0)
        tree.fit(x[members], y[members])
        t = tree.tree_
        if t.node_count < 3 or t.impurity[0] <= 0:
            continue
        left, right = t.children_left[0], t.children_right[0]
        n = t.n_node_samples
        within = (n[left] * t.impurity[left] + n[right] * t.impurity[right]) / n[0]
        feature = names[t.feature[0]]
        out.append([adrg, int(n[0]), feature, FEATURES[feature], float(t.threshold[0]),
                    round(float(1 - within / t.impurity[0]), 6), int(n[left]), int(n[right]),
                    round(float(t.value[left].ravel()[0]), 2), round(float(t.value[right].ravel()[0]), 2)])
    frame = pd.DataFrame(out, columns=ADVICE_COLUMNS)
    return frame.sort_values(["reduction", "adrg"], ascending=[False, True]).reset_index(drop=True)


__all__ = ["ADVICE_COLUMNS", "FEATURES", "split_advice"]
