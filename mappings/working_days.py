"""Working days in Vietnam: the one calendar the hub, the sandbox and the benchmarks count with.

Statutory processing times (``procedures.csv`` ``max_days``), postal delivery deadlines and the
sandbox's due dates are all "N working days", and a count that skips Tết where another does not
makes the hub call a dossier late that the city system calls on time. So there is one calendar,
and its days off are data, not code: ``code_tables/public_days_off.csv``, one row per range of
consecutive public days off (``valid_from``/``valid_to`` are the first and last day off, both
inclusive), read with the same loader as the other code tables.

Rules:

- A working day is Monday to Friday and not a public day off. Saturday one-stop desks exist, but
  statutory time limits do not count Saturdays, so they are off here too.
- The file holds the whole announced schedule of a year (Labour Code 2019 art. 112: 1/1, Tết
  Nguyên đán, Giỗ Tổ Hùng Vương 10/3 lunar, 30/4, 1/5, 2/9 and a day next to it, with compensatory
  and swapped days), so a year is *covered* as soon as any row touches it, and the loader refuses a
  covered year whose fixed days (1/1, 30/4, 1/5, 2/9 + 1/9 or 3/9) are missing: half a year's
  schedule is worse than none, because it looks authoritative.
- Outside the covered years the calendar falls back to Monday-Friday (no day off at all, not even
  the fixed ones, so that a year is either the announced schedule or plainly uncovered). Deadlines
  over a holiday then come out early; :meth:`WorkingCalendar.covers` tells callers when that
  happens so they can log it.

ASSUMPTION: the rows cover 2023-2026, the schedules as announced for those years. The lunar
holidays and the swapped days are announced a year at a time, so operations must add the next
year's rows each year when the government announces its Tết schedule (usually in the autumn);
until then that year counts Monday-Friday only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from itertools import pairwise
from pathlib import Path
from typing import overload

from mappings.dossier import VN_TZ
from mappings.versioned import CodeTableError, Row, read_rows

TABLE_PATH = Path(__file__).with_name("code_tables") / "public_days_off.csv"

log = logging.getLogger(__name__)

# Days every covered year must have off (Labour Code 2019 art. 112.1), as (month, day).
_FIXED_DAYS_OFF = ((1, 1), (4, 30), (5, 1), (9, 2))
_NATIONAL_DAY_NEIGHBOURS = ((9, 1), (9, 3))  # 2/9 comes with the day before or the day after


@dataclass(frozen=True, slots=True, kw_only=True)
class DayOffRow(Row):
    """Consecutive public days off, ``valid_from`` to ``valid_to`` inclusive; ``basis``: why."""

    name_vi: str
    basis: str

    def __post_init__(self) -> None:
        if self.valid_from is None or self.valid_to is None:
            raise ValueError(f"{self.code}: a day-off range needs both its first and last day")

    @property
    def first(self) -> date:
        assert self.valid_from is not None  # checked in __post_init__
        return self.valid_from

    @property
    def last(self) -> date:
        assert self.valid_to is not None  # checked in __post_init__
        return self.valid_to

    def days(self) -> Iterable[date]:
        return (self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1))


class WorkingCalendar:
    """Working days from a set of day-off ranges; see the module docstring for the rules."""

    def __init__(self, rows: Iterable[DayOffRow], name: str = "public_days_off") -> None:
        self.rows = tuple(sorted(rows, key=lambda r: r.first))
        for earlier, later in pairwise(self.rows):
            if later.first <= earlier.last:
                raise CodeTableError(f"{name}: {earlier.code} and {later.code} overlap")
        self._days_off = frozenset(day for row in self.rows for day in row.days())
        self.covered_years = frozenset(year for row in self.rows for year in (row.first.year, row.last.year))
        for year in sorted(self.covered_years):
            missing = [date(year, m, d) for m, d in _FIXED_DAYS_OFF if date(year, m, d) not in self._days_off]
            if not any(date(year, m, d) in self._days_off for m, d in _NATIONAL_DAY_NEIGHBOURS):
                missing.append(date(year, 9, 1))
            if missing:
                days = ", ".join(str(d) for d in missing)
                raise CodeTableError(f"{name}: {year} is covered but misses the statutory days off {days}")

    def covers(self, day: date) -> bool:
        """Whether ``day``'s year has its announced schedule (else: Monday-Friday only)."""
        return day.year in self.covered_years

    def is_day_off(self, day: date) -> bool:
        """A public day off (holiday, compensatory or swapped day), whatever the weekday."""
        return day in self._days_off

    def is_working_day(self, day: date) -> bool:
        """Monday-Friday and not a public day off."""
        return day.weekday() < 5 and day not in self._days_off

    @overload
    def add_working_days(self, moment: datetime, n: int) -> datetime: ...
    @overload
    def add_working_days(self, moment: date, n: int) -> date: ...
    def add_working_days(self, moment: date, n: int) -> date:
        """``n`` working days after ``moment``, counting from its first working day.

        A moment on a day off counts from the next working day (a dossier submitted on a Sunday is
        received on Monday, and the time limit runs from there), so ``n=0`` is ``moment`` itself
        on a working day, else the next working day. For an aware ``datetime`` the day is the Hanoi
        day and the time of day and time zone are kept; a naive one is refused, since its day is
        ambiguous.
        """
        if n < 0:
            raise ValueError(f"n={n}: working days are counted forwards only")
        if isinstance(moment, datetime):
            if moment.utcoffset() is None:
                raise ValueError(f"{moment!r} is naive: its Hanoi day is unknown")
            local = moment.astimezone(VN_TZ)
            day = self._add(local.date(), n)
            return datetime.combine(day, local.timetz()).astimezone(moment.tzinfo)
        return self._add(moment, n)

    def _add(self, day: date, n: int) -> date:
        start = day
        while not self.is_working_day(day):
            day += timedelta(days=1)
        for _ in range(n):
            day += timedelta(days=1)
            while not self.is_working_day(day):
                day += timedelta(days=1)
        for year in range(start.year, day.year + 1):
            if year not in self.covered_years:
                _uncovered(year)
        return day


@cache
def _uncovered(year: int) -> None:
    """Say once per process that a deadline ran through a year without its schedule: the deadline
    is then early by that year's holidays, and only operations can fix it by adding the rows."""
    log.warning(
        "working days in %d are counted Monday-Friday only: %s has no %d schedule yet "
        "(add that year's announced public days off)",
        year,
        TABLE_PATH.name,
        year,
    )


@lru_cache(maxsize=4)
def load_working_calendar(path: Path = TABLE_PATH) -> WorkingCalendar:
    """The calendar of ``path`` (default: the package's own table), loaded once per path."""
    return WorkingCalendar(read_rows(path, DayOffRow), name=path.stem)


def is_working_day(day: date) -> bool:
    """:meth:`WorkingCalendar.is_working_day` of the default calendar."""
    return load_working_calendar().is_working_day(day)


@overload
def add_working_days(moment: datetime, n: int) -> datetime: ...
@overload
def add_working_days(moment: date, n: int) -> date: ...
def add_working_days(moment: date, n: int) -> date:
    """:meth:`WorkingCalendar.add_working_days` of the default calendar."""
    return load_working_calendar().add_working_days(moment, n)


__all__ = [
    "TABLE_PATH",
    "DayOffRow",
    "WorkingCalendar",
    "add_working_days",
    "is_working_day",
    "load_working_calendar",
]
