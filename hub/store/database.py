"""The store's database: the engine, the write transaction, paged reads, chunking.

Public to the store package, so that every part of the store -- staging, deliveries, the outbox,
the quarantine, the message log, the work queue and the flow tables -- shares one engine and one
transaction discipline without reaching into another part's internals.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, Protocol, TypeVar

import orjson
import sqlalchemy as sa
from psycopg2.extras import execute_values
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect, Engine

from hub.store.records import JsonText
from mappings.text import has_raw_unstorable, storable

# Keeps IN (...) lists and multi-row statements under SQLite's bound-parameter limit.
CHUNK = 500
# Rows per multi-row INSERT statement on PostgreSQL (``execute_values``; psycopg2's own
# ``executemany``, which SQLAlchemy used here, is one round trip per row). 100, 250 and 1,000 cost
# the same CPU for a day's staging and outbox rows; the smaller pages waited less on the server.
PG_PAGE = 250

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


def bind_processors(
    table: sa.Table, columns: Sequence[str], dialect: Dialect
) -> list[tuple[int, Callable[[Any], Any]]]:
    """(position in ``columns``, converter) for each column whose value SQLAlchemy converts before
    the driver takes it (its type's bind processor: SQLite's timestamps as text, JSON, booleans) --
    so SQL sent to the driver directly stores exactly what ``conn.execute`` would have stored."""
    return [
        (i, process)
        for i, name in enumerate(columns)
        if (process := table.c[name].type.dialect_impl(dialect).bind_processor(dialect)) is not None
    ]


@dataclass(frozen=True)
class BulkInsert:
    """An idempotent multi-row INSERT of plain tuples (values in ``columns`` order), for the bulk
    write paths (staging, the outbox) where building a dict and a SQLAlchemy parameter set per row
    cost more than the write itself.

    ``conflict``: the unique key a duplicate row hits (empty: any unique constraint);
    ``update``: the columns a duplicate overwrites with the new row's values -- empty means the
    stored row is kept (``DO NOTHING``). Both stores have ``ON CONFLICT``, so the statement is the
    same SQL on each but for its placeholders.
    """

    table: sa.Table
    columns: tuple[str, ...]
    conflict: tuple[str, ...] = ()
    update: tuple[str, ...] = ()

    def sql(self, values: str) -> str:
        """The statement, with ``values`` as the placeholder of one row's values."""
        action = "NOTHING"
        if self.update:
            action = "UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in self.update)
        target = f"({', '.join(self.conflict)}) " if self.conflict else ""
        return (
            f"INSERT INTO {self.table.name} ({', '.join(self.columns)}) VALUES {values} ON CONFLICT {target}DO {action}"
        )


class Database:
    """One SQLAlchemy engine (a connection pool) per process and URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = _make_engine(url)
        # The dialect's INSERT: both have ON CONFLICT, which every idempotent write here relies on.
        self.insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        self._bulk_sql = cache(self._bulk_statement)

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

    def insert_new(
        self, table: sa.Table, key: str, rows: Sequence[dict[str, Any]], conn: sa.Connection | None = None
    ) -> int:
        """Insert ``rows``, ignoring those whose ``key`` is already stored; returns how many were new.
        The idempotent write of everything a partner may send twice (callbacks, polled events); inside
        the caller's transaction ``conn`` when the rows must commit with other writes (a feed's cursor)."""
        if conn is None:
            with self.engine.begin() as own:
                return self.insert_new(table, key, rows, own)
        statement = self.insert(table).on_conflict_do_nothing(index_elements=[key])
        return sum(conn.execute(statement, list(chunk)).rowcount or 0 for chunk in chunks(rows))

    def insert_rows(self, conn: Connection, spec: BulkInsert, rows: Sequence[Sequence[Any]]) -> int:
        """Write ``rows`` (tuples in ``spec.columns`` order) inside the caller's transaction with the
        driver's own bulk call; returns how many rows were inserted or updated (duplicates that
        ``DO NOTHING`` count 0).

        Values are converted exactly as SQLAlchemy converts them for these columns (its bind
        processors: JSON through the engine's serialiser, SQLite's datetime text), so the rows are
        the same as written through ``conn.execute``. SQLite: one ``executemany`` of a prepared
        statement; PostgreSQL: ``execute_values``, one multi-row statement per ``PG_PAGE`` rows.
        """
        if not rows:
            return 0
        sql, convert = self._bulk_sql(spec)
        values = [convert(row) for row in rows] if convert is not None else rows
        cursor = conn.connection.cursor()
        try:
            if self.engine.dialect.name != "postgresql":
                cursor.executemany(sql, values)
                return cursor.rowcount
            changed = 0
            for page in chunks(values, PG_PAGE):
                execute_values(cursor, sql, page, page_size=len(page))
                changed += cursor.rowcount
            return changed
        finally:
            cursor.close()

    def _bulk_statement(self, spec: BulkInsert) -> tuple[str, Callable[[Sequence[Any]], list[Any]] | None]:
        """``spec``'s statement in the driver's placeholder style, and the row converter (None when
        no column needs converting)."""
        dialect = self.engine.dialect
        # execute_values expands one "%s" into the page's rows; sqlite3 binds one "?" per value.
        sql = spec.sql("%s" if dialect.name == "postgresql" else f"({', '.join('?' for _ in spec.columns)})")
        processors = bind_processors(spec.table, spec.columns, dialect)
        if not processors:
            return sql, None

        def convert(row: Sequence[Any]) -> list[Any]:
            values = list(row)
            for i, process in processors:
                values[i] = process(values[i])
            return values

        return sql, convert

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


# Integers orjson may read differently from json.loads (beyond 64 bits) have at least 19 digits.
_LONG_DIGITS = re.compile(r"\d{19}")


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


def _from_json(text: str) -> Any:
    """JSON columns read back as ``json.loads`` reads them, by orjson at a fraction of the cost (the
    outbox payloads each delivery claims) wherever the two agree: not where orjson refuses the text
    (``NaN``, lone surrogates, very deep nesting, ``1e400``), nor where it holds a run of 19 digits
    or more (orjson reads an integer beyond 64 bits as a float; a long number in a string only costs
    the standard decoder)."""
    if _LONG_DIGITS.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # Mapped Airflow tasks write from several processes: wait for the lock instead of failing.
        engine = sa.create_engine(
            url, connect_args={"timeout": 60}, json_serializer=_to_json, json_deserializer=_from_json
        )

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return sa.create_engine(
        url, pool_pre_ping=True, pool_size=5, max_overflow=5, json_serializer=_to_json, json_deserializer=_from_json
    )
