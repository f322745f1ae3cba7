"""The payment platform's confirmation callback: authenticated by its checksum, then read.

The platform tells the partner a transaction's outcome by posting the confirmation
(``ConfirmDvcPaymentCommand`` in H: ``LoaiBanTin, MaLoi, MaDoiTac, MaThamChieu, SoTien,
MaTienTe, MaGiaoDich, MaNganHang, ThoiGianGD, ThongTinGiaoDich, MaXacThuc``), ``MaLoi`` "00"
meaning paid. H recomputes the checksum over those fields and the secret and refuses a mismatch;
so does the hub, in constant time, before anything in the body is trusted or kept. A callback
naming another partner code is refused the same way: the checksum proves only the secret.

Refusals are :class:`WebhookRejected` (the receiver answers them in the platform's shape
``{MaLoi, MoTaLoi}``: ``hub.webhooks.payment``).
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.payment_platform.checksum import CONFIRM_FIELDS, matches
from adapters.payment_platform.client import OK
from adapters.postal.carrier import WebhookRejected
from adapters.postal.checks import webhook_document

__all__ = ["Confirmation", "ConfirmationParser"]

_TEXT = ("LoaiBanTin", "MaLoi", "MaDoiTac", "MaThamChieu", "MaTienTe", "ThoiGianGD")
_PAID_TEXT = ("MaGiaoDich", "MaNganHang")  # a paid confirmation names the payment and its bank


@dataclass(frozen=True)
class Confirmation:
    """A checked confirmation: what the hub keeps of it (nothing personal is in it)."""

    error_code: str
    reference: str
    transaction_id: str
    amount: int
    bank: str
    time: str

    @property
    def paid(self) -> bool:
        return self.error_code == OK


class ConfirmationParser:
    """Checks confirmations meant for partner ``partner_code`` under its checksum ``secret``."""

    def __init__(self, partner_code: str, secret: str) -> None:
        if not partner_code or not secret:
            raise ValueError("confirmations need the partner code and the checksum secret")
        self.partner_code = partner_code
        self._secret = secret

    def parse(self, body: bytes) -> Confirmation:
        """The confirmation in ``body``; 401 for a wrong checksum or partner code, 400 for a body that
        is not one (the checksum is checked first: nothing unauthenticated is interpreted)."""
        document = webhook_document(body)
        if not matches(document, CONFIRM_FIELDS, self._secret):
            raise WebhookRejected(401, "MaXacThuc does not match the confirmation's fields")
        if document.get("MaDoiTac") != self.partner_code:
            raise WebhookRejected(401, "the confirmation names another partner code")
        wanted = _TEXT + (_PAID_TEXT if document.get("MaLoi") == OK else ())
        missing = [name for name in wanted if not isinstance(document.get(name), str) or not document[name]]
        if missing:
            raise WebhookRejected(400, f"the confirmation lacks {', '.join(missing)}")
        amount = document.get("SoTien")
        if isinstance(amount, bool) or not isinstance(amount, int | str) or not str(amount).isdigit():
            raise WebhookRejected(400, "SoTien is not a whole amount")
        if document["MaTienTe"] != "VND":
            raise WebhookRejected(400, "MaTienTe is not VND")
        return Confirmation(
            error_code=document["MaLoi"],
            reference=document["MaThamChieu"],
            transaction_id=str(document.get("MaGiaoDich") or ""),
            amount=int(amount),
            bank=str(document.get("MaNganHang") or ""),
            time=document["ThoiGianGD"],
        )
