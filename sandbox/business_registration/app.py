"""The business-registration double: the national business registration system as the NGSP exposes
it (REST/JSON, bearer token; docs/interfaces.md 7.3, public guide QB ``apiCSDLDKDN``).

Three ``GET`` operations, each answering ``{"MainInformation", "DataCount", "Status": "1" | "0",
"Message"}`` (and ``ErrorCode`` on a refusal: an assumption, the guide names only Status and
Message):

- ``/danhSachHoSo?from_date=dd/MM/yyyy&to_date=dd/MM/yyyy&offset=&limit=`` -> the dossiers received
  in the window, at most 5 days (QB's constraint), by receipt number;
- ``/tinhTrangHoSo?in_journal_no=`` -> one dossier's status detail (201 when unknown);
- ``/chiTietDoanhNghiep?msdn=`` -> one enterprise (201 when unknown).

Strict where the guide is: dates exactly ``dd/MM/yyyy`` with two-digit day and month and a
four-digit year (the hub's former ``yyyyMMdd`` is refused), a window of at most 5 days, integer
``offset``/``limit`` (``limit`` at most 500: an assumption). Refusals carry ``ErrorCode`` 300 with
the reason. Sandbox-only: ``POST /sandbox/load``, ``GET /sandbox/export/dossiers?from=&to=``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from sandbox.business_registration.store import BusinessRegistrationStore
from sandbox.doubles import DoubleContext
from sandbox.faults import FaultConfig
from sandbox.ministry_dossiers import mount_load
from sandbox.ngsp import LOOPBACK, NgspService, Refused, required
from sandbox.signatures import PartnerSigning

__all__ = ["MAX_LIMIT", "MAX_WINDOW_DAYS", "create_app", "double"]

MAX_WINDOW_DAYS = 5
MAX_LIMIT = 500
NOT_FOUND, MALFORMED = "201", "300"
_DAY = re.compile(r"[0-9]{2}/[0-9]{2}/[0-9]{4}")


def _answer(found: Any, count: int | None = None) -> dict[str, Any]:
    total = count if count is not None else (len(found) if isinstance(found, list) else 1)
    return {"MainInformation": found, "DataCount": total, "Status": "1", "Message": "success"}


def _error(code: str, message: str) -> dict[str, Any]:
    return {"MainInformation": None, "DataCount": 0, "Status": "0", "ErrorCode": code, "Message": message}


def _day(values: Mapping[str, Any], name: str) -> date:
    text = str(required(values, name, MALFORMED))
    try:
        if not _DAY.fullmatch(text):
            raise ValueError(text)
        return datetime.strptime(text, "%d/%m/%Y").date()
    except ValueError:
        raise Refused(
            MALFORMED,
            f"{name} phải có định dạng dd/MM/yyyy (đủ 2 chữ số ngày, tháng; 4 chữ số năm), nhận được {text!r}",
        ) from None


def _int(values: Mapping[str, Any], name: str, low: int, high: int) -> int:
    text = str(required(values, name, MALFORMED))
    if not text.isdigit() or not low <= int(text) <= high:
        raise Refused(MALFORMED, f"{name} phải là số nguyên từ {low} đến {high}, nhận được {text!r}")
    return int(text)


def create_app(
    db_path: str | Path,
    token: str,
    *,
    signing: PartnerSigning | None = None,
    allowed_ips: Iterable[str] = LOOPBACK,
    faults: FaultConfig = FaultConfig(),  # noqa: B008 -- frozen dataclass, safe as a default
    code_tables: Any | None = None,
) -> FastAPI:
    """The double; load data with ``app.state.store.load_days(first, last, scale, seed)`` or ``POST /sandbox/load``."""
    store = BusinessRegistrationStore(db_path, code_tables)
    app = FastAPI(title="Business registration system (sandbox)", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store = store
    service = NgspService(
        app, token=token, error=_error, malformed=MALFORMED, signing=signing, allowed_ips=allowed_ips, faults=faults
    )

    def dossiers(values: Mapping[str, Any]) -> dict[str, Any]:
        first, last = _day(values, "from_date"), _day(values, "to_date")
        span = (last - first).days + 1
        if not 1 <= span <= MAX_WINDOW_DAYS:
            raise Refused(
                MALFORMED,
                f"Khoảng thời gian giữa from_date và to_date tối đa {MAX_WINDOW_DAYS} ngày; yêu cầu {span} ngày",
            )
        offset = _int(values, "offset", 0, 10**9)
        limit = _int(values, "limit", 1, MAX_LIMIT)
        return _answer(store.page(first, last, offset, limit))

    def dossier_status(values: Mapping[str, Any]) -> dict[str, Any]:
        number = _int(values, "in_journal_no", 0, 10**15)
        found = store.detail(number)
        if found is None:
            raise Refused(NOT_FOUND, f"Không tìm thấy hồ sơ có mã số biên nhận {number}")
        return _answer(found)

    def enterprise(values: Mapping[str, Any]) -> dict[str, Any]:
        msdn = str(required(values, "msdn", MALFORMED))
        found = store.enterprise(msdn)
        if found is None:
            raise Refused(NOT_FOUND, f"Không tìm thấy doanh nghiệp có mã số {msdn}")
        return _answer(found)

    service.route("GET", "/danhSachHoSo", "danhSachHoSo", dossiers)
    service.route("GET", "/tinhTrangHoSo", "tinhTrangHoSo", dossier_status)
    service.route("GET", "/chiTietDoanhNghiep", "chiTietDoanhNghiep", enterprise)
    mount_load(app, store.load_days)

    @app.get("/sandbox/export/dossiers")
    async def export(request: Request) -> JSONResponse:
        first = date.fromisoformat(request.query_params["from"])
        last = date.fromisoformat(request.query_params["to"])
        return JSONResponse({"items": await run_in_threadpool(store.numbers, first, last)})

    return app


def double(context: DoubleContext) -> FastAPI:
    """The runner's business registration system, holding the day's dossiers received on it."""
    app = create_app(
        context.db_path, context.credentials["token"], signing=context.signing, code_tables=context.code_tables
    )
    app.state.store.load_days(context.day, context.day, context.scale, context.seed)
    return app
