"""What a sandbox carrier holds: its orders, its simulated clock, and the status events the clock
has reached -- the same for both carriers, which differ only in codes and HTTP faces.

An order's events are never stored: they are its :func:`~sandbox.postal.journey.journey` cut at
the simulated clock (and at its cancellation, if the hub cancelled it), so a restarted carrier
with the same seed shows the same history. The clock is stored, moves only forward, and only
through ``/sandbox/clock``; a webhook batch is exactly the events between the old and new time.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from mappings.postal.s10 import make_s10
from sandbox.postal.journey import CANCELLABLE, Kind, Step, journey
from sandbox.sqlite_store import SqliteDatabase

__all__ = ["CarrierOrders", "CarrierProfile", "Event", "ItemCodeTaken", "Order"]

ORDER_DIGITS = 10  # an order id is the carrier's prefix and its sequence number, zero-padded
SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id     TEXT NOT NULL UNIQUE,
    reference    TEXT NOT NULL UNIQUE,
    item_code    TEXT NOT NULL,
    placed_at    TEXT NOT NULL,
    cancelled_at TEXT,
    body         TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
)
"""
CancelOutcome = Literal["cancelled", "not_found", "not_cancellable"]


class ItemCodeTaken(ValueError):
    """A customer-supplied item code another order already holds (a barcode prints on one parcel)."""


@dataclass(frozen=True)
class CarrierProfile:
    """How one carrier names things: order ids, its S10 service indicator, its status codes.

    ``statuses`` maps each journey step to (code, name), or to None for a step this carrier does
    not report (VNPost has no separate "awaiting pickup").
    """

    name: str
    order_prefix: str
    item_prefix: str
    statuses: Mapping[Kind, tuple[str, str] | None]


@dataclass(frozen=True, slots=True)
class Order:
    order_id: str
    reference: str
    item_code: str
    placed_at: datetime
    cancelled_at: datetime | None
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Event:
    """One status change as the carrier reports it; ``index``: its place among the order's events."""

    order: Order
    kind: Kind
    code: str
    name: str
    at: datetime
    index: int = 0


class CarrierOrders:
    """SQLite-backed orders of one sandbox carrier, with its simulated clock and seed."""

    def __init__(self, path: str | Path, profile: CarrierProfile, *, seed: int, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the simulated clock starts at an aware datetime")
        self.profile = profile
        self.db = SqliteDatabase(path, SCHEMA)
        with self.db.transaction() as conn:
            # The first start fixes seed and clock; a restart keeps both, so histories replay.
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('seed', ?)", (str(seed),))
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('clock', ?)", (start.isoformat(),))
            self.seed = int(conn.execute("SELECT value FROM meta WHERE key = 'seed'").fetchone()[0])

    # ----------------------------------------------------------------- clock

    def now(self) -> datetime:
        with self.db.read() as conn:
            return _clock(conn)

    def advance(self, to: datetime) -> list[Event]:
        """Move the clock to ``to`` and return the events that happened since, oldest first."""
        with self.db.transaction() as conn:
            before = _clock(conn)
            if to < before:
                raise ValueError(f"the simulated clock only moves forward (it is {before.isoformat()})")
            conn.execute("UPDATE meta SET value = ? WHERE key = 'clock'", (to.isoformat(),))
            orders = [_order(row) for row in conn.execute(f"SELECT {_COLUMNS} FROM orders ORDER BY seq")]
        events = [e for order in orders for e in self._events(order, to) if before < e.at]
        return sorted(events, key=lambda e: (e.at, e.order.order_id))

    # ----------------------------------------------------------------- orders

    def place(self, reference: str, body: dict[str, Any], item_code: str | None = None) -> tuple[Order, bool]:
        """The order for ``reference``: the existing one (False) or a new one placed now (True),
        under ``item_code`` where the customer supplies it (VNPost), else one the carrier makes.
        ``ItemCodeTaken`` when another order already holds the supplied code."""
        with self.db.transaction() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM orders WHERE reference = ?", (reference,)).fetchone()
            if row is not None:
                return _order(row), False
            if item_code and conn.execute("SELECT 1 FROM orders WHERE item_code = ?", (item_code,)).fetchone():
                raise ItemCodeTaken(item_code)
            seq = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM orders").fetchone()[0]
            order = Order(
                order_id=f"{self.profile.order_prefix}{seq:0{ORDER_DIGITS}d}",
                reference=reference,
                item_code=item_code or make_s10(self.profile.item_prefix, f"{seq:08d}"),
                placed_at=_clock(conn),
                cancelled_at=None,
                body=body,
            )
            conn.execute(
                "INSERT INTO orders (seq, order_id, reference, item_code, placed_at, body) VALUES (?,?,?,?,?,?)",
                (seq, order.order_id, reference, order.item_code, order.placed_at.isoformat(), _dump(body)),
            )
            return order, True

    def get(self, order_id: str) -> Order | None:
        with self.db.read() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM orders WHERE order_id = ?", (order_id,)).fetchone()
        return None if row is None else _order(row)

    def by_reference(self, reference: str) -> Order | None:
        with self.db.read() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM orders WHERE reference = ?", (reference,)).fetchone()
        return None if row is None else _order(row)

    def history(self, order: Order) -> list[Event]:
        """The order's events up to the simulated clock."""
        return self._events(order, self.now())

    def cancel(self, order_id: str) -> CancelOutcome:
        """Cancel at the current simulated time, if the parcel has not been picked up yet."""
        with self.db.transaction() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM orders WHERE order_id = ?", (order_id,)).fetchone()
            if row is None:
                return "not_found"
            order, now = _order(row), _clock(conn)
            # Where the parcel is, whether or not this carrier reports that step (VNPost has no code
            # for "waiting for pickup").
            past = [step for step in journey(self.seed, order.reference, order.placed_at) if step.at <= now]
            if order.cancelled_at is not None:
                return "cancelled"  # asked twice: the same outcome, nothing more happens
            if not past or past[-1].kind not in CANCELLABLE:
                return "not_cancellable"
            conn.execute("UPDATE orders SET cancelled_at = ? WHERE order_id = ?", (now.isoformat(), order_id))
            return "cancelled"

    def placed_since(self, moment: datetime) -> list[Order]:
        """Orders placed at or after ``moment`` (oldest first): those that may still report events."""
        with self.db.read() as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM orders ORDER BY seq").fetchall()
        return [order for order in map(_order, rows) if order.placed_at >= moment]

    def count(self) -> int:
        with self.db.read() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0])

    def _events(self, order: Order, until: datetime) -> list[Event]:
        steps = journey(self.seed, order.reference, order.placed_at)
        if order.cancelled_at is not None:
            steps = [s for s in steps if s.at < order.cancelled_at] + [Step("cancelled", order.cancelled_at)]
        events: list[Event] = []
        for step in steps:
            named = self.profile.statuses[step.kind]
            if named is not None and step.at <= until:
                events.append(Event(order, step.kind, named[0], named[1], step.at, len(events)))
        return events


_COLUMNS = "order_id, reference, item_code, placed_at, cancelled_at, body"


def _order(row: sqlite3.Row | tuple[Any, ...]) -> Order:
    order_id, reference, item_code, placed_at, cancelled_at, body = row
    return Order(
        order_id,
        reference,
        item_code,
        datetime.fromisoformat(placed_at),
        datetime.fromisoformat(cancelled_at) if cancelled_at else None,
        json.loads(body),
    )


def _clock(conn: sqlite3.Connection) -> datetime:
    return datetime.fromisoformat(conn.execute("SELECT value FROM meta WHERE key = 'clock'").fetchone()[0])


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
