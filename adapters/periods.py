"""Walking a partner's listing over a period: cut the period into the windows the partner accepts
(business registration lists at most 5 days per call, civil status at most 31) and each window into
numbered pages. One implementation, so every pull-back covers each day exactly once."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date, timedelta
from typing import Any

__all__ = ["numbered_pages", "windows"]


def windows(first: date, last: date, max_days: int) -> list[tuple[date, date]]:
    """Cut the days ``[first, last]`` (both included) into consecutive windows of at most ``max_days``.

    Every day falls in exactly one window, so walking the windows lists every dossier once.
    """
    if last < first:
        raise ValueError(f"last day {last} is before first day {first}")
    if max_days < 1:
        raise ValueError("max_days must be at least 1")
    result = []
    start = first
    while start <= last:
        end = min(start + timedelta(days=max_days - 1), last)
        result.append((start, end))
        start = end + timedelta(days=1)
    return result


def numbered_pages(
    fetch: Callable[[int], tuple[Sequence[dict[str, Any]], int]], page_size: int, key: str
) -> Iterator[list[dict[str, Any]]]:
    """Walk a listing paged by number (1, 2, ...): ``fetch(n)`` returns page ``n`` and the total the
    partner announces. Stops at a short page or once the total is reached.

    Offset paging over a listing ordered by a moving date can shift while it is read: an item met
    twice is yielded once (by ``key``), and one that moved out is picked up by the next run's period.
    """
    seen: set[str] = set()
    page_no = 1
    while True:
        items, total = fetch(page_no)
        fresh = [item for item in items if item[key] not in seen]
        seen.update(item[key] for item in fresh)
        if fresh:
            yield fresh
        if len(items) < page_size or page_no * page_size >= total:
            return
        page_no += 1
