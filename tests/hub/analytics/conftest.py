"""A hub store holding a generated city day and a ministry's pull-back, and an empty local warehouse."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pyiceberg.catalog import Catalog, load_catalog

from hub.pipeline.extract import staged_record
from hub.store import HubStore, StagedRecord
from mappings.facts import portal_facts
from mappings.sources import CITY_SOURCE
from sandbox.city_system.generator import generate_day
from tests.adapters.national_portal.test_client import dossier

DAY = date(2026, 11, 20)
CIVIL_STATUS = "ministry:civil_status"


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    root = tmp_path / "warehouse"
    root.mkdir()
    return root


@pytest.fixture
def catalog(warehouse: Path) -> Catalog:
    """A local SQL catalog, as the hub's default, under the test's own folder."""
    return load_catalog("test", type="sql", uri=f"sqlite:///{warehouse / 'catalog.db'}", warehouse=warehouse.as_uri())


@pytest.fixture(scope="session")
def city_records() -> list[dict[str, Any]]:
    """The sandbox city system's records of DAY (names, IDs, phones, addresses, birth dates and all)."""
    return generate_day(DAY, 0.02, 7)


@pytest.fixture(scope="session")
def ministry_records() -> list[dict[str, Any]]:
    """Three civil-status dossiers of DAY as the ministry's software syncs them to the portal."""
    return [dossier(seq) for seq in (1, 2, 3)]


def stage_day(store: HubStore, city: list[dict[str, Any]], ministry: list[dict[str, Any]]) -> None:
    """Stage ``city`` as the extract does and ``ministry`` as the pull-back does (facts and all)."""
    store.staging.stage(CITY_SOURCE, [staged_record(r) for r in city], "city-batch")
    pulled = [
        StagedRecord(
            item["MaHoSo"], hashlib.sha256(json.dumps(item).encode()).hexdigest(), item, None, portal_facts(item)
        )
        for item in ministry
    ]
    store.staging.stage(CIVIL_STATUS, pulled, "ministry-batch")


@pytest.fixture
def staged(store: HubStore, city_records: list[dict[str, Any]], ministry_records: list[dict[str, Any]]) -> HubStore:
    """The store (SQLite and PostgreSQL) holding DAY's city dossiers and the ministry's."""
    stage_day(store, city_records, ministry_records)
    return store
