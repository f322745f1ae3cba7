"""The quarantine: records that broke a named rule, with a readable reason and the record as held.

An entry stays open until a newer version of the record passes (the fix came from the source) or,
for the population register's verdicts, a later verification settles it. Replay (``reopen``)
hands quarantined dossiers back to the ordinary sync plan instead of sending anything itself.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hub.store import schema as t
from hub.store.database import Database, chunks
from hub.store.records import OutboxState, QuarantineItem
from mappings.delivery import DeliveryState

REOPENED = ""  # a disposition hash no staged version has: the plan takes the dossier up again


class Quarantine:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, items: Sequence[QuarantineItem]) -> None:
        """Keep what broke a rule; seeing the same breach again updates ``last_seen``, not a new row."""
        if items:
            with self.db.engine.begin() as conn:
                self.add_in(conn, items)

    def add_in(self, conn: Connection, items: Sequence[QuarantineItem]) -> None:
        """:meth:`add` inside the caller's transaction (with the plan or the verdict that found it)."""
        if not items:
            return
        now = self.db.now()
        upsert = self.db.insert(t.quarantine)
        statement = upsert.on_conflict_do_update(
            index_elements=["source", "dossier_no", "rule"],
            set_={
                "reason": upsert.excluded.reason,
                "content_hash": upsert.excluded.content_hash,
                "payload": upsert.excluded.payload,
                "last_seen": upsert.excluded.last_seen,
                "occurrences": t.quarantine.c.occurrences + 1,
                "resolved_at": None,
            },
        )
        rows = [
            {
                "source": i.source,
                "dossier_no": i.dossier_no,
                "rule": i.rule,
                "reason": i.reason,
                "content_hash": i.content_hash,
                "payload": i.payload,
                "first_seen": now,
                "last_seen": now,
                "occurrences": 1,
            }
            for i in items
        ]
        for chunk in chunks(rows):
            conn.execute(statement, list(chunk))

    def resolve(self, source: str, dossier_nos: Sequence[str]) -> int:
        """Close open entries of dossiers whose newest version passed: the fix arrived from the source."""
        with self.db.engine.begin() as conn:
            return self.resolve_in(conn, source, dossier_nos)

    def resolve_in(
        self, conn: Connection, source: str, dossier_nos: Sequence[str], *, rule_prefix: str | None = None
    ) -> int:
        """:meth:`resolve` inside the caller's transaction; ``rule_prefix`` closes only those rules."""
        q = t.quarantine
        open_entries = [q.c.source == source, q.c.resolved_at.is_(None)]
        if rule_prefix is not None:
            open_entries.append(q.c.rule.startswith(rule_prefix))
        resolved = 0
        for chunk in chunks(list(dossier_nos)):
            update = q.update().where(*open_entries, q.c.dossier_no.in_(chunk)).values(resolved_at=self.db.now())
            resolved += conn.execute(update).rowcount or 0
        return resolved

    def open_entries(self, source: str | None = None) -> list[dict[str, Any]]:
        q = t.quarantine
        query = (
            sa.select(
                q.c.source,
                q.c.dossier_no,
                q.c.rule,
                q.c.reason,
                q.c.first_seen,
                q.c.last_seen,
                q.c.occurrences,
            )
            .where(q.c.resolved_at.is_(None))
            .order_by(q.c.rule, q.c.dossier_no)
        )
        if source is not None:
            query = query.where(q.c.source == source)
        with self.db.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def known(self) -> dict[str, list[str]]:
        """Every rule and source the quarantine ever held an entry under (open or resolved), sorted:
        what an operator's filter can name."""
        q = t.quarantine
        with self.db.engine.connect() as conn:
            rules = conn.execute(sa.select(q.c.rule).distinct().order_by(q.c.rule)).scalars().all()
            sources = conn.execute(sa.select(q.c.source).distinct().order_by(q.c.source)).scalars().all()
        return {"rule": list(rules), "source": list(sources)}

    def counts_by_rule(self, source: str | None = None) -> dict[str, int]:
        return dict(Counter(row["rule"] for row in self.open_entries(source)))

    def entries_of(self, dossier_no: str) -> list[dict[str, Any]]:
        """Every entry of one dossier, open first, resolved or not, with the record as it was held."""
        q = t.quarantine
        query = sa.select(q).where(q.c.dossier_no == dossier_no).order_by(q.c.resolved_at.is_not(None), q.c.rule)
        with self.db.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def reopen(self, *, partner: str, source: str, dossier_nos: Sequence[str]) -> int:
        """Make the dossiers' quarantined dispositions unsettled and their dead messages pending again.

        Returns how many dead messages were requeued. The next sync plan then considers the
        dossiers like any other (same gate, same outbox, same idempotency keys).
        """
        dlv, ob = t.delivery, t.outbox
        now = self.db.now()
        with self.db.engine.begin() as conn:
            conn.execute(
                dlv.update()
                .where(
                    dlv.c.partner == partner,
                    dlv.c.source == source,
                    dlv.c.state == DeliveryState.QUARANTINED.value,
                    dlv.c.dossier_no.in_(list(dossier_nos)),
                )
                .values(content_hash=REOPENED, updated_at=now)
            )
            requeued = conn.execute(
                ob.update()
                .where(
                    ob.c.partner == partner,
                    ob.c.state == OutboxState.DEAD.value,
                    ob.c.dossier_no.in_(list(dossier_nos)),
                )
                .values(state=OutboxState.PENDING.value, attempts=0, next_attempt_at=now, batch_id=None, updated_at=now)
            ).rowcount
        return int(requeued or 0)
