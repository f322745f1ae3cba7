"""The canonical delivery state machine every postal carrier's statuses map onto.

Carriers speak their own codes (VNPost "90", Viettel Post "501" for the same delivery); the hub
reasons about one set of states. ``carrier_statuses.csv`` beside this file is the versioned map
(``<carrier>:<status code>`` -> state, with effective dates: carriers renumber their codes too), so
a status is always looked up on the day the carrier says it happened.

How an order's state is derived, and why:

- The state is a fold over the order's whole event history **sorted by the carrier's timestamp**
  (ties broken by progress, then code), never "the last event received". Webhooks arrive late,
  twice or out of order, and polling returns full histories; folding the stored set makes the
  result the same whatever the arrival order, and re-folding after a late event is always right.
- A transition the machine does not allow is **flagged, not applied**: the order stays where it
  was and the anomaly (event, state it came from, reason) is kept for a person. Illegal are: any
  move out of a final state (delivered, returned, cancelled), moving back to an earlier stage
  (delivered -> in transit is the classic), a cancellation after pick-up, and delivery attempts
  while the parcel is on its way back to the sender.
- Viettel Post's "502" (returning to sender) maps to ``in_transit`` with the ``returning`` flag,
  not to ``returned``: the parcel still travels and the city still pays for it, and only "504"
  says it arrived back. Once returning, an order only moves on in transit or to ``returned``.
- A status the table does not know on that day is an anomaly too (the carrier changed its codes):
  it is kept and flagged rather than guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from mappings.dossier import VN_TZ
from mappings.versioned import Row, VersionedTable, read_rows

TABLE_PATH = Path(__file__).with_name("carrier_statuses.csv")


class PostalState(StrEnum):
    CREATED = "created"
    PICKED_UP = "picked_up"
    IN_TRANSIT = "in_transit"
    DELIVERING = "delivering"
    FAILED_ATTEMPT = "failed_attempt"
    DELIVERED = "delivered"
    RETURNED = "returned"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset({PostalState.DELIVERED, PostalState.RETURNED, PostalState.CANCELLED})

# How far along the way a parcel is: a move to a lower stage is backwards (illegal), except the
# one loop real deliveries make -- out for delivery or a failed attempt, then back to the office.
_STAGE = {
    PostalState.CREATED: 0,
    PostalState.PICKED_UP: 1,
    PostalState.IN_TRANSIT: 2,
    PostalState.DELIVERING: 3,
    PostalState.FAILED_ATTEMPT: 3,
    PostalState.DELIVERED: 4,
    PostalState.RETURNED: 4,
    PostalState.CANCELLED: 4,
}
_BACK_TO_OFFICE = frozenset({PostalState.DELIVERING, PostalState.FAILED_ATTEMPT})
_WHILE_RETURNING = frozenset({PostalState.IN_TRANSIT, PostalState.RETURNED})


@dataclass(frozen=True, slots=True, kw_only=True)
class CarrierStatusRow(Row):
    """``code`` is ``<carrier>:<status code>``; ``returning``: the parcel is on its way back."""

    name_vi: str
    state: str
    returning: bool

    def __post_init__(self) -> None:
        PostalState(self.state)  # refuses a typo at load time
        if ":" not in self.code:
            raise ValueError(f"code {self.code!r}: expected <carrier>:<status code>")


@lru_cache(maxsize=4)
def load_status_table(path: Path = TABLE_PATH) -> VersionedTable[CarrierStatusRow]:
    return VersionedTable("carrier_statuses", read_rows(path, CarrierStatusRow))


class StatusEvent(Protocol):
    """What the fold needs of an event: ``adapters.postal.carrier.CarrierEvent`` and a stored
    event both have it (the key is stored, as times come back from the database in UTC)."""

    @property
    def event_key(self) -> str: ...
    @property
    def carrier(self) -> str: ...
    @property
    def status_code(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...


@dataclass(frozen=True)
class Anomaly:
    """An event the machine refused, and why (kept for a person; the state did not move)."""

    event_key: str
    status_code: str
    occurred_at: datetime
    from_state: PostalState
    reason: str


@dataclass(frozen=True)
class Track:
    """An order's derived delivery state. ``state_at``: the carrier time of the last applied event."""

    state: PostalState = PostalState.CREATED
    returning: bool = False
    state_at: datetime | None = None
    status_code: str | None = None
    anomalies: tuple[Anomaly, ...] = ()

    @property
    def final(self) -> bool:
        return self.state.final


def _refusal(track: Track, target: PostalState) -> str | None:
    """Why ``track`` may not move to ``target`` (None: it may)."""
    current = track.state
    if current.final:
        return f"trạng thái cuối {current} không thể chuyển sang {target}"
    if target is PostalState.CANCELLED and current is not PostalState.CREATED:
        return f"không thể hủy đơn sau khi đã lấy hàng ({current})"
    if track.returning and target not in _WHILE_RETURNING:
        return f"đơn đang chuyển hoàn, không thể chuyển sang {target}"
    backwards = _STAGE[target] < _STAGE[current]
    if backwards and not (target is PostalState.IN_TRANSIT and current in _BACK_TO_OFFICE):
        return f"chuyển ngược {current} -> {target}"
    return None


def _unknown_status(event: StatusEvent) -> str:
    day = _hanoi_day(event.occurred_at)
    return f"mã trạng thái {event.carrier}:{event.status_code} không có trong bảng ngày {day}"


def _order_key(table: VersionedTable[CarrierStatusRow], event: StatusEvent) -> tuple[datetime, int, str, str]:
    row = lookup(table, event)
    stage = _STAGE[PostalState(row.state)] if row else -1
    return (event.occurred_at, stage, event.status_code, event.event_key)


def lookup(table: VersionedTable[CarrierStatusRow], event: StatusEvent) -> CarrierStatusRow | None:
    """The table row of an event's status on the (Hanoi) day the carrier says it happened."""
    return table.get(f"{event.carrier}:{event.status_code}", _hanoi_day(event.occurred_at))


def _hanoi_day(moment: datetime) -> date:
    return moment.astimezone(VN_TZ).date()


def fold(events: Iterable[StatusEvent], table: VersionedTable[CarrierStatusRow] | None = None) -> Track:
    """An order's state from its whole history, whatever order the events arrived in.

    Duplicates (the same ``event_key``) count once; events are applied by carrier time.
    """
    table = table or load_status_table()
    unique = {e.event_key: e for e in events}
    track = Track()
    anomalies: list[Anomaly] = []
    for event in sorted(unique.values(), key=lambda e: _order_key(table, e)):
        row = lookup(table, event)
        reason = _unknown_status(event) if row is None else _refusal(track, PostalState(row.state))
        if row is None or reason is not None:
            anomalies.append(Anomaly(event.event_key, event.status_code, event.occurred_at, track.state, reason or ""))
            continue
        target = PostalState(row.state)
        track = Track(
            state=target,
            returning=(track.returning or row.returning) and target is not PostalState.RETURNED,
            state_at=event.occurred_at,
            status_code=event.status_code,
        )
    return Track(track.state, track.returning, track.state_at, track.status_code, tuple(anomalies))


__all__ = [
    "FINAL_STATES",
    "Anomaly",
    "CarrierStatusRow",
    "PostalState",
    "StatusEvent",
    "Track",
    "fold",
    "load_status_table",
    "lookup",
]
