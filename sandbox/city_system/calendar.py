"""Working days in Hanoi, for volumes (weekends and holidays are quiet) and due dates.

Holiday dates are an ASSUMPTION of the sandbox, approximate and limited to 2023-2026: the fixed
public holidays (Labour Code 2019, art. 112) plus Tết Nguyên đán and the Hùng Kings'
commemoration as announced for those years. The generator only needs "much less traffic on these
days"; the hub must not use this list (real due dates come from the city system).
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

__all__ = ["add_working_days", "is_working_day"]

_FIXED = ((1, 1), (4, 30), (5, 1), (9, 2))
# Lunar-calendar holidays (Tết, Giỗ Tổ Hùng Vương 10/3 âm lịch) and bridging days, as announced.
_LUNAR_RANGES: tuple[tuple[date, date], ...] = (
    (date(2023, 1, 20), date(2023, 1, 26)),
    (date(2023, 4, 29), date(2023, 5, 3)),
    (date(2023, 9, 1), date(2023, 9, 4)),
    (date(2024, 2, 8), date(2024, 2, 14)),
    (date(2024, 4, 18), date(2024, 4, 18)),
    (date(2024, 4, 27), date(2024, 5, 1)),
    (date(2024, 8, 31), date(2024, 9, 3)),
    (date(2025, 1, 25), date(2025, 2, 2)),
    (date(2025, 4, 7), date(2025, 4, 7)),
    (date(2025, 4, 30), date(2025, 5, 4)),
    (date(2025, 8, 30), date(2025, 9, 2)),
    (date(2026, 2, 14), date(2026, 2, 22)),
    (date(2026, 4, 27), date(2026, 4, 27)),
    (date(2026, 9, 1), date(2026, 9, 2)),
)


@lru_cache(maxsize=4096)
def is_working_day(day: date) -> bool:
    """Monday-Friday and not a public holiday (Saturday one-stop desks are treated as off)."""
    if day.weekday() >= 5 or (day.month, day.day) in _FIXED:
        return False
    return not any(start <= day <= end for start, end in _LUNAR_RANGES)


def add_working_days(day: date, n: int) -> date:
    """The working day ``n`` working days after ``day`` (``n=0``: ``day`` itself or the next one)."""
    current = day
    while not is_working_day(current):
        current += timedelta(days=1)
    remaining = n
    while remaining > 0:
        current += timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current
