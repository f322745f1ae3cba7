"""Call and record counters of the portal simulator (``GET /sandbox/stats``).

Tests read them to prove behaviour from the outside: that a re-run sent nothing, that a retry
after a timeout produced a duplicate answer rather than a second copy, how many 503s were served.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from typing import Any

__all__ = ["Stats"]


class Stats:
    """Thread-safe nested counters: calls by service and outcome, records by service and outcome."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._records: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._faults: Counter[str] = Counter()

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._records.clear()
            self._faults.clear()

    def call(self, service: str, outcome: str) -> None:
        with self._lock:
            self._calls[service][outcome] += 1
            self._calls[service]["total"] += 1

    def records(self, service: str, outcomes: Counter[str]) -> None:
        with self._lock:
            self._records[service].update(outcomes)

    def fault(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": {service: dict(c) for service, c in sorted(self._calls.items())},
                "records": {service: dict(c) for service, c in sorted(self._records.items())},
                "faults": dict(self._faults),
            }
