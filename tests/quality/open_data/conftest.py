"""A month of generated city dossiers in a hub store, reconciled: what the open data is made from."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from hub.pipeline.extract import staged_record
from hub.store import HubStore
from mappings.code_tables import load_code_tables
from mappings.sources import CITY_SOURCE
from quality.reconcile import Period, Reconciliation, reconcile
from sandbox.city_system.generator import generate

DAY, SCALE, SEED = date(2026, 11, 20), 0.02, 7
MONTH = Period.parse("2026-11")


@pytest.fixture
def city_records() -> list[dict[str, Any]]:
    return generate(DAY, SCALE, SEED).records


@pytest.fixture
def month(store: HubStore, city_records: list[dict[str, Any]]) -> Reconciliation:
    store.staging.stage(CITY_SOURCE, [staged_record(r) for r in city_records], "b1")
    return reconcile(store.db, MONTH, tables=load_code_tables())
