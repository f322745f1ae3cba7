"""Check the portal's catalogue against the city's code tables: the step behind ``hub catalogue check``
and the daily reconciliation's ``check_portal_catalogue`` task.

The comparison itself is :mod:`quality.reconcile.catalogue`; this step asks the portal
(``LayDanhSachTTHC``, ``LayDanhMucCoQuan`` and ``LayThuTuc`` for every procedure the city says the
portal integrates), keeps every exchange in the message log, and writes
``var/reports/catalogue/<day>.json`` so the engineer on duty sees a drifted row the morning after
the portal changed it, before its dossiers are refused.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from adapters.national_portal.client import NationalPortalClient
from hub.jobs.common import recorded, write_report
from mappings.code_tables import load_code_tables
from quality.reconcile.catalogue import compare_catalogue
from quality.reconcile.model import HANOI

log = logging.getLogger(__name__)


def check_portal_catalogue(client: NationalPortalClient, on: date | None = None) -> dict[str, Any]:
    """Compare the portal's catalogue with the code tables valid on ``on`` (default: today in Hanoi)."""
    on = on or datetime.now(HANOI).date()
    tables = load_code_tables()
    integrated = [row.code for row in tables.procedures.rows(on) if row.integrated_on_portal]
    with recorded(client, f"catalogue-{on.isoformat()}"):
        procedures = client.list_procedures()
        agencies = client.list_agencies()
        details = {code: client.procedure(code) for code in integrated}
    differences = compare_catalogue(tables, on, procedures, agencies, details)
    by_kind = Counter(difference.kind for difference in differences)
    report = {
        "day": on.isoformat(),
        "procedures_checked": len(integrated),
        "agencies_checked": len(tables.agencies.rows(on)),
        "portal_procedures": len(procedures),
        "portal_agencies": len(agencies),
        "differences": [asdict(difference) | {"meaning": difference.meaning} for difference in differences],
        "by_kind": dict(sorted(by_kind.items())),
    }
    path = write_report("catalogue", on.isoformat(), report)
    if differences:
        log.warning(
            "portal catalogue: %d rows differ from the code tables (%s); see %s", len(differences), dict(by_kind), path
        )
    else:
        log.info(
            "portal catalogue: the %d integrated procedures and %d agencies agree",
            len(integrated),
            report["agencies_checked"],
        )
    return report
