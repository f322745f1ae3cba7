"""The land-registration double: the VBDLIS land system as the one-stop system's partner (REST/JSON;
docs/interfaces.md 7.7, public client T-VBDLIS).

The public two-way contract is keyed by the receipt number ``SoBienNhan`` and answers
``{Result: 1 | 0, Message}``; it has no listing a one-stop system reads, so the one this double
serves is an ASSUMPTION shaped like the contract's own records (what would confirm it: the VBDLIS
operator's specification of a dossier listing):

- ``POST /danhsachhoso {TinhId, TuNgay, DenNgay (yyyy-MM-dd, at most 7 days), BatDau, SoLuong
  (at most 500)}`` -> ``{Result: 1, Message, TongSo, Data: [dossier, ...]}``, dossiers received in
  the window, by receipt number; a dossier's keys are those of the public ``tiepnhan`` request and
  ``KetThucHoSo`` callback (``sandbox.land_registration.store``).

Refusals are ``{Result: 0, Message, MaLoi}`` (``MaLoi`` an ASSUMPTION: the public replies carry only
``Message``): 100/101 at the gateway, 300 a request the system cannot read, 106 a province other
than Hà Nội's. Sandbox-only: ``POST /sandbox/load``, ``GET /sandbox/export/dossiers?from=&to=``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sandbox.held_records import HeldRecordsDouble, HeldRecordStore
from sandbox.land_registration.store import HANOI_ID, held_dossiers, records
from sandbox.ngsp import NgspService, Refused, day_param, int_param, window_days

__all__ = ["MAX_PAGE", "MAX_WINDOW_DAYS", "create_app", "double"]

MAX_WINDOW_DAYS, MAX_PAGE = 7, 500
UNKNOWN_PROVINCE, MALFORMED = "106", "300"


def _error(code: str, message: str) -> dict[str, Any]:
    return {"Result": 0, "Message": message, "MaLoi": code}


def _routes(service: NgspService, store: HeldRecordStore, _account: str, _secret: str) -> None:
    def listing(values: Mapping[str, Any]) -> dict[str, Any]:
        province = int_param(values, "TinhId", 0, 999, MALFORMED)
        if province != HANOI_ID:
            raise Refused(UNKNOWN_PROVINCE, f"TinhId {province} không thuộc phạm vi kết nối")
        first = day_param(values, "TuNgay", "%Y-%m-%d", MALFORMED)
        last = day_param(values, "DenNgay", "%Y-%m-%d", MALFORMED)
        window_days(first, last, MAX_WINDOW_DAYS, MALFORMED)
        start = int_param(values, "BatDau", 0, 10**9, MALFORMED)
        size = int_param(values, "SoLuong", 1, MAX_PAGE, MALFORMED)
        found = store.page(first, last, start, size)
        return {"Result": 1, "Message": "", "TongSo": len(found), "Data": found}

    service.route("POST", "/danhsachhoso", "danhsachhoso", listing)


DOUBLE = HeldRecordsDouble("VBDLIS land registration", held_dossiers, records, _error, MALFORMED, _routes)
create_app, double = DOUBLE.create_app, DOUBLE.double
