"""S10 item codes the hub allocates itself, from the blocks a carrier issued to the city (VNPost).

A code printed on one parcel must never be printed on another: two parcels under one barcode
cannot both be traced, and the carrier refuses a code it already holds. So allocation is durable
and monotonic:

- ``postal_item_block`` holds each block's ``next_serial``; allocating takes serials from it and
  moves it on in the same transaction that records the codes (``Database.writing``: the write
  lock on SQLite, the block row's lock on PostgreSQL), so concurrent batches never share a serial
  and a crash after the commit loses nothing but unused numbers;
- ``postal_item_code`` keeps every code with the result it was given to. A code is ``allocated``
  until the carrier's answer is recorded: ``used`` when the order was accepted, ``void`` when it
  was refused. A result sent again after an outage or a crash gets its same ``allocated`` code back
  (the carrier may hold the order already; a second code would be a second parcel); a void code is
  never handed out again, and a result re-planned after a refusal gets a new one.

``status`` says how many serials a block has left and whether that is at or below its alert
threshold, so the city asks the carrier for a new block before the old one runs out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from hub.store import schema as t
from hub.store.database import chunks
from hub.store.store import HubStore
from mappings.postal.s10 import ItemCodeRange


class CodeState(StrEnum):
    ALLOCATED = "allocated"
    USED = "used"
    VOID = "void"


@dataclass(frozen=True)
class BlockStatus:
    """How far a block is used: ``alert`` once ``remaining`` is at or below ``alert_at``."""

    carrier: str
    series: str
    size: int
    remaining: int
    alert_at: int

    @property
    def alert(self) -> bool:
        return self.remaining <= self.alert_at

    def as_dict(self) -> dict[str, Any]:
        return {**vars(self), "alert": self.alert}


@dataclass(frozen=True)
class Allocation:
    """Codes per reference; ``short`` lists the references the block had no serial left for."""

    codes: dict[str, str]
    short: list[str]
    status: BlockStatus


class ItemCodes:
    """Allocation of S10 codes from carriers' blocks, on the hub store's database."""

    def __init__(self, store: HubStore) -> None:
        self.db = store.db

    def allocate(self, carrier: str, block: ItemCodeRange, references: Sequence[str]) -> Allocation:
        """A code for each reference: the one it already holds unsettled, else the block's next serial."""
        block_row, code = t.postal_item_block, t.postal_item_code
        now = self.db.now()
        wanted = list(dict.fromkeys(references))
        with self.db.writing() as conn:
            upsert = self.db.insert(block_row).values(
                series=block.series, carrier=carrier, first_serial=block.first, last_serial=block.last,
                next_serial=block.first, alert_at=block.alert_at, updated_at=now,
            )  # fmt: skip
            conn.execute(upsert.on_conflict_do_update(index_elements=["series"], set_={"alert_at": block.alert_at}))
            held: dict[str, str] = {}
            for chunk in chunks(wanted):
                rows = conn.execute(
                    sa.select(code.c.reference, code.c.item_code).where(
                        code.c.series == block.series,
                        code.c.carrier == carrier,
                        code.c.state == CodeState.ALLOCATED.value,
                        code.c.reference.in_(list(chunk)),
                    )
                )
                held.update({reference: item_code for reference, item_code in rows})
            fresh = [reference for reference in wanted if reference not in held]
            next_serial = conn.execute(
                sa.select(block_row.c.next_serial).where(block_row.c.series == block.series).with_for_update()
            ).scalar_one()
            taken = min(len(fresh), block.last - next_serial + 1)
            new = {reference: block.code(next_serial + i) for i, reference in enumerate(fresh[:taken])}
            if new:
                conn.execute(
                    block_row.update()
                    .where(block_row.c.series == block.series)
                    .values(next_serial=next_serial + taken, updated_at=now)
                )
                rows = [
                    {
                        "item_code": c,
                        "series": block.series,
                        "carrier": carrier,
                        "reference": r,
                        "state": CodeState.ALLOCATED.value,
                        "allocated_at": now,
                        "updated_at": now,
                    }
                    for r, c in new.items()
                ]
                for chunk in chunks(rows):
                    conn.execute(code.insert(), list(chunk))
        status = BlockStatus(carrier, block.series, block.size, block.last - (next_serial + taken) + 1, block.alert_at)
        return Allocation({**held, **new}, fresh[taken:], status)

    def settle(self, outcomes: Mapping[str, CodeState]) -> None:
        """Record what became of allocated codes (``{item_code: used | void}``); one statement."""
        if not outcomes:
            return
        code = t.postal_item_code
        statement = (
            code.update()
            .where(code.c.item_code == sa.bindparam("b_code"), code.c.state == CodeState.ALLOCATED.value)
            .values(state=sa.bindparam("b_state"), updated_at=self.db.now())
        )
        with self.db.engine.begin() as conn:
            conn.execute(statement, [{"b_code": c, "b_state": s.value} for c, s in outcomes.items()])

    def blocks(self) -> list[BlockStatus]:
        """Every block the hub has allocated from, with its use so far (for summaries and alerts)."""
        block_row = t.postal_item_block
        with self.db.engine.connect() as conn:
            rows = conn.execute(sa.select(block_row).order_by(block_row.c.carrier, block_row.c.series)).all()
        return [
            BlockStatus(
                r.carrier, r.series, r.last_serial - r.first_serial + 1, r.last_serial - r.next_serial + 1, r.alert_at
            )
            for r in rows
        ]

    def states(self, carrier: str) -> dict[str, int]:
        """Codes per state (for reports and tests)."""
        code = t.postal_item_code
        query = sa.select(code.c.state, sa.func.count()).where(code.c.carrier == carrier).group_by(code.c.state)
        with self.db.engine.connect() as conn:
            counts = dict(conn.execute(query).all())
        return {s.value: int(counts.get(s.value, 0)) for s in CodeState}


__all__ = ["Allocation", "BlockStatus", "CodeState", "ItemCodes"]
