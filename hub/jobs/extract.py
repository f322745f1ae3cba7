"""The ``city_dossiers_extract`` DAG's task: stage the city's changed dossiers of a data interval."""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import datetime
from typing import Any

from adapters.city_system.client import CitySystemClient
from hub.jobs.common import recorded
from hub.pipeline.extract import extract_city_dossiers
from hub.store import hub_store

log = logging.getLogger(__name__)


def extract(client: CitySystemClient, start: datetime, end: datetime) -> dict[str, Any]:
    with recorded(client, None):
        result = extract_city_dossiers(client, hub_store(), start, end)
    log.info(
        "extracted %d city records (%d new versions, %d unchanged) for %s .. %s",
        result.records,
        result.new_versions,
        result.unchanged,
        result.window_from,
        result.window_to,
    )
    return {
        **asdict(result),
        "window_from": result.window_from.isoformat(),
        "window_to": result.window_to.isoformat(),
    }
