"""The two sandbox carriers and clients for them, shared by the carrier tests and the conformance suite.

A :class:`CarrierRig` says what differs between VNPost and Viettel Post for a test: how to start
its sandbox (with or without a callback receiver), how to build its client, and how to forge a
callback with a wrong credential.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from adapters.oauth import ClientCredentials
from adapters.postal.carrier import Carrier, PlacedOrder
from adapters.postal.viettel_post import ViettelPostClient
from adapters.postal.vnpost import VNPostClient
from adapters.postal.vnpost_signdata import sign_data
from adapters.settings import TransportSettings
from adapters.signatures import MessageSignatures
from adapters.transport import HttpTransport
from mappings.dossier import VN_TZ
from mappings.postal.order import Address, OrderRequest
from mappings.postal.s10 import ItemCodeRange
from sandbox.postal import viettel_post, vnpost
from sandbox.server import RunningServer, serve_in_thread
from sandbox.signatures import PartnerSigning
from signing.pki import DevPki

START = datetime(2026, 11, 20, 8, 0, tzinfo=VN_TZ)
CUSTOMER_CODE = "HNI-TTHC-01"
CONSUMER_KEY = "hub-hanoi-lgsp"  # VNPost's OAuth client id; the tests' secret is its client secret
ITEM_CODES = ItemCodeRange.parse("RH20000000-RH20000999", alert_remaining=50)
USERNAME = "hub-hanoi@viettelpost"
WEBHOOK_SECRET = "cb-secret-3f9a"  # VNPost SignData key and Viettel TOKEN in the tests
FAST: dict[str, Any] = {"backoff_initial": 0.01, "backoff_max": 0.05, "read_timeout": 5.0, "max_attempts": 3}
SENDER = Address("Bộ phận một cửa UBND phường Hoàn Kiếm", "02438253536", "126 Hàng Trống", "90001", "01")
RECEIVERS = (
    Address("Nguyễn Văn An", "0912345678", "Số 5 ngõ 12 Láng Hạ", "90012", "01"),
    Address("Trần Thị Bình", "0987654321", "Thôn Đông, xã Bát Tràng", "90111", "01"),
    Address("Lê Văn Cường", "0904111222", "Số 18 Nguyễn Trãi", "90022", "01"),
)


def order_request(n: int, receiver: Address | None = None, *, item_code: bool = False) -> OrderRequest:
    """The ``n``-th dossier result to deliver (references differ by ``n``); ``item_code``: with the
    ``n``-th code of the tests' VNPost block, as the hub allocates one before ordering."""
    dossier_no = f"000.00.60.H26-261120-{n:04d}"
    return OrderRequest(
        reference=f"{dossier_no}/KQ",
        dossier_no=dossier_no,
        sender=SENDER,
        receiver=receiver or RECEIVERS[n % len(RECEIVERS)],
        weight_grams=250,
        cod_amount=0,
        content=f"Kết quả giải quyết TTHC {dossier_no}",
        item_code=ITEM_CODES.code(ITEM_CODES.first + n) if item_code else None,
    )


@dataclass
class Sandbox:
    server: RunningServer
    signing: PartnerSigning | None

    @property
    def url(self) -> str:
        return self.server.url

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        reply = requests.post(f"{self.url}{path}", json=body, timeout=30)
        reply.raise_for_status()
        return reply.json()

    def get(self, path: str) -> dict[str, Any]:
        reply = requests.get(f"{self.url}{path}", timeout=10)
        reply.raise_for_status()
        return reply.json()

    def faults(self, **changes: Any) -> None:
        self.post("/sandbox/faults", changes)

    def advance(self, hours: float) -> dict[str, int]:
        return self.post("/sandbox/clock", {"advance_hours": hours})["webhooks"]

    def held(self) -> int:
        return self.get("/sandbox/stats")["held"]["orders"]


@dataclass(frozen=True)
class CarrierRig:
    name: str
    signed: bool  # the carrier signs its replies (JWS) and verifies ours
    start: Callable[..., Sandbox]
    client: Callable[[HttpTransport, str], Carrier]
    forge: Callable[[bytes], tuple[bytes, dict[str, str]]]  # a callback with the wrong credential
    bare: Callable[[bytes], tuple[bytes, dict[str, str]]]  # a callback with no credential
    order: Callable[[int], OrderRequest] = order_request  # the n-th order as the hub sends it to this carrier
    follow: Callable[[Any, list[PlacedOrder]], Any] = lambda client, placed: client.track([o.order_id for o in placed])
    """Read the placed orders' tracking as the hub does (per-order histories, or VNPost's feed)."""

    def connect(self, sandbox: Sandbox, pki: DevPki, secret: str, **settings: Any) -> Any:
        signatures = MessageSignatures(pki.identity("hub"), pki.trust_store()) if self.signed else MessageSignatures()
        transport = HttpTransport(self.name, TransportSettings(base_url=sandbox.url, **{**FAST, **settings}),
                                  signatures=signatures)  # fmt: skip
        return self.client(transport, secret)

    def __str__(self) -> str:
        return self.name


def start_vnpost(folder: Path, pki: DevPki, secret: str, *, webhook_url: str | None = None, seed: int = 0) -> Sandbox:
    signing = PartnerSigning(pki, "vnpost")
    app = vnpost.create_app(folder / "vnpost.db", CONSUMER_KEY, secret, CUSTOMER_CODE, callback_secret=WEBHOOK_SECRET,
                            item_codes=ITEM_CODES, webhook_url=webhook_url, seed=seed, start=START,
                            signing=signing)  # fmt: skip
    return Sandbox(serve_in_thread(app), signing)


def vnpost_client(transport: HttpTransport, secret: str) -> VNPostClient:
    """A VNPost client as ``from_connection`` builds it, for the tests' customer and block."""
    token = ClientCredentials(transport, CONSUMER_KEY, secret)
    return VNPostClient(transport, token, CUSTOMER_CODE, ITEM_CODES, WEBHOOK_SECRET)


def start_viettel_post(
    folder: Path, pki: DevPki, secret: str, *, webhook_url: str | None = None, seed: int = 0
) -> Sandbox:
    app = viettel_post.create_app(folder / "viettel.db", USERNAME, secret, webhook_token=WEBHOOK_SECRET,
                                  webhook_url=webhook_url, seed=seed, start=START)  # fmt: skip
    return Sandbox(serve_in_thread(app), None)


def _forged_vnpost(body: bytes) -> tuple[bytes, dict[str, str]]:
    document = json.loads(body)
    document["SignData"] = sign_data(document["Data"], document["SendDate"], "not-the-secret")
    return json.dumps(document).encode(), {}


def _bare_vnpost(body: bytes) -> tuple[bytes, dict[str, str]]:
    document = json.loads(body)
    del document["SignData"]
    return json.dumps(document).encode(), {}


def _forged_viettel(body: bytes) -> tuple[bytes, dict[str, str]]:
    return body.replace(WEBHOOK_SECRET.encode(), b"not-the-secret"), {}


def _bare_viettel(body: bytes) -> tuple[bytes, dict[str, str]]:
    document = json.loads(body)
    del document["TOKEN"]
    return json.dumps(document).encode(), {}


VNPOST = CarrierRig(
    "vnpost",
    signed=True,
    start=start_vnpost,
    client=vnpost_client,
    forge=_forged_vnpost,
    bare=_bare_vnpost,
    order=lambda n: order_request(n, item_code=True),
    follow=lambda client, _placed: client.read_feed(None, 500),
)
VIETTEL_POST = CarrierRig(
    "viettel_post",
    signed=False,
    start=start_viettel_post,
    client=lambda transport, secret: ViettelPostClient(transport, USERNAME, secret, WEBHOOK_SECRET),
    forge=_forged_viettel,
    bare=_bare_viettel,
)
RIGS = (VNPOST, VIETTEL_POST)

# What each carrier's Airflow Connection carries: its login, and the extras its client reads (the
# callback credential among them) -- VNPost's password is the consumer secret, Viettel's the account's.
CONNECTIONS: dict[str, tuple[str, dict[str, str]]] = {
    "vnpost": (
        CONSUMER_KEY,
        {
            "customer_code": CUSTOMER_CODE,
            "item_code_range": ITEM_CODES.series,
            "item_code_alert_at": "50",
            "callback_secret": WEBHOOK_SECRET,
        },
    ),
    "viettel_post": (USERNAME, {"webhook_token": WEBHOOK_SECRET}),
}


def connection_uri(name: str, url: str, secret: str, **settings: Any) -> str:
    """``AIRFLOW_CONN_<CARRIER>`` for the carrier's sandbox at ``url`` (``settings``: transport extras)."""
    login, extras = CONNECTIONS[name]
    query = "&".join(f"{k}={v}" for k, v in {**extras, **settings}.items())
    return f"http://{quote(login, safe='')}:{quote(secret, safe='')}@{url.removeprefix('http://')}?{query}"
