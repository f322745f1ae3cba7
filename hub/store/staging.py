"""Staging: every version of every source record, the current one per dossier, and the watermarks.

A record whose content is unchanged adds nothing, so re-running an extraction for the same data
interval leaves the same rows behind. A page is written in one transaction, each table with one
bulk call of the driver (``Database.insert_rows``: no per-row SQLAlchemy parameter building).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from itertools import repeat
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hub.store import schema as t
from hub.store.database import BulkInsert, Database, chunks, utc
from hub.store.facts import dossier_facts
from hub.store.records import SharedNumber, StageCounts, StagedRecord

_TEXT_FACTS = ("agency", "one_stop_no", "other_no", "applicant_key", "payment_gateway")  # "" where absent (no NULLs)
_FACT_NAMES = tuple(c.name for c in dossier_facts.columns)[3:]  # after source, dossier_no, content_hash

# The staging writes. A version already staged stays as it is (its first batch and time); the
# current pointer and the facts are overwritten by the newest version.
_VERSION = ("source", "dossier_no", "content_hash", "payload", "source_updated_at", "batch_id", "staged_at")
_POINTER = ("content_hash", "source_updated_at", "batch_id", "staged_at")
STAGED = BulkInsert(t.staged_dossier, _VERSION)
CURRENT = BulkInsert(
    t.dossier_current, tuple(c for c in _VERSION if c != "payload"), conflict=("source", "dossier_no"), update=_POINTER
)
FACTS = BulkInsert(
    dossier_facts,
    ("source", "dossier_no", "content_hash", *_FACT_NAMES),
    ("source", "dossier_no"),
    ("content_hash", *_FACT_NAMES),
)
SHARED = BulkInsert(t.shared_number, ("source", "dossier_no", "number", "record_id", "first_seen"))


# A record sharing its number with another source record is staged as "<number>#<record id>".
SHARED_KEY_SEPARATOR = "#"


def shared_key(number: str, record_id: str) -> str:
    """The staged key of a record that carries ``number`` after another record already held it."""
    return f"{number}{SHARED_KEY_SEPARATOR}{record_id}"


def number_of(dossier_key: str) -> str:
    """The dossier number a staged key stands for (the key itself, or its part before the separator)."""
    return dossier_key.partition(SHARED_KEY_SEPARATOR)[0]


def current_version_of(staged: sa.FromClause, current: sa.FromClause) -> sa.ColumnElement[bool]:
    """Join condition: the staged row that is ``current``'s version (same source, number, hash)."""
    return sa.and_(
        staged.c.source == current.c.source,
        staged.c.dossier_no == current.c.dossier_no,
        staged.c.content_hash == current.c.content_hash,
    )


def _fact_value(name: str, facts: Any) -> Any:
    """A fact as its column holds it: datetimes in UTC, "" for an absent text fact (the column's
    default; no NULLs there)."""
    value = getattr(facts, name)
    if name in _TEXT_FACTS:
        return value or ""
    return utc(value) if isinstance(value, datetime) else value


class Staging:
    def __init__(self, db: Database) -> None:
        self.db = db

    def stage(self, source: str, records: Sequence[StagedRecord], batch_id: str) -> StageCounts:
        """Store new versions of source records; a record whose content is unchanged adds nothing.

        A record carrying the number of another record (another ``record_id``) is not a new
        version of it: it is staged under its own key and both are listed as sharing the number
        (:meth:`shared_numbers`), for the plan to quarantine.
        """
        if not records:
            return StageCounts(0, 0)
        now = self.db.now()
        with self.db.writing() as conn:
            known = self._current_hashes(conn, source, sorted({r.dossier_no for r in records}))
            keyed = self._separate_shared_numbers(conn, source, records, known, now)
            latest = {r.dossier_no: r for r in keyed}  # a page may hold a record twice; keep the last
            if keyed is not records:  # some records moved to keys of their own
                known = self._current_hashes(conn, source, list(latest))
            fresh = [r for r in latest.values() if known.get(r.dossier_no) != r.content_hash]
            if fresh:
                versions = [
                    (source, r.dossier_no, r.content_hash, r.payload, utc(r.source_updated_at), batch_id, now)
                    for r in fresh
                ]
                self.db.insert_rows(conn, STAGED, versions)
                self.db.insert_rows(conn, CURRENT, [v[:3] + v[4:] for v in versions])  # all but the payload
                self._stage_facts(conn, source, [r for r in fresh if r.facts is not None])
        return StageCounts(new_versions=len(fresh), unchanged=len(records) - len(fresh))

    def _separate_shared_numbers(
        self,
        conn: Connection,
        source: str,
        records: Sequence[StagedRecord],
        current: dict[str, str],
        now: datetime,
    ) -> Sequence[StagedRecord]:
        """``records`` with every record that shares its number with another source record re-keyed
        to ``<number>#<record id>`` (the record that held the number first keeps it), the sharing
        recorded in ``shared_number``; the same sequence object when nothing moved.

        Cheap on the common path: the ids already staged are read only for numbers listed as shared
        before, or whose incoming content differs from the current version (an update, or another
        record) -- never for the unchanged majority of a re-read window.
        """
        by_number: dict[str, dict[str, None]] = defaultdict(dict)  # number -> record ids, page order
        for r in records:
            if r.record_id is not None:
                by_number[r.dossier_no][r.record_id] = None
        if not by_number:
            return records
        claims = self._claims(conn, source, list(by_number))
        changed = {
            r.dossier_no
            for r in records
            if r.record_id is not None
            and r.dossier_no not in claims
            and current.get(r.dossier_no) not in (None, r.content_hash)
        }
        holders = self._holder_ids(conn, source, sorted(changed))
        keys: dict[tuple[str, str], str] = {}
        fresh_claims: list[tuple[str, str, str, str, datetime]] = []
        for number, page_ids in by_number.items():
            claimed = claims.get(number, {})
            holder = holders.get(number)
            ids = list(dict.fromkeys([*(i for i in (holder,) if i is not None), *claimed, *page_ids]))
            if len(ids) < 2:
                continue
            first = next((i for i, key in claimed.items() if key == number), holder or ids[0])
            for record_id in ids:
                key = claimed.get(record_id) or (number if record_id == first else shared_key(number, record_id))
                keys[(number, record_id)] = key
                if record_id not in claimed:
                    fresh_claims.append((source, key, number, record_id, now))
        self.db.insert_rows(conn, SHARED, fresh_claims)
        if not keys:
            return records
        return [replace(r, dossier_no=keys.get((r.dossier_no, r.record_id or ""), r.dossier_no)) for r in records]

    def _claims(self, conn: Connection, source: str, numbers: list[str]) -> dict[str, dict[str, str]]:
        """number -> {record id: staged key} of the numbers already known to be shared."""
        sn, found = t.shared_number, defaultdict(dict)
        for chunk in chunks(numbers):
            query = sa.select(sn.c.number, sn.c.record_id, sn.c.dossier_no).where(
                sn.c.source == source, sn.c.number.in_(chunk)
            )
            for number, record_id, key in conn.execute(query):
                found[number][record_id] = key
        return dict(found)

    def _holder_ids(self, conn: Connection, source: str, numbers: list[str]) -> dict[str, str]:
        """number -> the source record id of its current staged version (where the payload has one)."""
        sd, dc, found = t.staged_dossier, t.dossier_current, {}
        for chunk in chunks(numbers):
            query = (
                sa.select(dc.c.dossier_no, sd.c.payload)
                .join(sd, current_version_of(sd, dc))
                .where(dc.c.source == source, dc.c.dossier_no.in_(chunk))
            )
            for number, payload in conn.execute(query):
                record_id = (json.loads(payload) if isinstance(payload, str) else payload or {}).get("id")
                if record_id is not None:
                    found[number] = str(record_id)
        return found

    def shared_numbers(self, source: str, dossier_nos: Sequence[str]) -> dict[str, SharedNumber]:
        """Of these staged keys, those whose dossier number other source records carry too."""
        sn, found = t.shared_number, {}
        with self.db.engine.connect() as conn:
            for chunk in chunks(list(dossier_nos)):
                numbers = sa.select(sn.c.number).where(sn.c.source == source, sn.c.dossier_no.in_(chunk))
                rows = conn.execute(
                    sa.select(sn.c.dossier_no, sn.c.number, sn.c.record_id)
                    .where(sn.c.source == source, sn.c.number.in_(numbers))
                    .order_by(sn.c.number, sn.c.record_id)
                ).all()
                ids: dict[str, list[str]] = defaultdict(list)
                for _key, number, record_id in rows:
                    ids[number].append(record_id)
                wanted = set(chunk)
                found.update(
                    (key, SharedNumber(key, number, tuple(ids[number]))) for key, number, _ in rows if key in wanted
                )
        return found

    def _stage_facts(self, conn: Connection, source: str, records: Sequence[StagedRecord]) -> None:
        """Upsert the versions' facts in the staging transaction (why: see ``hub.store.facts``)."""
        rows = [
            (source, r.dossier_no, r.content_hash, *map(_fact_value, _FACT_NAMES, repeat(r.facts))) for r in records
        ]
        self.db.insert_rows(conn, FACTS, rows)

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
