"""Copy the columns reconciliation needs from the hub store into DuckDB as streamed Arrow batches.

DuckDB's sqlite/postgres scanners are extensions downloaded at first use, and this hub runs where
only the package registries are reachable, so the store is read with ADBC (the SQLite and
PostgreSQL drivers are Python wheels): each query comes back as a stream of Arrow record batches
that DuckDB consumes as it reads them -- no Python object per row, and Python never holds more
than the batch in flight. DuckDB keeps the rest in its own columnar storage and spills to disk
under its memory limit. Payloads are never read (the facts come from ``dossier_facts``), so no
personal data enters.

ADBC's SQLite driver types each column from the first batch it reads, so a nullable text column
that starts with NULLs would be typed as an integer and fail on its first string: nullable text
and timestamps are read as text with ``''`` for NULL and turned back into NULLs in DuckDB, and
text columns are cast back to text there (an empty result comes typed as integers).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

import duckdb
import sqlalchemy as sa


class StoreDatabase(Protocol):
    """The hub store's database as reconciliation reads it (``hub.store.Database``, a store's ``db``,
    is one): the SQLAlchemy engine for small reads and the dialect, the URL for ADBC's streams.
    Structural, so quality does not import the store it reads."""

    url: str
    engine: sa.engine.Engine


@dataclass(frozen=True)
class ReadScope:
    """What one reconciliation reads, whether from the store (``load_store``) or from its columnar
    copy (``quality.reconcile.columnar.load_from_copy``): the city's and the ministries' pull-backs'
    dossiers (``ministry_prefix``: the sources' common prefix) of the days ``first`` .. ``last``,
    ``partner``'s delivery records, the portal's export fetched for ``snapshot_period`` (None: not
    fetched), and how the store is streamed (``_streams``: ``batch_rows`` rows per Arrow batch over
    ``parts`` connections)."""

    city_source: str
    ministry_prefix: str
    partner: str
    first: date
    last: date
    snapshot_period: str | None
    batch_rows: int
    parts: int


# Dossier numbers are {agency}-{YYMMDD}-{NNNN}: the agency and the intake day, read in SQL.
_AGENCY = "split_part(dossier_no::VARCHAR, '-', 1)"
_NUMBER_DAY = "try_strptime(split_part(dossier_no::VARCHAR, '-', 2), '%y%m%d')::DATE"
HANOI_OFFSET = "INTERVAL 7 HOUR"  # Vietnam has kept UTC+7, without daylight saving, since 1975

# The yes/no facts of ``dossier_facts`` read into ``dossier``, in column order (NULL -- no facts -- is no).
FLAG_FACTS = (
    "digitised",
    "paid_online",
    "return_by_post",
    "submitted_via_portal",
    "vneid_verified",
    "fee_payable",
    "identified",
    "result_coded",
)
# The store's rows as read (``copy_store``), typed, every period, each with its write stamp: what
# ``period_views`` pick the period from, kept in the session for one run (``load_store``) or in a
# file between runs (``quality.reconcile.columnar``). ``delivery`` holds one partner's rows. What
# does not depend on the period is computed once, when a row is copied: the day a number carries
# (``numbered``), a version's day (``day``) and the agency its number names (``number_agency``).
STORE_TABLES = ("version", "delivery", "quarantine", "postal", "portal")
_STORE_DDL = f"""
CREATE TABLE {{schema}}.version (
    source VARCHAR, dossier_no VARCHAR, content_hash VARCHAR, updated TIMESTAMP,
    procedure VARCHAR, status INTEGER, channel INTEGER, received TIMESTAMP, due TIMESTAMP, finished TIMESTAMP,
    {", ".join(f"{flag} BOOLEAN" for flag in FLAG_FACTS)}, consulted_databases INTEGER, has_facts BOOLEAN,
    fact_agency VARCHAR, one_stop_no VARCHAR, other_no VARCHAR, applicant_key VARCHAR, payment_gateway VARCHAR,
    fee_total BIGINT, stamp TIMESTAMP, numbered DATE, day DATE, number_agency VARCHAR);
CREATE TABLE {{schema}}.delivery (
    dossier_no VARCHAR, source VARCHAR, state VARCHAR, acked_hash VARCHAR, stamp TIMESTAMP, numbered DATE);
CREATE TABLE {{schema}}.quarantine (
    id BIGINT, source VARCHAR, dossier_no VARCHAR, rule VARCHAR, open BOOLEAN, stamp TIMESTAMP, numbered DATE);
CREATE TABLE {{schema}}.postal (
    reference VARCHAR, source VARCHAR, dossier_no VARCHAR, dispatch VARCHAR, parcel VARCHAR, reason VARCHAR,
    stamp TIMESTAMP, numbered DATE);
CREATE TABLE {{schema}}.portal (period VARCHAR, dossier_no VARCHAR, fetched_at VARCHAR);
"""


def create_store_tables(db: duckdb.DuckDBPyConnection, schema: str) -> None:
    """The store tables of ``STORE_TABLES``, empty, in ``schema`` (a schema or an attached database)."""
    db.execute(_STORE_DDL.replace("{schema}", schema))


def adbc_connect(url: str) -> Any:
    """An ADBC DB-API connection to the store at SQLAlchemy ``url`` -- the one place the URL is translated."""
    parsed = sa.engine.make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise ValueError("reconciliation reads the store over its own connection: an in-memory SQLite cannot")
        import adbc_driver_sqlite.dbapi

        return adbc_driver_sqlite.dbapi.connect(parsed.database)
    if backend == "postgresql":
        import adbc_driver_postgresql.dbapi

        # libpq takes the URL without SQLAlchemy's "+driver" part; the query string passes through.
        return adbc_driver_postgresql.dbapi.connect(parsed.set(drivername="postgresql").render_as_string(False))
    raise ValueError(f"no ADBC driver for a {backend} store")


@contextmanager
def _streams(url: str, dialect: str, sql: str, rowid_of: str, batch_rows: int, parts: int) -> Iterator[list[Any]]:
    """``sql``'s result as ``pyarrow.RecordBatchReader`` s whose union is the whole result.

    SQLite answers a query on one thread, and turning its rows into Arrow is most of a
    reconciliation's cost, so on SQLite the rows of the driving table ``rowid_of`` (an alias in
    ``sql``) are split into ``parts`` rowid ranges, each read on its own connection while DuckDB
    scans them all in parallel (batches of ``batch_rows`` rows). ``sql`` holds ``{part}`` where the
    range condition goes. PostgreSQL does the work server-side and streams one COPY.
    """
    if dialect != "sqlite":
        parts = 1
    with ExitStack() as stack:
        conns = [stack.enter_context(closing(adbc_connect(url))) for _ in range(parts)]
        conditions = ["TRUE"]
        if parts > 1:
            table, alias = rowid_of.split()
            with closing(conns[0].cursor()) as cur:
                cur.execute(f"SELECT min(rowid), max(rowid) FROM {table}")
                low, high = cur.fetchone() or (None, None)
            if low is not None:
                step = (high - low) // parts + 1
                conditions = [
                    f"{alias}.rowid BETWEEN {low + k * step} AND {low + (k + 1) * step - 1}" for k in range(parts)
                ]
        readers = []
        for conn, condition in zip(conns, conditions, strict=False):
            cur = stack.enter_context(closing(conn.cursor()))
            if dialect == "sqlite":
                cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(batch_rows)})
            cur.execute(sql.replace("{part}", condition))
            readers.append(cur.fetch_record_batch())
        yield readers


def _scanned(column: str, dialect: str) -> str:
    """``column`` kept out of SQLite's index choice: a filter every row of a year passes (partner,
    source, period) would otherwise pick an index over the whole table and walk it once per rowid
    range, instead of reading the range (``+x`` is SQLite's no-op that disqualifies an index)."""
    return f"+{column}" if dialect == "sqlite" else column


def literal(value: str) -> str:
    """``value`` as an SQL string literal (the same on SQLite, PostgreSQL and DuckDB)."""
    return "'" + value.replace("'", "''") + "'"


def text_time(column: str, dialect: str) -> str:
    """A timestamp as ISO text in UTC, ``''`` for NULL (SQLite already stores the store's UTC as text)."""
    if dialect == "postgresql":
        return f"coalesce(to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), '')"
    return f"coalesce({column}, '')"


def _time(column: str) -> str:
    return f"TRY_CAST(nullif({column}::VARCHAR, '') AS TIMESTAMP)"


def _maybe_in_period(column: str, dialect: str, first: date, last: date) -> str:
    """False only for a number whose ``YYMMDD`` field is a valid day outside ``first``..``last``.

    Such a row cannot be in the period on either side (a number carries the same day wherever it is
    held), so the store skips it before it is converted to Arrow -- a day's reconciliation of a
    year's store reads that day's rows. Anything else (no day in the number, a day that does not
    exist, 29 February) is read and dated exactly in DuckDB. Two-digit years order like dates only
    inside one century, so other periods read everything.
    """
    if not _numbered_periods(first, last):
        return "TRUE"
    day, valid = _number_field(column, dialect)
    # Cheapest test first: inside a year's store every row fails it and costs one substr.
    return f"NOT ({day} NOT BETWEEN '{first:%y%m%d}' AND '{last:%y%m%d}' AND {valid})"


def _numbered_periods(first: date, last: date) -> bool:
    return first.year >= 2000 and last.year <= 2068  # %y reads 69-99 as 19xx


def _number_field(column: str, dialect: str) -> tuple[str, str]:
    """A number's ``YYMMDD`` field (after its first dash) and the condition that it is one: six
    digits ending the number or followed by a dash, naming a day every year has."""
    dash = f"{'strpos' if dialect == 'postgresql' else 'instr'}({column}, '-')"
    day = f"substr({column}, {dash} + 1, 6)"
    digits = f"{day} ~ '^[0-9]{{6}}$'" if dialect == "postgresql" else f"{day} GLOB '{'[0-9]' * 6}'"
    valid = (
        f"{dash} > 0 AND substr({column}, {dash} + 7, 1) IN ('-', '') AND {digits} "
        f"AND {_real_day(f'substr({day}, 3, 2)', f'substr({day}, 5, 2)')}"
    )
    return day, valid


def _numbered(column: str) -> str:
    """In DuckDB, when a row is copied: the day ``_maybe_in_period`` reads in the number (in 20YY),
    or NULL, so that each reconciliation compares a date rather than parsing every number again."""
    day, valid = _number_field(column, "duckdb")
    parts = ", ".join(f"substr({day}, {at}, 2)::INTEGER" for at in (1, 3, 5))
    return f"CASE WHEN {valid} THEN make_date(2000 + {parts}) END"


def _in_days(first: date, last: date) -> str:
    """``_maybe_in_period`` over the copied ``numbered`` column."""
    if not _numbered_periods(first, last):
        return "TRUE"
    return f"(numbered IS NULL OR numbered BETWEEN DATE '{first}' AND DATE '{last}')"


def _real_day(month: str, day: str) -> str:
    """A day every year has (29 February is left to DuckDB, which knows leap years)."""
    return (
        f"({month} BETWEEN '01' AND '12' AND ({day} BETWEEN '01' AND '28' "
        f"OR ({month} <> '02' AND {day} BETWEEN '29' AND '30') "
        f"OR ({month} IN ('01', '03', '05', '07', '08', '10', '12') AND {day} = '31')))"
    )


def _flag(column: str) -> str:
    """0/1 on both databases (SQLite stores booleans as integers, NULL from the outer join -> 0)."""
    return f"CASE WHEN {column} THEN 1 ELSE 0 END"


@dataclass(frozen=True)
class StoreRead:
    """How one store table is read into its table of ``STORE_TABLES``.

    ``source``: the store's FROM clause, whose first alias the rowid ranges split (``_streams``);
    ``scope``: which of its rows the copy ever holds; ``stamp``: the store expression of a row's
    last write (``db.now()`` of the transaction that wrote it), None where rows are replaced by
    period instead; ``key``: what identifies a row, so a re-read row replaces its old copy;
    ``counted``: the scope as an index answers it, to count the store's rows cheaply.
    """

    table: str
    columns: str
    source: str
    scope: str
    stamp: str | None
    key: tuple[str, ...]
    insert: str
    counted: str = "TRUE"

    @property
    def driving(self) -> str:
        """The table and alias the rowid ranges split (``source`` opens with them)."""
        return " ".join(self.source.split()[:2])

    def sql(self, where: str) -> str:
        """The rows of the scope meeting ``where``, with ``{part}`` left for the rowid range."""
        return f"SELECT {self.columns} FROM {self.source} WHERE {{part}} AND {self.scope} AND ({where})"


def store_reads(dialect: str, partner: str) -> dict[str, StoreRead]:
    """The reads of ``STORE_TABLES`` from a ``dialect`` store, ``delivery`` being ``partner``'s."""
    time = functools.partial(text_time, dialect=dialect)
    # A quarantine entry is written again when the breach recurs (last_seen) or is resolved (resolved_at).
    resolved = (
        "greatest(q.last_seen, q.resolved_at)"
        if dialect == "postgresql"
        else "max(q.last_seen, coalesce(q.resolved_at, q.last_seen))"
    )
    # A version's day: the one its number carries, else the day it was received, else last updated, in Hanoi.
    day = (
        f"coalesce({_NUMBER_DAY}, ({_time('received')} + {HANOI_OFFSET})::DATE, "
        f"({_time('updated')} + {HANOI_OFFSET})::DATE)"
    )
    reads = (
        StoreRead(
            "version",
            f"""c.source, c.dossier_no, c.content_hash, {time("c.source_updated_at")} AS updated,
                coalesce(f.procedure_code, '') AS procedure, f.status, f.channel,
                {time("f.received_at")} AS received, {time("f.due_at")} AS due, {time("f.finished_at")} AS finished,
                {", ".join(f"{_flag('f.' + flag)} AS {flag}" for flag in FLAG_FACTS)},
                coalesce(f.consulted_databases, 0) AS consulted_databases,
                CASE WHEN f.dossier_no IS NULL THEN 0 ELSE 1 END AS has_facts,
                coalesce(f.agency, '') AS fact_agency, coalesce(f.one_stop_no, '') AS one_stop_no,
                coalesce(f.other_no, '') AS other_no, coalesce(f.applicant_key, '') AS applicant_key,
                coalesce(f.payment_gateway, '') AS payment_gateway, coalesce(f.fee_total, 0) AS fee_total,
                {time("c.staged_at")} AS stamp""",
            "dossier_current c LEFT JOIN dossier_facts f"
            " ON f.source = c.source AND f.dossier_no = c.dossier_no AND f.content_hash = c.content_hash",
            "TRUE",
            "c.staged_at",
            ("source", "dossier_no"),
            f"""SELECT source::VARCHAR, dossier_no::VARCHAR, content_hash::VARCHAR, {_time("updated")},
                nullif(procedure::VARCHAR, ''), status::INTEGER, channel::INTEGER,
                {_time("received")}, {_time("due")}, {_time("finished")},
                {", ".join(f"{flag}::BOOLEAN" for flag in FLAG_FACTS)}, consulted_databases::INTEGER,
                has_facts::BOOLEAN, nullif(fact_agency::VARCHAR, ''), nullif(one_stop_no::VARCHAR, ''),
                nullif(other_no::VARCHAR, ''), nullif(applicant_key::VARCHAR, ''),
                nullif(payment_gateway::VARCHAR, ''), fee_total::BIGINT, {_time("stamp")},
                {_numbered("dossier_no::VARCHAR")}, {day}, {_AGENCY}""",
        ),
        StoreRead(
            "delivery",
            "d.dossier_no, d.source, d.state, coalesce(d.acked_hash, '') AS acked_hash, "
            f"{time('d.updated_at')} AS stamp",
            "delivery d",
            f"{_scanned('d.partner', dialect)} = {literal(partner)}",
            "d.updated_at",
            ("dossier_no",),
            "SELECT dossier_no::VARCHAR, source::VARCHAR, state::VARCHAR, nullif(acked_hash::VARCHAR, ''), "
            f"{_time('stamp')}, {_numbered('dossier_no::VARCHAR')}",
            f"d.partner = {literal(partner)}",  # ix_delivery_state
        ),
        StoreRead(
            "quarantine",
            f"q.id, q.source, q.dossier_no, q.rule, CASE WHEN q.resolved_at IS NULL THEN 1 ELSE 0 END AS open, "
            f"{time(resolved)} AS stamp",
            "quarantine q",
            "TRUE",
            resolved,
            ("id",),
            "SELECT id::BIGINT, source::VARCHAR, dossier_no::VARCHAR, rule::VARCHAR, open::BOOLEAN, "
            f"{_time('stamp')}, {_numbered('dossier_no::VARCHAR')}",
        ),
        StoreRead(
            "postal",
            "o.reference, o.source, o.dossier_no, o.dispatch, coalesce(o.state, '') AS parcel, "
            f"coalesce(o.reason, '') AS reason, {time('o.updated_at')} AS stamp",
            "postal_order o",
            "TRUE",
            "o.updated_at",
            ("reference",),
            "SELECT reference::VARCHAR, source::VARCHAR, dossier_no::VARCHAR, dispatch::VARCHAR, "
            f"nullif(parcel::VARCHAR, ''), nullif(reason::VARCHAR, ''), {_time('stamp')}, "
            f"{_numbered('dossier_no::VARCHAR')}",
        ),
        StoreRead(
            "portal",
            f"s.period, s.dossier_no, {time('s.fetched_at')} AS fetched_at",
            "portal_snapshot s",
            "TRUE",
            None,
            ("period", "dossier_no"),
            "SELECT period::VARCHAR, dossier_no::VARCHAR, fetched_at::VARCHAR",
        ),
    )
    return {read.table: read for read in reads}


def only_adbc(store: StoreDatabase) -> None:
    """Leave ADBC the only reader of a SQLite store's file in this process, before it reads.

    ADBC links its own copy of SQLite. Two copies in one process do not share their view of a WAL
    database's open files: while the store's pool holds pysqlite connections, ADBC was seen to read
    a stale snapshot (and a copy closing its descriptor drops the other's POSIX locks). Closing the
    pool first makes ADBC the only copy with the file open.
    """
    if store.engine.dialect.name == "sqlite":
        store.engine.dispose()


def copy_store(
    db: duckdb.DuckDBPyConnection,
    schema: str,
    store: StoreDatabase,
    reads: Sequence[tuple[StoreRead, str]],
    *,
    batch_rows: int,
    parts: int,
    replace: bool,
) -> dict[str, tuple[int, datetime | None]]:
    """Stream each ``(read, where)``'s rows into ``schema``'s table; per table, the rows read and
    the newest stamp among them (None: no row, or a table without stamps).

    ``replace``: the rows read replace the table's rows with the same key (an incremental refresh);
    otherwise they are appended (a table being filled).
    """
    dialect = store.engine.dialect.name
    only_adbc(store)
    read_rows: dict[str, tuple[int, datetime | None]] = {}
    for read, where in reads:
        target = f"{schema}.{read.table}"
        into = "changed" if replace else target
        if replace:
            db.execute(f"CREATE OR REPLACE TEMP TABLE changed AS FROM {target} LIMIT 0")
        with _streams(store.url, dialect, read.sql(where), read.driving, batch_rows, parts) as readers:
            names = [f"part_{k}" for k in range(len(readers))]
            for name, reader in zip(names, readers, strict=True):
                db.register(name, reader)
            try:
                batch = "(" + " UNION ALL ".join(f"FROM {n}" for n in names) + ")"
                db.execute(f"INSERT INTO {into} {read.insert} FROM {batch}")
            finally:
                for name in names:
                    db.unregister(name)
        newest = "max(stamp)" if read.stamp is not None else "NULL"
        ((count, stamp),) = db.execute(f"SELECT count(*), {newest} FROM {into}").fetchall()
        read_rows[read.table] = (count, stamp)
        if replace:
            same = " AND ".join(f"t.{k} = c.{k}" for k in read.key)
            db.execute(f"DELETE FROM {target} t USING changed c WHERE {same}")
            db.execute(f"INSERT INTO {target} FROM changed")
            db.execute("DROP TABLE changed")
    return read_rows


def period_views(db: duckdb.DuckDBPyConnection, schema: str, scope: ReadScope) -> None:
    """Create the views the reconciliation compares, over the store tables in ``schema``:
    ``dossier`` (city and ministry, with facts), ``delivery``, ``quarantine`` (open entries),
    ``postal`` (the city's results sent by post: dispatch and delivery state) and ``portal`` (the
    portal's export fetched for ``scope.snapshot_period``; empty when None).

    Views, not tables: the compare reads the period's rows where they are (the columnar copy's
    file, or the session's tables of one store read) instead of first copying them once more.

    Dossiers are kept with ``in_period`` rather than only the period's: whether a ministry dossier
    is also the city's must not depend on which day each side dated it. Only rows whose number
    puts them outside the period on every side are left out (``_maybe_in_period``, read from the
    ``numbered`` day computed when the row was copied).
    """
    in_days = _in_days(scope.first, scope.last)
    city = f"source = {literal(scope.city_source)}"
    ministry = f"source LIKE {literal(scope.ministry_prefix + '%')}"
    period = literal(scope.snapshot_period) if scope.snapshot_period is not None else "NULL"
    db.execute(
        f"""
        CREATE TEMP VIEW dossier AS
        SELECT source, dossier_no, content_hash,
            CASE WHEN {city} THEN number_agency ELSE coalesce(fact_agency, number_agency) END AS agency, day,
            coalesce(day BETWEEN DATE '{scope.first}' AND DATE '{scope.last}', false) AS in_period,
            procedure, status, channel, received, due, finished, {", ".join(FLAG_FACTS)}, consulted_databases,
            has_facts, one_stop_no, other_no, applicant_key, payment_gateway, fee_total
        FROM {schema}.version
        WHERE ({city} OR {ministry}) AND {in_days};
        CREATE TEMP VIEW delivery AS
        SELECT dossier_no, state, acked_hash FROM {schema}.delivery WHERE {city} AND {in_days};
        CREATE TEMP VIEW quarantine AS
        SELECT dossier_no, rule FROM {schema}.quarantine WHERE {city} AND open AND {in_days};
        CREATE TEMP VIEW postal AS
        SELECT dossier_no, dispatch, parcel, reason FROM {schema}.postal WHERE {city} AND {in_days};
        CREATE TEMP VIEW portal AS SELECT dossier_no FROM {schema}.portal WHERE period = {period};
        """
    )


def load_store(db: duckdb.DuckDBPyConnection, store: StoreDatabase, scope: ReadScope) -> None:
    """``period_views`` over the store's rows read for this run only, into the session (no columnar
    copy kept).

    The store skips what the period cannot hold before it is converted to Arrow (other sources,
    resolved quarantine entries, numbers dated outside the period, other periods' snapshots), so a
    day's reconciliation of a year's store reads that day's rows.
    """
    dialect = store.engine.dialect.name
    reads = store_reads(dialect, scope.partner)
    first, last = scope.first, scope.last

    def of_city(alias: str) -> str:
        return (
            f"{_scanned(alias + '.source', dialect)} = {literal(scope.city_source)} "
            f"AND {_maybe_in_period(alias + '.dossier_no', dialect, first, last)}"
        )

    source = _scanned("c.source", dialect)
    period = scope.snapshot_period
    only = {
        "version": f"({source} = {literal(scope.city_source)} OR {source} LIKE {literal(scope.ministry_prefix + '%')}) "
        f"AND {_maybe_in_period('c.dossier_no', dialect, first, last)}",
        "delivery": of_city("d"),
        "quarantine": f"{of_city('q')} AND q.resolved_at IS NULL",
        "postal": of_city("o"),
        "portal": f"{_scanned('s.period', dialect)} = {literal(period)}" if period else "FALSE",
    }
    db.execute(f"CREATE SCHEMA {_READ}")
    create_store_tables(db, _READ)
    copy_store(
        db,
        _READ,
        store,
        [(reads[t], only[t]) for t in STORE_TABLES],
        batch_rows=scope.batch_rows,
        parts=scope.parts,
        replace=False,
    )
    period_views(db, _READ, scope)


_READ = "store_read"  # the session's schema for the store tables of one run
