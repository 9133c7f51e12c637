"""foundation.remembered.per_object: one answer per question and objects (by identity), a bounded number kept."""

from __future__ import annotations

import numpy as np

from foundation import remembered
from foundation.remembered import per_object


def _counting():
    calls = []

    def derive(table):
        calls.append(table)
        return table.sum()

    return calls, derive


def test_an_answer_is_derived_once_per_object_and_question():
    remembered.forget()
    calls, derive = _counting()
    a, b = np.arange(3), np.arange(3)  # equal, yet different objects
    assert per_object("sum", (a,), lambda: derive(a)) == 3
    assert per_object("sum", (a,), lambda: derive(a)) == 3
    assert per_object("sum", (b,), lambda: derive(b)) == 3
    assert per_object("other", (a,), lambda: derive(a)) == 3
    assert [id(t) for t in calls] == [id(a), id(b), id(a)]


def test_the_least_recently_used_answer_is_forgotten_past_the_limit():
    remembered.forget()
    calls, derive = _counting()
    tables = [np.arange(k) for k in range(4)]
    for t in tables[:3]:
        per_object("sum", (t,), lambda t=t: derive(t), limit=3)
    per_object("sum", (tables[0],), lambda: derive(tables[0]), limit=3)  # used again: now the most recent
    per_object("sum", (tables[3],), lambda: derive(tables[3]), limit=3)  # forgets tables[1]
    calls.clear()
    for t in (tables[0], tables[2], tables[3], tables[1]):
        per_object("sum", (t,), lambda t=t: derive(t), limit=3)
    assert [id(t) for t in calls] == [id(tables[1])]


def test_a_new_object_at_a_freed_address_is_not_taken_for_the_old_one():
    remembered.forget()
    first = np.arange(5)
    per_object("sum", (first,), lambda: first.sum())
    kept = remembered._OBJECTS["sum"][(id(first),)][0][0]
    assert kept is first  # the object is kept while its answer is remembered, so its address is never reused
