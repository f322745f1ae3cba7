"""The payment platform's confirmations on the hub's receiver, over loopback and on both stores:
kept once, a replay or a forgery refused in the platform's shape, logged masked, changing nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest
import requests

from adapters.payment_platform.callbacks import ConfirmationParser
from adapters.payment_platform.checksum import CONFIRM_FIELDS, checksum
from hub.store import HubStore, PaymentRecords
from hub.webhooks.app import MAX_BODY_BYTES, create_app
from hub.webhooks.payment import PAYMENT_PATH, payment_callback_routes
from sandbox.server import RunningServer, serve_in_thread
from tests.support.payment_platform import CODE, SECRET, golden, paid_transaction, platform

__all__ = ["platform"]  # the double's fixture, used below


@pytest.fixture
def receiver(store: HubStore) -> Iterator[RunningServer]:
    routes = payment_callback_routes(store, ConfirmationParser(CODE, SECRET))
    with serve_in_thread(create_app(store, {}, routes)) as server:
        yield server


def _post(server: RunningServer, message: object) -> requests.Response:
    return requests.post(f"{server.url}{PAYMENT_PATH}", json=message, timeout=10)


def test_golden_confirmations_get_their_replies_and_a_replay_changes_nothing(receiver, store) -> None:
    for name in ("confirm-01-paid.json", "confirm-03-not-paid.json", "confirm-02-amount-changed.json"):
        case = golden(name)
        reply = _post(receiver, case["request"])
        assert reply.status_code == case["status"], name
        assert reply.json() == case.get("reply", reply.json()) and reply.json()["MaLoi"] == case.get("reply_code", "00")
    kept = PaymentRecords(store)
    assert kept.confirmed() == {golden("confirm-01-paid.json")["request"]["MaThamChieu"]: 70_000}
    replayed = _post(receiver, golden("confirm-01-paid.json")["request"])
    assert (replayed.status_code, replayed.json()["MaLoi"]) == (409, "02")
    # the same payment under another reference is a replay too (MaGiaoDich already confirmed)
    again = golden("confirm-01-paid.json")["request"] | {"MaThamChieu": "0000001H26261120000120261120093000"}
    again["MaXacThuc"] = checksum(again, CONFIRM_FIELDS, SECRET)
    assert _post(receiver, again).status_code == 409
    assert kept.confirmed() == {golden("confirm-01-paid.json")["request"]["MaThamChieu"]: 70_000}


def test_refusals_are_logged_masked_and_never_a_500(receiver, caplog: pytest.LogCaptureFixture) -> None:
    forged = golden("confirm-01-paid.json")["request"] | {"ThongTinGiaoDich": "CCCD 001203004567 0912345678"}
    with caplog.at_level(logging.WARNING, logger="hub.webhooks.payment"):
        replies = [
            _post(receiver, forged),
            _post(receiver, [1, 2]),
            requests.post(f"{receiver.url}{PAYMENT_PATH}", data=b"{" * 50_000, timeout=10),
            requests.post(f"{receiver.url}{PAYMENT_PATH}", data=b" " * (MAX_BODY_BYTES + 1), timeout=10),
        ]
    assert [(r.status_code, r.json()["MaLoi"]) for r in replies] == [(401, "01"), (400, "03"), (400, "03"), (413, "03")]
    assert len(caplog.records) == 4
    assert "001203004567" not in caplog.text and "0912345678" not in caplog.text


def test_the_double_confirms_the_days_payments_and_the_receiver_refuses_replays_and_forgeries(
    receiver, store, platform: Callable[..., RunningServer]
) -> None:
    server = platform([paid_transaction()])
    asked = {"url": f"{receiver.url}{PAYMENT_PATH}", "replay": 1, "forge": 1}
    sent = requests.post(f"{server.url}/sandbox/callbacks", json=asked, timeout=30).json()["sent"]
    assert sent == {"sent_200": 1, "replayed_409": 1, "forged_401": 1}
    assert list(PaymentRecords(store).confirmed().values()) == [70_000]


def test_a_payment_made_at_the_double_is_confirmed_to_the_receiver(
    receiver, store, platform: Callable[..., RunningServer]
) -> None:
    server = platform(receiver=receiver.url)
    init = golden("init-01-accepted.json")["request"]
    headers = {"Authorization": "Bearer golden-bearer-0b7a"}
    assert requests.post(f"{server.url}/paymentplatform/init", json=init, headers=headers, timeout=10).ok
    settled = requests.post(f"{server.url}/sandbox/pay", json={"MaThamChieu": init["MaThamChieu"]}, timeout=10)
    assert settled.json() == {"TrangThaiGD": "1", "callback_status": 200}
    assert PaymentRecords(store).confirmed() == {init["MaThamChieu"]: 70_000}
