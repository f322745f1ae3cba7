"""The national portal's payment platform, as a loopback double built from the public clients
(docs/interfaces.md 10: H ``DvcPaymentService.cs``, ``ConfirmDvcPaymentCommand*.cs``; O-rc
``PayGateTerm.java``).

- ``POST /paymentplatform/init`` takes INIT as H sends it (``PhienBan`` 1.0.6, ``LoaiHinhThanhToan``
  PAY, ``MaTienTe`` VND, ``ThoiGianGD`` yyyyMMddHHmmss, ``ThongTinBienLai`` naming ``MaHoSo``) and
  answers ``{error_code: "0", message: "{\\"UrlThanhToan\\": ...}"}`` as H reads it; the
  transaction waits ("0") until paid.
- ``POST /paymentplatform/query`` (QUERY) answers the confirmation's fields with ``TrangThaiGD``
  ("1" paid, "4" failed); ``/paymentplatform/getbill`` (GET_BILL) a PDF receipt of a paid one.
- ``POST /paymentplatform/transactions`` (LIST ``{NgayGD: yyyyMMdd}``) the day's transactions: an
  ASSUMPTION (no public reconciliation file; docs/interfaces.md 10.5).

Every message must carry the right ``MaXacThuc`` for the partner's secret and its own
``MaDoiTac``; a wrong one is answered HTTP 401 (an ASSUMPTION: H does not show the platform's
refusal), a message real clients never send (another version, currency or payment type, a time
not in the platform's format) HTTP 400. When the partner has a bearer token it is required too.

The day's transactions come from the generated city day (``ledger.day_ledger``, with its injected
discrepancies). Confirmations go to the hub: ``POST /sandbox/pay {MaThamChieu, MaLoi?}`` settles a
transaction the hub opened and posts its confirmation to the receiver the runner named;
``POST /sandbox/callbacks {url, replay?, forge?}`` posts the confirmations of the day's paid
transactions to ``url`` (plus ``replay`` repeated and ``forge`` forged ones) and counts the answers.
``/sandbox/faults`` and ``GET /sandbox/stats`` work as on every double.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import requests
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from mappings.dossier import VN_TZ
from sandbox.city_system.generator import generate
from sandbox.doubles import DoubleContext
from sandbox.faults import FaultConfig, FaultInjector, faulty_json, mount_fault_control
from sandbox.payment_platform.ledger import Transaction, day_ledger

CALLBACK_PATH = "/webhooks/payment_platform/confirm"  # the hub receiver's path (hub.webhooks.payment)
# The fields each message's MaXacThuc covers, in order, before the secret (H).
SIGNED = {
    "INIT": "LoaiBanTin PhienBan MaDoiTac MaThamChieu SoTien LoaiHinhThanhToan MaKenhThanhToan MaThietBi "
    "NgonNgu MaTienTe MaNganHang ThongTinGiaoDich ThoiGianGD Ip",
    "QUERY": "LoaiBanTin PhienBan MaDoiTac MaThamChieu ThoiGianGD",
    "GET_BILL": "LoaiBanTin PhienBan MaDoiTac MaThamChieu ThoiGianGD",
    "LIST": "LoaiBanTin PhienBan MaDoiTac NgayGD",
    "CONFIRM": "LoaiBanTin MaLoi MaDoiTac MaThamChieu SoTien MaTienTe MaGiaoDich MaNganHang ThoiGianGD "
    "ThongTinGiaoDich",
}
_TIME = re.compile(r"\d{14}")


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _mac(kind: str, message: dict[str, Any], secret: str) -> str:
    joined = "|".join(str(message.get(name, "")) for name in SIGNED[kind].split()) + "|" + secret
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


def _pdf(tx: Transaction) -> bytes:
    """A one-page receipt, small but a PDF (what GET_BILL returns)."""
    text = f"BIEN LAI {tx.reference} {tx.dossier_no} {tx.amount} VND"
    stream = f"BT /F1 12 Tf 40 800 Td ({text}) Tj ET".encode()
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Contents 4 0 R>>endobj\n"
        + f"4 0 obj<</Length {len(stream)}>>stream\n".encode()
        + stream
        + b"\nendstream endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )


class Platform:
    """The platform's state: its partner, its transactions by reference, what it was asked."""

    def __init__(self, partner_code: str, secret: str, token: str, transactions: Sequence[Transaction]) -> None:
        self.partner_code = partner_code
        self.secret = secret
        self.token = token
        self.transactions = {tx.reference: tx for tx in transactions}
        self.calls: Counter[str] = Counter()
        self._serial = len(self.transactions)

    def check(self, kind: str, message: Any, headers: Any) -> dict[str, Any]:
        """``message`` if it is one a partner may send as ``kind``; :class:`_Refused` otherwise."""
        if self.token and headers.get("authorization") != f"Bearer {self.token}":
            raise _Refused(401, "Access token không hợp lệ")
        if not isinstance(message, dict) or message.get("LoaiBanTin") != kind:
            raise _Refused(400, f"LoaiBanTin phải là {kind}")
        if message.get("MaDoiTac") != self.partner_code or not isinstance(message.get("MaXacThuc"), str):
            raise _Refused(401, "Mã đối tác không đúng")
        if message["MaXacThuc"].lower() != _mac(kind, message, self.secret):
            raise _Refused(401, "Mã xác thực không chính xác")
        if message.get("PhienBan") != "1.0.6":
            raise _Refused(400, "PhienBan không được hỗ trợ")
        if "ThoiGianGD" in SIGNED[kind].split() and not _TIME.fullmatch(str(message.get("ThoiGianGD", ""))):
            raise _Refused(400, "ThoiGianGD phải có dạng yyyyMMddHHmmss")
        return message

    def init(self, message: dict[str, Any]) -> dict[str, Any]:
        wanted = {"LoaiHinhThanhToan": "PAY", "MaTienTe": "VND"}
        wrong = [name for name, value in wanted.items() if message.get(name) != value]
        receipt = message.get("ThongTinBienLai")
        amount = str(message.get("SoTien", ""))
        if wrong or not amount.isdigit() or int(amount) <= 0:
            raise _Refused(400, f"giao dịch không hợp lệ ({', '.join(wrong) or 'SoTien'})")
        if not isinstance(receipt, dict) or not receipt.get("MaHoSo") or not receipt.get("PhiLePhi"):
            raise _Refused(400, "ThongTinBienLai thiếu MaHoSo hoặc PhiLePhi")
        reference = str(message.get("MaThamChieu") or "")
        if not reference or reference in self.transactions:
            raise _Refused(400, "MaThamChieu trống hoặc đã dùng")
        at = datetime.strptime(message["ThoiGianGD"], "%Y%m%d%H%M%S").replace(tzinfo=VN_TZ)
        self.transactions[reference] = Transaction(
            reference, str(receipt["MaHoSo"]), str(receipt.get("MaTTHC", "")), str(receipt.get("MaDonVi", "")),
            int(amount), at, "0",
        )  # fmt: skip
        url = f"https://thanhtoan.sandbox.invalid/pay/{reference}"
        return {"error_code": "0", "message": json.dumps({"UrlThanhToan": url, "MaThamChieu": reference})}

    def settle(self, reference: str, error_code: str = "00") -> Transaction:
        tx = self.transactions[reference]
        tx.state = tx.confirmed_state = "1" if error_code == "00" else "4"
        if tx.state == "1" and not tx.transaction_id:
            self._serial += 1
            tx.transaction_id = f"PP{tx.time:%y%m%d}{self._serial:07d}"
        return tx

    def status(self, message: dict[str, Any]) -> dict[str, Any]:
        tx = self.transactions.get(str(message.get("MaThamChieu")))
        if tx is None:
            return {"MaLoi": "04", "MoTaLoi": "Không tìm thấy giao dịch", "MaThamChieu": message.get("MaThamChieu")}
        if tx.state not in ("1", "4") and tx.confirmed_state in ("1", "4") and tx.transaction_id:
            tx.state = tx.confirmed_state  # the bank settled it meanwhile
        return self.confirmation(tx) | {"TrangThaiGD": tx.state}

    def confirmation(self, tx: Transaction, error_code: str | None = None) -> dict[str, Any]:
        """The confirmation of ``tx`` (MaLoi "00" paid), with its MaXacThuc."""
        message: dict[str, Any] = {
            "LoaiBanTin": "CONFIRM",
            "MaLoi": error_code or ("00" if tx.state == "1" else "01"),
            "MaDoiTac": self.partner_code,
            "MaThamChieu": tx.reference,
            "SoTien": tx.amount,
            "MaTienTe": "VND",
            "MaGiaoDich": tx.transaction_id,
            "MaNganHang": tx.bank,
            "ThoiGianGD": tx.time_text,
            "ThongTinGiaoDich": f"Thanh toan ho so {tx.dossier_no}",
        }
        return message | {"MaXacThuc": _mac("CONFIRM", message, self.secret)}

    def listing(self, message: dict[str, Any]) -> dict[str, Any]:
        day = str(message.get("NgayGD", ""))
        if not re.fullmatch(r"\d{8}", day):
            raise _Refused(400, "NgayGD phải có dạng yyyyMMdd")
        rows = [
            {
                "MaThamChieu": tx.reference,
                "MaGiaoDich": tx.transaction_id,
                "MaHoSo": tx.dossier_no,
                "MaTTHC": tx.procedure,
                "MaDonVi": tx.agency,
                "SoTien": tx.amount,
                "MaTienTe": "VND",
                "ThoiGianGD": tx.time_text,
                "TrangThaiGD": tx.state,
            }
            for tx in sorted(self.transactions.values(), key=lambda tx: tx.reference)
            if tx.time_text.startswith(day)
        ]
        return {"MaLoi": "00", "MoTaLoi": "", "DanhSachGiaoDich": rows}

    def callbacks(self, url: str, replay: int = 0, forge: int = 0) -> dict[str, int]:
        """Post the paid transactions' confirmations to ``url``, then ``replay`` of them again and
        ``forge`` with a checksum under another key; count the answers by status."""
        paid = [self.confirmation(tx) for tx in self.transactions.values() if tx.state == "1"]
        forged = [dict(m, MaXacThuc=_mac("CONFIRM", m, self.secret + "-forged")) for m in paid[:forge]]
        counts: Counter[str] = Counter()
        with requests.Session() as session:
            for kind, messages in (("sent", paid), ("replayed", paid[:replay]), ("forged", forged)):
                for message in messages:
                    reply = session.post(url, json=message, timeout=10)
                    counts[f"{kind}_{reply.status_code}"] += 1
        return dict(counts)


def create_app(
    partner_code: str,
    secret: str,
    transactions: Sequence[Transaction],
    *,
    token: str = "",
    receiver: str | None = None,
    faults: FaultConfig = FaultConfig(),  # noqa: B008 -- frozen dataclass, safe as a default
) -> FastAPI:
    """The double for partner ``partner_code`` (checksum key ``secret``) holding ``transactions``;
    ``receiver``: the hub's callback receiver base URL (None: ``/sandbox/pay`` calls nobody)."""
    platform = Platform(partner_code, secret, token, transactions)
    injector = FaultInjector(faults)
    app = FastAPI(title="Payment platform of the national portal (sandbox)", docs_url=None, redoc_url=None)
    app.state.platform = platform
    mount_fault_control(app, injector)

    def endpoint(kind: str, answer: Any) -> Any:
        async def handle(request: Request) -> Response:
            platform.calls[kind] += 1

            async def produce() -> tuple[bytes, int]:
                try:
                    message = platform.check(kind, json.loads(await request.body() or b"null"), request.headers)
                    reply = answer(message)
                except ValueError:
                    reply, status = {"MaLoi": "03", "MoTaLoi": "Bản tin không phải JSON"}, 400
                except _Refused as refused:
                    reply, status = (
                        {"MaLoi": "01" if refused.status == 401 else "03", "MoTaLoi": str(refused)},
                        refused.status,
                    )
                else:
                    status = 200
                if isinstance(reply, bytes):
                    return reply, status
                return json.dumps(reply, ensure_ascii=False).encode(), status

            if kind == "GET_BILL":
                body, status = await produce()
                media = "application/pdf" if body.startswith(b"%PDF") else "application/json"
                return Response(body, status_code=status, media_type=media)
            return await faulty_json(injector, None, produce)

        return handle

    def bill(message: dict[str, Any]) -> Any:
        tx = platform.transactions.get(str(message.get("MaThamChieu")))
        if tx is None or tx.state != "1":
            return {"MaLoi": "04", "MoTaLoi": "Không có biên lai cho giao dịch này"}
        return _pdf(tx)

    for kind, path, answer in (
        ("INIT", "/paymentplatform/init", platform.init),
        ("QUERY", "/paymentplatform/query", platform.status),
        ("GET_BILL", "/paymentplatform/getbill", bill),
        ("LIST", "/paymentplatform/transactions", platform.listing),
    ):
        app.add_api_route(path, endpoint(kind, answer), methods=["POST"])

    @app.post("/sandbox/pay")
    async def pay(request: Request) -> JSONResponse:
        asked = await request.json()
        reference = str(asked.get("MaThamChieu"))
        if reference not in platform.transactions:
            return JSONResponse({"error": f"no transaction {reference}"}, status_code=404)
        tx = platform.settle(reference, str(asked.get("MaLoi", "00")))
        sent = None
        if receiver:
            message = platform.confirmation(tx)
            reply = await run_in_threadpool(requests.post, receiver + CALLBACK_PATH, json=message, timeout=10)
            sent = reply.status_code
        return JSONResponse({"TrangThaiGD": tx.state, "callback_status": sent})

    @app.post("/sandbox/callbacks")
    async def callbacks(request: Request) -> JSONResponse:
        asked = await request.json()
        if not isinstance(asked, dict) or not isinstance(asked.get("url"), str):
            return JSONResponse({"error": "options: url (the receiver's callback URL), replay, forge"}, status_code=400)
        counts = await run_in_threadpool(
            platform.callbacks, asked["url"], int(asked.get("replay", 0)), int(asked.get("forge", 0))
        )
        return JSONResponse({"sent": counts})

    @app.get("/sandbox/stats")
    async def stats() -> dict[str, Any]:
        states = Counter(tx.state for tx in platform.transactions.values())
        return {"calls": dict(platform.calls), "transactions": dict(states)}

    @app.get("/sandbox/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def day_transactions(day: date, scale: float, seed: int) -> tuple[list[Transaction], dict[str, str]]:
    """The generated city day's platform transactions and what was injected (see ``ledger``)."""
    return day_ledger(generate(day, scale, seed).records, day, seed)


def double(context: DoubleContext) -> FastAPI:
    """The runner's platform: the generated day's transactions, the hub's partner code and secret."""
    transactions, _ = day_transactions(*context.load)
    creds = context.credentials
    return create_app(
        creds["ma_doi_tac"], creds["checksum_secret"], transactions, token=creds.get("token", ""),
        receiver=context.webhook_url,
    )  # fmt: skip
