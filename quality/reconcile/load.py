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

from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from datetime import date
from typing import Any, Protocol

import duckdb
import sqlalchemy as sa


class StoreDatabase(Protocol):
    """The hub store's database as reconciliation reads it (``hub.store.Database``, a store's ``db``,
    is one): the SQLAlchemy engine for small reads and the dialect, the URL for ADBC's streams.
    Structural, so quality does not import the store it reads."""

    url: str
    engine: sa.engine.Engine


# Dossier numbers are {agency}-{YYMMDD}-{NNNN}: the agency and the intake day, read in SQL.
_AGENCY = "split_part(dossier_no, '-', 1)"
_NUMBER_DAY = "try_strptime(split_part(dossier_no, '-', 2), '%y%m%d')::DATE"
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
_DDL = f"""
CREATE TABLE dossier (
    source VARCHAR, dossier_no VARCHAR, content_hash VARCHAR, agency VARCHAR, day DATE, in_period BOOLEAN,
    procedure VARCHAR, status INTEGER, channel INTEGER, received TIMESTAMP, due TIMESTAMP, finished TIMESTAMP,
    {", ".join(f"{flag} BOOLEAN" for flag in FLAG_FACTS)}, consulted_databases INTEGER, has_facts BOOLEAN,
    one_stop_no VARCHAR, other_no VARCHAR, applicant_key VARCHAR, payment_gateway VARCHAR, fee_total BIGINT);
CREATE TABLE delivery (dossier_no VARCHAR, state VARCHAR, acked_hash VARCHAR);
CREATE TABLE quarantine (dossier_no VARCHAR, rule VARCHAR);
CREATE TABLE portal (dossier_no VARCHAR);
CREATE TABLE postal (dossier_no VARCHAR, dispatch VARCHAR, parcel VARCHAR, reason VARCHAR);
"""


_INSERT_DELIVERY = """
INSERT INTO delivery
SELECT dossier_no::VARCHAR, state::VARCHAR, nullif(acked_hash::VARCHAR, '') FROM {batch}
"""


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


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _text_time(column: str, dialect: str) -> str:
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
    if first.year < 2000 or last.year > 2068:  # %y reads 69-99 as 19xx
        return "TRUE"
    dash = f"{'strpos' if dialect == 'postgresql' else 'instr'}({column}, '-')"
    day = f"substr({column}, {dash} + 1, 6)"
    digits = f"{day} ~ '^[0-9]{{6}}$'" if dialect == "postgresql" else f"{day} GLOB '{'[0-9]' * 6}'"
    # Cheapest test first: inside a year's store every row fails it and costs one substr.
    return (
        f"NOT ({day} NOT BETWEEN '{first:%y%m%d}' AND '{last:%y%m%d}' AND {dash} > 0 "
        f"AND substr({column}, {dash} + 7, 1) IN ('-', '') AND {digits} "
        f"AND {_real_day(f'substr({day}, 3, 2)', f'substr({day}, 5, 2)')})"
    )


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


def load_store(
    db: duckdb.DuckDBPyConnection,
    store: StoreDatabase,
    *,
    city_source: str,
    ministry_prefix: str,
    partner: str,
    first: date,
    last: date,
    snapshot_period: str | None,
    batch_rows: int,
    parts: int,
) -> None:
    """Create and fill ``dossier`` (city and ministry, with facts), ``delivery``, ``quarantine``,
    ``postal`` (the city's results sent by post: dispatch and delivery state) and ``portal`` (the
    portal's export fetched for ``snapshot_period``; empty when None).

    Dossiers are kept with ``in_period`` rather than only the period's: whether a ministry dossier
    is also the city's must not depend on which day each side dated it. Only rows whose number
    puts them outside the period on every side are left in the store (``_maybe_in_period``).
    """
    db.execute(_DDL)
    dialect = store.engine.dialect.name
    source = _scanned("c.source", dialect)
    dossiers = f"""
        SELECT c.source, c.dossier_no, c.content_hash, {_text_time("c.source_updated_at", dialect)} AS updated,
            coalesce(f.procedure_code, '') AS procedure, f.status, f.channel,
            {_text_time("f.received_at", dialect)} AS received, {_text_time("f.due_at", dialect)} AS due,
            {_text_time("f.finished_at", dialect)} AS finished,
            {", ".join(f"{_flag('f.' + flag)} AS {flag}" for flag in FLAG_FACTS)},
            coalesce(f.consulted_databases, 0) AS consulted_databases,
            CASE WHEN f.dossier_no IS NULL THEN 0 ELSE 1 END AS has_facts,
            coalesce(f.agency, '') AS fact_agency, coalesce(f.one_stop_no, '') AS one_stop_no,
            coalesce(f.other_no, '') AS other_no, coalesce(f.applicant_key, '') AS applicant_key,
            coalesce(f.payment_gateway, '') AS payment_gateway, coalesce(f.fee_total, 0) AS fee_total
        FROM dossier_current c
        LEFT JOIN dossier_facts f
            ON f.source = c.source AND f.dossier_no = c.dossier_no AND f.content_hash = c.content_hash
        WHERE {{part}} AND ({source} = {_literal(city_source)} OR {source} LIKE {_literal(ministry_prefix + "%")})
            AND {_maybe_in_period("c.dossier_no", dialect, first, last)}
    """
    day = f"coalesce({_NUMBER_DAY}, (received + {HANOI_OFFSET})::DATE, (updated + {HANOI_OFFSET})::DATE)"
    insert_dossiers = f"""
        INSERT INTO dossier
        SELECT source, dossier_no, content_hash,
            CASE WHEN source = $city THEN {_AGENCY} ELSE coalesce(nullif(fact_agency, ''), {_AGENCY}) END, {day},
            coalesce({day} BETWEEN $first AND $last, false),
            nullif(procedure, ''), status, channel, received, due, finished,
            {", ".join(f"{flag}::BOOLEAN" for flag in FLAG_FACTS)}, consulted_databases::INTEGER, has_facts::BOOLEAN,
            nullif(one_stop_no, ''), nullif(other_no, ''), nullif(applicant_key, ''), nullif(payment_gateway, ''),
            fee_total::BIGINT
        FROM (SELECT * REPLACE (source::VARCHAR AS source, dossier_no::VARCHAR AS dossier_no,
                content_hash::VARCHAR AS content_hash, procedure::VARCHAR AS procedure, {_time("updated")} AS updated,
                {_time("received")} AS received, {_time("due")} AS due, {_time("finished")} AS finished,
                fact_agency::VARCHAR AS fact_agency, one_stop_no::VARCHAR AS one_stop_no,
                other_no::VARCHAR AS other_no, applicant_key::VARCHAR AS applicant_key,
                payment_gateway::VARCHAR AS payment_gateway) FROM {{batch}})
    """
    delivery = f"""
        SELECT dossier_no, state, coalesce(acked_hash, '') AS acked_hash FROM delivery d
        WHERE {{part}} AND {_scanned("partner", dialect)} = {_literal(partner)}
            AND {_scanned("source", dialect)} = {_literal(city_source)}
            AND {_maybe_in_period("dossier_no", dialect, first, last)}
    """
    quarantine = f"""
        SELECT dossier_no, rule FROM quarantine q
        WHERE {{part}} AND {_scanned("source", dialect)} = {_literal(city_source)} AND resolved_at IS NULL
            AND {_maybe_in_period("dossier_no", dialect, first, last)}
    """
    postal = f"""
        SELECT dossier_no, dispatch, coalesce(state, '') AS parcel, coalesce(reason, '') AS reason FROM postal_order o
        WHERE {{part}} AND {_scanned("source", dialect)} = {_literal(city_source)}
            AND {_maybe_in_period("dossier_no", dialect, first, last)}
    """
    of_period = f"{_scanned('period', dialect)} = {_literal(snapshot_period)}" if snapshot_period else "FALSE"
    portal = f"SELECT dossier_no FROM portal_snapshot s WHERE {{part}} AND {of_period}"
    if dialect == "sqlite":
        # ADBC links its own copy of SQLite. Two copies in one process do not share their view of
        # a WAL database's open files: while the store's pool holds pysqlite connections, ADBC was
        # seen to read a stale snapshot (and a copy closing its descriptor drops the other's POSIX
        # locks). Closing the pool first makes ADBC the only copy with the file open.
        store.engine.dispose()
    for sql, rowid_of, insert, params in (
        (dossiers, "dossier_current c", insert_dossiers, {"first": first, "last": last, "city": city_source}),
        (delivery, "delivery d", _INSERT_DELIVERY, None),
        (
            quarantine,
            "quarantine q",
            "INSERT INTO quarantine SELECT dossier_no::VARCHAR, rule::VARCHAR FROM {batch}",
            None,
        ),
        (
            postal,
            "postal_order o",
            "INSERT INTO postal SELECT dossier_no::VARCHAR, dispatch::VARCHAR, nullif(parcel::VARCHAR, ''), "
            "nullif(reason::VARCHAR, '') FROM {batch}",
            None,
        ),
        (
            portal,
            "portal_snapshot s",
            "INSERT INTO portal SELECT dossier_no::VARCHAR FROM {batch}",
            None,
        ),
    ):
        with _streams(store.url, dialect, sql, rowid_of, batch_rows, parts) as readers:
            names = [f"part_{k}" for k in range(len(readers))]
            for name, reader in zip(names, readers, strict=True):
                db.register(name, reader)
            try:
                db.execute(
                    insert.replace("{batch}", "(" + " UNION ALL ".join(f"FROM {n}" for n in names) + ")"), params
                )
            finally:
                for name in names:
                    db.unregister(name)
