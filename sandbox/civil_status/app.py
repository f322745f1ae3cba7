"""The civil-status double: the Ministry of Justice's shared civil-status system as the NGSP exposes
it (REST/JSON, bearer token; docs/interfaces.md 7.2, public guide QB ``apiHoTichTuPhap``).

Operations, all ``POST`` with a JSON body, each answering ``{"status": "1" | "0", "value",
"errorCode", "errorMessage"}`` (the key names are an assumption; the 1/0 and the codes are QB's):

- ``/dangKyHoTich {maDonVi (a number), module, maHoSo, ngayTiepNhan (dd/MM/yyyy), data (XML)}`` ->
  1; a one-stop number already held is answered 1 again and stored once;
- ``/traTrangThaiHoSo {maDonVi, maHoSo}`` -> ``status`` 1..4 (received, needs supplement, eligible,
  registered), 201 when that unit holds no such number, 106 for a unit code that is not a number;
- ``/dsHoSoDangKy {module, ngayCapNhat}`` -> ``value: [{id, maDonVi}]`` of one day;
- ``/traDanhSachHoSo {maTinh, module, dsMaHoSo: [id, ...]}`` -> the registered ones' details
  (``id, so, quyenSo, trangSo, maDonVi, maHoSo, ngayTiepNhan, ngayDangKy, nycHoTen,
  nycGiayToTuyThan``); a province other than Hà Nội's ``01`` is 108.

Strict where the guide is: ``maDonVi`` must be a number, dates ``dd/MM/yyyy``, ``data`` well-formed
XML (read with the project's safe parser), one ``ngayCapNhat`` day, ``dsMaHoSo`` a list of numbers.
Refusals use 500 (DATA_INCORRECT, with the reason). Sandbox-only: ``POST /sandbox/advance {"at"}``
moves sent registrations one step; ``POST /sandbox/load``; ``GET /sandbox/summary``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from mappings.civil_status import REGISTRATION_ROOT
from mappings.dossier import VN_TZ
from sandbox.civil_status.store import MODULES, CivilStatusStore
from sandbox.doubles import DoubleContext
from sandbox.faults import FaultConfig
from sandbox.ministry_dossiers import mount_load
from sandbox.ngsp import LOOPBACK, NgspService, Refused, required
from sandbox.signatures import PartnerSigning
from signing.safe_xml import parse_xml_text

__all__ = ["create_app", "double"]

UNKNOWN_UNIT, PROVINCE_INCORRECT, NOT_FOUND, DATA_INCORRECT = "106", "108", "201", "500"
HANOI = "01"
MAX_IDS = 100  # ASSUMPTION: the guide sets no bound on dsMaHoSo
_MODULE_CODES = frozenset(MODULES.values())


def _answer(value: Any = None, **extra: Any) -> dict[str, Any]:
    return {"status": "1", "value": value, "errorCode": None, "errorMessage": None, **extra}


def _error(code: str, message: str) -> dict[str, Any]:
    return {"status": "0", "value": None, "errorCode": code, "errorMessage": message}


def _day(values: Mapping[str, Any], name: str) -> date:
    text = required(values, name, DATA_INCORRECT)
    try:
        return datetime.strptime(str(text), "%d/%m/%Y").date()
    except ValueError:
        raise Refused(DATA_INCORRECT, f"{name} phải có dạng dd/MM/yyyy, nhận được {text!r}") from None


def _unit(values: Mapping[str, Any]) -> str:
    unit = required(values, "maDonVi", UNKNOWN_UNIT)
    if isinstance(unit, bool) or not isinstance(unit, int):
        raise Refused(UNKNOWN_UNIT, f"AGENCY_ID_INCORRECT - maDonVi phải là số, nhận được {unit!r}")
    return str(unit)


def _module(values: Mapping[str, Any]) -> str:
    module = required(values, "module", DATA_INCORRECT)
    if module not in _MODULE_CODES:
        raise Refused(DATA_INCORRECT, f"Mã nghiệp vụ {module!r} không hợp lệ")
    return str(module)


def _applicant(data: Any) -> tuple[str, str | None]:
    """Who asks, read from the registration XML (``mappings.civil_status``)."""
    if not isinstance(data, str) or not data:
        raise Refused(DATA_INCORRECT, "Thiếu thông điệp dữ liệu XML (data)")
    try:
        root = parse_xml_text(data)
    except ValueError as exc:
        raise Refused(DATA_INCORRECT, f"Thông điệp dữ liệu không phải XML hợp lệ: {exc}") from None
    name = root.findtext("NguoiYeuCau/HoTen")
    if root.tag != REGISTRATION_ROOT or not name:
        raise Refused(DATA_INCORRECT, f"Thông điệp dữ liệu phải là {REGISTRATION_ROOT} có NguoiYeuCau/HoTen")
    return name, root.findtext("NguoiYeuCau/SoGiayToTuyThan")


def create_app(
    db_path: str | Path,
    token: str,
    *,
    signing: PartnerSigning | None = None,
    allowed_ips: Iterable[str] = LOOPBACK,
    faults: FaultConfig = FaultConfig(),  # noqa: B008 -- frozen dataclass, safe as a default
    code_tables: Any | None = None,
) -> FastAPI:
    """The double; load direct registrations with ``app.state.civil.load_days`` or ``POST /sandbox/load``."""
    store = CivilStatusStore(db_path, code_tables)
    app = FastAPI(title="Civil status, Ministry of Justice (sandbox)", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.civil = store
    service = NgspService(
        app,
        token=token,
        error=_error,
        malformed=DATA_INCORRECT,
        signing=signing,
        allowed_ips=allowed_ips,
        faults=faults,
    )

    def register(values: Mapping[str, Any]) -> dict[str, Any]:
        unit, module = _unit(values), _module(values)
        number = str(required(values, "maHoSo", DATA_INCORRECT))
        received = _day(values, "ngayTiepNhan")
        store.register(unit, module, number, received, _applicant(values.get("data")), str(values["data"]))
        return _answer()

    def status(values: Mapping[str, Any]) -> dict[str, Any]:
        unit = _unit(values)
        number = str(required(values, "maHoSo", DATA_INCORRECT))
        found = store.status(unit, number)
        if found is None:
            raise Refused(
                NOT_FOUND, f"RECORD_NOT_FOUND - Hồ sơ {number} không tồn tại, đề nghị xem lại số phiếu tiếp nhận"
            )
        return {**_answer(), "status": str(found)}

    def listed(values: Mapping[str, Any]) -> dict[str, Any]:
        return _answer(store.listed(_module(values), _day(values, "ngayCapNhat")))

    def details(values: Mapping[str, Any]) -> dict[str, Any]:
        if required(values, "maTinh", PROVINCE_INCORRECT) != HANOI:
            raise Refused(PROVINCE_INCORRECT, f"PROVINCE_ID_INCORRECT - Mã tỉnh {values['maTinh']!r} không chính xác")
        module = _module(values)
        ids = required(values, "dsMaHoSo", DATA_INCORRECT)
        if not isinstance(ids, list) or len(ids) > MAX_IDS:
            raise Refused(DATA_INCORRECT, f"dsMaHoSo phải là danh sách tối đa {MAX_IDS} mã hồ sơ")
        try:
            numbers = [int(i) for i in ids]
        except (TypeError, ValueError):
            raise Refused(DATA_INCORRECT, "dsMaHoSo chỉ gồm mã hồ sơ dạng số") from None
        return _answer(store.details(module, numbers))

    service.route("POST", "/dangKyHoTich", "dangKyHoTich", register)
    service.route("POST", "/traTrangThaiHoSo", "traTrangThaiHoSo", status)
    service.route("POST", "/dsHoSoDangKy", "dsHoSoDangKy", listed)
    service.route("POST", "/traDanhSachHoSo", "traDanhSachHoSo", details)

    @app.post("/sandbox/advance")
    async def advance(request: Request) -> JSONResponse:
        body = json.loads(await request.body() or b"{}")
        at = datetime.fromisoformat(body["at"]) if body.get("at") else datetime.now(VN_TZ)
        moved = await run_in_threadpool(store.advance, at)
        return JSONResponse({"count": len(moved), "items": moved})

    mount_load(app, store.load_days)

    @app.get("/sandbox/summary")
    async def summary() -> JSONResponse:
        sent = await run_in_threadpool(store.count, sent=True)
        direct = await run_in_threadpool(store.count, sent=False)
        return JSONResponse({"sent": sent, "direct": direct})

    return app


def double(context: DoubleContext) -> FastAPI:
    """The runner's civil-status system, holding the day's direct registrations."""
    app = create_app(
        context.db_path, context.credentials["token"], signing=context.signing, code_tables=context.code_tables
    )
    app.state.civil.load_days(context.day, context.day, context.scale, context.seed)
    return app
