"""Fault injection for the sandbox carriers: the shared HTTP faults plus what only a carrier does.

Latency, HTTP 503, hung calls, ``fail_next``, truncated replies and session lifetime are
:class:`sandbox.faults.FaultInjector`'s, reused as is. A carrier adds:

- ``reused_order_id_rate``: share of order replies that show the order id of the order placed just
  before (a carrier's id counter misfiring: two results answered with one order id);
- ``webhook_loss_rate`` / ``webhook_duplicate_rate`` / ``webhook_reorder_rate``: share of status
  callbacks never sent, sent twice, or sent after the next event of the same batch.

Webhook decisions are drawn per event from the seed and the event itself, not from a shared
stream, so the same seed loses, doubles and reorders the same events whatever the call order.
"""

from __future__ import annotations

import random
import threading
from typing import Any

from sandbox.faults import FaultConfig, FaultInjector

__all__ = ["CarrierFaults"]

WEBHOOK_RATES = ("webhook_loss_rate", "webhook_duplicate_rate", "webhook_reorder_rate")
_OWN = ("reused_order_id_rate", *WEBHOOK_RATES)


class CarrierFaults:
    """Thread-safe fault settings of one sandbox carrier (``POST /sandbox/faults`` updates it)."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self.http = FaultInjector(FaultConfig())
        self._rates = dict.fromkeys(_OWN, 0.0)
        self._seed = 0
        self._rng = random.Random(0)
        self.update(options or {})

    def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply a partial update; an unknown or out-of-range option raises ``ValueError`` (nothing changes)."""
        own = {key: changes[key] for key in _OWN if key in changes}
        for name, value in own.items():
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a number between 0 and 1")
        with self._lock:
            self.http.update({key: value for key, value in changes.items() if key not in own})
            self._rates.update({name: float(value) for name, value in own.items()})
            if "seed" in changes:
                self._seed = changes["seed"] or 0
                self._rng = random.Random(self._seed)
        return self.snapshot()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {**self.http.snapshot(), **self._rates}

    def reused_order_id(self) -> bool:
        """Whether this order reply shows the previous order's id."""
        return self._draw("reused_order_id_rate")

    def _draw(self, name: str) -> bool:
        with self._lock:
            rate = self._rates[name]
            return bool(rate) and self._rng.random() < rate

    def webhook_fate(self, event_key: str) -> dict[str, bool]:
        """``{"loss": .., "duplicate": .., "reorder": ..}`` for one event, fixed by seed and event."""
        with self._lock:
            rates, seed = dict(self._rates), self._seed
        rng = random.Random(f"{seed}:{event_key}")
        return {name.split("_")[1]: rng.random() < rates[name] for name in WEBHOOK_RATES}
