"""Dossiers the ministry simulators hold that the city system never sees (DOMAIN.md, "The problem").

High-volume procedures under city authority are processed on ministry software; their dossiers
are the count gap the hub closes by pulling them back. The ministry simulators get theirs from the
city-system generator itself (``include_ministry=True``), so procedures, agencies, applicants,
timelines and Table 01 outcomes follow exactly the rules of the city's own data, and then keep only
the procedures that partner processes.

Numbers: a ministry system numbers the dossiers processed on it its own way -- the civil-status
system by a numeric id, the business register by a numeric receipt number (``IN_JOURNAL_NO``),
docs/interfaces.md 6 -- never in the one-stop format. Each double passes its numbering,
``number(day, n)`` for the day's n-th dossier (1, 2, ...), so a pulled-back dossier never collides
with a city dossier and carries the number the ministry also syncs to the portal with.

Which procedures a ministry double holds is read from the dated ``ministry_systems`` code table
(:func:`processed_by`): the 2025 reorganisation changed owners, not the systems' numbering.

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
from sandbox.city_system.generator import generate
from sandbox.sqlite_store import SqliteDatabase
from sandbox.tables import tables

__all__ = [
    "HELD_DOSSIERS",
    "LOADED_DAYS_SCHEMA",
    "DayConflictError",
    "Numbering",
    "ProcedureFilter",
    "canonical_ministry_dossiers",
    "load_days",
    "ministry_dossiers",
    "mount_load",
    "partner_seed",
    "processed_by",
]

ProcedureFilter = Callable[[ProcedureRow, date], bool]
Numbering = Callable[[date, int], str]
HELD_DOSSIERS = "held_dossiers"
"""What every ministry double's ``store`` module names its ``(day, scale, seed, code_tables) ->
list[Dossier]``: the dossiers it holds for a day, as it serves them to the hub's pull-back. The
national portal's double reads it too (``sandbox.national_portal.ministry_syncs``), because the
ministry syncs those same dossiers to the portal itself."""


def partner_seed(seed: int, partner: str) -> int:
    """A seed of the partner's own, derived from the sandbox seed (stable across processes)."""
    return zlib.crc32(f"{seed}:{partner}".encode())


def processed_by(partner: str, code_tables: Any) -> ProcedureFilter:
    """The procedures whose field the ``ministry_systems`` table gives to ``partner`` on the day."""

    def keep(procedure: ProcedureRow, day: date) -> bool:
        system = code_tables.ministry_system(procedure, day)
        return system is not None and system.system == partner

    return keep


def ministry_dossiers(
    day: date,
    scale: float,
    seed: int,
    *,
    partner: str,
    keep: ProcedureFilter,
    number: Numbering,
    code_tables: Any | None = None,
) -> list[dict[str, Any]]:
    """City-format records of ``day`` for the procedures ``keep`` selects, numbered by the ministry.

    Records the generator made defective on purpose are left out: a ministry system's own data is
    what it is, and the quality gate is tested on the city's defects.
    """
    code_tables = code_tables if code_tables is not None else tables()
    generated = generate(day, scale, partner_seed(seed, partner), code_tables=code_tables, include_ministry=True)
    kept: list[dict[str, Any]] = []
    for record in generated.records:  # already in submission order
        if record["id"] in generated.defects:
            continue
        procedure = code_tables.procedures.get(record["ma_tthc"], day)
        if procedure is None or not keep(procedure, day):
            continue
        kept.append({**record, "ma_ho_so": number(day, len(kept) + 1)})
    return kept


def canonical_ministry_dossiers(
    day: date, scale: float, seed: int, *, partner: str, number: Numbering, code_tables: Any
) -> list[Dossier]:
    """:func:`ministry_dossiers` of the procedures ``ministry_systems`` gives ``partner``, as
    canonical dossiers: the form every ministry double derives its own records from (and the
    portal double its copy of the ministry's syncs)."""
    keep = processed_by(partner, code_tables)
    records = ministry_dossiers(day, scale, seed, partner=partner, keep=keep, number=number, code_tables=code_tables)
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
