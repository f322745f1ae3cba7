"""Call and record counters of the portal simulator (``GET /sandbox/stats``).

Tests read them to prove behaviour from the outside: that a re-run sent nothing, that a retry
after a timeout produced a duplicate answer rather than a second copy, how many 503s were served;
and which requests (their ``X-Request-ID``) each service answered, so a crash test can check that
every request the portal acted on is in the hub's message log (``GET /sandbox/received``).
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
        self._request_ids: defaultdict[str, list[str]] = defaultdict(list)

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._records.clear()
            self._faults.clear()
            self._request_ids.clear()

    def call(self, service: str, outcome: str, request_id: str | None = None) -> None:
        with self._lock:
            self._calls[service][outcome] += 1
            self._calls[service]["total"] += 1
            if request_id:
                self._request_ids[service].append(request_id)

    def request_ids(self, service: str) -> list[str]:
        """The ``X-Request-ID`` of every call of ``service`` answered (faults served are not calls)."""
        with self._lock:
            return list(self._request_ids.get(service, ()))

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
