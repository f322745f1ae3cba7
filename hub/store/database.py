"""The store's database: the engine, the write transaction, paged reads, chunking.

Public to the store package, so that every part of the store -- staging, deliveries, the outbox,
the quarantine, the message log, the work queue and the flow tables -- shares one engine and one
transaction discipline without reaching into another part's internals.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from hub.store.records import JsonText
from mappings.text import has_raw_unstorable, storable

# Keeps IN (...) lists and multi-row statements under SQLite's bound-parameter limit.
CHUNK = 500

Item = TypeVar("Item")
Row = TypeVar("Row", bound="KeyedRow")


class KeyedRow(Protocol):
    dossier_no: str


def chunks(items: Sequence[Item], size: int = CHUNK) -> Iterator[Sequence[Item]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def utc(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back without a zone; the store always writes UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Database:
    """One SQLAlchemy engine (a connection pool) per process and URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = _make_engine(url)
        # The dialect's INSERT: both have ON CONFLICT, which every idempotent write here relies on.
        self.insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert

    def now(self) -> datetime:
        return datetime.now(UTC)

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A transaction that reads, then writes what it read, with no other writer in between.

        SQLite: ``BEGIN IMMEDIATE`` takes the database's write lock (waiting for it) before the
        first read. A plain BEGIN would read under a snapshot and then fail at once with
        "database is locked" when another connection -- a concurrent mapped task -- committed
        meanwhile, because a stale snapshot cannot be upgraded to a write. PostgreSQL's row locks
        need nothing special here.
        """
        if self.engine.dialect.name != "sqlite":
            with self.engine.begin() as conn:
                yield conn
            return
        with self.engine.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    def keyset_pages(
        self, query: sa.Select[Any], key: sa.ColumnElement[str], page_size: int, make: Callable[..., Row]
    ) -> Iterator[list[Row]]:
        """``query``'s rows as ``make(*row)``, in pages ordered by dossier number ``key``.

        Each page is read in its own short transaction after the caller has handled the previous
        one, so callers may write decisions for a page before the next is read.
        """
        after = ""
        while True:
            paged = query.where(key > after).order_by(key).limit(page_size)
            with self.engine.connect() as conn:
                page = [make(*row) for row in conn.execute(paged)]
            if not page:
                return
            yield page
            after = page[-1].dossier_no


def _to_json(value: Any) -> str:
    """JSON columns: text serialised already (``JsonText``) goes in as it is; anything else is
    encoded compactly with UTF-8 kept (a Vietnamese dossier is a fifth smaller than with
    ``\\uXXXX`` escapes, so less to write and to read back). NUL and lone surrogates, which
    PostgreSQL refuses, are written as visible escapes on every store (``mappings.text``)."""
    if isinstance(value, JsonText):
        return value
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if "\\u0000" in text or has_raw_unstorable(text):  # PostgreSQL refuses both; store them escaped alike
        text = json.dumps(storable(value), ensure_ascii=False, separators=(",", ":"))
    return text


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # Mapped Airflow tasks write from several processes: wait for the lock instead of failing.
        engine = sa.create_engine(url, connect_args={"timeout": 60}, json_serializer=_to_json)

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, json_serializer=_to_json)
