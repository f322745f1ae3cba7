"""Status callbacks from a sandbox carrier to the hub's webhook receiver, with the carrier's usual
misbehaviour: some never arrive, some arrive twice, some arrive after a later event.

Callbacks go out when the simulated clock moves (``POST /sandbox/clock``) and when the hub asks
for a replay (Viettel's ``registerOrderHook``); a replay is faithful -- it is how the hub closes
the gaps the lossy path left. With no receiver configured nothing is sent and the hub relies on
polling, as with a carrier whose callbacks are switched off.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from sandbox.postal.faults import CarrierFaults
from sandbox.postal.orders import Event

__all__ = ["Callbacks"]

log = logging.getLogger(__name__)

Encode = Callable[[Event], tuple[bytes, dict[str, str]]]


@dataclass
class Callbacks:
    """Sends one carrier's callbacks to ``path`` on the hub's ``receiver`` (its base URL; None:
    callbacks off). ``encode`` builds the body and headers of one event, in the carrier's format,
    with its credential (HMAC header or shared token)."""

    receiver: str | None
    path: str
    encode: Encode
    faults: CarrierFaults
    sent: Counter[str] = field(default_factory=Counter)
    _session: requests.Session = field(default_factory=requests.Session, repr=False)

    def deliver(self, events: list[Event], *, faithful: bool = False) -> dict[str, int]:
        """Send ``events`` (oldest first) and return what happened to them in this batch."""
        counts: Counter[str] = Counter(events=len(events))
        if self.receiver is None:
            counts["not_configured"] = len(events)
            return dict(counts)
        queue: list[Event] = []
        for event in events:
            fate = {"loss": False, "duplicate": False, "reorder": False}
            if not faithful:
                fate = self.faults.webhook_fate(_key(event))
            if fate["loss"]:
                counts["lost"] += 1
                continue
            queue.append(event)
            if fate["duplicate"]:
                queue.append(event)
                counts["duplicated"] += 1
            if fate["reorder"] and len(queue) >= 2:
                queue[-1], queue[-2] = queue[-2], queue[-1]
                counts["reordered"] += 1
        for event in queue:
            counts[self._post(event)] += 1
        self.sent.update(counts)
        return dict(counts)

    def _post(self, event: Event) -> str:
        body, headers = self.encode(event)
        try:
            reply = self._session.post(
                f"{self.receiver}{self.path}",
                data=body,
                headers={"Content-Type": "application/json", **headers},
                timeout=10,
            )
        except requests.RequestException as exc:
            log.warning("callback for %s not delivered: %s", event.order.order_id, exc)
            return "unreachable"
        return "delivered" if reply.ok else f"refused_{reply.status_code}"

    def close(self) -> None:
        self._session.close()


def _key(event: Event) -> str:
    raw = f"{event.order.order_id}|{event.code}|{event.at.isoformat()}"
    return hashlib.sha256(raw.encode()).hexdigest()
