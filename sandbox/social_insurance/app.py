"""SOAP face of the social-insurance simulator, on the shared SOAP sandbox (``sandbox.soap``: envelopes,
IP/credential/signature/XSD/agency checks, faults, signed replies, and the log of every lookup
received -- who asked, for which dossier, when). This module only answers the two lookups.

Sandbox-only: ``POST /sandbox/load {"from", "to", "scale", "seed"}`` loads the households of the
citizen applicants of those generated city days.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from adapters.soap.contract import load_contract
from adapters.soap.envelope import FAULT_MALFORMED, FAULT_NOT_FOUND, Credentials
from adapters.social_insurance.client import WSDL
from mappings.dossier import VN_TZ
from sandbox.doubles import DoubleContext
from sandbox.ministry_dossiers import mount_load
from sandbox.signatures import PartnerSigning
from sandbox.soap import SoapFaultError, SoapRequest, create_soap_app
from sandbox.social_insurance.store import SocialInsuranceStore

__all__ = ["create_app"]


def create_app(
    db_path: str | Path,
    credentials: Credentials,
    agencies: Iterable[str],
    *,
    signing: PartnerSigning | None = None,
    allowed_ips: Iterable[str] = ("127.0.0.1", "::1"),
    faults: dict[str, Any] | None = None,
) -> FastAPI:
    """Build the simulator; ``agencies`` are the ``MaDVC`` values allowed to call (others: fault 106)."""
    store = SocialInsuranceStore(db_path)

    def household(request: SoapRequest) -> dict[str, Any]:
        found = store.household(request.values["MaSoBhxh"])
        if found is None:
            raise SoapFaultError(FAULT_NOT_FOUND, "không có người tham gia với mã số BHXH này")
        return {
            "MaYeuCau": request.values["MaYeuCau"],
            "HoGiaDinh": found,
            "ThoiDiem": datetime.now(UTC).astimezone(VN_TZ),
        }

    def numbers(request: SoapRequest) -> dict[str, Any]:
        values = request.values
        if values.get("NgaySinh") is None and values.get("SoDinhDanh") is None:
            raise SoapFaultError(FAULT_MALFORMED, "cần ít nhất một trong NgaySinh, SoDinhDanh")
        if values.get("MaTinh") not in (None, "01"):
            found = []  # the simulator holds Hanoi's insured people only
        else:
            found = store.find(values["HoVaTen"], values.get("NgaySinh"), values.get("SoDinhDanh"))
        if not found:
            raise SoapFaultError(FAULT_NOT_FOUND, "không tìm thấy người tham gia phù hợp tiêu chí")
        people = [{k: v for k, v in person.items() if k != "QuanHeVoiChuHo"} for person in found]
        return {"MaYeuCau": values["MaYeuCau"], "NguoiThamGia": people, "ThoiDiem": datetime.now(UTC).astimezone(VN_TZ)}

    app = create_soap_app(
        title="Social insurance",
        contract=load_contract(WSDL),
        handlers={"getTraCuuTtHgdByMaSoBhxh": household, "getMaSoBhxhTheoTieuChi": numbers},
        db_path=db_path,
        credentials=credentials,
        signing=signing,
        agencies=agencies,
        allowed_ips=allowed_ips,
        faults=faults,
    )
    app.state.insurance = store
    mount_load(app, store.load_days)
    return app


def double(context: DoubleContext) -> FastAPI:
    """The runner's insurer, holding the city's applicants of the generated day."""
    app = create_app(context.db_path, context.soap_credentials, context.agencies, signing=context.soap_signing)
    app.state.insurance.load_days(context.day, context.day, context.scale, context.seed)
    return app
