"""``MaXacThuc``: how the payment platform and its partners authenticate each message.

Both public clients (docs/interfaces.md 10, H and O-rc) compute it the same way: the message's
fields, in a fixed order that depends on the message type, joined by ``|``, then ``|`` and the
partner's secret key, hashed with SHA-256 and written as lower-case hex. There is no HMAC and no
signature: whoever knows the secret can write a valid message, so the secret stays in the
Connection, and a received checksum is compared in constant time (:func:`matches`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["CONFIRM_FIELDS", "INIT_FIELDS", "LIST_FIELDS", "QUERY_FIELDS", "checksum", "matches"]

INIT_FIELDS = (
    "LoaiBanTin",
    "PhienBan",
    "MaDoiTac",
    "MaThamChieu",
    "SoTien",
    "LoaiHinhThanhToan",
    "MaKenhThanhToan",
    "MaThietBi",
    "NgonNgu",
    "MaTienTe",
    "MaNganHang",
    "ThongTinGiaoDich",
    "ThoiGianGD",
    "Ip",
)
"""INIT (H ``DvcPaymentService.InitPayment``)."""
QUERY_FIELDS = ("LoaiBanTin", "PhienBan", "MaDoiTac", "MaThamChieu", "ThoiGianGD")
"""QUERY and GET_BILL (H ``CheckPaymentStatus``, ``GetBienLaiDvcPayment``)."""
CONFIRM_FIELDS = (
    "LoaiBanTin",
    "MaLoi",
    "MaDoiTac",
    "MaThamChieu",
    "SoTien",
    "MaTienTe",
    "MaGiaoDich",
    "MaNganHang",
    "ThoiGianGD",
    "ThongTinGiaoDich",
)
"""The platform's confirmation callback (H ``ConfirmDvcPaymentCommandHandler``)."""
LIST_FIELDS = ("LoaiBanTin", "PhienBan", "MaDoiTac", "NgayGD")
"""The day's transaction list: an ASSUMPTION (no public client fetches one), built like QUERY."""


def checksum(message: Mapping[str, Any], fields: Sequence[str], secret: str) -> str:
    """SHA-256 hex of ``message``'s ``fields`` and ``secret`` joined by ``|`` (a missing field is empty)."""
    values = ["" if message.get(name) is None else str(message[name]) for name in fields]
    return hashlib.sha256("|".join([*values, secret]).encode("utf-8")).hexdigest()


def matches(message: Mapping[str, Any], fields: Sequence[str], secret: str) -> bool:
    """Whether ``message["MaXacThuc"]`` is the checksum of its ``fields`` under ``secret`` (constant time)."""
    received = message.get("MaXacThuc")
    if not isinstance(received, str):
        return False
    return hmac.compare_digest(received.lower().encode(), checksum(message, fields, secret).encode())
