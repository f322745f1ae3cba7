"""The land double calling the one-stop side back, as VBDLIS does (docs/interfaces.md 7.7, public
controller T-VBDLIS): ``POST <base>/<Operation>/<securityCode>`` with a JSON body, expecting
``{Result, Message}``.

For the dossiers it holds in a window it sends what the public contract has VBDLIS send about
them: ``TiepNhanHoSoChoMotCua`` for each it received (at its own desk: the double's dossiers carry
no one-stop number; one refused at intake has no due date and gets none) and ``KetThucHoSo`` for
each that ended. The bodies are
built from the same stored record the listing answers with, so a callback and a listing of one
dossier agree -- which is what lets the hub fold one into the other without counting twice.

Sandbox-only: ``POST /sandbox/callbacks {"url": "<loopback base>", "security_code": "...",
"from": "yyyy-MM-dd", "to": "yyyy-MM-dd"}`` sends them and answers the counts (sent per operation,
then accepted / refused_<HTTP status> / rejected (HTTP 200 with Result 0) / unreachable).
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import date
from typing import Any

import requests
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from sandbox.held_records import HeldRecordStore

__all__ = ["ended_body", "mount_callback_sender", "received_body", "send_callbacks"]

log = logging.getLogger(__name__)
RECEIVED, ENDED = "TiepNhanHoSoChoMotCua", "KetThucHoSo"
APPLICANT_KEYS = ("HoTen", "SoChungMinh", "DiaChiChiTiet", "SoDienThoai", "Email")
OFFICER = "vpdk.xuly"  # ASSUMPTION: the land office's officer account (MaCanBoXuLy)


def received_body(record: dict[str, Any]) -> dict[str, Any] | None:
    """``TiepNhanHoSoChoMotCua`` for a held dossier (the public request's keys); None for one the
    land office refused at intake: it has no due date, which the public request always carries."""
    if record.get("NgayHenTra") is None:
        return None
    keys = ("SoBienNhan", "TinhId", "HuyenId", "XaId", "NguoiTiepNhan", "NgayTiepNhan", "NgayHenTra")
    return {
        **{key: record[key] for key in keys},
        "DiaChiTaiSan": None,
        # the public VBDLISThongTinNguoiNop: no kind of owner (only the assumed listing carries it)
        "ThongTinNguoiNopDon": {key: record["ThongTinNguoiNopDon"][key] for key in APPLICANT_KEYS},
        "ThongTinThuaDat": None,
        "ThongTinQuyTrinh": record["ThongTinQuyTrinh"],
        "DanhSachGiayToDinhKem": [],
    }


def ended_body(record: dict[str, Any]) -> dict[str, Any] | None:
    """``KetThucHoSo`` for a held dossier that ended, else None."""
    if record.get("NgayKetThuc") is None:
        return None
    return {
        "SoBienNhan": record["SoBienNhan"],
        "NgayKetThuc": record["NgayKetThuc"],
        "MaCanBoXuLy": OFFICER,
        "TrangThaiKetThuc": record["TrangThaiKetThuc"],
        "GhiChu": None,
        "DanhSachGiayToKetQua": [],
    }


def send_callbacks(store: HeldRecordStore, url: str, security_code: str, first: date, last: date) -> dict[str, int]:
    """Send the window's callbacks (each dossier's reception, then its end) to ``url``."""
    counts: Counter[str] = Counter()
    base = url.rstrip("/")
    with requests.Session() as session:
        for record in store.page(first, last):
            for operation, body in ((RECEIVED, received_body(record)), (ENDED, ended_body(record))):
                if body is None:
                    continue
                counts[operation] += 1
                counts[_post(session, f"{base}/{operation}/{security_code}", body)] += 1
    return dict(counts)


def _post(session: requests.Session, url: str, body: dict[str, Any]) -> str:
    try:
        reply = session.post(url, json=body, timeout=10)
    except requests.RequestException as exc:
        log.warning("callback %s not delivered: %s", body["SoBienNhan"], exc)
        return "unreachable"
    if not reply.ok:
        return f"refused_{reply.status_code}"
    return "accepted" if reply.json().get("Result") == 1 else "rejected"


def mount_callback_sender(app: FastAPI, store: HeldRecordStore) -> None:
    """``POST /sandbox/callbacks`` on the double (see the module docstring)."""

    @app.post("/sandbox/callbacks")
    async def callbacks(request: Request) -> JSONResponse:
        try:
            body = await request.json()
            url, code = str(body["url"]), str(body["security_code"])
            first, last = date.fromisoformat(body["from"]), date.fromisoformat(body["to"])
        except (KeyError, TypeError, ValueError) as exc:
            return JSONResponse({"error": f"url, security_code, from and to (yyyy-MM-dd) are required: {exc}"}, 400)
        if not url.startswith(("http://127.", "http://[::1]")):
            return JSONResponse({"error": '"url" must be the hub receiver\'s loopback base URL'}, 400)
        sent = await run_in_threadpool(send_callbacks, store, url, code, first, last)
        return JSONResponse({"sent": sent})
