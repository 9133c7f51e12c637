"""Audit screens against plain-Python twins (hypothesis), and the planted-violation recall on a synthetic month."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.screens import Screener
from audit.screens.patient import sort_order
from audit.screens.synthetic import synthetic_month

DAY0 = dt.date(2024, 6, 1)

stays = st.lists(st.tuples(st.integers(0, 3),          # patient
                           st.integers(0, 1),          # hospital
                           st.integers(0, 1),          # ADRG
                           st.integers(0, 40),         # admission day
                           st.integers(0, 12),         # length of stay
                           st.sampled_from([1, 2])),   # discharge method
                 min_size=1, max_size=25)


def frame(items) -> pd.DataFrame:
    return pd.DataFrame([{
        "case_id": f"c{i}", "patient_id": f"p{p}", "hospital_id": f"H{h}", "adrg": f"AB{a + 1}", "mdc": "MDCA",
        "drg": f"AB{a + 1}5", "status": "ok", "admit_date": str(DAY0 + dt.timedelta(days=d)),
        "discharge_date": str(DAY0 + dt.timedelta(days=d + los)), "los_days": max(los, 1), "total_cost": 1000.0,
        "discharge_method": m} for i, (p, h, a, d, los, m) in enumerate(items)])


def naive_split(items, max_gap=15, same_hospital=True) -> set[int]:
    """Stay j is a readmission when the stay before it (same patient, [hospital], ADRG; by admission, then row) ended
    0…max_gap days before its admission, and (across hospitals) did not end in a transfer."""
    out = set()
    for j, (p, h, a, d, los, m) in enumerate(items):
        before = [i for i, (p2, h2, a2, d2, _, _) in enumerate(items)
                  if p2 == p and a2 == a and (h2 == h or not same_hospital) and (d2, i) < (d, j)]
        if before:
            i = max(before, key=lambda i: (items[i][3], i))
            gap = d - (items[i][3] + items[i][4])
            transfer = items[i][5] == 2 and items[i][1] != h
            if 0 <= gap <= max_gap and not transfer:
                out.add(j)
    return out


def naive_overlap(items) -> set[int]:
    """Stay j overlaps when an earlier stay (by admission, discharge, row) of the patient ends ≥ 1 day after j starts."""
    out = set()
    for j, (p, _, _, d, los, _) in enumerate(items):
        for i, (p2, _, _, d2, los2, _) in enumerate(items):
            if p2 == p and (d2, d2 + los2, i) < (d, d + los, j) and min(d2 + los2, d + los) - d >= 1:
                out.add(j)
    return out


def rows_of(result, rule_id) -> set[int]:
    f = result.flags.to_pandas()
    return set((f.loc[f.rule_id == rule_id, "row_no"] - 1).tolist())


@settings(max_examples=150, deadline=None)
@given(stays)
def test_split_matches_plain_twin(items):
    assert rows_of(Screener().screen(frame(items)), "SPLIT_READMISSION") == naive_split(items)


@settings(max_examples=60, deadline=None)
@given(stays)
def test_split_any_hospital_matches_plain_twin(items):
    from audit.screens.config import load_screens
    from audit.rulebook import RuleBook
    from audit.screens.config import BUNDLED_SCREENS

    book = load_screens(RuleBook.loads("[rules.SPLIT_READMISSION]\nsame_hospital = false\n", bundled=BUNDLED_SCREENS))
    result = Screener(config=book).screen(frame(items))
    assert rows_of(result, "SPLIT_READMISSION") == naive_split(items, same_hospital=False)


@settings(max_examples=150, deadline=None)
@given(stays)
def test_overlap_matches_plain_twin(items):
    assert rows_of(Screener().screen(frame(items)), "DUPLICATE_OVERLAP") == naive_overlap(items)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 2**40), st.integers(0, 3)), min_size=1, max_size=40))
def test_sort_order_packed_and_lexsort_agree(keys):
    columns = [np.array(k, dtype=np.int64) for k in zip(*keys)]
    assert sort_order(columns).tolist() == np.lexsort(tuple(reversed(columns))).tolist()


def recall(n_clean: int, n_history: int, seed: int):
    cases, history, weights, planted = synthetic_month(n_clean, n_history=n_history, seed=seed)
    result = Screener(weights=weights).screen(cases, history)
    f = result.flags.to_pandas()
    case_plants = planted[planted.row_no > 0]
    found = set(zip(f.rule_id, f.row_no.fillna(0).astype(int)))
    missed = [p for p in case_plants.itertuples() if (p.rule_id, p.row_no) not in found]
    hospital_found = set(zip(f.rule_id, f.flag_id))
    missed += [p for p in planted[planted.row_no == 0].itertuples()
               if (p.rule_id, f"{p.rule_id}:{p.hospital_id}:{p.subject}") not in hospital_found]
    planted_rows = set(case_plants.row_no)
    planted_hospitals = set(planted.hospital_id[planted.row_no == 0])
    case_flags = f[f.row_no.notna()]
    false_cases = case_flags[~case_flags.row_no.astype(int).isin(planted_rows)]
    false_hospital = f[f.row_no.isna() & ~f.hospital_id.isin(planted_hospitals)]
    return missed, false_cases, false_hospital, cases.num_rows - len(planted_rows)


def test_every_planted_violation_is_flagged_small_month():
    missed, false_cases, _, clean = recall(50_000, 20_000, seed=5)
    assert missed == []
    assert len(false_cases) / clean < 0.001


@pytest.mark.slow
def test_every_planted_violation_is_flagged_1m_month():
    missed, false_cases, false_hospital, clean = recall(1_000_000, 200_000, seed=11)
    print(f"\nfalse-flagged clean cases: {false_cases.row_no.nunique()} of {clean:,} "
          f"({false_cases.row_no.nunique() / clean:.4%}); by rule {false_cases.rule_id.value_counts().to_dict()}; "
          f"hospital flags on clean hospitals: {false_hospital.rule_id.value_counts().to_dict()}")
    assert missed == []
    assert false_cases.row_no.nunique() / clean < 0.001
