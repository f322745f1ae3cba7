"""Fault injection for the national-portal simulator: latency, HTTP 503s, hung calls, short sessions.

The hub's adapter must survive what real LGSP gateways do: answer slowly, answer 503 under load,
hang past the client's timeout, and expire sessions early. The RNG is seeded so a failing test
replays the same sequence of faults.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

__all__ = ["FaultConfig", "FaultDecision", "FaultInjector"]


@dataclass(frozen=True)
class FaultConfig:
    """What to inject. Rates are probabilities per call in ``[0, 1]``.

    - ``latency_ms``: added to every ``/auth`` and ``/service`` call.
    - ``error_rate``: share of those calls answered HTTP 503 without doing anything.
    - ``timeout_rate``: share of those calls that do their work and then sleep ``timeout_s`` before
      answering: the client gives up, yet the effect happened (the nasty case for idempotency).
    - ``timeout_s``: how long a "timeout" sleeps; set it above the client's read timeout.
    - ``session_ttl_s``: session lifetime; applies to sessions already issued too, so a test can
      expire every session at once by setting it to 0.
    - ``fail_next``: the next N ``/service`` calls answer HTTP 503 (counts down; deterministic).
    - ``seed``: seed of the RNG behind ``error_rate`` / ``timeout_rate`` (re-seeded when set).
    """

    latency_ms: int = 0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_s: float = 5.0
    session_ttl_s: float = 1800.0
    fail_next: int = 0
    seed: int | None = 0

    def validated(self) -> FaultConfig:
        """Return self, or raise ``ValueError`` naming the first out-of-range option."""
        if not isinstance(self.latency_ms, int) or isinstance(self.latency_ms, bool) or self.latency_ms < 0:
            raise ValueError("latency_ms must be a non-negative integer")
        for name in ("error_rate", "timeout_rate"):
            value = getattr(self, name)
            if not _is_number(value) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a number between 0 and 1")
        for name in ("timeout_s", "session_ttl_s"):
            value = getattr(self, name)
            if not _is_number(value) or value < 0:
                raise ValueError(f"{name} must be a non-negative number")
        if not isinstance(self.fail_next, int) or isinstance(self.fail_next, bool) or self.fail_next < 0:
            raise ValueError("fail_next must be a non-negative integer")
        if self.seed is not None and (not isinstance(self.seed, int) or isinstance(self.seed, bool)):
            raise ValueError("seed must be an integer or null")
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def field_names(cls) -> set[str]:
        return {f.name for f in fields(cls)}


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


FaultDecision = Literal["ok", "error", "timeout"]


class FaultInjector:
    """Thread-safe holder of the current :class:`FaultConfig` and its RNG."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self._config = (config or FaultConfig()).validated()
        self._rng = random.Random(self._config.seed)
        self._fail_next = self._config.fail_next

    @property
    def config(self) -> FaultConfig:
        with self._lock:
            return replace(self._config, fail_next=self._fail_next)

    def update(self, changes: dict[str, Any]) -> FaultConfig:
        """Apply a partial update (keys of :class:`FaultConfig`); unknown keys raise ``ValueError``."""
        unknown = set(changes) - FaultConfig.field_names()
        if unknown:
            raise ValueError(f"unknown fault option(s): {', '.join(sorted(unknown))}")
        with self._lock:
            base = replace(self._config, fail_next=self._fail_next)
            new = replace(base, **changes).validated()
            self._config = new
            self._fail_next = new.fail_next
            if "seed" in changes:
                self._rng = random.Random(new.seed)
            return new

    def decide(self, *, service_call: bool) -> tuple[FaultDecision, float, float]:
        """Decide the fate of one call: (decision, latency seconds, timeout seconds).

        ``fail_next`` only counts ``/service`` calls (``service_call=True``) so a test can log in
        and then make exactly the next N business calls fail.
        """
        with self._lock:
            cfg = self._config
            latency = cfg.latency_ms / 1000.0
            if service_call and self._fail_next > 0:
                self._fail_next -= 1
                return "error", latency, cfg.timeout_s
            if cfg.error_rate and self._rng.random() < cfg.error_rate:
                return "error", latency, cfg.timeout_s
            if cfg.timeout_rate and self._rng.random() < cfg.timeout_rate:
                return "timeout", latency, cfg.timeout_s
            return "ok", latency, cfg.timeout_s

    def session_ttl_s(self) -> float:
        with self._lock:
            return self._config.session_ttl_s
