"""The payment platform's client against its double: the golden messages are what the client sends
and what the double accepts (or refuses, in the platform's shape); checksums are the golden ones."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
import requests

from adapters.errors import AuthenticationError, ContractViolation, PermanentError
from adapters.exchange import Exchange
from adapters.payment_platform.checksum import CONFIRM_FIELDS, INIT_FIELDS, QUERY_FIELDS, checksum, matches
from adapters.payment_platform.client import PaymentClient, PaymentRequest
from adapters.settings import TransportSettings
from adapters.transport import HttpTransport
from sandbox.server import RunningServer
from tests.support.payment_platform import AT, CODE, DOSSIER, GOLDEN, SECRET, TOKEN, golden

FAST = {"backoff_initial": 0.01, "backoff_max": 0.05, "read_timeout": 5.0, "max_attempts": 3}
REQUEST = PaymentRequest(
    DOSSIER,
    "1.001234",
    "000.00.01.H26",
    (("LP1", "Lệ phí cấp bản sao", 50_000), ("LP2", "Phí thẩm định hồ sơ", 20_000)),
    AT,
)


def _client(server: RunningServer, secret: str = SECRET, sent: list[Exchange] | None = None) -> PaymentClient:
    hook = sent.append if sent is not None else None
    transport = HttpTransport("payment_platform", TransportSettings(base_url=server.url, **FAST), on_exchange=hook)
    return PaymentClient(transport, CODE, secret, TOKEN)


def _post(server: RunningServer, path: str, message: dict[str, Any]) -> requests.Response:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    return requests.post(f"{server.url}{path}", json=message, headers=headers, timeout=10)


PATHS = {"INIT": "init", "QUERY": "query", "GET_BILL": "getbill", "LIST": "transactions"}


def test_golden_checksums_are_the_clients() -> None:
    for name, fields in (("init-01-accepted.json", INIT_FIELDS), ("query-01-paid.json", QUERY_FIELDS)):
        message = golden(name)["request"]
        assert checksum(message, fields, SECRET) == message["MaXacThuc"], name
    confirmation = golden("confirm-01-paid.json")["request"]
    assert matches(confirmation, CONFIRM_FIELDS, SECRET)
    assert not matches(golden("confirm-02-amount-changed.json")["request"], CONFIRM_FIELDS, SECRET)
    assert not matches(confirmation, CONFIRM_FIELDS, SECRET + "x")


def test_the_client_sends_the_golden_init_and_gets_a_payment_url(platform: Callable[..., RunningServer]) -> None:
    sent: list[Exchange] = []
    reference, url = _client(platform(), sent=sent).init(REQUEST)
    assert json.loads(sent[0].request_body) == golden("init-01-accepted.json")["request"]
    assert reference == golden("init-01-accepted.json")["request"]["MaThamChieu"]
    assert url.endswith(f"/pay/{reference}")


@pytest.mark.parametrize("name", sorted(p.name for p in GOLDEN.glob("*.json") if not p.name.startswith("confirm")))
def test_the_double_answers_each_golden_message_as_recorded(
    name: str, platform: Callable[..., RunningServer], day_platform: RunningServer
) -> None:
    case = golden(name)
    server = platform() if case["operation"] == "INIT" else day_platform  # a fresh INIT needs an unused reference
    reply = _post(server, f"/paymentplatform/{PATHS[case['operation']]}", case["request"])
    assert reply.status_code == case["status"], reply.text
    if "reply" in case:
        assert reply.json() == case["reply"]
    elif "reply_starts" in case:
        assert reply.content.startswith(case["reply_starts"].encode())
    else:
        assert set(reply.json()) == set(case["reply_keys"])


def test_query_receipt_and_listing(day_platform: RunningServer) -> None:
    client = _client(day_platform)
    reference = golden("query-01-paid.json")["request"]["MaThamChieu"]
    status = client.query(reference, AT)
    assert (status.state, status.transaction_id, status.amount, status.settled) == (
        "1",
        "PP2611200000001",
        70_000,
        True,
    )
    assert client.receipt(reference, AT).startswith(b"%PDF")
    listed = client.transactions(date(2026, 11, 20))
    assert [(t.dossier_no, t.amount, t.state) for t in listed] == [(DOSSIER, 70_000, "1")]
    assert client.transactions(date(2026, 11, 21)) == []


def test_a_wrong_secret_is_an_authentication_error_not_retried(day_platform: RunningServer) -> None:
    sent: list[Exchange] = []
    with pytest.raises(AuthenticationError) as caught:
        _client(day_platform, secret="not-the-secret-1f", sent=sent).transactions(date(2026, 11, 20))
    assert "not-the-secret-1f" not in str(caught.value)
    assert [e.outcome for e in sent] == ["permanent"]


def test_unknown_references_and_unpaid_receipts_are_refused(day_platform: RunningServer) -> None:
    client = _client(day_platform)
    with pytest.raises(PermanentError, match="MaLoi 04"):
        client.query("NO-SUCH-REFERENCE", AT)
    with pytest.raises(ContractViolation, match="not a PDF"):
        client.receipt("NO-SUCH-REFERENCE", AT)


def test_a_transaction_opened_by_the_hub_is_paid_and_then_confirmed(platform: Callable[..., RunningServer]) -> None:
    server = platform()
    client = _client(server)
    reference, _ = client.init(REQUEST)
    assert client.query(reference, AT).state == "0"
    settled = requests.post(f"{server.url}/sandbox/pay", json={"MaThamChieu": reference}, timeout=10).json()
    assert settled == {"TrangThaiGD": "1", "callback_status": None}
    assert client.query(reference, AT).state == "1"
