"""Fault injection for the SOAP simulators: the shared faults plus the one only SOAP has.

Latency, HTTP 503, hung calls, ``fail_next``, truncated replies (``malformed_rate``) and the seeded
RNG are :class:`sandbox.faults.FaultInjector`'s, reused as is so every kind of partner misbehaves
the same way. On top of it a SOAP partner can answer ``soap_fault_rate``: a ``soap:Server`` fault
(LGSP code 500) instead of doing the work -- the way a ministry system reports it is overloaded
or its database is down.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any, Literal

from sandbox.faults import FaultConfig, FaultInjector

__all__ = ["Decision", "SoapFaultDecision", "SoapFaults"]

SoapFaultDecision = Literal["ok", "http_5xx", "timeout", "soap_fault", "malformed"]
_OWN = ("soap_fault_rate",)
_HTTP_ONLY = ("session_ttl_s",)  # a SOAP partner has no sessions; refusing it avoids a silent no-op


@dataclass(frozen=True, slots=True)
class Decision:
    kind: SoapFaultDecision
    latency_s: float
    hang_s: float


class SoapFaults:
    """Thread-safe holder of a SOAP simulator's fault settings (``POST /sandbox/faults`` updates it).

    Options: ``latency_ms``, ``error_rate`` (HTTP 503), ``timeout_rate`` and ``timeout_s`` (answer
    after the client gave up), ``fail_next`` (next N calls HTTP 503), ``malformed_rate`` (work done,
    reply cut in half), ``soap_fault_rate``, ``seed``.
    """

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self._http = FaultInjector(FaultConfig())
        self._rates = {name: 0.0 for name in _OWN}
        self._rng = random.Random(0)
        self.update(options or {})

    def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply a partial update; unknown or out-of-range options raise ``ValueError`` (nothing changes)."""
        own = {key: changes[key] for key in _OWN if key in changes}
        http = {key: value for key, value in changes.items() if key not in own}
        if refused := set(http) & set(_HTTP_ONLY):
            raise ValueError(f"option(s) not applicable to a SOAP partner: {', '.join(sorted(refused))}")
        for name, value in own.items():
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a number between 0 and 1")
        with self._lock:
            self._http.update(http)
            self._rates.update({name: float(value) for name, value in own.items()})
            if "seed" in changes:
                self._rng = random.Random(changes["seed"])
        return self.snapshot()

    def snapshot(self) -> dict[str, Any]:
        config = self._http.snapshot()
        for name in _HTTP_ONLY:
            config.pop(name)
        with self._lock:
            return {**config, **self._rates}

    def decide(self) -> Decision:
        """The fate of one call."""
        kind, latency, hang = self._http.decide(service_call=True)
        if kind == "error":
            return Decision("http_5xx", latency, hang)
        if kind in ("timeout", "malformed"):
            return Decision(kind, latency, hang)
        with self._lock:
            if self._rates["soap_fault_rate"] and self._rng.random() < self._rates["soap_fault_rate"]:
                return Decision("soap_fault", latency, hang)
        return Decision("ok", latency, hang)
