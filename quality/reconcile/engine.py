"""Record-level reconciliation of the hub store for a period, in DuckDB.

The classification is two joins and a CASE over columnar tables, so a year of dossiers (about
four million per source) is a scan and a hash join rather than four million Python objects;
DuckDB works under ``memory_limit`` and spills to a temporary directory past it. Python sees only
the differences, fetched in batches.
"""

from __future__ import annotations

import tempfile
from collections import Counter, defaultdict

import duckdb

from hub.pipeline.extract import CITY_SOURCE
from hub.pipeline.ministry_exchange import PULLBACK_PREFIX
from hub.pipeline.portal_sync import PARTNER as PORTAL
from hub.store import DeliveryState, HubStore
from quality.reconcile.load import load_store
from quality.reconcile.model import AccountingIdentity, Difference, DifferenceClass, Period, Reconciliation

# A city dossier in the period gets the first class that applies; out of scope (a procedure not
# integrated on the portal) and delivered-at-its-current-version are no difference.
_CITY_DIFFERENCES = f"""
SELECT c.dossier_no, $city AS source, c.agency,
    CASE
        WHEN d.dossier_no IS NULL THEN '{DifferenceClass.MISSING_AT_PORTAL}'
        WHEN d.state = '{DeliveryState.OUT_OF_SCOPE}' THEN NULL
        WHEN d.state = '{DeliveryState.QUARANTINED}' THEN '{DifferenceClass.QUARANTINED}'
        WHEN d.state = '{DeliveryState.PENDING}' THEN '{DifferenceClass.PENDING}'
        WHEN d.acked_hash IS NULL THEN '{DifferenceClass.MISSING_AT_PORTAL}'
        WHEN d.acked_hash <> c.content_hash THEN '{DifferenceClass.BEHIND_AT_PORTAL}'
    END AS kind,
    CASE WHEN d.state = '{DeliveryState.QUARANTINED}' THEN q.rules END AS detail
FROM city c
LEFT JOIN delivery d USING (dossier_no)
LEFT JOIN (SELECT dossier_no, string_agg(rule, ', ' ORDER BY rule) AS rules FROM quarantine GROUP BY 1) q
    USING (dossier_no)
WHERE c.in_period
"""

# Ministry pull-backs hold only what was processed on ministry software (the dossiers the city
# pushed are not staged back), so any number the city holds too was processed twice.
_MINISTRY_DIFFERENCES = f"""
SELECT m.dossier_no, m.source, m.agency,
    CASE
        WHEN c.dossier_no IS NULL THEN '{DifferenceClass.MINISTRY_ONLY}'
        WHEN c.content_hash <> m.content_hash THEN '{DifferenceClass.DUPLICATE}'
    END AS kind,
    NULL AS detail
FROM ministry m
LEFT JOIN city c USING (dossier_no)
WHERE m.in_period
"""

_IDENTITY = """
SELECT count(*) AS extracted,
    count(*) FILTER (WHERE d.state = $delivered),
    count(*) FILTER (WHERE d.state = $quarantined),
    count(*) FILTER (WHERE d.state = $pending),
    count(*) FILTER (WHERE d.state = $out_of_scope)
FROM city c LEFT JOIN delivery d USING (dossier_no)
WHERE c.in_period
"""


def reconcile(
    store: HubStore,
    period: Period,
    *,
    memory_limit: str = "1GB",
    batch_rows: int = 50_000,
) -> Reconciliation:
    """Compare the city's staged dossiers with the portal's delivery state and the ministry pull-backs."""
    with tempfile.TemporaryDirectory(prefix="hub-reconcile-") as spill:
        # No extension is ever fetched at run time: the hub reaches no network beyond its partners.
        db = duckdb.connect(
            config={
                "memory_limit": memory_limit,
                "temp_directory": spill,
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
            }
        )
        try:
            load_store(
                db,
                store,
                city_source=CITY_SOURCE,
                ministry_prefix=PULLBACK_PREFIX,
                partner=PORTAL,
                period=period,
                batch_rows=batch_rows,
            )
            identity = AccountingIdentity(
                *db.execute(
                    _IDENTITY,
                    {
                        "delivered": DeliveryState.DELIVERED.value,
                        "quarantined": DeliveryState.QUARANTINED.value,
                        "pending": DeliveryState.PENDING.value,
                        "out_of_scope": DeliveryState.OUT_OF_SCOPE.value,
                    },
                ).fetchone()
            )
            differences = _differences(db, batch_rows)
        finally:
            db.close()
    counts = Counter(d.kind for d in differences)
    by_agency: defaultdict[str, Counter[DifferenceClass]] = defaultdict(Counter)
    for d in differences:
        by_agency[d.agency][d.kind] += 1
    return Reconciliation(
        period=period,
        identity=identity,
        differences=differences,
        counts={kind: counts[kind] for kind in DifferenceClass},
        by_agency={agency: dict(c) for agency, c in sorted(by_agency.items())},
    )


def _differences(db: duckdb.DuckDBPyConnection, batch_rows: int) -> list[Difference]:
    query = (
        f"SELECT * FROM ({_CITY_DIFFERENCES} UNION ALL {_MINISTRY_DIFFERENCES}) "
        "WHERE kind IS NOT NULL ORDER BY kind, dossier_no, source"
    )
    result = db.execute(query, {"city": CITY_SOURCE})
    found: list[Difference] = []
    while rows := result.fetchmany(batch_rows):
        found.extend(
            Difference(no, DifferenceClass(kind), source, agency, detail) for no, source, agency, kind, detail in rows
        )
    return found
