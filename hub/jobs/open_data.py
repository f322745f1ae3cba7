"""Publish a month's open data on the city data portal: the step behind the ``open_data_publish``
DAG and ``hub open-data publish``.

The figures are the month's reconciliation (the same engine, store and code tables as the month's
report), turned into the open tables with small cells hidden (:mod:`quality.open_data`), kept
under ``var/reports/<month>/open-data/`` exactly as sent, and published through the CKAN action
API: once per month and package, patched in place when published again. Every exchange goes to
the message log like any partner's.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from typing import Any

from adapters.city_data_portal.client import CkanClient
from hub.jobs.common import recorded
from hub.paths import reconcile_copy, reports_dir
from hub.store import hub_store
from mappings.code_tables import load_code_tables
from quality.open_data.datasets import build_month
from quality.open_data.publication import Publication, build_publication
from quality.reconcile.engine import DEFAULT_MEMORY_LIMIT, reconcile
from quality.reconcile.model import HANOI, Period

log = logging.getLogger(__name__)


def month_before(moment: datetime) -> str:
    """The month a run at ``moment`` publishes: the Hanoi month that ended before it."""
    first = moment.astimezone(HANOI).date().replace(day=1)
    last_month = first - timedelta(days=1)
    return f"{last_month.year}-{last_month.month:02d}"


def month_publication(month_text: str, owner_org: str) -> Publication:
    """The month's tables and DCAT description, from its reconciliation; a month only."""
    period = Period.parse(month_text)
    if period.kind != "month":
        raise ValueError(f"open data is published by month (2026-11), not for {month_text!r}")
    memory_limit = os.environ.get("HUB_RECONCILE_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT)
    store = hub_store().db
    result = reconcile(store, period, memory_limit=memory_limit, columnar=reconcile_copy(store.url))
    datasets = build_month(result, load_code_tables())
    return build_publication(datasets, owner_org=owner_org, modified=result.generated_at)


def publish_month(client: CkanClient, month_text: str) -> dict[str, Any]:
    """Build the month's datasets, keep them on disk, publish them; what was published, in numbers."""
    publication = month_publication(month_text, client.owner_org)
    folder = reports_dir(month_text) / "open-data"
    folder.mkdir(parents=True, exist_ok=True)
    for file in publication.files:
        (folder / file.filename).write_bytes(file.content)
    with recorded(client, f"open-data:{month_text}"):
        published = client.publish(publication.package, list(publication.files))
    summary = {
        "month": month_text,
        "package": published.package.name,
        "package_created": published.created,
        "resources": published.resources,
        "resources_held": len(published.package.resources),
        "rows": publication.rows,
        "cells_suppressed": publication.cells_suppressed,
        "files": str(folder),
    }
    log.info(
        "open data %s: package %s %s, %d resources, %d rows, %d cells suppressed",
        month_text,
        summary["package"],
        "created" if published.created else "patched",
        len(published.resources),
        publication.rows,
        publication.cells_suppressed,
    )
    return summary
