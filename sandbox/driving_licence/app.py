"""The driving-licence double: the licensing system's session API as a public one-stop client calls
it through the NGSP (docs/interfaces.md 7.6, public client T-GPLX ``GPLXService``).

- ``POST /mapi/login {username, password}`` -> ``{error_code: "0", result, session}``;
- ``POST /mapi/g {session, service, donViXuLy, ...}`` -> ``{error_code: "0", data: [...]}``, one
  path for every service, told apart by ``service``:
  ``DanhSachHoSo {ngayNhan1, ngayNhan2}`` (days ``yyyy-MM-dd``, at most 3 days: ASSUMPTION, the
  public client asks for the last three) lists the dossiers received then; ``TraCuuHoSo
  {mahoso}`` details one (an empty ``data`` when unknown, as the public client reads it);
  ``LayTaiLieuHoSo {duongdanteptin}`` returns an attached document as ``TepTinDinhKem``.

The session is the only credential the service checks itself (the gateway still checks the
address). Refusals carry the codes of the Ministry of Transport's list API (ASSUMPTION that the
session API shares them): -300 no unit, -301 no credentials, -302 wrong credentials, -303 unknown
unit, -304 session or key not valid; ``-1`` (ASSUMPTION) a request the service cannot read.
Sandbox-only: ``POST /sandbox/load``, ``GET /sandbox/export/dossiers?from=&to=``.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from collections.abc import Mapping
from typing import Any

from sandbox.driving_licence.store import held_dossiers, records
from sandbox.held_records import HeldRecordsDouble, HeldRecordStore
from sandbox.ngsp import NgspService, Refused, day_param, required, window_days

__all__ = ["MAX_WINDOW_DAYS", "create_app", "double"]

MAX_WINDOW_DAYS = 3
MALFORMED, NO_UNIT, NO_CREDENTIALS, WRONG_CREDENTIALS, UNKNOWN_UNIT, BAD_SESSION = (
    "-1", "-300", "-301", "-302", "-303", "-304"
)  # fmt: skip
HANOI_UNIT = "01"  # ASSUMPTION: the unit code the licensing system gives Hanoi's one-stop desks


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error_code": code, "result": message, "data": None}


def _answer(data: list[dict[str, Any]]) -> dict[str, Any]:
    return {"error_code": "0", "data": data}


def _routes(service: NgspService, store: HeldRecordStore, username: str, password: str) -> None:
    """The login (one account: ``username``/``password``) and the one path of every service."""
    sessions: set[str] = set()
    service.app.state.sessions = sessions

    def login(values: Mapping[str, Any]) -> dict[str, Any]:
        user, given = values.get("username"), values.get("password")
        if not user or not given:
            raise Refused(NO_CREDENTIALS, "Thiếu tên đăng nhập hoặc mật khẩu")
        if user != username or not hmac.compare_digest(str(given).encode(), password.encode()):
            raise Refused(WRONG_CREDENTIALS, "Tên đăng nhập hoặc mật khẩu không đúng")
        session = secrets.token_urlsafe(24)
        sessions.add(session)
        return {"error_code": "0", "result": "Đăng nhập thành công", "session": session}

    def dossiers(values: Mapping[str, Any]) -> dict[str, Any]:
        first = day_param(values, "ngayNhan1", "%Y-%m-%d", MALFORMED)
        last = day_param(values, "ngayNhan2", "%Y-%m-%d", MALFORMED)
        window_days(first, last, MAX_WINDOW_DAYS, MALFORMED)
        return _answer(store.page(first, last))

    def dossier(values: Mapping[str, Any]) -> dict[str, Any]:
        found = store.detail(str(required(values, "mahoso", MALFORMED)))
        return _answer([found] if found is not None else [])

    def document(values: Mapping[str, Any]) -> dict[str, Any]:
        path = str(required(values, "duongdanteptin", MALFORMED))
        number = path.split("/")[2] if path.count("/") == 3 else ""
        if store.detail(number) is None:
            return {"error_code": "0", "TepTinDinhKem": []}
        content = base64.b64encode(f"%PDF-1.4 sandbox {number}".encode()).decode()
        attached = {"Base64": content, "DuongDan": path, "TenTaiLieu": "Đơn đề nghị"}
        return {"error_code": "0", "TepTinDinhKem": [attached]}

    services = {"DanhSachHoSo": dossiers, "TraCuuHoSo": dossier, "LayTaiLieuHoSo": document}

    def call(values: Mapping[str, Any]) -> dict[str, Any]:
        if values.get("session") not in sessions:
            raise Refused(BAD_SESSION, "Phiên làm việc không hợp lệ hoặc đã hết hạn")
        unit = values.get("donViXuLy")
        if not unit:
            raise Refused(NO_UNIT, "Mã đơn vị rỗng hoặc null")
        if unit != HANOI_UNIT:
            raise Refused(UNKNOWN_UNIT, f"Mã đơn vị {unit!r} không đúng")
        handler = services.get(str(values.get("service")))
        if handler is None:
            raise Refused(MALFORMED, f"Dịch vụ {values.get('service')!r} không tồn tại; có: {', '.join(services)}")
        return handler(values)

    service.route("POST", "/mapi/login", "login", login)
    service.route("POST", "/mapi/g", "g", call)


DOUBLE = HeldRecordsDouble("Driving-licence service", held_dossiers, records, _error, MALFORMED, _routes, bearer=False)
create_app, double = DOUBLE.create_app, DOUBLE.double
