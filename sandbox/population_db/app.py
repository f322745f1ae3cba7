"""Population database (CSDL dân cư) simulator: the two operations of ``population_db.wsdl``.

The SOAP machinery (faults, signatures, credentials, IP and agency checks, persistence of every
envelope) is :func:`sandbox.soap.create_soap_app`'s; this module holds the register and the rules:

- ``XacThucThongTinCongDan`` compares the given name and birth date with the register
  **exactly as received**, like the real service: a name sent in decomposed Unicode (NFD) does
  not match its NFC spelling. Normalising is the caller's job (the hub's adapter does it).
- ``TraCuuThongTinCongDan`` returns the ``CongDan`` row, or fault 201.

Sandbox-only: ``POST /sandbox/load {"day", "scale", "seed"}`` registers the applicants of another
generated city day; ``GET /sandbox/applicants[?day=]`` lists the applicants with the birth date
the city record will carry and their fate in the register, so tests know what to expect.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from adapters.population_db.client import WSDL
from adapters.soap.contract import load_contract
from adapters.soap.envelope import FAULT_NOT_FOUND, Credentials
from sandbox.doubles import DoubleContext
from sandbox.population_db.registry import Applicant, Citizen, applicants_of, citizen_for
from sandbox.signatures import PartnerSigning
from sandbox.soap import SoapFaultError, SoapRequest, create_soap_app
from sandbox.sqlite_store import SqliteDatabase
from sandbox.tables import tables

__all__ = ["PopulationRegister", "create_app"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS citizens (
    so_dinh_danh TEXT PRIMARY KEY,
    body         TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS applicants (
    day          TEXT NOT NULL,
    ma_ho_so     TEXT NOT NULL,
    so_dinh_danh TEXT NOT NULL,
    body         TEXT NOT NULL,
    PRIMARY KEY (day, ma_ho_so)
);
CREATE TABLE IF NOT EXISTS loaded_days (
    day   TEXT PRIMARY KEY,
    scale REAL NOT NULL,
    seed  INTEGER NOT NULL
)
"""


class PopulationRegister:
    """The register's rows and the applicants they were made for, in SQLite."""

    def __init__(self, path: str | Path) -> None:
        self.db = SqliteDatabase(path, SCHEMA)

    def load(self, day: date, scale: float, seed: int) -> int:
        """Register the applicants of a generated day; idempotent. Returns how many applicants it has.

        Raises ``ValueError`` if the day is already loaded with another scale or seed (its
        applicants would disagree with the city simulator's).
        """
        with self.db.read() as conn:
            row = conn.execute("SELECT scale, seed FROM loaded_days WHERE day=?", (day.isoformat(),)).fetchone()
        if row is not None and (row[0], row[1]) != (scale, seed):
            raise ValueError(f"{day} is already loaded with scale {row[0]} and seed {row[1]}")
        applicants = list(applicants_of(day, scale, seed))
        names = {row.code: row.name for row in tables().provinces.all_rows()}
        citizens = [c for c in (citizen_for(a, names) for a in applicants) if c is not None]
        with self.db.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO loaded_days VALUES (?,?,?)", (day.isoformat(), scale, seed))
            conn.executemany(
                "INSERT OR IGNORE INTO citizens VALUES (?,?)",
                [(c.citizen_id, json.dumps(asdict(c), default=str, ensure_ascii=False)) for c in citizens],
            )
            conn.executemany(
                "INSERT OR IGNORE INTO applicants VALUES (?,?,?,?)",
                [(day.isoformat(), a.dossier_no, a.citizen_id, _applicant_json(a)) for a in applicants],
            )
        return len(applicants)

    def citizen(self, citizen_id: str) -> Citizen | None:
        with self.db.read() as conn:
            row = conn.execute("SELECT body FROM citizens WHERE so_dinh_danh=?", (citizen_id,)).fetchone()
        if row is None:
            return None
        fields = json.loads(row[0])
        return Citizen(**{**fields, "birth_date": date.fromisoformat(fields["birth_date"])})

    def applicants(self, day: date | None = None) -> list[dict[str, Any]]:
        where, params = ("WHERE day=?", [day.isoformat()]) if day else ("", [])
        with self.db.read() as conn:
            rows = conn.execute(f"SELECT body FROM applicants {where} ORDER BY day, ma_ho_so", params).fetchall()
        return [json.loads(body) for (body,) in rows]


def _applicant_json(applicant: Applicant) -> str:
    return json.dumps(
        {
            "ma_ho_so": applicant.dossier_no,
            "so_dinh_danh": applicant.citizen_id,
            "ho_ten": applicant.name_as_sent,
            "ngay_sinh": applicant.birth_date.isoformat(),
            "fate": applicant.fate,
        },
        ensure_ascii=False,
    )


def _now() -> datetime:
    return datetime.now(UTC)


def create_app(
    db_path: str | Path,
    *,
    credentials: Credentials | None,
    signing: PartnerSigning | None,
    agencies: Iterable[str] | None = None,
    days: Iterable[tuple[date, float, int]] = (),
    faults: dict[str, Any] | None = None,
    allowed_ips: Iterable[str] = ("127.0.0.1", "::1"),
) -> FastAPI:
    """Build the simulator; ``days`` are ``(day, scale, seed)`` triples registered at start-up.

    The envelope log goes to ``<db_path>.messages.sqlite`` beside the register.
    """
    register = PopulationRegister(db_path)
    for day, scale, seed in days:
        register.load(day, scale, seed)

    def verify(request: SoapRequest) -> dict[str, Any]:
        values = request.values
        citizen = register.citizen(values["SoDinhDanh"])
        differing: list[str] = []
        if citizen is None:
            verdict = "KHONG_TON_TAI"
        else:
            if values["HoVaTen"] != citizen.name:
                differing.append("HoVaTen")
            if values["NgayThangNamSinh"] != citizen.birth_date:
                differing.append("NgayThangNamSinh")
            verdict = "KHONG_KHOP" if differing else "KHOP"
        return {"MaYeuCau": values["MaYeuCau"], "KetQua": verdict, "TruongKhongKhop": differing, "ThoiDiem": _now()}

    def lookup(request: SoapRequest) -> dict[str, Any]:
        citizen = register.citizen(request.values["SoDinhDanh"])
        if citizen is None:
            raise SoapFaultError(FAULT_NOT_FOUND, "không có công dân với số định danh này")
        return {"MaYeuCau": request.values["MaYeuCau"], "CongDan": citizen.values(), "ThoiDiem": _now()}

    app = create_soap_app(
        title="Population database (CSDL dân cư)",
        contract=load_contract(WSDL),
        handlers={"XacThucThongTinCongDan": verify, "TraCuuThongTinCongDan": lookup},
        db_path=Path(f"{db_path}.messages.sqlite"),
        credentials=credentials,
        signing=signing,
        agencies=agencies,
        faults=faults,
        allowed_ips=allowed_ips,
    )
    app.state.register = register

    @app.post("/sandbox/load")
    async def load(request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"{}")
            day = date.fromisoformat(str(body["day"]))
            scale, seed = float(body.get("scale", 1.0)), int(body.get("seed", 0))
            count = await run_in_threadpool(register.load, day, scale, seed)
        except (ValueError, KeyError, TypeError) as exc:
            return JSONResponse({"error": "bad_request", "message": str(exc)}, 400)
        return JSONResponse({"day": day.isoformat(), "applicants": count})

    @app.get("/sandbox/applicants")
    async def applicants(request: Request) -> Response:
        value = request.query_params.get("day")
        try:
            day = date.fromisoformat(value) if value else None
        except ValueError as exc:
            return JSONResponse({"error": "bad_request", "message": str(exc)}, 400)
        return JSONResponse({"items": await run_in_threadpool(register.applicants, day)})

    return app


def double(context: DoubleContext) -> FastAPI:
    """The runner's population register, holding the city's applicants of the generated day."""
    return create_app(
        context.db_path,
        days=[context.load],
        credentials=context.soap_credentials,
        agencies=context.agencies,
        signing=context.soap_signing,
    )
