"""What a pull-back-only ministry double holds: each dossier of a day as the ministry lists it and
as it details it, keyed by the ministry's own number and the day it is listed under.

The ministries added after the first three (driving licences, land registration, unemployment
benefit, certification) only answer the hub's listing and detail calls, so their doubles differ in
their wire shapes -- written in their own ``app.py`` from the public evidence -- and not in what
they keep. Each passes its partner id, its numbering (``sandbox.ministry_dossiers``) and
``records(dossier) -> (listed, detail)``, the two forms of one dossier in the ministry's own terms;
this store generates the day's dossiers from the city generator (``held_dossiers``, which the
portal double also reads for the ministry's own syncs), keeps both forms once per day and pages
them by day. Loading a day twice is a no-op; a day loaded with another scale or seed is refused.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from mappings.dossier import VN_TZ, Dossier
from sandbox.doubles import DoubleContext
from sandbox.faults import FaultConfig
from sandbox.ministry_dossiers import LOADED_DAYS_SCHEMA, Numbering, canonical_ministry_dossiers, load_days, mount_load
from sandbox.ngsp import LOOPBACK, ErrorShape, NgspService
from sandbox.signatures import PartnerSigning
from sandbox.sqlite_store import SqliteDatabase
from sandbox.tables import tables

__all__ = ["HeldRecordStore", "HeldRecordsDouble", "Records", "held_dossiers_of", "wire_time"]

Records = Callable[[Dossier], tuple[dict[str, Any], dict[str, Any]]]
"""One dossier as the ministry lists it and as its detail call returns it."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    number TEXT PRIMARY KEY,
    day    TEXT NOT NULL,
    listed TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_records_day ON records (day, number)
"""


def held_dossiers_of(partner: str, number: Numbering) -> Callable[[date, float, int, Any], list[Dossier]]:
    """The ``held_dossiers(day, scale, seed, code_tables)`` of a ministry double: every dossier of
    the procedures ``ministry_systems`` gives ``partner`` on the day, numbered by ``number``."""

    def held_dossiers(day: date, scale: float, seed: int, code_tables: Any) -> list[Dossier]:
        return canonical_ministry_dossiers(day, scale, seed, partner=partner, number=number, code_tables=code_tables)

    return held_dossiers


def wire_time(value: datetime | None, fmt: str) -> str | None:
    """A dossier time as the ministry writes it (Hanoi time, ``fmt``); None stays None."""
    return value.astimezone(VN_TZ).strftime(fmt) if value is not None else None


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class HeldRecordStore:
    """SQLite-backed records of one ministry double (see the module docstring)."""

    def __init__(
        self,
        path: str | Path,
        held: Callable[[date, float, int, Any], list[Dossier]],
        records: Records,
        code_tables: Any | None = None,
    ) -> None:
        self.db = SqliteDatabase(path, f"{SCHEMA};{LOADED_DAYS_SCHEMA}")
        self.tables = code_tables if code_tables is not None else tables()
        self.held, self.records = held, records

    def load_days(self, first: date, last: date, scale: float, seed: int) -> int:
        """Generate and store every day in ``[first, last]`` not held yet; returns the dossiers added."""
        return load_days(self.db, first, last, scale, seed, self._write_day)

    def _write_day(self, conn: sqlite3.Connection, day: date, scale: float, seed: int) -> int:
        rows = []
        for dossier in self.held(day, scale, seed, self.tables):
            listed, detail = self.records(dossier)
            received = (dossier.received_at or dossier.submitted_at).astimezone(VN_TZ).date()
            rows.append((dossier.dossier_no, received.isoformat(), _dump(listed), _dump(detail)))
        conn.executemany("INSERT OR IGNORE INTO records VALUES (?,?,?,?)", rows)
        return len(rows)

    def page(self, first: date, last: date, offset: int = 0, limit: int = -1) -> list[dict[str, Any]]:
        """The listing records of the days ``[first, last]`` (received then), by number."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT listed FROM records WHERE day BETWEEN ? AND ? ORDER BY number LIMIT ? OFFSET ?",
                (first.isoformat(), last.isoformat(), limit, offset),
            ).fetchall()
        return [json.loads(body) for (body,) in rows]

    def detail(self, number: str) -> dict[str, Any] | None:
        with self.db.read() as conn:
            row = conn.execute("SELECT detail FROM records WHERE number=?", (number,)).fetchone()
        return json.loads(row[0]) if row is not None else None

    def numbers(self, first: date, last: date) -> list[str]:
        """Every number of the days ``[first, last]`` (the sandbox export)."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT number FROM records WHERE day BETWEEN ? AND ? ORDER BY 1", (first.isoformat(), last.isoformat())
            ).fetchall()
        return [number for (number,) in rows]


Routes = Callable[[NgspService, HeldRecordStore, str, str], None]
"""Adds a double's own operations: ``routes(service, store, account, secret)`` (the account and
secret matter only to a double that authenticates callers itself)."""


@dataclass(frozen=True)
class HeldRecordsDouble:
    """One pull-back-only ministry double: its title, what it holds, its error shape and its routes.
    Its module exposes ``create_app = DOUBLE.create_app`` and ``double = DOUBLE.double``."""

    title: str
    held: Callable[[date, float, int, Any], list[Dossier]]
    records: Records
    error: ErrorShape
    malformed: str
    routes: Routes
    bearer: bool = True
    """False: the gateway checks no bearer token (the service authenticates its callers itself)."""

    def create_app(
        self,
        db_path: str | Path,
        secret: str,
        *,
        account: str = "hub-sandbox",
        signing: PartnerSigning | None = None,
        allowed_ips: Iterable[str] = LOOPBACK,
        faults: FaultConfig = FaultConfig(),  # noqa: B008 -- frozen dataclass, safe as a default
        code_tables: Any | None = None,
    ) -> FastAPI:
        """The double: ``secret`` is the bearer token (or the account's password when the service
        authenticates itself); data via ``app.state.store.load_days`` or ``POST /sandbox/load``."""
        if not secret:
            raise ValueError("a non-empty token or password is required")
        store = HeldRecordStore(db_path, self.held, self.records, code_tables)
        app = FastAPI(title=f"{self.title} (sandbox)", docs_url=None, redoc_url=None, openapi_url=None)
        service = NgspService(
            app,
            token=secret if self.bearer else "",
            error=self.error,
            malformed=self.malformed,
            signing=signing,
            allowed_ips=allowed_ips,
            faults=faults,
            bearer=self.bearer,
        )
        self.routes(service, store, account, secret)
        _mount_sandbox(app, store)
        return app

    def double(self, context: DoubleContext) -> FastAPI:
        """The runner's double, holding the run's day."""
        credentials = context.credentials
        app = self.create_app(
            context.db_path,
            credentials.get("token") or credentials["password"],
            account=credentials.get("username", "hub-sandbox"),
            signing=context.signing,
            code_tables=context.code_tables,
        )
        app.state.store.load_days(context.day, context.day, context.scale, context.seed)
        return app


def _mount_sandbox(app: FastAPI, store: HeldRecordStore) -> None:
    """Sandbox-only: ``POST /sandbox/load`` and ``GET /sandbox/export/dossiers?from=&to=`` (the numbers)."""
    app.state.store = store
    mount_load(app, store.load_days)

    @app.get("/sandbox/export/dossiers")
    async def export(request: Request) -> JSONResponse:
        try:
            first = date.fromisoformat(request.query_params["from"])
            last = date.fromisoformat(request.query_params["to"])
        except (KeyError, ValueError) as exc:
            return JSONResponse({"error": "bad_request", "message": str(exc)}, 400)
        return JSONResponse({"items": await run_in_threadpool(store.numbers, first, last)})
