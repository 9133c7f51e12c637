"""Working days (工作日) from a holiday calendar file: weekends and holidays off, 调休 weekend days on.

A region's calendar is data, not code: a TOML file with ``holidays`` (法定节假日, dates off) and
``workdays`` (调休上班, weekend dates worked), ISO dates.  Any other day is a working day from Monday
to Friday.  Dates outside the file's ``years`` are counted by weekday alone (the file says which
years it covers, so a deadline past them is computed honestly, not silently).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import date, timedelta
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class CalendarError(ValueError):
    """A calendar file that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class WorkCalendar:
    """Holidays and 调休 working days; :meth:`add` counts working days."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    name: str = "weekdays"
    years: tuple[int, ...] = field(default=())

    def is_working(self, day: date) -> bool:
        """Whether ``day`` is a working day (工作日)."""
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    @lru_cache(maxsize=4096)  # deadlines repeat: one per month and submission day
    def add(self, start: date, n: int) -> date:
        """The ``n``-th working day after ``start`` (``start`` itself not counted); ``n = 0`` gives ``start``."""
        if n < 0:
            raise ValueError(f"working days: {n} must be ≥ 0")
        day = start
        while n:
            day += timedelta(days=1)
            n -= self.is_working(day)
        return day

    @lru_cache(maxsize=4096)
    def between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (0 when ``end`` ≤ ``start``)."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            count += self.is_working(day)
        return count


def _dates(raw, key: str, source: str) -> frozenset[date]:
    if not isinstance(raw, list):
        raise CalendarError(f"{source}: {key} must be a list of dates (YYYY-MM-DD)")
    out = set()
    for item in raw:
        try:
            out.add(item if isinstance(item, date) else date.fromisoformat(str(item)))
        except ValueError:
            raise CalendarError(f"{source}: {key}: {item!r} is not a date (YYYY-MM-DD) / 日期格式错误") from None
    return frozenset(out)


def read_calendar(path) -> WorkCalendar:
    """Read a calendar TOML file (``name``, ``years``, ``holidays``, ``workdays``).

    Raises
    ------
    CalendarError
        Unreadable file, a malformed date, a date both a holiday and a working day, or a weekday
        listed as a 调休 working day; naming the file and the date.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CalendarError(f"calendar {path.name}: cannot read it ({exc})") from None
    unknown = sorted(set(data) - {"name", "years", "holidays", "workdays"})
    if unknown:
        raise CalendarError(f"calendar {path.name}: unknown key {unknown[0]}")
    holidays = _dates(data.get("holidays", []), "holidays", path.name)
    workdays = _dates(data.get("workdays", []), "workdays", path.name)
    both = sorted(holidays & workdays)
    if both:
        raise CalendarError(f"calendar {path.name}: {both[0]} is both a holiday and a working day")
    weekday = sorted(d for d in workdays if d.weekday() < 5)
    if weekday:
        raise CalendarError(f"calendar {path.name}: workdays {weekday[0]} is a weekday; list only the weekend days "
                            "worked (调休上班)")
    years = data.get("years", sorted({d.year for d in holidays | workdays}))
    return WorkCalendar(holidays, workdays, str(data.get("name", path.stem)), tuple(int(y) for y in years))


__all__ = ["CalendarError", "WorkCalendar", "read_calendar"]
