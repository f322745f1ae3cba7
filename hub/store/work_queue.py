"""One work queue over any table whose rows are items to work on: assign batches, claim, settle.

The portal outbox, the ministry pushes, the postal orders and the population checks all move work
the same way, so they share this one implementation:

- **assign** cuts the items due now into batches and writes each item's ``batch_id``; the ids are
  what DAG tasks map over (XCom carries references, never data);
- **claim** hands a batch's still-open items to the task that works on them and, where the table
  has a claimed state, marks them so -- in the same write transaction, so no other assignment
  sees them as due until the lease runs out (a claimer that died leaves its items due again);
- **settle** records each item's outcome in one statement and counts the attempt.

What differs per table is declared in a :class:`QueueSpec` (key, state column, which states are
due when); what each flow hands over or records beyond that stays with the flow.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hub.store.database import Database, chunks

# How long a claimed item belongs to its claimer before it is due again (the claimer is presumed
# dead; every partner answers a repeat idempotently, so a resend is harmless).
LEASE = timedelta(minutes=15)


@dataclass(frozen=True)
class QueueSpec:
    """How a table serves as a queue.

    ``ready`` states are due at once, ``retrying`` states once ``next_attempt_at`` has come, and
    ``claimed`` (the state a claim sets; None: a claim only reads) once the lease has run out.
    Together they are the open states a claim takes. The table has ``batch_id``, ``attempts``
    and ``updated_at`` columns.
    """

    table: sa.Table
    key: tuple[str, ...]
    state: str = "state"
    ready: tuple[str, ...] = ()
    retrying: tuple[str, ...] = ()
    claimed: str | None = None

    @property
    def open_states(self) -> tuple[str, ...]:
        return (*self.ready, *self.retrying, *((self.claimed,) if self.claimed else ()))


class WorkQueue:
    def __init__(self, db: Database, spec: QueueSpec) -> None:
        self.db = db
        self.spec = spec
        self._table = spec.table
        self._state = spec.table.c[spec.state]
        self._key = [spec.table.c[name] for name in spec.key]

    def due(self, lease: timedelta = LEASE) -> sa.ColumnElement[bool]:
        """Items to assign now: ready, retrying with the retry time reached, or claimed past the lease."""
        spec, table, now = self.spec, self._table, self.db.now()
        due: list[sa.ColumnElement[bool]] = []
        if spec.ready:
            due.append(self._state.in_(spec.ready))
        if spec.retrying:
            due.append(sa.and_(self._state.in_(spec.retrying), table.c.next_attempt_at <= now))
        if spec.claimed:
            due.append(sa.and_(self._state == spec.claimed, table.c.updated_at <= now - lease))
        return sa.or_(*due)

    def assign(
        self,
        batch_size: int,
        prefix: str,
        *where: sa.ColumnElement[bool],
        due: sa.ColumnElement[bool] | None = None,
        lease: timedelta = LEASE,
    ) -> list[str]:
        """Batch the items ``where`` selects that are due (``due``, else :meth:`due`); return the batch ids."""
        query = sa.select(*self._key).where(*where, self.due(lease) if due is None else due).order_by(*self._key)
        with self.db.writing() as conn:
            keys = [tuple(row) for row in conn.execute(self._locking(query))]
            return self._cut(conn, keys, batch_size, prefix)

    def assign_per(
        self, group: str, batch_size: int, prefix: str, *where: sa.ColumnElement[bool], lease: timedelta = LEASE
    ) -> dict[str, list[str]]:
        """Like :meth:`assign`, with separate batches per value of column ``group`` (a batch goes to one
        carrier): ``{value: [batch ids]}``, each id ``<prefix>-<value>-...``."""
        column = self._table.c[group]
        query = sa.select(column, *self._key).where(*where, self.due(lease)).order_by(column, *self._key)
        with self.db.writing() as conn:
            rows = conn.execute(self._locking(query)).all()
            return {
                value: self._cut(conn, [tuple(row[1:]) for row in members], batch_size, f"{prefix}-{value}")
                for value, members in itertools.groupby(rows, key=lambda row: row[0])
            }

    def _locking(self, query: sa.Select[Any]) -> sa.Select[Any]:
        """PostgreSQL: lock the due items as they are read, skipping those another transaction holds
        (being claimed, or assigned by a concurrent run). So an item is never moved to a new batch
        while it is claimed, and concurrent assignments share the work instead of taking it from each
        other. SQLite's write lock covers the whole transaction already (no FOR UPDATE there)."""
        return query.with_for_update(of=self._table, skip_locked=True)

    def _cut(self, conn: Connection, keys: Sequence[tuple[Any, ...]], batch_size: int, prefix: str) -> list[str]:
        batch_ids: list[str] = []
        for batch in chunks(keys, batch_size):
            batch_id = f"{prefix}-{uuid.uuid4().hex[:12]}"
            for part in chunks(batch):
                conn.execute(self._table.update().where(self._keyed(part)).values(batch_id=batch_id))
            batch_ids.append(batch_id)
        return batch_ids

    def _keyed(self, keys: Sequence[tuple[Any, ...]]) -> sa.ColumnElement[bool]:
        if len(self._key) == 1:
            return self._key[0].in_([key[0] for key in keys])
        return sa.tuple_(*self._key).in_(list(keys))

    def claim(self, batch_id: str, query: sa.Select[Any]) -> list[sa.Row[Any]]:
        """The batch's open items as ``query`` selects them (the columns handed over, with their joins),
        in key order, marked claimed in the same transaction.

        A batch claimed again (its task retried) hands over the same items: a claimed item stays
        open until it is settled, and only the lease lets another batch take it.
        """
        spec, table = self.spec, self._table
        in_batch = (table.c.batch_id == batch_id, self._state.in_(spec.open_states))
        query = query.where(*in_batch).order_by(*self._key)
        if spec.claimed is None:
            with self.db.engine.connect() as conn:
                return list(conn.execute(query).all())
        with self.db.writing() as conn:
            # PostgreSQL: lock the items as they are read, so a concurrent assignment cannot move
            # one to another batch between this read and the mark below (SQLite's lock is whole).
            rows = list(conn.execute(query.with_for_update(of=table)).all())
            if rows:
                conn.execute(
                    table.update().where(*in_batch).values({spec.state: spec.claimed, "updated_at": self.db.now()})
                )
        return rows

    def settle(self, params: Sequence[Mapping[str, Any]], *where: sa.ColumnElement[bool], **values: Any) -> None:
        """:meth:`settle_in` in a transaction of its own."""
        if params:
            with self.db.engine.begin() as conn:
                self.settle_in(conn, params, *where, **values)

    def settle_in(
        self, conn: Connection, params: Sequence[Mapping[str, Any]], *where: sa.ColumnElement[bool], **values: Any
    ) -> None:
        """Record outcomes in one statement, inside the caller's transaction (which may write more).

        Each params row names its item by key (``k_<column>``), its new state (``b_state``) and
        whether it was an attempt (``b_tried``, 1 or 0). ``values`` set the flow's own columns from
        its own ``b_...`` parameters, or replace a default (keeping the state as it is, say).
        """
        if not params:
            return
        table = self._table
        statement = (
            table.update()
            .where(*(column == sa.bindparam(f"k_{column.name}") for column in self._key), *where)
            .values(
                {
                    self.spec.state: sa.bindparam("b_state"),
                    "attempts": table.c.attempts + sa.bindparam("b_tried"),
                    "updated_at": self.db.now(),
                    **values,
                }
            )
        )
        conn.execute(statement, list(params))
