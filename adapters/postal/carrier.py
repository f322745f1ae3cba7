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
from typing import Protocol, runtime_checkable

from mappings.postal.order import OrderRequest
from mappings.postal.s10 import ItemCodeRange


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
    """A callback the receiver must refuse: ``status`` 401 (authentication), 400 (malformed) or 413
    (too large), and why."""

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


@dataclass(frozen=True)
class FeedPage:
    """One page of a carrier's tracking feed: the events after the cursor the hub gave, and the
    cursor after them (``last_id`` unchanged and no events: the hub has read everything)."""

    events: list[CarrierEvent]
    last_id: str


@runtime_checkable
class FeedCarrier(Protocol):
    """A carrier whose tracking is one feed of every status change for the customer, read after a
    cursor the hub keeps (VNPost), instead of per-order histories. ``track`` is then not used."""

    def read_feed(self, last_id: str | None, page_size: int) -> FeedPage:
        """The events after ``last_id`` (None: from the start), at most ``page_size`` of them."""
        ...


@runtime_checkable
class CodeTakingCarrier(Protocol):
    """A carrier that takes each order's S10 item code from its customer, out of a block it issued
    (VNPost's ``OrderLGSPWithItemCode``): the hub allocates the code and sends it in the order."""

    item_codes: ItemCodeRange
