"""Deliveries: where the current version of each dossier stands with each partner (``delivery``).

The four states partition the staged dossiers, which is what lets a summary prove that
extracted = delivered + pending + quarantined + out of scope. Planning writes dispositions; only
an acknowledgement from the partner (settled through the outbox) moves the acknowledged hash.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hub.store import schema as t
from hub.store.database import Database, chunks
from hub.store.partitions import WHOLE, Partition
from hub.store.records import CurrentRecord, Disposition
from hub.store.staging import current_version_of
from mappings.delivery import DeliveryState


class _Key(NamedTuple):
    dossier_no: str


class Deliveries:
    def __init__(self, db: Database) -> None:
        self.db = db

    def set(self, partner: str, dispositions: Sequence[Disposition]) -> None:
        """Record where each dossier version stands; the acknowledged hash is never touched here."""
        if dispositions:
            with self.db.engine.begin() as conn:
                self.set_in(conn, partner, dispositions)

    def set_in(self, conn: Connection, partner: str, dispositions: Sequence[Disposition]) -> None:
        """:meth:`set` inside the caller's transaction (a sync plan writes a page at once)."""
        if not dispositions:
            return
        now = self.db.now()
        upsert = self.db.insert(t.delivery)
        statement = upsert.on_conflict_do_update(
            index_elements=["partner", "dossier_no"],
            set_={c: upsert.excluded[c] for c in ("source", "content_hash", "state", "reason", "updated_at")},
        )
        rows = [
            {
                "partner": partner,
                "dossier_no": d.dossier_no,
                "source": d.source,
                "content_hash": d.content_hash,
                "state": d.state.value,
                "reason": d.reason,
                "updated_at": now,
            }
            for d in dispositions
        ]
        for chunk in chunks(rows):
            conn.execute(statement, list(chunk))

    def acknowledge_in(self, conn: Connection, partner: str, versions: Sequence[tuple[str, str]], at: datetime) -> None:
        """The partner now holds these (dossier, hash) versions: a version still current is delivered."""
        if not versions:
            return
        dlv = t.delivery
        conn.execute(
            dlv.update()
            .where(dlv.c.partner == partner, dlv.c.dossier_no == sa.bindparam("b_dossier"))
            .values(
                acked_hash=sa.bindparam("b_hash"),
                acked_at=at,
                updated_at=at,
                state=sa.case(
                    (dlv.c.content_hash == sa.bindparam("b_hash"), DeliveryState.DELIVERED.value),
                    else_=dlv.c.state,
                ),
            ),
            [{"b_dossier": d, "b_hash": h} for d, h in versions],
        )

    def iter_unsettled(
        self, source: str, partner: str, batch_size: int, partition: Partition = WHOLE
    ) -> Iterator[list[CurrentRecord]]:
        """Current versions the partner's delivery state has not yet caught up with -- including
        one whose number another source record turned out to carry too (``shared_number``) and
        that is not quarantined yet, though its content did not change -- of ``partition``.

        Keyset-paged by dossier number, so the caller may update delivery states between pages.
        """
        cur, staged, dlv, sn = t.dossier_current, t.staged_dossier, t.delivery, t.shared_number
        shared = sa.select(sn.c.dossier_no).where(sn.c.source == source)
        query = (
            sa.select(cur.c.dossier_no, cur.c.content_hash, staged.c.payload, dlv.c.acked_hash)
            .join(staged, current_version_of(staged, cur))
            .outerjoin(dlv, sa.and_(dlv.c.partner == partner, dlv.c.dossier_no == cur.c.dossier_no))
            .where(
                cur.c.source == source,
                sa.or_(
                    dlv.c.content_hash.is_(None),
                    dlv.c.content_hash != cur.c.content_hash,
                    sa.and_(dlv.c.state != DeliveryState.QUARANTINED.value, cur.c.dossier_no.in_(shared)),
                ),
            )
        )
        if partition.whole:
            return self.db.keyset_pages(query, cur.c.dossier_no, batch_size, CurrentRecord)
        return self._partition_pages(query, partition, batch_size)

    def _partition_pages(
        self, query: sa.Select[Any], partition: Partition, batch_size: int
    ) -> Iterator[list[CurrentRecord]]:
        """``query``'s rows of ``partition`` in pages of about ``batch_size``: the keys alone are
        paged through (the partition is a hash of the number, which neither store computes alike),
        and only this partition's rows are read whole, payload included."""
        key = t.dossier_current.c.dossier_no
        keys = query.with_only_columns(key)
        for page in self.db.keyset_pages(keys, key, batch_size * partition.count, _Key):
            mine = [k.dossier_no for k in page if partition.holds(k.dossier_no)]
            if not mine:
                continue
            with self.db.engine.connect() as conn:
                rows = [
                    CurrentRecord(*row) for chunk in chunks(mine) for row in conn.execute(query.where(key.in_(chunk)))
                ]
            yield sorted(rows, key=lambda r: r.dossier_no)

    def counts(self, partner: str, source: str | None = None) -> dict[str, int]:
        """Dossiers per delivery state (every state present, zero when empty)."""
        query = (
            sa.select(t.delivery.c.state, sa.func.count())
            .where(t.delivery.c.partner == partner)
            .group_by(t.delivery.c.state)
        )
        if source is not None:
            query = query.where(t.delivery.c.source == source)
        with self.db.engine.connect() as conn:
            counts = dict(conn.execute(query).all())
        return {state.value: int(counts.get(state.value, 0)) for state in DeliveryState}

    def states(self, partner: str, dossier_nos: Sequence[str]) -> dict[str, str]:
        """Where each dossier stands with the partner now (what a quarantine replay reports at the end)."""
        dlv = t.delivery
        query = sa.select(dlv.c.dossier_no, dlv.c.state).where(
            dlv.c.partner == partner, dlv.c.dossier_no.in_(list(dossier_nos))
        )
        with self.db.engine.connect() as conn:
            return dict(conn.execute(query).all())
