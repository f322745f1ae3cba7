"""A sandbox city system and national portal on loopback, and the hub of a test pointed at them.

What the hooks, the jobs and the CLI read is the environment (``AIRFLOW_CONN_*``, ``HUB_STORE_URL``),
so a test that runs them -- in its own process or in a child it starts -- gets exactly that set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from hub.connections import partner_connections
from sandbox.city_system.app import create_app as city_app
from sandbox.national_portal.app import create_app as portal_app
from sandbox.national_portal.store import PortalStore
from sandbox.server import RunningServer, serve_in_thread
from sandbox.signatures import PartnerSigning

CITY_TOKEN = "sync-city-token"
PORTAL_USER, PORTAL_PASSWORD, AGENCY = "hub-sync", "sync-portal-password", "000.00.00.H26"


@dataclass(frozen=True)
class SyncSandbox:
    city: RunningServer
    portal: RunningServer
    portal_store: PortalStore


@contextmanager
def city_and_portal(
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    signing: Callable[[str], PartnerSigning],
    *,
    day: date,
    scale: float,
    seed: int,
    transport: dict[str, Any],
) -> Iterator[SyncSandbox]:
    """Both doubles signing as in the demo, the city holding ``day``'s generated dossiers; the hub's
    Connections (with ``transport`` extras) and a fresh SQLite store in ``folder``; redelivery
    waits zeroed."""
    city = city_app(folder / "city.sqlite", CITY_TOKEN, signing=signing("city_system"))
    city.state.store.load_day(day, scale, seed)
    portal = portal_app(
        folder / "portal.sqlite", PORTAL_USER, PORTAL_PASSWORD, [AGENCY], signing=signing("national_portal")
    )
    with serve_in_thread(city) as city_server, serve_in_thread(portal) as portal_server:
        env = partner_connections(
            city_url=city_server.url,
            city_token=CITY_TOKEN,
            portal_url=portal_server.url,
            portal_username=PORTAL_USER,
            portal_password=PORTAL_PASSWORD,
            portal_agency=AGENCY,
            transport=transport,
        )
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("HUB_STORE_URL", f"sqlite:///{folder / 'hub.db'}")
        monkeypatch.setenv("HUB_RETRY_BASE_S", "0")
        yield SyncSandbox(city_server, portal_server, portal.state.store)
