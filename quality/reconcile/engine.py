"""Record-level reconciliation of the hub store for a period, in DuckDB.

Each city dossier is joined once to the other sides (``city_state``: the hub's delivery record, the
portal's export and the postal order of its result) and classified by a CASE in the same pass; the
pull-backs, a small share, are joined to the city after a semi-join narrows it to their numbers.
The identities, KPIs and breakdown are then GROUP BYs over those two tables, so a year of dossiers
(about four million per source) is one pass of hash joins and a few scans rather than a join per
figure, let alone four million Python objects; DuckDB works under ``memory_limit`` and spills to a
temporary directory past it. Python sees only the differences (all of them: the renderer pages the
list, the engine never caps it) and the aggregates.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from mappings.code_tables import CodeTables, load_code_tables
from mappings.delivery import DeliveryState
from mappings.postal.dispatch import READY_STATUSES, RESULT_RETURNED, Dispatch
from mappings.postal.states import PostalState
from mappings.sources import CITY_SOURCE, PORTAL, PULLBACK_PREFIX
from quality.reconcile.columnar import load_from_copy, locked
from quality.reconcile.load import ReadScope, StoreDatabase, load_store
from quality.reconcile.ministries import by_ministry, ministry_identity
from quality.reconcile.model import (
    DEFAULT_EXPECTED,
    BreakdownRow,
    Difference,
    DifferenceClass,
    Identity,
    Kpi,
    Period,
    Reconciliation,
    share,
)
from quality.reconcile.payments import check_payments, read_platform
from quality.reconcile.portal_explained import explain_portal
from quality.reconcile.portal_snapshot import fetched_snapshot, snapshot_read

CHECKED = (
    DifferenceClass.MISSING_AT_PORTAL,
    DifferenceClass.BEHIND_AT_PORTAL,
    DifferenceClass.QUARANTINED,
    DifferenceClass.PENDING,
    DifferenceClass.MINISTRY_ONLY,
    DifferenceClass.MINISTRY_AMBIGUOUS,
    DifferenceClass.DUPLICATE,
    DifferenceClass.POSTAL_NO_ORDER,
    DifferenceClass.POSTAL_DELIVERED_NOT_CLOSED,
)

# Checked when the payment platform's transaction list was fetched for the period (``payments``).
PAYMENT_CLASSES = (
    DifferenceClass.PAYMENT_NOT_PAID,
    DifferenceClass.PAYMENT_AMOUNT_DIFFERS,
    DifferenceClass.PAYMENT_UNCLAIMED,
)

ONLINE = 2  # KenhThucHien
_ONLINE = f"channel = {ONLINE}"
# DuckDB's bound for one run. A 2023-scale year (4 million dossiers, three sources) peaks near it;
# under a lower bound it spills to disk and still finishes, slower (bench.reconcile).
DEFAULT_MEMORY_LIMIT = "4GB"

# Every dossier row ``s`` of ``dossier`` gets the same facts in ``city_state`` and ``ministry_state``,
# only those the figures count by: its status outcome (mappings/code_tables/statuses.csv, as of the
# period's end), whether it was resolved on time (NULL without both dates) and whether its
# procedure was integrated on the portal on the dossier's day.
# The Decision 766 facts (``KPI_FACTS``) ride along unchanged for the KPIs.
KPI_FACTS = (
    "digitised",
    "paid_online",
    "submitted_via_portal",
    "vneid_verified",
    "fee_payable",
    "identified",
    "consulted_databases",
    "result_coded",
)
_FACTS = f"""s.agency, s.day, s.in_period, s.procedure, s.status, s.channel, {", ".join("s." + f for f in KPI_FACTS)},
    s.finished <= s.due AS on_time, o.outcome, coalesce(pv.integrated, false) AS integrated"""
_CODE_TABLE_JOINS = """
LEFT JOIN outcome o ON o.code = s.status
LEFT JOIN procedure_version pv ON pv.code = s.procedure AND s.day BETWEEN pv.valid_from AND pv.valid_to"""

# The one pass over the city's dossiers that relates each to the portal -- the hub's delivery record
# and, when fetched ($portal_checked), the portal's export -- so that every count and class after
# it is a scan of this table, not another join of millions of dossier numbers. The table is kept
# narrow (it has a row per city dossier): the number only where there is a difference to list.
#
# A city dossier gets the first class that applies; out of scope (a procedure not integrated on the
# portal) and delivered-at-its-current-version are no difference. With the portal's export fetched,
# a dossier the portal acknowledged but does not hold (lost, or deleted on the portal) is missing at
# the portal whatever version was acknowledged. ``synced``: the portal acknowledged the current version.
#
# The export is joined in full, so the same pass also finds what the portal holds and the city does
# not (extra at the portal, reached it by another road): ``_PORTAL_EXTRA`` moves those rows out.
# (``load.period_views`` skip city dossiers numbered on a day outside the period, so one the city numbered
# on another day is extra too.)
#
# The return of the result by post is a second, independent dimension (``postal_kind``): a result
# ready for an applicant who asked for the post (facts: return_by_post, status 9 or 10) with no
# order the carrier holds -- its detail says where dispatch stands -- or a parcel the carrier
# delivered whose dossier the city never closed (status not 10).
# Details are codes, with their argument after ": " (a rule, a reason, the ministries that explain it),
# so the report words them in its language (``quality.report.labels.detail_text``).
_NOT_HELD = "not_held"  # the portal acknowledged it but its export does not hold it
_READY = f"return_by_post AND status IN {READY_STATUSES} AND coalesce(dispatch, '') <> '{Dispatch.ORDERED}'"
_CITY_STATE = f"""
CREATE TABLE city_state AS
SELECT CASE WHEN kind IS NOT NULL OR postal_kind IS NOT NULL THEN dossier_no END AS dossier_no,
    * EXCLUDE (dossier_no, content_hash, acked_hash, return_by_post, dispatch, parcel, reason)
FROM (
    SELECT *, acked_hash IS NOT NULL AS acked,
        dispatch = '{Dispatch.ORDERED}' AS postal_ordered, parcel = '{PostalState.DELIVERED}' AS postal_delivered,
        CASE
            WHEN {_READY} THEN '{DifferenceClass.POSTAL_NO_ORDER}'
            WHEN parcel = '{PostalState.DELIVERED}' AND status IS DISTINCT FROM {RESULT_RETURNED}
                THEN '{DifferenceClass.POSTAL_DELIVERED_NOT_CLOSED}'
        END AS postal_kind,
        CASE WHEN {_READY} THEN CASE dispatch
            WHEN '{Dispatch.QUARANTINED}' THEN 'dispatch_quarantined: ' || coalesce(reason, '')
            WHEN '{Dispatch.PENDING}' THEN 'dispatch_pending'
            WHEN '{Dispatch.SENT}' THEN 'dispatch_sent'
            ELSE 'dispatch_not_planned'
        END END AS postal_detail,
        coalesce(state = '{DeliveryState.DELIVERED}' AND acked_hash = content_hash, false) AS synced,
        CASE
            WHEN content_hash IS NULL THEN '{DifferenceClass.EXTRA_AT_PORTAL}'
            WHEN state IS NULL THEN '{DifferenceClass.MISSING_AT_PORTAL}'
            WHEN state = '{DeliveryState.OUT_OF_SCOPE}' THEN NULL
            WHEN state = '{DeliveryState.QUARANTINED}' THEN '{DifferenceClass.QUARANTINED}'
            WHEN state = '{DeliveryState.PENDING}' THEN '{DifferenceClass.PENDING}'
            WHEN acked_hash IS NULL THEN '{DifferenceClass.MISSING_AT_PORTAL}'
            WHEN $portal_checked AND NOT held THEN '{DifferenceClass.MISSING_AT_PORTAL}'
            WHEN acked_hash <> content_hash THEN '{DifferenceClass.BEHIND_AT_PORTAL}'
        END AS kind,
        CASE WHEN state <> '{DeliveryState.PENDING}' AND state <> '{DeliveryState.QUARANTINED}'
            AND acked_hash IS NOT NULL AND $portal_checked AND NOT held THEN '{_NOT_HELD}' END AS detail
    FROM (
        SELECT coalesce(s.dossier_no, p.dossier_no) AS dossier_no, s.content_hash, {_FACTS}, d.state, d.acked_hash,
            p.dossier_no IS NOT NULL AS held, s.return_by_post, po.dispatch, po.parcel, po.reason
        FROM city s
        FULL JOIN portal p ON p.dossier_no = s.dossier_no
        LEFT JOIN delivery d ON d.dossier_no = s.dossier_no
        LEFT JOIN postal po ON po.dossier_no = s.dossier_no{_CODE_TABLE_JOINS.replace(chr(10), chr(10) + "        ")}
    )
)
"""

# A ministry's dossier is matched to the city's by the first rule that finds one (docs/architecture.md,
# "Matching ministry records"): the same number (a ministry syncing a city number), the one-stop
# number the ministry holds, the ministry's number the city recorded as the dossier's other number,
# else the applicant (a digest of the ID), procedure and intake day -- only when exactly one city
# dossier fits: two or more is ``ministry_ambiguous_match``, listed with the count, never merged.
# A matched dossier is the city's own (counted once, as the city's); a same-number match with
# different content is a ``duplicate``; nothing matched is ``ministry_only``. Pull-backs are a small
# share: each rule joins the city narrowed to what the pull-backs name (a semi-join) first.
_MINISTRY_STATE = f"""
CREATE TABLE ministry_state AS
WITH
same AS (SELECT dossier_no AS m_no, dossier_no AS c_no, content_hash AS c_hash
         FROM city WHERE dossier_no IN (SELECT dossier_no FROM ministry)),
one_stop AS (SELECT dossier_no AS c_no FROM city WHERE dossier_no IN (SELECT one_stop_no FROM ministry)),
other AS (SELECT other_no AS m_no, min(dossier_no) AS c_no FROM city
          WHERE other_no IN (SELECT dossier_no FROM ministry) GROUP BY 1),
applicant AS (
    SELECT m.dossier_no AS m_no, count(*) AS n, min(c.dossier_no) AS c_no
    FROM ministry m
    JOIN (SELECT dossier_no, applicant_key, procedure, day FROM city
          WHERE applicant_key IN (SELECT applicant_key FROM ministry)) c
      ON c.applicant_key = m.applicant_key AND c.procedure = m.procedure AND c.day = m.day
    GROUP BY 1)
SELECT s.dossier_no, s.source, {_FACTS}, false AS synced,
    CASE
        WHEN sm.c_no IS NOT NULL THEN 'same_number'
        WHEN os.c_no IS NOT NULL THEN 'one_stop_number'
        WHEN ot.c_no IS NOT NULL THEN 'ministry_number'
        WHEN ap.n = 1 THEN 'applicant_procedure_day'
    END AS match_rule,
    coalesce(sm.c_no, os.c_no, ot.c_no, CASE WHEN ap.n = 1 THEN ap.c_no END) AS city_no,
    CASE
        WHEN sm.c_no IS NOT NULL THEN CASE WHEN sm.c_hash <> s.content_hash THEN '{DifferenceClass.DUPLICATE}' END
        WHEN os.c_no IS NOT NULL OR ot.c_no IS NOT NULL OR ap.n = 1 THEN NULL
        WHEN ap.n > 1 THEN '{DifferenceClass.MINISTRY_AMBIGUOUS}'
        ELSE '{DifferenceClass.MINISTRY_ONLY}'
    END AS kind,
    CASE WHEN sm.c_no IS NULL AND os.c_no IS NULL AND ot.c_no IS NULL AND ap.n > 1
        THEN ap.n || ' city dossiers of the same applicant, procedure and day, e.g. ' || ap.c_no END AS detail
FROM ministry s
LEFT JOIN same sm ON sm.m_no = s.dossier_no
LEFT JOIN one_stop os ON os.c_no = s.one_stop_no
LEFT JOIN other ot ON ot.m_no = s.dossier_no
LEFT JOIN applicant ap ON ap.m_no = s.dossier_no{_CODE_TABLE_JOINS}
"""

# Dossiers the portal's export holds that the city does not, out of ``city_state`` into their own
# table. A ministry pull-back holding the number explains it (``sources``); one no pull-back holds
# stays listed as extra at the portal with ``_PORTAL_ONLY`` as its detail.
_PORTAL_ONLY = "portal_only"  # neither the city system nor any ministry pull-back holds it
_PORTAL_EXTRA = f"""
CREATE TABLE portal_extra AS
SELECT e.dossier_no, m.sources
FROM city_state e
LEFT JOIN (SELECT dossier_no, string_agg(source, ', ' ORDER BY source) AS sources FROM ministry GROUP BY 1) m
    USING (dossier_no)
WHERE e.kind = '{DifferenceClass.EXTRA_AT_PORTAL}';
DELETE FROM city_state WHERE kind = '{DifferenceClass.EXTRA_AT_PORTAL}';
"""

# Table 01's scope: the city's dossiers of the period plus those only a ministry's software holds
# (the pull-backs exist so that the city's counts include them); a duplicate is counted once, as
# the city's.
_SCOPE_COLUMNS = (
    f"agency, day, procedure, status, channel, {', '.join(KPI_FACTS)}, on_time, outcome, integrated, synced"
)
_SCOPE = f"""
CREATE VIEW scope AS
SELECT {_SCOPE_COLUMNS} FROM city_state WHERE in_period
UNION ALL
SELECT {_SCOPE_COLUMNS} FROM ministry_state WHERE in_period AND kind = '{DifferenceClass.MINISTRY_ONLY}'
"""

_DIFFERENCES = f"""
SELECT s.dossier_no, s.source, s.agency, s.kind,
    CASE WHEN s.kind = '{DifferenceClass.QUARANTINED}' THEN q.rules ELSE s.detail END AS detail
FROM (
    SELECT dossier_no, '{CITY_SOURCE}' AS source, agency, kind, detail FROM city_state
    WHERE in_period AND kind IS NOT NULL
    UNION ALL
    SELECT dossier_no, CASE postal_kind WHEN '{DifferenceClass.POSTAL_NO_ORDER}' THEN '{CITY_SOURCE}' ELSE 'postal' END,
        agency, postal_kind, postal_detail
    FROM city_state WHERE in_period AND postal_kind IS NOT NULL
    UNION ALL
    SELECT dossier_no, source, agency, kind, detail FROM ministry_state WHERE in_period AND kind IS NOT NULL
    UNION ALL
    SELECT dossier_no, '{PORTAL}', split_part(dossier_no, '-', 1), '{DifferenceClass.EXTRA_AT_PORTAL}',
        CASE WHEN sources IS NOT NULL THEN '{DifferenceClass.MINISTRY_ONLY}: ' || sources ELSE '{_PORTAL_ONLY}' END
    FROM portal_extra
) s
LEFT JOIN (SELECT dossier_no, string_agg(rule, ', ' ORDER BY rule) AS rules FROM quarantine GROUP BY 1) q
    ON s.kind = '{DifferenceClass.QUARANTINED}' AND q.dossier_no = s.dossier_no
ORDER BY s.kind, s.dossier_no, s.source
"""

# The portal identity, over the portal's export. Without differences the portal holds the city's
# dossiers of the period except those of procedures not integrated on the portal, plus those only
# ministry software processed (which reach the portal from there): portal = city + ministry_only -
# not_integrated. The two gap terms are the differences explained by dossier (missing_at_portal:
# in-scope city dossiers it lacks, listed as missing, quarantined or pending; portal_only:
# dossiers no source of the hub holds, listed as extra_at_portal), so the identity holds exactly when
# every dossier the portal holds is explained; ``unexpected`` (city dossiers the portal holds
# although their procedure is out of the portal's scope, or dated outside the period) breaks it.
_OUT_OF_SCOPE = f"coalesce(state = '{DeliveryState.OUT_OF_SCOPE}', false)"
_PORTAL_IDENTITY = f"""
SELECT (SELECT count(*) FROM portal),
    count(*) FILTER (WHERE in_period),
    (SELECT count(*) FILTER (WHERE sources IS NOT NULL) FROM portal_extra),
    (SELECT count(*) FILTER (WHERE sources IS NULL) FROM portal_extra),
    count(*) FILTER (WHERE in_period AND {_OUT_OF_SCOPE}),
    count(*) FILTER (WHERE in_period AND NOT {_OUT_OF_SCOPE} AND NOT held),
    count(*) FILTER (WHERE held AND (NOT in_period OR {_OUT_OF_SCOPE}))
FROM city_state
"""

# Table 01, by status outcome (mappings/code_tables/statuses.csv):
#   received   = every dossier in scope;
#   closed     = outcome closed_unresolved: 3 rejected at intake, 7 withdrawn, 8 processing stopped --
#                outside Table 01's total, which counts dossiers the administration resolves or holds;
#   total      = received - closed;
#   on_time    = outcome resolved (9 processed, 10 result returned) and finished <= due;
#   late       = outcome resolved and finished > due;
#   in_process = outcome in_process (1 submitted, 2 accepted, 4 in progress, 5 supplement, 6 payment).
# The identity total = on_time + late + in_process fails exactly when a dossier in scope has no
# usable status (no facts, a code the table does not know) or is resolved without a finish or due
# date: those are counted in ``unclassified`` so the gap is explained.
_RESOLVED_ON_TIME = "outcome = 'resolved' AND on_time"
_RESOLVED_LATE = "outcome = 'resolved' AND NOT on_time"
_TABLE01 = f"""
SELECT count(*) AS received,
    count(*) FILTER (WHERE outcome = 'closed_unresolved') AS closed_unresolved,
    count(*) FILTER (WHERE {_RESOLVED_ON_TIME}) AS on_time,
    count(*) FILTER (WHERE {_RESOLVED_LATE}) AS late,
    count(*) FILTER (WHERE outcome = 'in_process') AS in_process
FROM scope
"""
TABLE01_FORMULA = (
    "total = on_time + late + in_process, where total = received - closed_unresolved; "
    "closed_unresolved = status 3, 7, 8 (rejected at intake, withdrawn, stopped); "
    "on_time / late = status 9, 10 with finished <= / > due; in_process = status 1, 2, 4, 5, 6"
)

# The states _HUB_FLOW counts after ``extracted``, passed by position ($1-$4): DuckDB matches
# parameter names without regard to case, so names would be a second spelling no test could pin.
_HUB_FLOW_STATES = (
    DeliveryState.DELIVERED,
    DeliveryState.QUARANTINED,
    DeliveryState.PENDING,
    DeliveryState.OUT_OF_SCOPE,
)
_HUB_FLOW = """
SELECT count(*) AS extracted,
    count(*) FILTER (WHERE state = $1),
    count(*) FILTER (WHERE state = $2),
    count(*) FILTER (WHERE state = $3),
    count(*) FILTER (WHERE state = $4)
FROM city_state
WHERE in_period
"""

# key, Vietnamese and English labels, numerator and denominator conditions over ``scope``, formula.
_KPIS: tuple[tuple[str, str, str, str, str, str], ...] = (
    (
        "synced_to_portal",
        "Tỷ lệ hồ sơ đồng bộ lên Cổng DVCQG",
        "Share synced to the national portal",
        "synced",
        "integrated",
        "dossiers whose current version the portal acknowledged / dossiers of procedures integrated on the portal",
    ),
    (
        "on_time",
        "Tỷ lệ hồ sơ giải quyết đúng hạn",
        "Share resolved on time",
        _RESOLVED_ON_TIME,
        "outcome = 'resolved' AND on_time IS NOT NULL",
        "resolved (status 9, 10) with finished <= due / resolved with both dates",
    ),
    (
        "online",
        "Tỷ lệ hồ sơ trực tuyến",
        "Share submitted online",
        _ONLINE,
        "true",
        "dossiers submitted online (KenhThucHien = 2) / dossiers",
    ),
    (
        "portal_submitted",
        "Tỷ lệ hồ sơ trực tuyến nộp trên Cổng DVCQG",
        "Share of online dossiers filed on the national portal",
        "submitted_via_portal",
        _ONLINE,
        "online dossiers filed on the national portal (NoiNopHoSo) / online dossiers (KenhThucHien = 2); cf. F766 3.2",
    ),
    (
        "paid_online",
        "Tỷ lệ hồ sơ thanh toán trực tuyến",
        "Share paid online",
        "paid_online",
        "fee_payable",
        "dossiers paid online, on the national portal or the city's own gateway (DuocThanhToanTrucTuyen 1 or 2) "
        "/ dossiers with a fee above 0 (DanhSachLePhi.Gia > 0); F766 3.6",
    ),
    (
        "digitised",
        "Tỷ lệ hồ sơ được số hóa (thành phần và kết quả)",
        "Share digitised (components and result)",
        "digitised AND result_coded",
        "true",
        "dossiers with at least one digitised component (TaiLieuNop.DuocSoHoa) and an electronic result with a "
        "code and a link / dossiers; F766 4.2",
    ),
    (
        "result_coded",
        "Tỷ lệ hồ sơ có kết quả điện tử gắn mã",
        "Share with a coded electronic result",
        "result_coded",
        "outcome = 'resolved'",
        "resolved dossiers (status 9, 10) with an electronic result carrying a result-document code and a link "
        "(MaGiayToKetQua, DuongDanTepTinKetQua) / resolved dossiers; cf. F766 4.1",
    ),
    (
        "vneid_verified",
        "Tỷ lệ hồ sơ trực tuyến từ tài khoản xác thực VNeID",
        "Share of online dossiers from VNeID-verified accounts",
        "vneid_verified",
        _ONLINE,
        "online dossiers whose account was authenticated with VNeID (TaiKhoanDuocXacThucVoiVNeID = 1) "
        "/ online dossiers; cf. F766 4.5",
    ),
    (
        "national_data",
        "Tỷ lệ hồ sơ có khai thác cơ sở dữ liệu quốc gia",
        "Share with national databases consulted",
        "consulted_databases > 0",
        "identified",
        "dossiers whose applicant's data were looked up in at least one national database (DSKetNoiCSDL) "
        "/ dossiers whose applicant carries an identifier (DinhDanhCHS); cf. F766 4.5",
    ),
)


def connect_duckdb(memory_limit: str, spill: str) -> duckdb.DuckDBPyConnection:
    """A DuckDB under ``memory_limit``, spilling to ``spill`` (also the warehouse export's, ``hub.analytics``).

    No extension is ever fetched at run time: the hub reaches no network beyond its partners.
    """
    db = duckdb.connect(
        config={
            "memory_limit": memory_limit,
            "temp_directory": spill,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        }
    )
    db.execute("SET enable_progress_bar = false")  # a task log is no terminal
    return db


def _code_tables(db: duckdb.DuckDBPyConnection, tables: CodeTables, period: Period) -> None:
    """Status outcomes (as of the period's end) and every procedure version's portal integration."""
    statuses = [r for r in tables.statuses.all_rows() if r.valid_on(period.last)]
    db.execute(
        "CREATE TABLE outcome AS SELECT unnest($codes)::INTEGER AS code, unnest($outcomes) AS outcome",
        {"codes": [int(r.code) for r in statuses], "outcomes": [r.outcome for r in statuses]},
    )
    procedures = tables.procedures.all_rows()
    db.execute(
        "CREATE TABLE procedure_version AS SELECT unnest($codes) AS code, unnest($integrated) AS integrated, "
        "unnest($valid_from)::DATE AS valid_from, coalesce(unnest($valid_to)::DATE, DATE '9999-12-31') AS valid_to",
        {
            "codes": [r.code for r in procedures],
            "integrated": [r.integrated_on_portal for r in procedures],
            "valid_from": [r.valid_from for r in procedures],
            "valid_to": [r.valid_to for r in procedures],
        },
    )


@contextmanager
def loaded_store(
    store: StoreDatabase,
    period: Period,
    memory_limit: str,
    snapshot_period: str | None,
    batch_rows: int,
    read_streams: int,
    columnar: Path | None = None,
    rebuild_columnar: bool = False,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB holding the store's city and ministry dossiers of ``period`` (``load.period_views``,
    ``dossier`` dated and flagged ``in_period``): what the reconciliation compares, and what the
    analytics warehouse exports (``hub.analytics.export``), so both count the same dossiers.

    ``columnar``: the file of the store's columnar copy (``quality.reconcile.columnar``), brought up
    to date and read in place instead of the store, under its lock until the DuckDB is closed (the
    lock is taken first, so it is released last); rebuilt first with ``rebuild_columnar``. None:
    the store is read for this run only."""
    scope = ReadScope(
        city_source=CITY_SOURCE,
        ministry_prefix=PULLBACK_PREFIX,
        partner=PORTAL,
        first=period.first,
        last=period.last,
        snapshot_period=snapshot_period,
        batch_rows=batch_rows,
        parts=read_streams,
    )
    with (
        locked(columnar) if columnar is not None else nullcontext(),
        tempfile.TemporaryDirectory(prefix="hub-reconcile-") as spill,
        connect_duckdb(memory_limit, spill) as db,
    ):
        if columnar is None:
            load_store(db, store, scope)
        else:
            load_from_copy(db, store, columnar, scope, rebuild=rebuild_columnar)
        yield db


def reconcile(
    store: StoreDatabase,
    period: Period,
    *,
    tables: CodeTables | None = None,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    batch_rows: int = 65_536,
    read_streams: int = 4,
    expected: frozenset[DifferenceClass] = DEFAULT_EXPECTED,
    extra_identities: Sequence[Identity] = (),
    columnar: Path | None = None,
    rebuild_columnar: bool = False,
) -> Reconciliation:
    """Compare the city's staged dossiers with the portal's delivery state and the ministry pull-backs.

    ``extra_identities``: identities the hub counts outside the engine's tables (the citizen
    notifications of the period), checked and printed with the others.

    ``read_streams``: connections a SQLite store is read over in parallel (see ``load._streams``).
    ``expected``: the classes a period may differ in and still be "explained" (``model.DEFAULT_EXPECTED``).
    ``columnar``, ``rebuild_columnar``: read the store through its columnar copy (``loaded_store``).
    """
    tables = tables or load_code_tables()
    fetched_at = fetched_snapshot(store, period.label)
    portal_checked = fetched_at is not None
    snapshot_period = period.label if portal_checked else None
    platform = read_platform(store, period)
    with loaded_store(
        store, period, memory_limit, snapshot_period, batch_rows, read_streams, columnar, rebuild_columnar
    ) as db:
        payment_days = platform.load(db)
        db.execute(f"CREATE VIEW city AS SELECT * FROM dossier WHERE source = '{CITY_SOURCE}'")
        db.execute(f"CREATE VIEW ministry AS SELECT * FROM dossier WHERE source LIKE '{PULLBACK_PREFIX}%'")
        snapshot = None
        if fetched_at is not None:
            (held,) = db.execute("SELECT count(*) FROM portal").fetchall()[0]
            snapshot = snapshot_read(period.label, fetched_at, held)
        _code_tables(db, tables, period)
        db.execute(_CITY_STATE, {"portal_checked": portal_checked})
        db.execute(_MINISTRY_STATE)
        db.execute(_PORTAL_EXTRA)
        db.execute(_SCOPE)
        differences = _differences(db, batch_rows)
        identities = [_hub_flow(db), _table01(db)] + ([_portal(db)] if portal_checked else [])
        explained = explain_portal(db, identities[-1]) if portal_checked else None
        ministries = by_ministry(db, tables, period, portal_checked=portal_checked)
        identities.append(ministry_identity(ministries))
        identities += extra_identities
        kpis = _kpis(db)
        payments = check_payments(db, payment_days)
        if payments is not None:
            differences += payments.differences()
            identities += payments.identities()
            kpis = [payments.paid_online_kpi(k) if k.key == "paid_online" else k for k in kpis]
        else:
            kpis = [_facts_basis(k) if k.key == "paid_online" else k for k in kpis]
        sources = _sources(db, portal_checked)
        breakdown = _breakdown(db)
        trend = _trend(db) if period.kind != "day" else []
    return Reconciliation(
        period=period,
        generated_at=datetime.now(UTC),
        sources=sources,
        identities=identities,
        checked=CHECKED
        + ((DifferenceClass.EXTRA_AT_PORTAL,) if portal_checked else ())
        + (PAYMENT_CLASSES if payments is not None else ()),
        differences=differences,
        breakdown=breakdown,
        kpis=kpis,
        trend=trend,
        portal_snapshot=asdict(snapshot) | {"explained": explained} if snapshot is not None else None,
        expected=expected,
        ministries=ministries,
        payments=payments.summary() if payments is not None else {"checked": False, "basis": "facts"},
    )


def _facts_basis(kpi: Kpi) -> Kpi:
    """The online-payment KPI on the dossiers' word: the platform's list was not fetched for the period."""
    note = "; basis: the dossiers' own facts (the payment platform's transaction list was not fetched)"
    return replace(kpi, formula=kpi.formula + note, basis="facts")


def _differences(db: duckdb.DuckDBPyConnection, batch_rows: int) -> list[Difference]:
    result = db.execute(_DIFFERENCES)
    found: list[Difference] = []
    while rows := result.fetchmany(batch_rows):
        found.extend(
            Difference(no, DifferenceClass(kind), source, agency, detail) for no, source, agency, kind, detail in rows
        )
    return found


def _hub_flow(db: duckdb.DuckDBPyConnection) -> Identity:
    row = db.execute(_HUB_FLOW, [state.value for state in _HUB_FLOW_STATES]).fetchone()
    assert row is not None
    extracted, delivered, quarantined, pending, out_of_scope = row
    terms = {
        "extracted": extracted,
        "delivered": delivered,
        "quarantined": quarantined,
        "pending": pending,
        "out_of_scope": out_of_scope,
    }
    # Dossiers with no portal disposition at all: the gap the run must explain.
    terms["no_disposition"] = extracted - (delivered + quarantined + pending + out_of_scope)
    return Identity(
        "hub_flow",
        "extracted = delivered + quarantined + pending + out_of_scope",
        terms,
        "extracted",
        ("delivered", "quarantined", "pending", "out_of_scope"),
    )


def _table01(db: duckdb.DuckDBPyConnection) -> Identity:
    row = db.execute(_TABLE01).fetchone()
    assert row is not None
    received, closed, on_time, late, in_process = row
    total = received - closed
    terms = {
        "received": received,
        "closed_unresolved": closed,
        "total": total,
        "on_time": on_time,
        "late": late,
        "in_process": in_process,
        "unclassified": total - (on_time + late + in_process),
    }
    return Identity("table01", TABLE01_FORMULA, terms, "total", ("on_time", "late", "in_process"))


def _portal(db: duckdb.DuckDBPyConnection) -> Identity:
    row = db.execute(_PORTAL_IDENTITY).fetchone()
    assert row is not None
    keys = ("portal", "city", "ministry_only", "portal_only", "not_integrated", "missing_at_portal", "unexpected")
    terms = {key: row[i] for i, key in enumerate(keys)}  # the query's seven columns, in this order
    return Identity(
        "portal",
        "portal = city + ministry_only - not_integrated, once the differences are counted: "
        "+ portal_only (extra_at_portal no source explains) - missing_at_portal (in-scope city dossiers it lacks)",
        terms,
        "portal",
        ("city", "ministry_only", "portal_only"),
        ("not_integrated", "missing_at_portal"),
    )


def _kpi_columns() -> str:
    """Numerator and denominator of each KPI, in ``_KPIS`` order, as aggregate columns over ``scope``."""
    return ", ".join(
        f"count(*) FILTER (WHERE ({num}) AND ({den})), count(*) FILTER (WHERE {den})" for _, _, _, num, den, _ in _KPIS
    )


def _kpis(db: duckdb.DuckDBPyConnection) -> list[Kpi]:
    columns = _kpi_columns()
    rows = db.execute(
        f"SELECT agency, grouping(agency) AS overall, {columns} FROM scope GROUP BY GROUPING SETS ((agency), ()) "
        "ORDER BY overall DESC, agency"
    ).fetchall()
    overall, per_agency = rows[0], rows[1:]
    kpis = []
    for i, (key, label_vi, label_en, _, _, formula) in enumerate(_KPIS):
        at = 2 + 2 * i
        kpis.append(
            Kpi(
                key,
                label_vi,
                label_en,
                formula,
                overall[at],
                overall[at + 1],
                {row[0]: (row[at], row[at + 1]) for row in per_agency},
            )
        )
    return kpis


def _sources(db: duckdb.DuckDBPyConnection, portal_checked: bool) -> dict[str, int]:
    """Dossiers each source holds for the period; the portal's are what its export holds when it was
    fetched, else those it acknowledged from the hub; the postal service's are the period's city
    results a carrier holds an order for, and of those the ones it delivered."""
    counts = dict(db.execute("SELECT source, count(*) FROM dossier WHERE in_period GROUP BY 1 ORDER BY 1").fetchall())
    acknowledged = "count(*) FILTER (WHERE in_period AND acked)"
    row = db.execute(
        f"SELECT {'(SELECT count(*) FROM portal)' if portal_checked else acknowledged}, "
        "count(*) FILTER (WHERE in_period AND postal_ordered), count(*) FILTER (WHERE in_period AND postal_delivered) "
        "FROM city_state"
    ).fetchone()
    assert row is not None
    found = {CITY_SOURCE: counts.pop(CITY_SOURCE, 0), PORTAL: row[0], "postal": row[1], "postal_delivered": row[2]}
    return found | counts


def _breakdown(db: duckdb.DuckDBPyConnection) -> list[BreakdownRow]:
    rows = db.execute(
        f"""
        SELECT agency, coalesce(procedure, ''), status,
            count(*) FILTER (WHERE source = '{CITY_SOURCE}'),
            count(*) FILTER (WHERE source = '{CITY_SOURCE}' AND acked),
            count(*) FILTER (WHERE source <> '{CITY_SOURCE}')
        FROM (SELECT agency, procedure, status, '{CITY_SOURCE}' AS source, acked FROM city_state WHERE in_period
            UNION ALL SELECT agency, procedure, status, source, false FROM ministry_state WHERE in_period)
        GROUP BY ALL ORDER BY 1, 2, 3 NULLS LAST
        """
    ).fetchall()
    return [BreakdownRow(*row) for row in rows]


def _trend(db: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Each KPI per day of the period (days with no dossier are left out)."""
    columns = _kpi_columns()
    trend = []
    for day, *counts in db.execute(f"SELECT day, {columns} FROM scope GROUP BY day ORDER BY day").fetchall():
        point: dict[str, Any] = {"day": day.isoformat()}
        for i, (key, *_) in enumerate(_KPIS):
            point[key] = share(counts[2 * i], counts[2 * i + 1])
        trend.append(point)
    return trend
