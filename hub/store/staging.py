"""Staging: every version of every source record, the current one per dossier, and the watermarks.

A record whose content is unchanged adds nothing, so re-running an extraction for the same data
interval leaves the same rows behind.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hub.store import schema as t
from hub.store.database import Database, chunks, utc
from hub.store.facts import dossier_facts
from hub.store.records import StageCounts, StagedRecord

_TEXT_FACTS = ("agency", "one_stop_no", "other_no", "applicant_key")  # "" where absent (no NULLs)


def current_version_of(staged: sa.FromClause, current: sa.FromClause) -> sa.ColumnElement[bool]:
    """Join condition: the staged row that is ``current``'s version (same source, number, hash)."""
    return sa.and_(
        staged.c.source == current.c.source,
        staged.c.dossier_no == current.c.dossier_no,
        staged.c.content_hash == current.c.content_hash,
    )


class Staging:
    def __init__(self, db: Database) -> None:
        self.db = db

    def stage(self, source: str, records: Sequence[StagedRecord], batch_id: str) -> StageCounts:
        """Store new versions of source records; a record whose content is unchanged adds nothing."""
        if not records:
            return StageCounts(0, 0)
        latest = {r.dossier_no: r for r in records}  # a page may hold a record twice; keep the last
        now = self.db.now()
        with self.db.engine.begin() as conn:
            known = self._current_hashes(conn, source, list(latest))
            fresh = [r for r in latest.values() if known.get(r.dossier_no) != r.content_hash]
            if fresh:
                rows = [
                    {
                        "source": source,
                        "dossier_no": r.dossier_no,
                        "content_hash": r.content_hash,
                        "payload": r.payload,
                        "source_updated_at": utc(r.source_updated_at),
                        "batch_id": batch_id,
                        "staged_at": now,
                    }
                    for r in fresh
                ]
                conn.execute(self.db.insert(t.staged_dossier).on_conflict_do_nothing(), rows)
                upsert = self.db.insert(t.dossier_current)
                conn.execute(
                    upsert.on_conflict_do_update(
                        index_elements=["source", "dossier_no"],
                        set_={
                            c: upsert.excluded[c]
                            for c in ("content_hash", "source_updated_at", "batch_id", "staged_at")
                        },
                    ),
                    [{k: row[k] for k in row if k != "payload"} for row in rows],
                )
                self._stage_facts(conn, source, [r for r in fresh if r.facts is not None])
        return StageCounts(new_versions=len(fresh), unchanged=len(records) - len(fresh))

    def _stage_facts(self, conn: Connection, source: str, records: Sequence[StagedRecord]) -> None:
        """Upsert the versions' facts in the staging transaction (why: see ``hub.store.facts``)."""
        if not records:
            return
        rows = [
            {
                "source": source,
                "dossier_no": r.dossier_no,
                "content_hash": r.content_hash,
                **{k: utc(v) if isinstance(v, datetime) else v for k, v in vars(r.facts).items()},
                **{k: getattr(r.facts, k) or "" for k in _TEXT_FACTS},  # "" is absent, as the column default
            }
            for r in records
        ]
        upsert = self.db.insert(dossier_facts)
        kept = [c.name for c in dossier_facts.columns if c.name not in ("source", "dossier_no")]
        conn.execute(
            upsert.on_conflict_do_update(
                index_elements=["source", "dossier_no"], set_={c: upsert.excluded[c] for c in kept}
            ),
            rows,
        )

    def _current_hashes(self, conn: Connection, source: str, dossier_nos: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in chunks(dossier_nos):
            query = sa.select(t.dossier_current.c.dossier_no, t.dossier_current.c.content_hash).where(
                t.dossier_current.c.source == source, t.dossier_current.c.dossier_no.in_(chunk)
            )
            found.update(dict(conn.execute(query).all()))
        return found

    def count(self, source: str, batch_ids: Iterable[str] | None = None) -> int:
        """Current dossiers of ``source`` (only those last staged by ``batch_ids``, when given)."""
        query = sa.select(sa.func.count()).select_from(t.dossier_current).where(t.dossier_current.c.source == source)
        if batch_ids is not None:
            query = query.where(t.dossier_current.c.batch_id.in_(list(batch_ids)))
        with self.db.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def watermark(self, source: str) -> datetime | None:
        with self.db.engine.connect() as conn:
            value = conn.execute(sa.select(t.watermark.c.value).where(t.watermark.c.source == source)).scalar()
        return utc(value)

    def advance_watermark(self, source: str, value: datetime) -> datetime:
        """Move the watermark forward only: a re-run of an older interval never rewinds it."""
        current = self.watermark(source)
        target = max(v for v in (current, utc(value)) if v is not None)
        upsert = self.db.insert(t.watermark)
        with self.db.engine.begin() as conn:
            conn.execute(
                upsert.on_conflict_do_update(
                    index_elements=["source"],
                    set_={"value": upsert.excluded.value, "updated_at": upsert.excluded.updated_at},
                ),
                {"source": source, "value": target, "updated_at": self.db.now()},
            )
        return target
