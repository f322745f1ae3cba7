"""Dossiers the ministry simulators hold that the city system never sees (DOMAIN.md, "The problem").

High-volume procedures under city authority are processed on ministry software; their dossiers
are the count gap the hub closes by pulling them back. The ministry simulators get theirs from the
city-system generator itself (``include_ministry=True``), so procedures, agencies, applicants,
timelines and Table 01 outcomes follow exactly the rules of the city's own data, and then keep only
the procedures that partner processes.

Numbers: the city system numbers an agency's dossiers from 0001 each day. A ministry system numbers
the dossiers it receives for the same agency in the same ``{agency}-{YYMMDD}-{NNNN}`` format, from
a block of its own (ASSUMPTION: ``MINISTRY_SEQ_BASE`` + 1 upwards), so a pulled-back dossier never
collides with a city dossier. At the calibrated volume (scale 1.0) the busiest agency numbers
fewer than 3,000 dossiers a day, well below the block.

Everything is deterministic in (day, scale, seed, partner): the partner name is mixed into the
seed, so two ministries given the same seed still hold different dossiers. :func:`load_days` and
:func:`mount_load` are how a simulator loads generated days (once each) and exposes that to tests.
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from mappings.city_system import to_canonical
from mappings.code_tables import ProcedureRow
from mappings.dossier import Dossier
from mappings.dossier_number import DossierNumberAllocator
from sandbox.city_system.generator import generate
from sandbox.sqlite_store import SqliteDatabase
from sandbox.tables import tables

__all__ = [
    "HELD_DOSSIERS",
    "LOADED_DAYS_SCHEMA",
    "MINISTRY_SEQ_BASE",
    "DayConflictError",
    "ProcedureFilter",
    "canonical_ministry_dossiers",
    "load_days",
    "ministry_dossiers",
    "mount_load",
    "partner_seed",
]

MINISTRY_SEQ_BASE = 5000
ProcedureFilter = Callable[[ProcedureRow], bool]
HELD_DOSSIERS = "held_dossiers"
"""What every ministry double's ``store`` module names its ``(day, scale, seed, code_tables) ->
list[Dossier]``: the dossiers it holds for a day, as it serves them to the hub's pull-back. The
national portal's double reads it too (``sandbox.national_portal.ministry_syncs``), because the
ministry syncs those same dossiers to the portal itself."""


def partner_seed(seed: int, partner: str) -> int:
    """A seed of the partner's own, derived from the sandbox seed (stable across processes)."""
    return zlib.crc32(f"{seed}:{partner}".encode())


def ministry_dossiers(
    day: date, scale: float, seed: int, *, partner: str, keep: ProcedureFilter, code_tables: Any | None = None
) -> list[dict[str, Any]]:
    """City-format records of ``day`` for the procedures ``keep`` selects, numbered by the ministry.

    Records the generator made defective on purpose are left out: a ministry system's own data is
    what it is, and the quality gate is tested on the city's defects.
    """
    code_tables = code_tables if code_tables is not None else tables()
    generated = generate(day, scale, partner_seed(seed, partner), code_tables=code_tables, include_ministry=True)
    allocators: dict[str, DossierNumberAllocator] = {}
    kept = []
    for record in generated.records:  # already in submission order
        if record["id"] in generated.defects:
            continue
        procedure = code_tables.procedures.get(record["ma_tthc"], day)
        if procedure is None or not keep(procedure):
            continue
        agency = record["don_vi_xu_ly"]
        allocator = allocators.setdefault(agency, DossierNumberAllocator(agency, day, MINISTRY_SEQ_BASE))
        kept.append({**record, "ma_ho_so": allocator.next().format()})
    return kept


def canonical_ministry_dossiers(
    day: date, scale: float, seed: int, *, partner: str, keep: ProcedureFilter, code_tables: Any
) -> list[Dossier]:
    """:func:`ministry_dossiers` as canonical dossiers, the form every ministry double derives its
    own records from (and the portal double its copy of the ministry's syncs)."""
    records = ministry_dossiers(day, scale, seed, partner=partner, keep=keep, code_tables=code_tables)
    return [to_canonical(record, code_tables) for record in records]


LOADED_DAYS_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS loaded_days (day TEXT PRIMARY KEY, scale REAL NOT NULL, seed INTEGER NOT NULL)"
)


class DayConflictError(ValueError):
    """The day is already loaded with another scale or seed (its dossiers would differ)."""


def load_days(
    db: SqliteDatabase,
    first: date,
    last: date,
    scale: float,
    seed: int,
    write_day: Callable[[sqlite3.Connection, date, float, int], int],
) -> int:
    """Load the days ``[first, last]`` a simulator does not hold yet; returns the dossiers added.

    ``write_day(conn, day, scale, seed)`` generates and writes one day inside the transaction that marks it
    loaded (table ``loaded_days``, :data:`LOADED_DAYS_SCHEMA`), so a day is there whole or not at all
    and loading it again is a no-op.
    """
    added = 0
    day = first
    while day <= last:
        with db.transaction() as conn:
            row = conn.execute("SELECT scale, seed FROM loaded_days WHERE day=?", (day.isoformat(),)).fetchone()
            if row is None:
                added += write_day(conn, day, scale, seed)
                conn.execute("INSERT INTO loaded_days VALUES (?,?,?)", (day.isoformat(), scale, seed))
            elif (row[0], row[1]) != (scale, seed):
                raise DayConflictError(f"{day} is loaded with scale={row[0]} seed={row[1]}")
        day += timedelta(days=1)
    return added


def mount_load(app: FastAPI, load: Callable[[date, date, float, int], int]) -> None:
    """``POST /sandbox/load {"from", "to", "scale", "seed"}`` -> ``{"added": n}`` (409 on a conflicting day)."""

    @app.post("/sandbox/load")
    async def load_endpoint(request: Request) -> JSONResponse:
        body = json.loads(await request.body() or b"{}")
        try:
            first, last = date.fromisoformat(body["from"]), date.fromisoformat(body["to"])
            added = await run_in_threadpool(load, first, last, float(body.get("scale", 1.0)), int(body.get("seed", 0)))
        except (KeyError, TypeError, ValueError) as exc:
            status = 409 if isinstance(exc, DayConflictError) else 400
            return JSONResponse({"error": "bad_request", "message": str(exc)}, status)
        return JSONResponse({"added": added})
