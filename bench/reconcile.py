"""bench.reconcile -- a year of dossiers at 2023 scale reconciled three ways by the hub engine, and by datacompy.

Generates, in DuckDB (vectorised: one SQL statement per table, no Python loop per row), a year
whose Table 01 is 2023's (4,055,230 dossiers: 3,990,477 on time, 10,052 late, 54,701 in process)
plus dossiers closed unresolved (outside the total), for three sources -- the city, the national
portal (the hub's delivery records and the portal's own export for the year) and a ministry's
pull-backs -- plus the carriers' orders for results returned by post, with differences of every
class the engine checks injected into known dossiers. The store is a SQLite file in a temporary
directory, written with ADBC bulk ingestion (not timed). ``staged_dossier`` (the payloads) is
left empty: reconciliation never reads it.

Then times ``reconcile()`` end to end for the year, checks the identities (Table 01 with the
generated figures, the portal's; the hub flow's gap is the never-delivered dossiers) and that the
differences found are exactly the ones injected -- four ways: reading the store for the run only
(no copy), building the columnar copy (``quality.reconcile.columnar``) from scratch, with the copy
already up to date (the steady state), and refreshing it after a day's changes (a day's dossiers,
delivery records, quarantine entries and postal orders rewritten with the same content, so the
year's differences stay the injected ones) -- and runs datacompy (pandas) on the same store:
city vs portal, city vs the portal's export, ministry vs city, results to post vs carrier orders
and delivered parcels vs city status, its unequal rows classified the same way, asserting the
same differences. Both are timed in two stages -- reading the store into the tool, and comparing
-- and the ratios are printed. datacompy holds every row in pandas frames (about 4 GiB at the
full year); ``--compare-rows`` times both tools on a smaller store instead.

    uv run python -m bench.reconcile                     # full year, both tools
    uv run python -m bench.reconcile --scale 0.01        # quick check
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from bench.common import peak_rss_mib
from hub.store import HubStore
from quality.reconcile import DifferenceClass, Period, engine, reconcile
from quality.reconcile.load import adbc_connect

ON_TIME, LATE, IN_PROCESS = 3_990_477, 10_052, 54_701  # Table 01, 2023
CLOSED_SHARE = 0.005  # rejected, withdrawn, stopped: outside Table 01's total
# Injected per million dossiers, in the order the kinds are assigned: the generated kind and the
# class the engine must report it as.
INJECTED_PER_MILLION: dict[str, tuple[DifferenceClass, int]] = {
    "missing_at_portal": (DifferenceClass.MISSING_AT_PORTAL, 1500),  # never acknowledged
    "lost_at_portal": (DifferenceClass.MISSING_AT_PORTAL, 300),  # acknowledged, absent from the export
    "behind_at_portal": (DifferenceClass.BEHIND_AT_PORTAL, 1200),
    "quarantined": (DifferenceClass.QUARANTINED, 800),
    "pending": (DifferenceClass.PENDING, 1000),
    "ministry_only": (DifferenceClass.MINISTRY_ONLY, 2000),  # and, held by the portal, extra_at_portal
    "duplicate": (DifferenceClass.DUPLICATE, 500),
}
OUT_OF_SCOPE_PER_MILLION = 20_000  # procedures not integrated on the portal: no difference
PORTAL_ONLY_PER_MILLION = 200  # numbers only the portal's export holds: extra_at_portal, unexplained
POSTAL_NO_ORDER_PER_THOUSAND = 3  # of the results to return by post: no carrier order
MINISTRY = "ministry:business_registration"
YEAR = 2023
PERIOD = Period.year(YEAR)


@dataclass(frozen=True)
class Generated:
    path: Path
    dossiers: int
    injected: dict[DifferenceClass, set[str]]
    table01: tuple[int, int, int]
    never_delivered: int  # city dossiers with no delivery record: the hub-flow identity's gap


def _generate(db: duckdb.DuckDBPyConnection, scale: float) -> tuple[int, tuple[int, int, int]]:
    """The year as table ``gen``: one row per dossier with its status, facts and injected class."""
    on_time, late, in_process = (round(n * scale) for n in (ON_TIME, LATE, IN_PROCESS))
    total = on_time + late + in_process
    rows = total + round(total * CLOSED_SHARE)
    bounds, at = [], 0
    for kind, (_, per_million) in INJECTED_PER_MILLION.items():
        at += max(1, round(rows * per_million / 1_000_000))
        bounds.append((kind, at))
    at += round(rows * OUT_OF_SCOPE_PER_MILLION / 1_000_000)
    bounds.append(("out_of_scope", at))
    kind_case = " ".join(f"WHEN q <= {b} THEN '{k}'" for k, b in bounds)
    db.execute(
        f"""
        CREATE TABLE gen AS
        WITH base AS (
            SELECT i,
                row_number() OVER (ORDER BY hash(i, 'status')) AS p,
                row_number() OVER (ORDER BY hash(i, 'class')) AS q,
                printf('000.00.%02d.H26', hash(i, 'agency') % 60) AS agency,
                DATE '{YEAR}-01-01' + (hash(i, 'day') % 365)::INTEGER AS day
            FROM range({rows}) t(i)
        ), classed AS (
            SELECT *,
                CASE WHEN p <= {on_time} THEN 10 WHEN p <= {on_time + late} THEN 9
                     WHEN p <= {total} THEN 4 ELSE 3 END AS status,
                CASE {kind_case} ELSE 'delivered' END AS kind,
                row_number() OVER (PARTITION BY agency, day ORDER BY i) AS seq
            FROM base
        )
        SELECT i, kind, status,
            agency || '-' || strftime(day, '%y%m%d') || '-' || lpad(seq::VARCHAR, 4, '0') AS dossier_no,
            CASE WHEN kind = 'out_of_scope' THEN '2.001035' ELSE '1.001193' END AS procedure_code,
            day::TIMESTAMP + INTERVAL 1 HOUR AS received,  -- 08:00 in Hanoi, as UTC
            day::TIMESTAMP + INTERVAL 1 HOUR + INTERVAL 10 DAY AS due,
            CASE WHEN status = 10 THEN day::TIMESTAMP + INTERVAL 3 DAY
                 WHEN status = 9 THEN day::TIMESTAMP + INTERVAL 12 DAY END AS finished,
            CASE WHEN hash(i, 'channel') % 100 < 60 THEN 2 ELSE 1 END AS channel,
            (hash(i, 'digitised') % 100 < 70)::INTEGER AS digitised,
            (hash(i, 'paid') % 100 < 30)::INTEGER AS paid_online,
            (hash(i, 'post') % 100 < 5)::INTEGER AS return_by_post
        FROM classed
        """
    )
    db.execute(
        f"""
        CREATE TABLE portal_only AS
        SELECT printf('000.00.%02d.H26', i % 60) || '-' || strftime(DATE '{YEAR}-01-01' + (i % 365)::INTEGER, '%y%m%d')
            || '-' || (9000 + i // 4380)::VARCHAR AS dossier_no
        FROM range({max(1, round(rows * PORTAL_ONLY_PER_MILLION / 1_000_000))}) t(i)
        """
    )
    # Results returned by post: every ready city result asked for by post gets a carrier order
    # (most delivered) except a few never ordered; a delivered one whose dossier stayed at 9 was
    # never closed. Both postal classes follow from these rows.
    db.execute(
        f"""
        CREATE VIEW postal AS
        SELECT i, dossier_no, status, hash(i, 'order') % 1000 >= {1000 - POSTAL_NO_ORDER_PER_THOUSAND} AS unordered,
            CASE WHEN hash(i, 'parcel') % 100 < 80 THEN 'delivered' ELSE 'in_transit' END AS parcel, received
        FROM gen WHERE kind <> 'ministry_only' AND return_by_post = 1 AND status IN (9, 10)
        """
    )
    return rows, (on_time, late, in_process)


_TS = "strftime({}, '%Y-%m-%d %H:%M:%S.%f')"  # SQLAlchemy's SQLite text form of the store's UTC times

_TABLES = {
    "dossier_current": f"""
        SELECT source, dossier_no, content_hash, {_TS.format("received")} AS source_updated_at,
            'bench' AS batch_id, {_TS.format("received")} AS staged_at
        FROM versions""",
    "dossier_facts": f"""
        SELECT source, dossier_no, content_hash, procedure_code, status, channel,
            {_TS.format("received")} AS received_at, {_TS.format("due")} AS due_at,
            {_TS.format("finished")} AS finished_at, digitised, paid_online, return_by_post
        FROM versions""",
    "delivery": f"""
        SELECT 'national_portal' AS partner, dossier_no, 'city' AS source,
            CASE kind WHEN 'behind_at_portal' THEN 'old' || i ELSE 'c' || i END AS content_hash,
            CASE kind WHEN 'quarantined' THEN 'quarantined' WHEN 'pending' THEN 'pending'
                      WHEN 'out_of_scope' THEN 'out_of_scope' ELSE 'delivered' END AS state,
            CASE WHEN kind = 'behind_at_portal' THEN 'old' || i
                 WHEN kind IN ('delivered', 'duplicate', 'lost_at_portal') THEN 'c' || i END AS acked_hash,
            {_TS.format("received")} AS acked_at, {_TS.format("received")} AS updated_at
        FROM gen WHERE kind NOT IN ('missing_at_portal', 'ministry_only')""",
    # The portal's export for the year: what the hub delivered and the portal kept (an old version
    # for those behind), the dossiers ministry software sent it, and numbers only it holds.
    "portal_snapshot": f"""
        SELECT '{PERIOD.label}' AS period, dossier_no, status, {_TS.format("received")} AS portal_updated_at,
            '{YEAR + 1}-01-02 01:00:00.000000' AS fetched_at
        FROM gen WHERE kind IN ('delivered', 'behind_at_portal', 'duplicate', 'ministry_only')
        UNION ALL
        SELECT '{PERIOD.label}', dossier_no, 10, '{YEAR}-06-01 01:00:00.000000', '{YEAR + 1}-01-02 01:00:00.000000'
        FROM portal_only""",
    "postal_order": f"""
        SELECT dossier_no || '/KQ' AS reference, 'city' AS source, dossier_no, 'c' || i AS content_hash,
            'vnpost' AS carrier, 'ordered' AS dispatch, 1 AS attempts, 'VN' || i AS order_id, parcel AS state,
            {_TS.format("received")} AS created_at, {_TS.format("received")} AS updated_at
        FROM postal WHERE NOT unordered""",
    "quarantine": f"""
        SELECT 'city' AS source, dossier_no, 'due_before_received' AS rule, 'generated' AS reason,
            'c' || i AS content_hash, '{{}}' AS payload, {_TS.format("received")} AS first_seen,
            {_TS.format("received")} AS last_seen, 1 AS occurrences
        FROM gen WHERE kind = 'quarantined'""",
}

# City versions of every dossier but the ministry-only ones; the ministry's of those and the duplicates.
_VERSIONS = f"""
CREATE VIEW versions AS
SELECT 'city' AS source, 'c' || i AS content_hash, * FROM gen WHERE kind <> 'ministry_only'
UNION ALL
SELECT '{MINISTRY}', 'm' || i, * FROM gen WHERE kind IN ('ministry_only', 'duplicate')
"""


def build_store(directory: Path, scale: float) -> Generated:
    """Generate the year and write it into a fresh SQLite store under ``directory``."""
    path = directory / f"hub-{scale:g}.db"
    HubStore(f"sqlite:///{path}").create_schema()
    with duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}) as db:
        rows, table01 = _generate(db, scale)
        db.execute(_VERSIONS)
        with closing(adbc_connect(f"sqlite:///{path}")) as conn:
            for table, select in _TABLES.items():
                with closing(conn.cursor()) as cur:
                    cur.adbc_ingest(table, db.sql(select).to_arrow_reader(100_000), mode="append")
            conn.commit()
        injected: dict[DifferenceClass, set[str]] = {kind: set() for kind, _ in INJECTED_PER_MILLION.values()}
        injected[DifferenceClass.EXTRA_AT_PORTAL] = {no for (no,) in db.execute("FROM portal_only").fetchall()}
        for kind, no in db.execute(
            "SELECT kind, dossier_no FROM gen WHERE kind IN $kinds", {"kinds": list(INJECTED_PER_MILLION)}
        ).fetchall():
            injected[INJECTED_PER_MILLION[kind][0]].add(no)
            if kind == "ministry_only":  # the portal holds it too, from the ministry: explained there
                injected[DifferenceClass.EXTRA_AT_PORTAL].add(no)
        injected[DifferenceClass.POSTAL_NO_ORDER] = {
            no for (no,) in db.execute("SELECT dossier_no FROM postal WHERE unordered").fetchall()
        }
        injected[DifferenceClass.POSTAL_DELIVERED_NOT_CLOSED] = {
            no
            for (no,) in db.execute(
                "SELECT dossier_no FROM postal WHERE NOT unordered AND parcel = 'delivered' AND status <> 10"
            ).fetchall()
        }
        (never_delivered,) = db.execute("SELECT count(*) FROM gen WHERE kind = 'missing_at_portal'").fetchone()
    return Generated(path, rows, injected, table01, never_delivered)


def _load() -> str:
    """The machine is shared: the load average says how much of the wall time was waiting for a core."""
    return "load average {:.1f} {:.1f} {:.1f} on {} cores".format(*os.getloadavg(), os.cpu_count())


@contextmanager
def _timed_store_read(seconds: list[float], refreshes: list[Any]) -> Iterator[None]:
    """Time the engine's read of the store inside ``reconcile()``, apart from the rest: ``load_store``
    (the store read for the run) or ``load_from_copy`` (the copy brought up to date; the compare
    then reads it in place, so reading the copy's rows counts as compare).

    The engine reads the store and then compares in one call; the benchmark reports the two
    stages separately, so it wraps the functions that read and records how long they took (and
    what the copy's refresh did).
    """
    kept = {name: getattr(engine, name) for name in ("load_store", "load_from_copy")}

    def timing(name: str) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                result = kept[name](*args, **kwargs)
            finally:
                seconds.append(time.perf_counter() - started)
            refreshes.append(result)
            return result

        return timed

    for name in kept:
        setattr(engine, name, timing(name))
    try:
        yield
    finally:
        for name, function in kept.items():
            setattr(engine, name, function)


@dataclass(frozen=True)
class Timing:
    read: float
    total: float
    cpu: float  # seconds of CPU, every thread of the process: what a shared machine does not inflate

    @property
    def compare(self) -> float:
        return self.total - self.read

    def line(self, who: str) -> str:
        return f"  {who}: read the store {self.read:.1f} s + compare {self.compare:.1f} s = {self.total:.1f} s wall"


def run_hub(
    generated: Generated, way: str = "no copy", columnar: Path | None = None
) -> tuple[Timing, dict[DifferenceClass, set[str]]]:
    """``reconcile()`` of the year, timed and checked; through the columnar copy at ``columnar`` if given."""
    store = HubStore(f"sqlite:///{generated.path}")
    read: list[float] = []
    refreshes: list[Any] = []
    started, cpu = time.perf_counter(), time.process_time()
    with _timed_store_read(read, refreshes):
        result = reconcile(store.db, PERIOD, columnar=columnar)
    timing = Timing(sum(read), time.perf_counter() - started, time.process_time() - cpu)
    refresh = refreshes[-1]
    did = "" if refresh is None else f" [{refresh.rebuilt or 'refreshed'}: {_rows(refresh.rows)} rows re-read]"
    print(f"{timing.line(f'hub reconcile(), {way}')}, {timing.cpu:.1f} s CPU (all threads), {_load()}{did}")
    table01, portal, hub_flow = (result.identity(key) for key in ("table01", "portal", "hub_flow"))
    assert table01.holds, table01.to_dict()
    assert portal.holds, portal.to_dict()
    assert hub_flow.terms["no_disposition"] == generated.never_delivered, hub_flow.to_dict()
    assert result.portal_snapshot is not None, "the portal's export was not read: not a three-way run"
    assert (table01.terms["on_time"], table01.terms["late"], table01.terms["in_process"]) == generated.table01
    found = {kind: set(result.dossiers(kind)) for kind in generated.injected}
    assert found == generated.injected, {k: (len(found[k]), len(v)) for k, v in generated.injected.items()}
    assert len(result.differences) == sum(len(v) for v in generated.injected.values())
    return timing, found


def _rows(rows: dict[str, int]) -> str:
    return ", ".join(f"{table} {count:,}" for table, count in rows.items())


DAY_CHANGED = "230615"  # the day whose rows a day's changes rewrite


def a_days_changes(generated: Generated) -> dict[str, int]:
    """Rewrite a day's rows as the day's flows would -- each with a new write stamp, the same content --
    so the copy has a day to re-read while the year's differences stay the injected ones."""
    import sqlite3

    now = time.strftime("%Y-%m-%d %H:%M:%S.000000", time.gmtime())
    day = f"%-{DAY_CHANGED}-%"
    rewritten = {}
    with closing(sqlite3.connect(generated.path)) as conn, conn:
        for table, stamp in (
            ("dossier_current", "staged_at"),
            ("delivery", "updated_at"),
            ("quarantine", "last_seen"),
            ("postal_order", "updated_at"),
        ):
            rewritten[table] = conn.execute(
                f"UPDATE {table} SET {stamp} = ? WHERE dossier_no LIKE ?", (now, day)
            ).rowcount
    return rewritten


# What the hub reads to find the nine classes (load.py): each version's number, hash and update time
# and its facts' intake time (the day when the number carries none), status and postal choice, the
# portal delivery records, the open quarantine entries, the portal's export and the postal orders.
# datacompy is handed exactly these columns.
_DATACOMPY_READS = {
    "versions": """
        SELECT c.source, c.dossier_no, c.content_hash, coalesce(c.source_updated_at, '') AS updated,
            coalesce(f.received_at, '') AS received, f.status, f.return_by_post
        FROM dossier_current c LEFT JOIN dossier_facts f
            ON f.source = c.source AND f.dossier_no = c.dossier_no AND f.content_hash = c.content_hash""",
    "portal": """
        SELECT dossier_no, state, coalesce(acked_hash, '') AS content_hash FROM delivery
        WHERE partner = 'national_portal' AND source = 'city'""",
    "quarantine": "SELECT dossier_no, rule FROM quarantine WHERE source = 'city' AND resolved_at IS NULL",
    "snapshot": f"SELECT dossier_no FROM portal_snapshot WHERE period = '{PERIOD.label}'",
    "postal": "SELECT dossier_no, dispatch, coalesce(state, '') AS parcel FROM postal_order WHERE source = 'city'",
}


def _in_period(versions: Any) -> Any:
    """The period's versions, dated as the hub dates them: the number's day, else intake, else update (Hanoi)."""
    import pandas as pd

    hanoi = pd.Timedelta(hours=7)
    number_day = pd.to_datetime(versions["dossier_no"].str.split("-").str[1], format="%y%m%d", errors="coerce")
    received = pd.to_datetime(versions["received"].replace("", None), errors="coerce") + hanoi
    updated = pd.to_datetime(versions["updated"].replace("", None), errors="coerce") + hanoi
    day = number_day.fillna(received.dt.normalize()).fillna(updated.dt.normalize())
    return versions[day.dt.year == YEAR]


def run_datacompy(generated: Generated) -> tuple[Timing, dict[DifferenceClass, set[str]]]:
    """datacompy on the same store and columns: city vs portal, ministry vs city, unequal rows classified."""
    import datacompy

    started, cpu = time.perf_counter(), time.process_time()
    with closing(adbc_connect(f"sqlite:///{generated.path}")) as conn, closing(conn.cursor()) as cur:
        frames = {}
        for name, sql in _DATACOMPY_READS.items():
            cur.execute(sql)
            frames[name] = cur.fetch_df()
    read = time.perf_counter() - started
    versions, portal, quarantine, snapshot = (frames[k] for k in ("versions", "portal", "quarantine", "snapshot"))
    in_period = _in_period(versions)
    columns = ["dossier_no", "content_hash"]
    city = in_period.loc[in_period["source"] == "city", columns]
    ministry = in_period.loc[in_period["source"] == MINISTRY, columns]
    all_city = versions.loc[versions["source"] == "city", columns]
    at_portal = datacompy.PandasCompare(city, portal[columns], join_columns="dossier_no")
    unequal = at_portal.all_mismatch()
    states = portal.set_index("dossier_no")["state"]
    unequal = unequal.assign(state=states.reindex(unequal["dossier_no"]).to_numpy())
    flagged = unequal[unequal["state"] != "out_of_scope"]
    held = datacompy.PandasCompare(all_city[["dossier_no"]], snapshot, join_columns="dossier_no")
    # Acknowledged at the current version yet absent from the export: lost by the portal.
    acknowledged = portal.loc[(portal["state"] == "delivered") & (portal["content_hash"] != ""), "dossier_no"]
    lost = set(held.df1_unq_rows["dossier_no"]) & (set(acknowledged) - set(unequal["dossier_no"]))
    found = {
        # Every generated delivered row carries its acknowledged hash, so "no acknowledgement" is "no row".
        DifferenceClass.MISSING_AT_PORTAL: set(at_portal.df1_unq_rows["dossier_no"]) | lost,
        DifferenceClass.BEHIND_AT_PORTAL: set(flagged.loc[flagged["state"] == "delivered", "dossier_no"]),
        DifferenceClass.QUARANTINED: set(flagged.loc[flagged["state"] == "quarantined", "dossier_no"]),
        DifferenceClass.PENDING: set(flagged.loc[flagged["state"] == "pending", "dossier_no"]),
        DifferenceClass.EXTRA_AT_PORTAL: set(held.df2_unq_rows["dossier_no"]),
    }
    assert found[DifferenceClass.QUARANTINED] <= set(quarantine["dossier_no"])  # each has its rule to report
    vs_city = datacompy.PandasCompare(all_city, ministry, join_columns="dossier_no")
    found[DifferenceClass.MINISTRY_ONLY] = set(vs_city.df2_unq_rows["dossier_no"])
    found[DifferenceClass.DUPLICATE] = set(vs_city.all_mismatch()["dossier_no"])
    postal = frames["postal"]
    city_all = in_period.loc[in_period["source"] == "city"]
    ready = city_all.loc[(city_all["return_by_post"] == 1) & city_all["status"].isin([9, 10]), ["dossier_no"]]
    ordered = postal.loc[postal["dispatch"] == "ordered", ["dossier_no"]]
    found[DifferenceClass.POSTAL_NO_ORDER] = set(
        datacompy.PandasCompare(ready, ordered, join_columns="dossier_no").df1_unq_rows["dossier_no"]
    )
    delivered = postal.loc[postal["parcel"] == "delivered", ["dossier_no"]].assign(status=10)
    closed = datacompy.PandasCompare(city_all[["dossier_no", "status"]], delivered, join_columns="dossier_no")
    found[DifferenceClass.POSTAL_DELIVERED_NOT_CLOSED] = set(closed.all_mismatch()["dossier_no"])
    timing = Timing(read, time.perf_counter() - started, time.process_time() - cpu)
    print(f"{timing.line('datacompy')}, {timing.cpu:.1f} s CPU (all threads), {_load()}")
    del frames, versions, portal, quarantine, snapshot, in_period, city, ministry, all_city, at_portal, held, vs_city
    del postal, city_all, ready, ordered, delivered, closed
    gc.collect()
    return timing, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="share of 2023's Table 01 to generate")
    parser.add_argument("--compare-rows", type=int, help="size both tools are timed at (default: the whole year)")
    parser.add_argument("--skip-datacompy", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-reconcile-") as tmp:
        started = time.perf_counter()
        year = build_store(Path(tmp), args.scale)
        print(f"generated {year.dossiers:,} dossiers ({time.perf_counter() - started:.1f} s, not timed)")
        print("injected: " + ", ".join(f"{k.value} {len(v):,}" for k, v in year.injected.items()))
        hub_year, found_year = run_hub(year)
        print(
            f"hub reconcile(), year {YEAR}, {year.dossiers:,} dossiers: {hub_year.total:.1f} s "
            f"(goal < 60 s); Table 01 identity holds; every injected difference found, nothing else"
        )
        print(f"peak RSS after the hub run: {peak_rss_mib():.0f} MiB")
        if args.skip_datacompy:
            return
        compare_scale = args.scale * min(1.0, (args.compare_rows or year.dossiers) / year.dossiers)
        same = year if compare_scale == args.scale else build_store(Path(tmp), compare_scale)
        copy = Path(tmp) / "reconcile.duckdb"
        hub = {"no copy": hub_year if same is year else run_hub(same)[0]}
        found = [found_year if same is year else None]
        for way in ("full build of the copy", "copy up to date (steady state)"):
            hub[way], found_now = run_hub(same, way, copy)
            found.append(found_now)
        print("a day's changes: " + _rows(a_days_changes(same)) + " rows rewritten")
        hub["copy refreshed after a day's changes"], found_now = run_hub(same, "a day's refresh", copy)
        found.append(found_now)
        dc, dc_found = run_datacompy(same)
        assert all(f is None or f == dc_found for f in found), "the hub's ways and datacompy disagree"
        print(
            f"at {same.dossiers:,} dossiers, same differences found by every run; each hub way against datacompy "
            f"end to end ({dc.total:.1f} s wall, {dc.cpu:.1f} s CPU), goal >= 10x:"
        )
        for way, timing in hub.items():
            print(
                f"  hub {way}: wall {timing.total:.1f} s (read {timing.read:.1f} + compare {timing.compare:.1f}): "
                f"{dc.total / timing.total:.1f}x; CPU {timing.cpu:.1f} s: {dc.cpu / timing.cpu:.1f}x"
            )
        print(f"peak RSS of the process (datacompy's frames included): {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
