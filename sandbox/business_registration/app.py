"""REST/JSON face of the national business registration system simulator
(adapters/business_registration/openapi.yaml is the contract).

Three read operations, as the LGSP exposes them: ``GET /danhSachHoSo`` (dossiers last updated in
a window of at most 5 days, paged), ``GET /tinhTrangHoSo`` (one dossier's status and history),
``GET /chiTietDoanhNghiep`` (a company by enterprise code). Every call carries
``Authorization: Bearer <token>`` and ``maDonVi``; refusals are HTTP 200 with the ministry error
codes (100 credential, 101 caller IP, 106 agency, 201 not found, 300 malformed request), as LGSP
gateways answer. Only injected faults are HTTP 503. Replies are signed like every simulator's;
GET requests have no body, so there is nothing of the hub's to verify.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from sandbox.business_registration.access import LOOPBACK, MALFORMED, NOT_FOUND, OK, Access
from sandbox.business_registration.store import BusinessRegistrationStore
from sandbox.doubles import DoubleContext
from sandbox.faults import FaultConfig, FaultInjector, faulty_json, mount_fault_control
from sandbox.ministry_dossiers import mount_load
from sandbox.signatures import PartnerSigning, mount_signing_control

__all__ = ["MAX_PAGE_SIZE", "MAX_WINDOW_DAYS", "create_app"]

MAX_WINDOW_DAYS = 5
MAX_PAGE_SIZE = 500


class _Malformed(ValueError):
    """A parameter breaks the contract: answered with error 300 and this message."""


def _json(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def _day(query: Any, name: str) -> date:
    value = query.get(name) or ""
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        raise _Malformed(f"Tham số {name} phải là ngày dạng yyyyMMdd, nhận được {value!r}") from None


def _int(query: Any, name: str, default: int, low: int, high: int) -> int:
    value = query.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise _Malformed(f"Tham số {name} phải là số nguyên") from None
    if not low <= number <= high:
        raise _Malformed(f"Tham số {name} phải trong khoảng {low}..{high}, nhận được {number}")
    return number


def _required(query: Any, name: str) -> str:
    value = query.get(name)
    if not value:
        raise _Malformed(f"Thiếu tham số {name}")
    return str(value)


def _found(data: dict[str, Any] | None, not_found: str) -> dict[str, Any]:
    """A lookup's reply: the record, or error 201 with ``not_found``."""
    if data is None:
        return {"error_code": NOT_FOUND, "message": not_found}
    return {"error_code": OK, "message": "", "data": data}


def create_app(
    db_path: str | Path,
    token: str,
    agencies: Iterable[str],
    faults: FaultConfig = FaultConfig(),  # noqa: B008 -- frozen dataclass, safe as a default
    *,
    allowed_ips: Iterable[str] = LOOPBACK,
    code_tables: Any | None = None,
    signing: PartnerSigning | None = None,
) -> FastAPI:
    """Build the simulator. Load data with ``app.state.store.load_days(first, last, scale, seed)``
    or ``POST /sandbox/load``. ``allowed_ips`` is the gateway's allow-list (101 for others)."""
    access = Access(token, agencies, allowed_ips)
    store = BusinessRegistrationStore(db_path, code_tables)
    injector = FaultInjector(faults)
    calls: Counter[str] = Counter()
    app = FastAPI(title="Business registration system (sandbox)", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store = store
    app.state.faults = injector

    async def answer(request: Request, operation: str, handler: Callable[[Any], dict[str, Any]]) -> Response:
        async def produce() -> tuple[bytes, int]:
            calls[operation] += 1
            query = request.query_params
            bearer = request.headers.get("authorization", "")
            client_ip = request.client.host if request.client else None
            refusal = access.check(bearer.removeprefix("Bearer "), client_ip, query.get("maDonVi"))
            if refusal is not None:
                return _json({"error_code": refusal.code, "message": refusal.message}), 200
            try:
                return _json(await run_in_threadpool(handler, query)), 200
            except _Malformed as exc:
                return _json({"error_code": MALFORMED, "message": str(exc)}), 200

        return await faulty_json(injector, signing, produce)

    def list_dossiers(query: Any) -> dict[str, Any]:
        first, last = _day(query, "tuNgay"), _day(query, "denNgay")
        if last < first:
            raise _Malformed("denNgay không được trước tuNgay")
        span = (last - first).days + 1
        if span > MAX_WINDOW_DAYS:
            raise _Malformed(
                f"Khoảng thời gian tra cứu tối đa {MAX_WINDOW_DAYS} ngày; yêu cầu {span} ngày "
                f"({first:%d/%m/%Y} - {last:%d/%m/%Y})"
            )
        page = _int(query, "trang", 1, 1, 1_000_000)
        size = _int(query, "soBanGhi", MAX_PAGE_SIZE, 1, MAX_PAGE_SIZE)
        total, items = store.page(first, last, (page - 1) * size, size)
        return {"error_code": OK, "message": "", "tongSo": total, "trang": page, "soBanGhi": size, "data": items}

    def dossier_status(query: Any) -> dict[str, Any]:
        number = _required(query, "maHoSo")
        return _found(store.status(number), f"Không tìm thấy hồ sơ {number}")

    def company(query: Any) -> dict[str, Any]:
        msdn = _required(query, "msdn")
        return _found(store.company(msdn), f"Không tìm thấy doanh nghiệp có mã số {msdn}")

    @app.get("/danhSachHoSo")
    async def danh_sach_ho_so(request: Request) -> Response:
        return await answer(request, "danhSachHoSo", list_dossiers)

    @app.get("/tinhTrangHoSo")
    async def tinh_trang_ho_so(request: Request) -> Response:
        return await answer(request, "tinhTrangHoSo", dossier_status)

    @app.get("/chiTietDoanhNghiep")
    async def chi_tiet_doanh_nghiep(request: Request) -> Response:
        return await answer(request, "chiTietDoanhNghiep", company)

    mount_signing_control(app, signing)

    @app.get("/sandbox/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    mount_load(app, store.load_days)

    @app.get("/sandbox/export/dossiers")
    async def export(request: Request) -> Response:
        first = date.fromisoformat(request.query_params["from"])
        last = date.fromisoformat(request.query_params["to"])
        numbers = await run_in_threadpool(store.numbers, first, last)
        return Response(_json({"items": numbers}), media_type="application/json")

    @app.get("/sandbox/stats")
    async def stats() -> dict[str, Any]:
        return {"calls": dict(calls)}

    mount_fault_control(app, injector)

    return app


def double(context: DoubleContext) -> FastAPI:
    """The runner's business registration system, holding the day's dossiers processed on it."""
    app = create_app(
        context.db_path,
        context.credentials["token"],
        context.agencies,
        code_tables=context.code_tables,
        signing=context.signing,
    )
    app.state.store.load_days(context.day, context.day, context.scale, context.seed)
    return app
