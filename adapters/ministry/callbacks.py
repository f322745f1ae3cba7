"""Callbacks a ministry system sends the hub: the VBDLIS land system's, as one-stop systems receive
them (docs/interfaces.md 7.7, public controller T-VBDLIS ``VBDLISController``).

VBDLIS calls ``POST <one-stop base>/<Operation>/<securityCode>`` with a JSON body and reads
``{Result: 1 | 0, Message}``. The hub takes the two callbacks that change what the pull-back
knows of a land dossier:

- ``TiepNhanHoSoChoMotCua`` -- a dossier the land office received at its own desk, with the
  receipt number it gave it (``SoBienNhan``) and the record the listing gives (``TinhId``,
  ``HuyenId``, ``XaId``, ``NguoiTiepNhan``, ``NgayTiepNhan``, ``NgayHenTra``,
  ``ThongTinNguoiNopDon``, ``ThongTinQuyTrinh``, ``DanhSachGiayToDinhKem``);
- ``KetThucHoSo`` -- a dossier ended: ``SoBienNhan``, ``NgayKetThuc``, ``MaCanBoXuLy``,
  ``TrangThaiKetThuc`` (0 the result was issued, otherwise returned), ``GhiChu``,
  ``DanhSachGiayToKetQua``.

The other callbacks of the public controller (supplement requests, tax results, transfers) carry
nothing the reconciliation reads and are refused by name, so VBDLIS's operator sees at once which
ones to switch off. Why this module only parses: the receiver must answer fast and store, and the
pull-back folds stored callbacks into the records it stages (``hub.pipeline.ministry_callbacks``).
The security code is compared in constant time; a refusal names the problem without the body
(which carries the applicant's ID and phone numbers).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adapters.ministry.contract import contract_of
from adapters.postal.carrier import WebhookRejected
from adapters.postal.checks import webhook_document
from signing.digests import canonical_json

__all__ = ["CALLBACK_OPERATIONS", "DOTNET_TIME", "LandCallbacks", "MinistryCallback", "dotnet_time", "land_callbacks"]

RECEIVED, ENDED = "TiepNhanHoSoChoMotCua", "KetThucHoSo"
CALLBACK_OPERATIONS = (RECEIVED, ENDED)
DOTNET_TIME = "%Y-%m-%dT%H:%M:%S"
"""A .NET ``DateTime`` as JSON (local time, no zone); .NET may add a fraction of a second."""


def dotnet_time(value: Any) -> datetime | None:
    """A .NET ``DateTime`` string read (fraction of a second dropped), None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value.split(".", 1)[0], DOTNET_TIME)
    except ValueError:
        return None


@dataclass(frozen=True)
class MinistryCallback:
    """One accepted callback: the ministry, the operation, the dossier (the ministry's own number)
    and the body as sent. ``key`` is the same for a repeat, so a retried callback is stored once."""

    partner: str
    operation: str
    dossier_no: str
    body: dict[str, Any]

    @property
    def key(self) -> str:
        raw = f"{self.partner}|{self.operation}|".encode() + canonical_json(self.body)
        return hashlib.sha256(raw).hexdigest()


def _text(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    return None if isinstance(value, str) and value.strip() else f"{name} must be a non-empty string"


def _integer(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    return None if isinstance(value, int) and not isinstance(value, bool) else f"{name} must be an integer"


def _time(body: Mapping[str, Any], name: str) -> str | None:
    return None if dotnet_time(body.get(name)) is not None else f"{name} must be a date-time like 2026-11-20T08:40:00"


def _object_with(name: str, *keys: str) -> Callable[[Mapping[str, Any], str], str | None]:
    def check(body: Mapping[str, Any], _: str) -> str | None:
        value = body.get(name)
        if not isinstance(value, dict):
            return f"{name} must be an object"
        return next((f"{name}.{problem}" for key in keys if (problem := _text(value, key))), None)

    return check


def _list(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    return None if value is None or isinstance(value, list) else f"{name} must be a list"


Rule = Callable[[Mapping[str, Any], str], str | None]
_RULES: dict[str, dict[str, Rule]] = {
    RECEIVED: {
        "SoBienNhan": _text,
        "TinhId": _integer,
        "HuyenId": _integer,
        "XaId": _integer,
        "NguoiTiepNhan": _text,
        "NgayTiepNhan": _time,
        "NgayHenTra": _time,
        "ThongTinNguoiNopDon": _object_with("ThongTinNguoiNopDon", "HoTen"),
        "ThongTinQuyTrinh": _object_with("ThongTinQuyTrinh", "MaQuyTrinh"),
        "DanhSachGiayToDinhKem": _list,
    },
    ENDED: {
        "SoBienNhan": _text,
        "NgayKetThuc": _time,
        "MaCanBoXuLy": _text,
        "TrangThaiKetThuc": _integer,
        "DanhSachGiayToKetQua": _list,
    },
}


class LandCallbacks:
    """Authenticates and validates the VBDLIS land system's callbacks for one province.

    ``security_code`` is the code the hub gave VBDLIS's operator (the path's last segment);
    ``province_id`` is VBDLIS's ``TinhId`` of the province (the land contract's ``TinhId``): a
    dossier of another province is refused, as the listing refuses one.
    """

    partner = "land_registration"

    def __init__(self, security_code: str, province_id: int) -> None:
        if not security_code:
            raise ValueError("a non-empty security code is required")
        self._code = security_code.encode()
        self.province_id = province_id

    def parse(self, operation: str, security_code: str, body: bytes) -> MinistryCallback:
        """The callback, or :class:`WebhookRejected`: 401 wrong code, 404 an operation the hub does
        not take, 400 a body that is not the operation's."""
        if not hmac.compare_digest(security_code.encode(), self._code):
            raise WebhookRejected(401, "security code wrong")
        rules = _RULES.get(operation)
        if rules is None:
            raise WebhookRejected(404, f"{operation} is not taken by the hub; it takes {', '.join(_RULES)}")
        document = webhook_document(body)  # 400 when too deep, not JSON, not an object, or unstorable text
        problems = [problem for name, rule in rules.items() if (problem := rule(document, name))]
        if problems:
            raise WebhookRejected(400, "; ".join(problems))
        if operation == RECEIVED and document["TinhId"] != self.province_id:
            raise WebhookRejected(400, f"TinhId {document['TinhId']} is not this province's ({self.province_id})")
        return MinistryCallback(self.partner, operation, document["SoBienNhan"].strip(), document)


def land_callbacks(security_code: str) -> LandCallbacks:
    """The land system's callbacks for this province: its ``TinhId`` is the one the land contract's
    listing names (``adapters/ministry/contracts/land_registration.yaml``), so the two cannot differ."""
    listing = contract_of(LandCallbacks.partner).pull
    if listing is None or "TinhId" not in listing.params:
        raise ValueError("the land contract's listing names no TinhId")
    return LandCallbacks(security_code, int(listing.params["TinhId"]))
