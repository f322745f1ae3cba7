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

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from sandbox.doubles import DoubleContext
from sandbox.faults import FaultConfig
from sandbox.held_records import HeldRecordStore, mount_held_records
from sandbox.land_registration.store import HANOI_ID, held_dossiers, records
from sandbox.ngsp import LOOPBACK, NgspService, Refused, day_param, int_param, window_days
from sandbox.signatures import PartnerSigning

__all__ = ["MAX_PAGE", "MAX_WINDOW_DAYS", "create_app", "double"]

MAX_WINDOW_DAYS, MAX_PAGE = 7, 500
UNKNOWN_PROVINCE, MALFORMED = "106", "300"


def _error(code: str, message: str) -> dict[str, Any]:
    return {"Result": 0, "Message": message, "MaLoi": code}


def create_app(
    db_path: str | Path,
    token: str,
    *,
    signing: PartnerSigning | None = None,
    allowed_ips: Iterable[str] = LOOPBACK,
    faults: FaultConfig = FaultConfig(),  # noqa: B008 -- frozen dataclass, safe as a default
    code_tables: Any | None = None,
) -> FastAPI:
    """The double; load data with ``app.state.store.load_days`` or ``POST /sandbox/load``."""
    store = HeldRecordStore(db_path, held_dossiers, records, code_tables)
    app = FastAPI(title="VBDLIS land registration (sandbox)", docs_url=None, redoc_url=None, openapi_url=None)
    service = NgspService(
        app, token=token, error=_error, malformed=MALFORMED, signing=signing, allowed_ips=allowed_ips, faults=faults
    )

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
    mount_held_records(app, store)
    return app


def double(context: DoubleContext) -> FastAPI:
    """The runner's VBDLIS, holding the day's land dossiers."""
    app = create_app(
        context.db_path, context.credentials["token"], signing=context.signing, code_tables=context.code_tables
    )
    app.state.store.load_days(context.day, context.day, context.scale, context.seed)
    return app
