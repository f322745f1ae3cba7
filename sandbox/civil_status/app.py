"""SOAP face of the civil-status simulator (Ministry of Justice), on the shared SOAP sandbox
(``sandbox.soap``: envelopes, IP/credential/signature/XSD/agency checks, faults, signed replies,
message log). This module only says what each operation does with the verified values.

Sandbox-only: ``POST /sandbox/advance {"at": ISO}`` moves every pushed dossier one step along its
path (the ministry working); ``POST /sandbox/load {"from", "to", "scale", "seed"}`` generates the
registrations made on the ministry's software; ``GET /sandbox/summary`` counts what is held.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from adapters.civil_status.client import WSDL
from adapters.soap.contract import load_contract
from adapters.soap.envelope import FAULT_MALFORMED, FAULT_NOT_FOUND, Credentials
from mappings.dossier import VN_TZ
from sandbox.civil_status.store import ON_MINISTRY_SOFTWARE, PUSHED, CivilStatusStore
from sandbox.doubles import DoubleContext
from sandbox.ministry_dossiers import mount_load
from sandbox.signatures import PartnerSigning
from sandbox.soap import SoapFaultError, SoapRequest, create_soap_app

__all__ = ["MAX_PERIOD_DAYS", "create_app"]

MAX_PERIOD_DAYS = 31
PROVINCE_LEVEL = "000.00.00."  # the provincial People's Committee's code: it sees every agency's dossiers


def _now() -> datetime:
    return datetime.now(UTC).astimezone(VN_TZ)


def create_app(
    db_path: str | Path,
    credentials: Credentials,
    agencies: Iterable[str],
    *,
    signing: PartnerSigning | None = None,
    allowed_ips: Iterable[str] = ("127.0.0.1", "::1"),
    faults: dict[str, Any] | None = None,
    code_tables: Any | None = None,
) -> FastAPI:
    """Build the simulator; ``agencies`` are the ``MaDVC`` values allowed to call (others: fault 106)."""
    store = CivilStatusStore(db_path, code_tables)

    def held(request: SoapRequest) -> dict[str, Any]:
        found = store.get(request.values["MaHoSo"])
        if found is None:
            raise SoapFaultError(FAULT_NOT_FOUND, f"không có hồ sơ {request.values['MaHoSo']}")
        return found

    def register(request: SoapRequest) -> dict[str, Any]:
        values = request.values
        row, existed = store.register(values["HoSo"], values["MaDVC"], _now())
        return {
            "MaYeuCau": values["MaYeuCau"],
            "MaHoSo": row["number"],
            "TrangThai": row["status"],
            "DaTonTai": existed,
            "ThoiDiemTiepNhan": row["received_at"],
        }

    def status(request: SoapRequest) -> dict[str, Any]:
        row = held(request)
        return {
            "MaYeuCau": request.values["MaYeuCau"],
            "MaHoSo": row["number"],
            "TrangThai": row["status"],
            "NoiDung": row["message"],
            "ThoiDiemCapNhat": row["updated_at"],
        }

    def result(request: SoapRequest) -> dict[str, Any]:
        row = held(request)
        return {
            "MaYeuCau": request.values["MaYeuCau"],
            "MaHoSo": row["number"],
            "TrangThai": row["status"],
            "KetQua": row["result"],
        }

    def registered(request: SoapRequest) -> dict[str, Any]:
        values = request.values
        first, last = values["TuNgay"], values["DenNgay"]
        if last < first or (last - first).days + 1 > MAX_PERIOD_DAYS:
            raise SoapFaultError(FAULT_MALFORMED, f"khoảng TuNgay..DenNgay phải từ 1 đến {MAX_PERIOD_DAYS} ngày")
        caller = values["MaDVC"]
        agency = None if caller.startswith(PROVINCE_LEVEL) else caller
        size = values["SoBanGhi"]
        total, rows = store.registered(first, last, agency, (values["Trang"] - 1) * size, size)
        dossiers = [
            {
                **{key: row["body"][key] for key in ("MaHoSo", "MaTTHC", "TenTTHC", "DonViXuLy", "NguoiYeuCau")},
                "NgayNopHoSo": datetime.fromisoformat(str(row["body"]["NgayNopHoSo"])),
                "Nguon": row["origin"],
                "KetQua": row["result"],
            }
            for row in rows
        ]
        return {"MaYeuCau": values["MaYeuCau"], "TongSo": total, "HoSo": dossiers}

    app = create_soap_app(
        title="Civil status, Ministry of Justice",
        contract=load_contract(WSDL),
        handlers={
            "dangKyHoTich": register,
            "traTrangThaiHoSo": status,
            "ketQuaDangKyHS": result,
            "dsHoSoDangKy": registered,
        },
        db_path=db_path,
        credentials=credentials,
        signing=signing,
        agencies=agencies,
        allowed_ips=allowed_ips,
        faults=faults,
    )
    app.state.civil = store

    @app.post("/sandbox/advance")
    async def advance(request: Request) -> JSONResponse:
        body = json.loads(await request.body() or b"{}")
        at = datetime.fromisoformat(body["at"]) if body.get("at") else _now()
        moved = await run_in_threadpool(store.advance, at)
        return JSONResponse({"count": len(moved), "items": moved})

    mount_load(app, store.load_days)

    @app.get("/sandbox/summary")
    async def summary() -> JSONResponse:
        pushed = await run_in_threadpool(store.count, PUSHED)
        ministry = await run_in_threadpool(store.count, ON_MINISTRY_SOFTWARE)
        return JSONResponse({PUSHED: pushed, ON_MINISTRY_SOFTWARE: ministry})

    return app


def double(context: DoubleContext) -> FastAPI:
    """The runner's civil-status system, holding the day's registrations made on its own software."""
    app = create_app(
        context.db_path,
        context.soap_credentials,
        context.agencies,
        signing=context.soap_signing,
        code_tables=context.code_tables,
    )
    app.state.civil.load_days(context.day, context.day, context.scale, context.seed)
    return app
