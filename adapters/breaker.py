"""A small consecutive-failure circuit breaker, shared by every call to one partner.

Why: when a partner is down, retrying each of thousands of outbox batches through the full
backoff schedule only piles load on it and delays the run. After ``threshold`` consecutive
failures the breaker opens and calls fail at once (no socket is opened) for ``cooldown``
seconds; then exactly one probe is let through (half-open). Its success closes the breaker,
its failure opens it for another cool-down.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Thread-safe: one transport (and so one breaker) serves every thread of a process."""

    def __init__(self, threshold: int, cooldown: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._threshold = threshold
        self._cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0

    @property
    def state(self) -> BreakerState:
        with self._lock:
            return self._state

    @property
    def consecutive_failures(self) -> int:
        with self._lock:
            return self._failures

    def acquire(self) -> float | None:
        """Ask to make a call: None means go ahead, a number is the seconds until a probe is allowed.

        In half-open state only the caller that moved it there may call; others wait with the rest.
        """
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return None
            remaining = self._opened_at + self._cooldown - self._clock()
            if self._state is BreakerState.OPEN and remaining <= 0:
                self._state = BreakerState.HALF_OPEN
                return None
            return max(remaining, 0.0)

    def record(self, *, failed: bool) -> None:
        """Report how the call went; only partner-health failures (retryable errors) count."""
        with self._lock:
            if not failed:
                self._state = BreakerState.CLOSED
                self._failures = 0
                return
            self._failures += 1
            if self._state is BreakerState.HALF_OPEN or self._failures >= self._threshold:
                self._state = BreakerState.OPEN
                self._opened_at = self._clock()
