"""The unemployment-benefit double: an ASSUMED contract (docs/interfaces.md 7.8), shaped like the
labour department's public social-assistance sync (T-SLD), reached through the NGSP with a bearer
token like every ministry service:

- ``POST /layDanhSachHoSo {MaTinh, LoaiDuLieu, ThoiGianBatDau, ThoiGianKetThuc}`` (times
  ``dd/MM/yyyy HH:mm:ss`` as T-SLD writes them; the days they fall on count, at most 7) ->
  ``{error_code: "0", message, data: [...]}``, the dossiers received on those days;
  ``LoaiDuLieu`` must be ``TCTN`` (unemployment benefit, ASSUMPTION).

Refusals ``{error_code, message, data: null}``: 100/101 at the gateway, 106 a province other than
Hà Nội's ``01``, 300 a request the system cannot read. What would confirm it: the ministry's
specification of the unemployment-benefit sync. Sandbox-only: ``POST /sandbox/load``,
``GET /sandbox/export/dossiers?from=&to=``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sandbox.held_records import HeldRecordsDouble, HeldRecordStore
from sandbox.ngsp import NgspService, Refused, day_param, required, window_days
from sandbox.unemployment_benefit.store import WIRE_TIME, held_dossiers, records

__all__ = ["MAX_WINDOW_DAYS", "create_app", "double"]

MAX_WINDOW_DAYS = 7
UNKNOWN_PROVINCE, MALFORMED = "106", "300"
KIND = "TCTN"


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error_code": code, "message": message, "data": None}


def _routes(service: NgspService, store: HeldRecordStore, _account: str, _secret: str) -> None:
    def listing(values: Mapping[str, Any]) -> dict[str, Any]:
        if required(values, "MaTinh", UNKNOWN_PROVINCE) != "01":
            raise Refused(UNKNOWN_PROVINCE, f"Mã tỉnh {values['MaTinh']!r} không chính xác")
        if required(values, "LoaiDuLieu", MALFORMED) != KIND:
            raise Refused(MALFORMED, f"LoaiDuLieu phải là {KIND}")
        first = day_param(values, "ThoiGianBatDau", WIRE_TIME, MALFORMED)
        last = day_param(values, "ThoiGianKetThuc", WIRE_TIME, MALFORMED)
        window_days(first, last, MAX_WINDOW_DAYS, MALFORMED)
        return {"error_code": "0", "message": "", "data": store.page(first, last)}

    service.route("POST", "/layDanhSachHoSo", "layDanhSachHoSo", listing)


DOUBLE = HeldRecordsDouble("Unemployment benefit", held_dossiers, records, _error, MALFORMED, _routes)
create_app, double = DOUBLE.create_app, DOUBLE.double
