"""Working days from a holiday calendar file (foundation.workdays): 调休 weekends worked, holidays off."""

from __future__ import annotations

from datetime import date

import pytest

from foundation.workdays import CalendarError, WorkCalendar, read_calendar
from payment.lifecycle import BUNDLED_CALENDARS

CHINA = read_calendar(BUNDLED_CALENDARS / "china-2024.toml")


def test_china_2024():
    # 2024-04-03 (Wed) + 3: 4–6 清明 off, 7 (Sunday) worked, 8, 9 → 2024-04-09
    assert CHINA.add(date(2024, 4, 3), 3) == date(2024, 4, 9)
    # 2024-02-08 (Thu) + 2: 9 (Fri), 10–17 春节 off, 18 (Sunday) worked → 2024-02-18
    assert CHINA.add(date(2024, 2, 8), 2) == date(2024, 2, 18)
    # 2024-04-30 → 2024-05-13: 1–5 劳动节 off; 6–10 (5), 11 (Saturday worked), 13 → 7
    assert CHINA.between(date(2024, 4, 30), date(2024, 5, 13)) == 7
    assert CHINA.add(date(2024, 5, 6), 0) == date(2024, 5, 6)
    assert CHINA.years == (2024,) and CHINA.name == "china-2024"
    # without a calendar: Monday–Friday
    assert WorkCalendar().add(date(2024, 4, 3), 3) == date(2024, 4, 8)


@pytest.mark.parametrize("text, message", [
    ('holidays = ["2024-13-01"]', "not a date"),
    ('holidays = ["2024-02-18"]\nworkdays = ["2024-02-18"]', "both a holiday and a working day"),
    ('workdays = ["2024-02-19"]', "is a weekday"),
    ('holiday = []', "unknown key holiday"),
    ('holidays = "2024-01-01"', "must be a list"),
])
def test_bad_calendars(tmp_path, text, message):
    path = tmp_path / "cal.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CalendarError, match=message):
        read_calendar(path)
