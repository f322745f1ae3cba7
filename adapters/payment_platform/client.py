"""Client of the national portal's payment platform (REST/JSON, ``MaXacThuc`` checksums).

Operations, as the public clients send them (docs/interfaces.md 10): **INIT** opens a transaction
for a dossier's fees and returns the URL the citizen pays at; **QUERY** asks a transaction's
state (``TrangThaiGD`` "1" paid, "4" failed, anything else not settled yet); **GET_BILL** fetches
its receipt (a PDF). Every request carries ``PhienBan`` 1.0.6, the hub's partner code
``MaDoiTac`` and ``MaXacThuc`` (``adapters.payment_platform.checksum``); a bearer token is sent
when the Connection has one (H sends one when configured). The platform's answer to a wrong
checksum is an HTTP 401 (an ASSUMPTION, as are the paths: both clients read them from settings
left blank in their repositories), which the transport reports as an authentication error.

**LIST** -- the day's transactions, what the reconciliation compares the dossiers with -- has no
public contract at all: this client's request and the reply's shape (the platform's own field
names, one object per transaction) are an ASSUMPTION to replace by the platform's real
reconciliation file once the portal publishes it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from adapters.errors import ContractViolation, PermanentError
from adapters.payment_platform.checksum import INIT_FIELDS, LIST_FIELDS, QUERY_FIELDS, checksum
from adapters.transport import HttpTransport
from mappings.dossier import VN_TZ

__all__ = [
    "FAILED",
    "PAID",
    "PaymentClient",
    "PaymentRequest",
    "PlatformTransaction",
    "TransactionStatus",
    "from_connection",
    "probe",
    "reference_for",
]

PARTNER = "payment_platform"
VERSION = "1.0.6"
PAID, FAILED = "1", "4"  # TrangThaiGD
SETTLED = frozenset({PAID, FAILED})
OK = "00"  # MaLoi of a successful reply or a paid confirmation
PATHS = {"INIT": "/paymentplatform/init", "QUERY": "/paymentplatform/query", "GET_BILL": "/paymentplatform/getbill"}
LIST_PATH = "/paymentplatform/transactions"  # ASSUMPTION: no public reconciliation file
TIME_FORMAT = "%Y%m%d%H%M%S"  # ThoiGianGD, Hanoi time
_REPLY = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


def reference_for(dossier_no: str, at: datetime) -> str:
    """The hub's ``MaThamChieu`` for a payment of ``dossier_no`` at ``at``: the number's letters and
    digits, then the time -- unique per attempt, and the dossier readable in it."""
    return re.sub(r"[^0-9A-Za-z]", "", dossier_no) + at.astimezone(VN_TZ).strftime(TIME_FORMAT)


@dataclass(frozen=True)
class PaymentRequest:
    """One dossier's fees to be paid on the platform (the ``ThongTinBienLai`` the receipt prints)."""

    dossier_no: str
    procedure_code: str
    agency_code: str
    fees: tuple[tuple[str, str, int], ...]  # (code, name, amount in VND)
    at: datetime
    ip: str = "127.0.0.1"

    @property
    def amount(self) -> int:
        return sum(amount for _, _, amount in self.fees)


class InitReply(BaseModel):
    """INIT's answer once ``message`` is decoded: where the citizen pays."""

    model_config = _REPLY
    url: str = Field(alias="UrlThanhToan")


class TransactionStatus(BaseModel):
    """QUERY's answer: the confirmation's fields and ``TrangThaiGD``."""

    model_config = _REPLY
    error_code: str = Field(alias="MaLoi")
    reference: str | None = Field(default=None, alias="MaThamChieu")
    transaction_id: str | None = Field(default=None, alias="MaGiaoDich")
    amount: int | None = Field(default=None, alias="SoTien")
    state: str | None = Field(default=None, alias="TrangThaiGD")

    @property
    def settled(self) -> bool:
        return self.state in SETTLED


class PlatformTransaction(BaseModel):
    """One row of the day's transaction list (LIST, an ASSUMPTION: the platform's field names)."""

    model_config = _REPLY
    reference: str = Field(alias="MaThamChieu")
    transaction_id: str | None = Field(default=None, alias="MaGiaoDich")
    dossier_no: str = Field(alias="MaHoSo")
    amount: int = Field(alias="SoTien")
    currency: str = Field(default="VND", alias="MaTienTe")
    time: str = Field(alias="ThoiGianGD")
    state: str = Field(alias="TrangThaiGD")


class _Init(BaseModel):
    model_config = _REPLY
    error_code: str
    message: str


class _List(BaseModel):
    model_config = _REPLY
    error_code: str = Field(alias="MaLoi")
    description: str | None = Field(default=None, alias="MoTaLoi")
    transactions: list[PlatformTransaction] = Field(default_factory=list, alias="DanhSachGiaoDich")


class PaymentClient:
    """The hub as the platform's partner ``partner_code``; ``secret`` keys every checksum."""

    def __init__(self, transport: HttpTransport, partner_code: str, secret: str, token: str = "") -> None:
        if not partner_code or not secret:
            raise ValueError("the payment platform needs the partner code (ma_doi_tac) and the checksum secret")
        self.transport = transport
        self.partner_code = partner_code
        self._secret = secret
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    def init(self, payment: PaymentRequest) -> tuple[str, str]:
        """Open a transaction for ``payment``; returns (its MaThamChieu, the URL to pay at)."""
        reference = reference_for(payment.dossier_no, payment.at)
        info = f"Thanh toan phi, le phi ho so {payment.dossier_no}"
        message: dict[str, Any] = {
            "LoaiBanTin": "INIT",
            "PhienBan": VERSION,
            "MaDoiTac": self.partner_code,
            "MaThamChieu": reference,
            "SoTien": str(payment.amount),
            "LoaiHinhThanhToan": "PAY",
            "MaKenhThanhToan": "1",
            "MaThietBi": "1",
            "NgonNgu": "vi-VN",
            "MaTienTe": "VND",
            "MaNganHang": "PAYMENT",
            "ThongTinGiaoDich": info,
            "ThoiGianGD": payment.at.astimezone(VN_TZ).strftime(TIME_FORMAT),
            "Ip": payment.ip,
        }
        message["MaXacThuc"] = checksum(message, INIT_FIELDS, self._secret)
        message["ThongTinBienLai"] = {
            "MaDichVu": "2",
            "MaDVC": f"{payment.procedure_code}.01",
            "MaTTHC": payment.procedure_code,
            "MaDonVi": payment.agency_code,
            "MaHoSo": payment.dossier_no,
            "NoiDungThanhToan": info,
            "PhiLePhi": [
                {"LoaiPhiLePhi": "2", "MaPhiLePhi": code, "TenPhiLePhi": name, "SoTien": str(amount)}
                for code, name, amount in payment.fees
            ],
            "DSKhoanNop": [{"NoiDung": name, "SoTien": str(amount)} for _, name, amount in payment.fees],
        }
        reply = self._post("INIT", message, _Init.model_validate)
        if reply.error_code != "0":
            raise PermanentError(
                PARTNER, "INIT", f"the platform refused the transaction (error_code {reply.error_code})"
            )
        try:
            return reference, InitReply.model_validate(json.loads(reply.message)).url
        except ValueError as exc:
            raise ContractViolation(PARTNER, "INIT", "message does not hold UrlThanhToan") from exc

    def query(self, reference: str, at: datetime) -> TransactionStatus:
        """The state of transaction ``reference`` (opened at ``at``)."""
        status = self._post("QUERY", self._lookup("QUERY", reference, at), TransactionStatus.model_validate)
        if status.error_code != OK and status.state is None:
            raise PermanentError(PARTNER, "QUERY", f"the platform answered MaLoi {status.error_code}")
        return status

    def receipt(self, reference: str, at: datetime) -> bytes:
        """Transaction ``reference``'s receipt as the platform renders it (a PDF)."""
        return self._post("GET_BILL", self._lookup("GET_BILL", reference, at), _pdf, raw=True)

    def transactions(self, day: date) -> list[PlatformTransaction]:
        """Every transaction of the hub's partner code on ``day`` (LIST: an ASSUMPTION, see above)."""
        message: dict[str, Any] = {
            "LoaiBanTin": "LIST",
            "PhienBan": VERSION,
            "MaDoiTac": self.partner_code,
            "NgayGD": f"{day:%Y%m%d}",
        }
        message["MaXacThuc"] = checksum(message, LIST_FIELDS, self._secret)
        listed = self.transport.post_json(
            LIST_PATH, message, operation="LIST", parse=_List.model_validate, headers=self._headers
        )
        if listed.error_code != OK:
            raise PermanentError(PARTNER, "LIST", f"the platform answered MaLoi {listed.error_code}")
        return listed.transactions

    def _lookup(self, kind: str, reference: str, at: datetime) -> dict[str, Any]:
        message: dict[str, Any] = {
            "LoaiBanTin": kind,
            "PhienBan": VERSION,
            "MaDoiTac": self.partner_code,
            "MaThamChieu": reference,
            "ThoiGianGD": at.astimezone(VN_TZ).strftime(TIME_FORMAT),
        }
        message["MaXacThuc"] = checksum(message, QUERY_FIELDS, self._secret)
        return message

    def _post(self, kind: str, message: Mapping[str, Any], parse: Any, *, raw: bool = False) -> Any:
        return self.transport.post_json(
            PATHS[kind], message, operation=kind, parse=parse, headers=self._headers, raw=raw
        )

    def close(self) -> None:
        self.transport.close()


def _pdf(content: bytes) -> bytes:
    if not content.startswith(b"%PDF"):
        raise ContractViolation(PARTNER, "GET_BILL", f"the receipt is not a PDF ({len(content)} bytes)")
    return content


def parse_time(text: str) -> datetime:
    """A ``ThoiGianGD`` (yyyyMMddHHmmss, Hanoi time)."""
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=VN_TZ)


def from_connection(transport: HttpTransport, login: str, password: str, extras: Mapping[str, Any]) -> PaymentClient:
    """``payment_platform`` Connection -> client: the bearer token as the password (may be empty),
    extras ``ma_doi_tac`` (the hub's partner code) and ``checksum_secret`` (the MaXacThuc key)."""
    del login
    return PaymentClient(
        transport, str(extras.get("ma_doi_tac") or ""), str(extras.get("checksum_secret") or ""), password
    )


def probe(client: PaymentClient) -> str:
    """Today's transaction list (no citizen's data beyond dossier numbers and amounts)."""
    today = datetime.now(VN_TZ).date()
    return f"LIST answered {len(client.transactions(today)):,} transactions for {today}"
