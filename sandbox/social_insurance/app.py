"""The social-insurance double: Viet Nam Social Security's look-ups as the NGSP exposes them
(REST/JSON, bearer token; docs/interfaces.md 7.4, public guide QB ``apiBHXH``).

- ``POST /getTraCuuTtHgdByMaSoBhxh {maSoBhxh}`` -> the household's members, a JSON array of
  ``{hoTen, soSoCu, ngaySinh, loaiNgaySinh, gioiTinh, maTinhKs, maHuyenKs, maXaKs, trangThai}``;
- ``POST /getMaSoBhxhTheoTieuChi {hoTen, ngaySinh, loaiNgaySinh, gioiTinh, maTinhKs, maHuyenKs,
  maXaKs, isKs}`` -> ``{maSoBhxh, trangThai, errorCode: "0"}``.

Strict where the guide is: ``maSoBhxh`` 10 digits; ``ngaySinh`` ``yyyyMMdd``, ``yyyy`` or ``yyyyMM``
as ``loaiNgaySinh`` 0, 1 or 2 says; ``gioiTinh`` 1, 2 or 3; ``isKs`` 0 or 1; ``maTinhKs`` two digits.
A failure is ``{"errorCode", "message"}`` (the codes -- 201 nobody found, 300 malformed -- are an
assumption: the guide lists ``errorCode`` without its values). Sandbox-only: ``POST /sandbox/load``
loads the households of the citizen applicants of generated city days.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from sandbox.doubles import DoubleContext
from sandbox.faults import FaultConfig
from sandbox.ministry_dossiers import mount_load
from sandbox.ngsp import LOOPBACK, NgspService, Refused, required
from sandbox.signatures import PartnerSigning
from sandbox.social_insurance.store import SocialInsuranceStore

__all__ = ["create_app", "double"]

NOT_FOUND, MALFORMED = "201", "300"
_BIRTH = {"0": re.compile(r"[0-9]{8}"), "1": re.compile(r"[0-9]{4}"), "2": re.compile(r"[0-9]{6}")}


def _error(code: str, message: str) -> dict[str, Any]:
    return {"errorCode": code, "message": message}


def _choice(values: Mapping[str, Any], name: str, allowed: Iterable[str]) -> str:
    value = str(required(values, name, MALFORMED))
    if value not in allowed:
        raise Refused(MALFORMED, f"{name} nhận một trong các giá trị {', '.join(allowed)}, nhận được {value!r}")
    return value


def create_app(
    db_path: str | Path,
    token: str,
    *,
    signing: PartnerSigning | None = None,
    allowed_ips: Iterable[str] = LOOPBACK,
    faults: FaultConfig = FaultConfig(),  # noqa: B008 -- frozen dataclass, safe as a default
) -> FastAPI:
    """The double; load households with ``app.state.insurance.load_days`` or ``POST /sandbox/load``."""
    store = SocialInsuranceStore(db_path)
    app = FastAPI(title="Social insurance (sandbox)", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.insurance = store
    service = NgspService(
        app, token=token, error=_error, malformed=MALFORMED, signing=signing, allowed_ips=allowed_ips, faults=faults
    )

    def household(values: Mapping[str, Any]) -> list[dict[str, Any]]:
        number = str(required(values, "maSoBhxh", MALFORMED))
        if not re.fullmatch(r"[0-9]{10}", number):
            raise Refused(MALFORMED, f"maSoBhxh gồm 10 chữ số, nhận được {len(number)} ký tự")
        found = store.household(number)
        if found is None:
            raise Refused(NOT_FOUND, "Không tìm thấy người tham gia có mã số BHXH này")
        return found

    def number(values: Mapping[str, Any]) -> dict[str, Any]:
        name = str(required(values, "hoTen", MALFORMED))
        kind = _choice(values, "loaiNgaySinh", ("0", "1", "2"))
        birth = str(required(values, "ngaySinh", MALFORMED))
        if not _BIRTH[kind].fullmatch(birth):
            raise Refused(MALFORMED, f"ngaySinh {birth!r} không khớp loaiNgaySinh {kind}")
        gender = _choice(values, "gioiTinh", ("1", "2", "3"))
        _choice(values, "isKs", ("0", "1"))
        if not re.fullmatch(r"[0-9]{2}", str(required(values, "maTinhKs", MALFORMED))):
            raise Refused(MALFORMED, "maTinhKs là mã tỉnh 2 chữ số của Tổng cục Thống kê")
        found = store.find(name, birth, gender)
        if not found:
            raise Refused(NOT_FOUND, "Không tìm thấy người tham gia phù hợp tiêu chí")
        return {"maSoBhxh": found[0]["maSoBhxh"], "trangThai": found[0]["trangThai"], "errorCode": "0"}

    service.route("POST", "/getTraCuuTtHgdByMaSoBhxh", "getTraCuuTtHgdByMaSoBhxh", household)
    service.route("POST", "/getMaSoBhxhTheoTieuChi", "getMaSoBhxhTheoTieuChi", number)
    mount_load(app, store.load_days)
    return app


def double(context: DoubleContext) -> FastAPI:
    """The runner's insurer, holding the city's applicants of the generated day."""
    app = create_app(context.db_path, context.credentials["token"], signing=context.signing)
    app.state.insurance.load_days(context.day, context.day, context.scale, context.seed)
    return app
