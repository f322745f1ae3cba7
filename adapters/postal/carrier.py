"""The one interface every postal carrier client implements, so pipelines never branch on the carrier.

Two helpers build issue 5 against this module at the same time: the carrier clients produce these
values and the tracking side (store, webhook receiver, state machine) consumes them. Adding a
third carrier means one more class satisfying :class:`Carrier`, nothing else. The order they accept
(``mappings.postal.order``) is carrier-neutral and planned by the mappings, so it lives there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from mappings.postal.order import OrderRequest

PROBE_ORDER_ID = "HUB-PROBE-0"
"""An order id no carrier issued: tracking it checks the account and orders nothing (``hub connections test``)."""


@dataclass(frozen=True)
class PlacedOrder:
    """The carrier's acceptance; ``item_code`` has passed the S10 check digit before this exists, or is
    None for a carrier whose reference is its own order number (Viettel Post answers no S10 code)."""

    carrier: str
    reference: str
    order_id: str
    item_code: str | None
    placed_at: datetime


@dataclass(frozen=True)
class CarrierEvent:
    """One status change of one order, whether it came from polling or from a webhook."""

    carrier: str
    order_id: str
    reference: str | None
    status_code: str
    status_name: str
    occurred_at: datetime

    @property
    def event_key(self) -> str:
        """Same change seen twice (a duplicate webhook, a poll after a webhook) -> same key, stored once."""
        raw = f"{self.carrier}|{self.order_id}|{self.status_code}|{self.occurred_at.isoformat()}"
        return hashlib.sha256(raw.encode()).hexdigest()


class WebhookRejected(Exception):
    """A callback the receiver must refuse: ``status`` 401 (authentication) or 400 (malformed), and why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason


class Carrier(Protocol):
    """A postal carrier client; errors follow adapters/errors.py (retryable, permanent, contract)."""

    name: str

    def create_order(self, order: OrderRequest) -> PlacedOrder:
        """Place the order; the same ``reference`` twice returns the same order, never two."""
        ...

    def track(self, order_ids: Sequence[str]) -> dict[str, list[CarrierEvent]]:
        """The full status history of each order, oldest first. A carrier whose only history channel
        is its callbacks (Viettel Post) asks for them to be sent again and returns no events here."""
        ...

    def cancel(self, order_id: str) -> None:
        """Cancel an order the carrier has not yet picked up."""
        ...

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[CarrierEvent]:
        """Authenticate and validate one callback; raises :class:`WebhookRejected` (401 or 400)."""
        ...

    def close(self) -> None:
        """Release the pooled connections."""
        ...
