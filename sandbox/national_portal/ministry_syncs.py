"""The ministry systems' own syncs to the portal: why the real portal holds more Hanoi dossiers than the city.

Dossiers under the city's authority that are processed on ministry software (civil status on the
Ministry of Justice's system, business registration on the national business registration
system, ...) never pass through the city system; the ministry systems sync them to the national
portal themselves (DOMAIN.md, "The problem the hub solves"). A portal double that held only what
the hub sent would never show the difference the hub exists to explain, so at start-up this one
also receives, for each ministry of the registry (``adapters.partners.ministries``), exactly the
dossiers that ministry's double holds for the day -- the ones it serves to the hub's pull-back,
generated from the same (day, scale, seed) by the function every ministry double's ``store``
module names :data:`sandbox.ministry_dossiers.HELD_DOSSIERS`.

What the evidence says and what is assumed:

- ``MaHoSo`` is the ministry's own number: a public client that syncs a dossier whose number is
  another system's sends that number (docs/interfaces.md 2.5, T-S ``GetMaHoSo``), so the hub can
  match the portal's entry with its pull-back by number.
- ASSUMPTION: the portal files a dossier under the province unit of its handling agency (Hanoi's
  agencies' codes end in H26), whoever synced it, so the per-unit export the hub reconciles
  against (itself an assumption, 2.8) lists the ministries' syncs beside the hub's. The double
  stores them under the unit the hub connects as (its ``madonvi``).
- The records are the ministry's, written straight into the store: they do not pass the
  validation that judges the hub's ``DongBoHoSoMC`` calls, as they reach the real portal over
  the ministry's own connection.

Sandbox-only endpoints (docs/interfaces.md 2.11): ``GET /sandbox/ministry-syncs`` lists what the
ministries synced (per partner, with the numbers), so tests and the demo can tell the two roads
apart; ``POST /sandbox/load`` loads further days, as the ministry doubles' own ``/sandbox/load``.
"""

from __future__ import annotations

import importlib
import sqlite3
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from adapters.partners import ministries, partner
from mappings.dossier import Dossier
from mappings.national_portal import to_dong_bo_ho_so
from sandbox.ministry_dossiers import HELD_DOSSIERS, LOADED_DAYS_SCHEMA, load_days, mount_load
from sandbox.national_portal.store import NewDossier, PortalStore

__all__ = ["MinistrySyncs", "install"]

HeldDossiers = Callable[[date, float, int, Any], list[Dossier]]

_SCHEMA = (
    LOADED_DAYS_SCHEMA,
    "CREATE TABLE IF NOT EXISTS ministry_sync (ma_ho_so TEXT PRIMARY KEY, partner TEXT NOT NULL)",
)


def held_dossiers(partner_id: str) -> HeldDossiers:
    """The ministry double's own ``store.held_dossiers`` (found beside its ``double`` in the registry)."""
    package = partner(partner_id).sandbox.partition(":")[0].rpartition(".")[0]
    module = importlib.import_module(f"{package}.store")
    found = getattr(module, HELD_DOSSIERS, None)
    if found is None:
        raise AttributeError(
            f"{module.__name__} has no {HELD_DOSSIERS}(): the portal cannot know what {partner_id} syncs"
        )
    return found


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


class MinistrySyncs:
    """The ministries' syncs into one portal store, under the unit ``unit``, one generated day at a time."""

    def __init__(self, store: PortalStore, unit: str, code_tables: Any) -> None:
        self.store, self.unit, self.code_tables = store, unit, code_tables
        with store.db.transaction() as conn:
            for statement in _SCHEMA:
                conn.execute(statement)

    def load_days(self, first: date, last: date, scale: float, seed: int) -> int:
        """Receive the syncs of every day in ``[first, last]`` not received yet; returns the dossiers added."""
        return load_days(self.store.db, first, last, scale, seed, self._write_day)

    def _write_day(self, conn: sqlite3.Connection, day: date, scale: float, seed: int) -> int:
        now = datetime.now(UTC).isoformat()
        synced: list[tuple[str, NewDossier]] = []
        for partner_id in ministries():
            for dossier in held_dossiers(partner_id)(day, scale, seed, self.code_tables):
                record = to_dong_bo_ho_so(dossier, self.code_tables)
                synced.append((partner_id, NewDossier(record["MaHoSo"], record, dossier.submitted_at)))
        # A number the portal already holds (a re-sync) keeps its first copy: a ministry numbers its
        # dossiers its own way (``sandbox.ministry_dossiers``), so it is never a city dossier's.
        held = self.store.existing_bodies(conn, (row.ma_ho_so for _, row in synced))
        new = [(p, row) for p, row in synced if row.ma_ho_so not in held]
        self.store.insert(conn, self.unit, [row for _, row in new], now)
        conn.executemany(
            "INSERT INTO ministry_sync (ma_ho_so, partner) VALUES (?,?)", [(row.ma_ho_so, p) for p, row in new]
        )
        return len(new)

    def listing(self, first: date | None = None, last: date | None = None) -> dict[str, Any]:
        """What the ministries synced that the portal holds (submitted on a day in ``first..last`` when
        given): counts per partner (every ministry of the registry, zeros included) and the numbers."""
        where, params = self.store._day_filter(first, last)  # the export's own day filter
        with self.store.db.read() as conn:
            rows = conn.execute(
                f"SELECT ma_ho_so, s.partner FROM ministry_sync s JOIN dossiers USING (ma_ho_so){where} ORDER BY 1",
                params,
            ).fetchall()
        by_partner = dict.fromkeys(ministries(), 0)
        for _, partner_id in rows:
            by_partner[partner_id] = by_partner.get(partner_id, 0) + 1
        return {
            "total": len(rows),
            "by_partner": by_partner,
            "items": [{"MaHoSo": number, "partner": partner_id} for number, partner_id in rows],
        }


def install(app: FastAPI, unit: str, load: tuple[date, float, int], code_tables: Any) -> MinistrySyncs:
    """Receive the day ``load`` = (day, scale, seed) of every ministry's syncs into the portal
    double ``app`` and mount the sandbox endpoints that show and extend them."""
    syncs = MinistrySyncs(app.state.store, unit, code_tables)
    day, scale, seed = load
    syncs.load_days(day, day, scale, seed)
    app.state.ministry_syncs = syncs
    mount_load(app, syncs.load_days)

    @app.get("/sandbox/ministry-syncs")
    async def listing(request: Request) -> JSONResponse:
        try:
            first, last = (_day(request.query_params.get(name)) for name in ("from", "to"))
        except ValueError as exc:
            return JSONResponse({"error": "bad_request", "message": str(exc)}, 400)
        return JSONResponse(await run_in_threadpool(syncs.listing, first, last))

    return syncs
