"""The portal outbox: one message per dossier version and operation, keyed for idempotency (a
dossier's progress history is one message: one hash over all its entries).

Messages move through the shared work queue (``pending`` -> ``sent`` -> ``acknowledged``, or
``failed`` with a retry time, or ``dead``); ``superseded`` retires an unsent message a newer
version replaced. A sync plan writes a whole page -- messages, quarantine, dispositions -- in one
transaction, so a crash can never leave a page's messages queued without their dispositions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hub.store import schema as t
from hub.store.database import BulkInsert, Database, chunks, utc
from hub.store.deliveries import Deliveries
from hub.store.quarantine import Quarantine
from hub.store.records import ClaimedMessage, Disposition, OutboxMessage, OutboxState, QuarantineItem, Settlement
from hub.store.work_queue import LEASE, QueueSpec, WorkQueue
from signing.digests import content_hash

QUEUE = QueueSpec(
    table=t.outbox,
    key=("id",),
    ready=(OutboxState.PENDING.value,),
    retrying=(OutboxState.FAILED.value,),
    claimed=OutboxState.SENT.value,
)
# A message whose idempotency key is queued already is never queued again, whatever its state.
MESSAGES = BulkInsert(
    t.outbox,
    (
        "idempotency_key",
        "partner",
        "operation",
        "dossier_no",
        "content_hash",
        "payload",
        "state",
        "attempts",
        "next_attempt_at",
        "created_at",
        "updated_at",
    ),
    conflict=("idempotency_key",),
)


class Outbox:
    def __init__(self, db: Database, deliveries: Deliveries, quarantine: Quarantine) -> None:
        self.db = db
        self.queue = WorkQueue(db, QUEUE)
        self._deliveries = deliveries
        self._quarantine = quarantine

    def enqueue(self, messages: Sequence[OutboxMessage]) -> int:
        """Add messages; one whose idempotency key exists already is ignored. Returns how many were new."""
        if not messages:
            return 0
        with self.db.engine.begin() as conn:
            return self._enqueue(conn, messages)

    def _enqueue(self, conn: Connection, messages: Sequence[OutboxMessage]) -> int:
        now, pending = self.db.now(), OutboxState.PENDING.value
        rows = [
            (
                m.idempotency_key,
                m.partner,
                m.operation,
                m.dossier_no,
                m.content_hash,
                m.payload,
                pending,
                0,
                now,
                now,
                now,
            )
            for m in messages
        ]
        return self.db.insert_rows(conn, MESSAGES, rows)

    def supersede(self, partner: str, operation: str, current: dict[str, str]) -> int:
        """Retire unsent messages for older versions of the given dossiers (dossier -> current hash)."""
        if not current:
            return 0
        with self.db.writing() as conn:
            return self._supersede(conn, partner, operation, current)

    def _supersede(self, conn: Connection, partner: str, operation: str, current: dict[str, str]) -> int:
        ob = t.outbox
        open_states = [OutboxState.PENDING.value, OutboxState.FAILED.value]
        retired = 0
        for chunk in chunks(list(current)):
            rows = conn.execute(
                sa.select(ob.c.id, ob.c.dossier_no, ob.c.content_hash).where(
                    ob.c.partner == partner,
                    ob.c.operation == operation,
                    ob.c.state.in_(open_states),
                    ob.c.dossier_no.in_(chunk),
                )
            )
            stale = [row_id for row_id, dossier_no, h in rows if current[dossier_no] != h]
            if stale:
                conn.execute(
                    ob.update()
                    .where(ob.c.id.in_(stale))
                    .values(state=OutboxState.SUPERSEDED.value, updated_at=self.db.now())
                )
                retired += len(stale)
        return retired

    def record_plan(
        self,
        partner: str,
        operation: str,
        source: str,
        *,
        considered: Sequence[str],
        current: dict[str, str],
        messages: Sequence[OutboxMessage],
        quarantine: Sequence[QuarantineItem],
        dispositions: Sequence[Disposition],
    ) -> tuple[int, int]:
        """Write one page of a sync plan in one transaction; returns (superseded, queued).

        Retires messages of older versions (``current``: dossier -> newest hash), queues the new
        ones, closes the quarantine of the ``considered`` dossiers and re-opens what broke a rule
        again, and records every disposition. One commit instead of five per page, and a crash
        can no longer leave a page's messages queued without their dispositions.
        """
        with self.db.writing() as conn:
            superseded = self._supersede(conn, partner, operation, current) if current else 0
            queued = self._enqueue(conn, messages)
            self._quarantine.resolve_in(conn, source, considered)
            self._quarantine.add_in(conn, quarantine)
            self._deliveries.set_in(conn, partner, dispositions)
        return superseded, queued

    def assign_batches(
        self,
        partner: str,
        operation: str,
        batch_size: int,
        *,
        lease: timedelta = LEASE,
        require_delivered_dossier: bool = False,
    ) -> list[str]:
        """Group the messages due now into batches and return their ids (what DAG tasks map over).

        ``require_delivered_dossier`` holds back messages (progress entries) whose dossier the
        partner has not acknowledged yet.
        """
        ob, dlv = t.outbox, t.delivery
        where = [ob.c.partner == partner, ob.c.operation == operation]
        if require_delivered_dossier:
            delivered = sa.and_(dlv.c.partner == ob.c.partner, dlv.c.dossier_no == ob.c.dossier_no)
            where.append(sa.exists().where(delivered, dlv.c.acked_hash.is_not(None)))
        return self.queue.assign(batch_size, operation, *where, lease=lease)

    def claim_batch(self, batch_id: str) -> list[ClaimedMessage]:
        """Take a batch's still-open messages for sending and mark them sent."""
        ob, dlv = t.outbox, t.delivery
        query = sa.select(
            ob.c.id,
            ob.c.idempotency_key,
            ob.c.dossier_no,
            ob.c.content_hash,
            ob.c.payload,
            ob.c.attempts,
            dlv.c.acked_hash.is_not(None),
        ).outerjoin(dlv, sa.and_(dlv.c.partner == ob.c.partner, dlv.c.dossier_no == ob.c.dossier_no))
        return [ClaimedMessage(*row[:6], updating=bool(row[6])) for row in self.queue.claim(batch_id, query)]

    def settle(self, partner: str, settlements: Sequence[Settlement], *, acks_deliver_dossier: bool) -> None:
        """Apply send outcomes in bulk.

        ``acks_deliver_dossier`` is true for the operation whose acknowledgement means "the partner
        now holds this dossier version": those acknowledgements move the dossier to ``delivered``.
        """
        if not settlements:
            return
        ob, now = t.outbox, self.db.now()
        params = [
            {
                "k_id": s.message_id,
                "b_state": s.state.value,
                "b_tried": 1,
                "b_error": s.error,
                "b_next": s.next_attempt_at,
            }
            for s in settlements
        ]
        acked = [s.message_id for s in settlements if s.state is OutboxState.ACKNOWLEDGED and acks_deliver_dossier]
        with self.db.engine.begin() as conn:
            self.queue.settle_in(
                conn, params, last_error=sa.bindparam("b_error"), next_attempt_at=sa.bindparam("b_next")
            )
            for chunk in chunks(acked):
                versions = conn.execute(sa.select(ob.c.dossier_no, ob.c.content_hash).where(ob.c.id.in_(chunk))).all()
                self._deliveries.acknowledge_in(conn, partner, [(d, h) for d, h in versions], now)

    def counts(self, partner: str) -> dict[str, dict[str, int]]:
        """Messages per operation and state, for summaries and `hub outbox status`."""
        ob = t.outbox
        query = (
            sa.select(ob.c.operation, ob.c.state, sa.func.count())
            .where(ob.c.partner == partner)
            .group_by(ob.c.operation, ob.c.state)
        )
        counts: dict[str, dict[str, int]] = {}
        with self.db.engine.connect() as conn:
            for operation, state, n in conn.execute(query):
                counts.setdefault(operation, {})[state] = int(n)
        return counts

    def record_counts(self, partner: str) -> dict[str, dict[str, int]]:
        """Like :meth:`counts`, but counting the records the messages carry: a dossier's progress
        history is one message and as many records as it has entries."""
        ob = t.outbox
        if self.db.engine.dialect.name == "postgresql":
            is_list, length = sa.func.jsonb_typeof(ob.c.payload) == "array", sa.func.jsonb_array_length(ob.c.payload)
        else:
            is_list, length = sa.func.json_type(ob.c.payload) == "array", sa.func.json_array_length(ob.c.payload)
        carried = sa.func.sum(sa.case((is_list, length), else_=1))
        query = sa.select(ob.c.operation, ob.c.state, carried).where(ob.c.partner == partner)
        counts: dict[str, dict[str, int]] = {}
        with self.db.engine.connect() as conn:
            for operation, state, n in conn.execute(query.group_by(ob.c.operation, ob.c.state)):
                counts.setdefault(operation, {})[state] = int(n)
        return counts

    def record_states(
        self, partner: str, operation: str, dossier_nos: Sequence[str]
    ) -> dict[tuple[str, str], OutboxState]:
        """The state of every record the messages of these dossiers carry, by (dossier, record's
        content hash): a progress entry is found inside its dossier's history message. Where two
        messages carry one record (two versions' histories share their first steps), a settled
        state (acknowledged, then dead) wins over an open one."""
        ob, found = t.outbox, {}
        rank = {OutboxState.ACKNOWLEDGED: 0, OutboxState.DEAD: 1}
        with self.db.engine.connect() as conn:
            for chunk in chunks(sorted(set(dossier_nos))):
                query = sa.select(ob.c.dossier_no, ob.c.payload, ob.c.state).where(
                    ob.c.partner == partner, ob.c.operation == operation, ob.c.dossier_no.in_(chunk)
                )
                for dossier_no, payload, state in conn.execute(query):
                    for record in payload if isinstance(payload, list) else [payload]:
                        key, new = (dossier_no, content_hash(record)), OutboxState(state)
                        if key not in found or rank.get(new, 2) < rank.get(found[key], 2):
                            found[key] = new
        return found

    def states(self, idempotency_keys: Sequence[str]) -> dict[str, OutboxState]:
        """The state of each message named by its idempotency key (unknown keys are left out)."""
        ob, found = t.outbox, {}
        with self.db.engine.connect() as conn:
            for chunk in chunks(list(idempotency_keys)):
                query = sa.select(ob.c.idempotency_key, ob.c.state).where(ob.c.idempotency_key.in_(chunk))
                found.update((key, OutboxState(state)) for key, state in conn.execute(query))
        return found

    def oldest_pending_age(self, partner: str) -> timedelta | None:
        ob = t.outbox
        with self.db.engine.connect() as conn:
            oldest = conn.execute(
                sa.select(sa.func.min(ob.c.created_at)).where(
                    ob.c.partner == partner, ob.c.state.in_(QUEUE.open_states)
                )
            ).scalar()
        return None if oldest is None else self.db.now() - utc(oldest)
