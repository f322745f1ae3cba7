"""The carrier clients against their sandbox carriers over loopback: orders, idempotency, tracking,
cancellation, S10 refusal, address checks, and callbacks (authenticated, lossy, doubled, reordered).

Callbacks are received by a small receiver in this file that does only what any receiver must:
hand the request to the carrier client's ``parse_webhook`` and answer its verdict. What the hub
knows of an order after a poll is what ``track`` returned plus what the receiver kept: Viettel Post's
``track`` only asks for its callbacks again (Viettel-only behaviour: test_viettel_post.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from adapters.errors import ContractViolation, PermanentError
from adapters.exchange import Exchange
from adapters.postal.carrier import Carrier, CarrierEvent, WebhookRejected
from adapters.settings import TransportSettings
from adapters.signatures import MessageSignatures
from adapters.transport import HttpTransport
from mappings.postal.order import Address
from mappings.postal.s10 import is_valid_s10
from sandbox.postal.vnpost import CALLBACK_SIGNATURE_HEADER, sign_callback
from sandbox.server import RunningServer, serve_in_thread
from signing.pki import DevPki
from tests.support.postal_sandboxes import RIGS, WEBHOOK_SECRET, CarrierRig, Sandbox, order_request

pytestmark = pytest.mark.timeout(120)

SECRET = "carrier-pw-81d2"
DELIVERED = {"vnpost": "90", "viettel_post": "501"}
FINAL = {"vnpost": {"90", "100", "0"}, "viettel_post": {"501", "504", "503", "107"}}
CANCELLED_BY_HUB = {"vnpost": "0", "viettel_post": "107"}
S10_REPLIES = {"vnpost": True, "viettel_post": False}  # Viettel answers its own numeric order number


class Receiver:
    """Collects what ``parse_webhook`` accepts, and the statuses it answered."""

    def __init__(self) -> None:
        self.client: Carrier | None = None
        self.events: list[CarrierEvent] = []
        self.statuses: list[int] = []

    async def receive(self, request: Request) -> JSONResponse:
        assert self.client is not None
        try:
            events = self.client.parse_webhook(dict(request.headers), await request.body())
        except WebhookRejected as exc:
            self.statuses.append(exc.status)
            return JSONResponse({"error": exc.reason}, status_code=exc.status)
        self.events.extend(events)
        self.statuses.append(200)
        return JSONResponse({"stored": len(events)})


@pytest.fixture(params=RIGS, ids=str)
def rig(request: pytest.FixtureRequest) -> CarrierRig:
    return request.param


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, RunningServer]]:
    collected = Receiver()
    app = Starlette(routes=[Route("/webhooks/{carrier}", collected.receive, methods=["POST"])])
    with serve_in_thread(app) as server:
        yield collected, server


@pytest.fixture
def carrier(
    rig: CarrierRig, tmp_path: Path, dev_pki: DevPki, receiver: tuple[Receiver, RunningServer]
) -> Iterator[tuple[Sandbox, Any, list[Exchange], Receiver]]:
    collected, server = receiver
    sandbox = rig.start(tmp_path, dev_pki, SECRET, webhook_url=server.url, seed=11)
    exchanges: list[Exchange] = []
    client = rig.connect(sandbox, dev_pki, SECRET)
    client.transport.on_exchange = exchanges.append
    collected.client = client
    yield sandbox, client, exchanges, collected
    client.close()
    sandbox.server.stop()


def test_an_order_is_placed_once_per_reference(carrier: tuple[Sandbox, Any, list[Exchange], Receiver]) -> None:
    sandbox, client, _, _ = carrier
    first = client.create_order(order_request(1))
    again = client.create_order(order_request(1))
    other = client.create_order(order_request(2))
    assert (again.order_id, again.item_code) == (first.order_id, first.item_code)
    assert other.order_id != first.order_id
    if S10_REPLIES[client.name]:
        assert first.item_code is not None and is_valid_s10(first.item_code) and first.item_code.endswith("VN")
    else:
        assert first.item_code is None and first.order_id.isdigit()
    assert first.reference == "000.00.60.H26-261120-0001/KQ"
    assert first.placed_at.utcoffset() is not None
    assert sandbox.held() == 2


def test_tracking_follows_parcels_to_a_final_state(carrier: tuple[Sandbox, Any, list[Exchange], Receiver]) -> None:
    sandbox, client, exchanges, collected = carrier
    orders = [client.create_order(order_request(n)) for n in range(30)]
    early = _known(client, collected, [o.order_id for o in orders])
    assert all(len(events) == 1 for events in early.values())  # only "order received" yet
    sandbox.advance(24 * 6)
    exchanges.clear()
    histories = _known(client, collected, [o.order_id for o in orders] + ["9999999999"])
    assert set(histories) == {o.order_id for o in orders}
    # VNPost: 30 orders, one batch call; Viettel: one replay request per order, the unknown one refused.
    assert len(exchanges) == (1 if S10_REPLIES[client.name] else 31)
    finals = [events[-1].status_code for events in histories.values()]
    assert set(finals) <= FINAL[client.name]
    assert finals.count(DELIVERED[client.name]) >= 20  # most are delivered
    for order in orders:
        events = histories[order.order_id]
        assert [e.occurred_at for e in events] == sorted(e.occurred_at for e in events)
        assert all(e.reference in (order.reference, None) and e.carrier == client.name for e in events)
        assert events[-1].occurred_at - events[0].occurred_at < timedelta(days=6)


def test_only_an_order_not_yet_picked_up_can_be_cancelled(
    carrier: tuple[Sandbox, Any, list[Exchange], Receiver],
) -> None:
    sandbox, client, _, collected = carrier
    waiting = client.create_order(order_request(1))
    client.cancel(waiting.order_id)
    sandbox.advance(1)
    assert (
        _known(client, collected, [waiting.order_id])[waiting.order_id][-1].status_code == CANCELLED_BY_HUB[client.name]
    )
    moving = client.create_order(order_request(2))
    sandbox.advance(48)
    with pytest.raises(PermanentError) as caught:
        client.cancel(moving.order_id)
    assert not isinstance(caught.value, ContractViolation)
    assert (
        _known(client, collected, [moving.order_id])[moving.order_id][-1].status_code != CANCELLED_BY_HUB[client.name]
    )


def test_a_reply_with_a_bad_s10_check_digit_is_never_accepted(
    carrier: tuple[Sandbox, Any, list[Exchange], Receiver],
) -> None:
    sandbox, client, exchanges, _ = carrier
    if not S10_REPLIES[client.name]:
        pytest.skip("Viettel Post's reply carries no S10 code (a non-numeric order number: test_viettel_post.py)")
    sandbox.faults(bad_item_code_rate=1.0)
    with pytest.raises(ContractViolation, match="fails the S10 check"):
        client.create_order(order_request(7))
    assert [e.outcome for e in exchanges] == ["ok"] * (len(exchanges) - 1) + ["contract_violation"]
    sandbox.faults(bad_item_code_rate=0.0)
    placed = client.create_order(order_request(7))  # the resend finds the order the carrier kept
    assert is_valid_s10(placed.item_code)
    assert sandbox.held() == 1


def test_a_receiver_commune_abolished_by_the_2025_reform_is_refused_before_sending(
    carrier: tuple[Sandbox, Any, list[Exchange], Receiver],
) -> None:
    sandbox, client, exchanges, _ = carrier
    old_ward = Address("Phạm Thị Dung", "0913000111", "Số 3 Hàng Trống", "00070", "01")
    with pytest.raises(PermanentError, match=r"receiver address: commune 00070 \(Phường Hàng Trống\) is not valid"):
        client.create_order(order_request(3, receiver=old_ward))
    assert exchanges == [] and sandbox.held() == 0


def test_callbacks_arrive_authenticated_and_replay_closes_the_gaps(
    carrier: tuple[Sandbox, Any, list[Exchange], Receiver],
) -> None:
    sandbox, client, _, collected = carrier
    sandbox.faults(webhook_loss_rate=0.2, webhook_duplicate_rate=0.2, webhook_reorder_rate=0.2)
    orders = [client.create_order(order_request(n)) for n in range(20)]
    sent = sandbox.advance(24 * 6)
    assert sent["lost"] and sent["duplicated"] and sent["reordered"], sent
    assert set(collected.statuses) == {200}
    keys = [e.event_key for e in collected.events]
    assert len(keys) - len(set(keys)) == sent["duplicated"]
    polled = _known(client, collected, [o.order_id for o in orders])
    truth = {e.event_key for events in polled.values() for e in events}
    # Events created before the clock moved were never called back; the rest came, minus losses.
    assert len(truth - set(keys)) >= sent["lost"]
    assert set(keys) <= truth
    times = [e.occurred_at for e in collected.events]
    assert times != sorted(times)  # some arrived out of order


def test_the_same_seed_loses_doubles_and_reorders_the_same_callbacks(
    rig: CarrierRig, tmp_path: Path, dev_pki: DevPki, receiver: tuple[Receiver, RunningServer]
) -> None:
    collected, server = receiver
    outcomes = []
    for run in ("a", "b"):
        folder = tmp_path / run
        folder.mkdir()
        sandbox = rig.start(folder, dev_pki, SECRET, webhook_url=server.url, seed=5)
        client = rig.connect(sandbox, dev_pki, SECRET)
        collected.client, collected.events = client, []
        sandbox.faults(webhook_loss_rate=0.3, webhook_duplicate_rate=0.3, webhook_reorder_rate=0.3)
        for n in range(10):
            client.create_order(order_request(n))
        outcomes.append((sandbox.advance(96), [e.event_key for e in collected.events]))
        client.close()
        sandbox.server.stop()
    assert outcomes[0] == outcomes[1]


def test_callback_authentication_and_validation(
    carrier: tuple[Sandbox, Any, list[Exchange], Receiver], rig: CarrierRig
) -> None:
    sandbox, client, _, collected = carrier
    client.create_order(order_request(1))
    headers, body = _genuine_callback(sandbox, rig)
    (event,) = client.parse_webhook(headers, body)
    assert event.carrier == rig.name and event.reference == order_request(1).reference
    forged_body, forged_headers = rig.forge(body)
    bare_body, bare_headers = rig.bare(body)
    for attempt_body, attempt_headers in ((forged_body, forged_headers), (bare_body, bare_headers)):
        with pytest.raises(WebhookRejected) as refused:
            client.parse_webhook(attempt_headers, attempt_body)
        assert refused.value.status == 401
    document = json.loads(body)
    _without_status(document)
    for broken in (b"not json", b"[1, 2]", json.dumps(document).encode()):
        with pytest.raises(WebhookRejected) as malformed:
            client.parse_webhook(*_signed(rig, broken))
        assert malformed.value.status == 400, malformed.value.reason
    assert collected.events == []


def test_the_receiver_answers_401_for_a_wrong_credential_and_400_for_a_malformed_body(
    carrier: tuple[Sandbox, Any, list[Exchange], Receiver], rig: CarrierRig, receiver: tuple[Receiver, RunningServer]
) -> None:
    sandbox, client, _, collected = carrier
    _, server = receiver
    client.create_order(order_request(1))
    headers, body = _genuine_callback(sandbox, rig)
    url = f"{server.url}/webhooks/{rig.name}"
    forged_body, forged_headers = rig.forge(body)
    assert requests.post(url, data=forged_body, headers=forged_headers, timeout=5).status_code == 401
    document = json.loads(body)
    _without_status(document)
    bad_headers, bad_body = _signed(rig, json.dumps(document).encode())
    reply = requests.post(url, data=bad_body, headers=bad_headers, timeout=5)
    assert reply.status_code == 400 and "contract" in reply.json()["error"]
    assert requests.post(url, data=body, headers=headers, timeout=5).status_code == 200
    assert len(collected.events) == 1


# ------------------------------------------------------------------------------------------ helpers


def _known(client: Any, collected: Receiver, order_ids: list[str]) -> dict[str, list[CarrierEvent]]:
    """What the hub knows of each order after a poll: ``track``'s histories and the callbacks kept
    (each status once, oldest first); orders with no event are absent."""
    polled = client.track(order_ids)
    merged: dict[str, dict[str, CarrierEvent]] = {}
    for event in [*collected.events, *(e for events in polled.values() for e in events)]:
        if event.order_id in order_ids:
            merged.setdefault(event.order_id, {})[event.event_key] = event
    return {oid: sorted(events.values(), key=lambda e: e.occurred_at) for oid, events in merged.items()}


def _genuine_callback(sandbox: Sandbox, rig: CarrierRig) -> tuple[dict[str, str], bytes]:
    """One callback exactly as the sandbox would send it, through a throwaway receiver."""
    captured: list[tuple[dict[str, str], bytes]] = []

    async def keep(request: Request) -> JSONResponse:
        captured.append((dict(request.headers), await request.body()))
        return JSONResponse({})

    with serve_in_thread(Starlette(routes=[Route("/webhooks/{carrier}", keep, methods=["POST"])])) as catcher:
        sandbox.post("/sandbox/webhook", {"url": catcher.url})
        sandbox.advance(12)
        sandbox.post("/sandbox/webhook", {"url": None})
    assert captured, "the sandbox sent no callback"
    return captured[0]


def _signed(rig: CarrierRig, body: bytes) -> tuple[dict[str, str], bytes]:
    """``body`` with a valid credential (VNPost's HMAC header; Viettel's token is inside the body)."""
    if rig.name == "vnpost":
        return {CALLBACK_SIGNATURE_HEADER: sign_callback(body, WEBHOOK_SECRET)}, body
    return {}, body


def _without_status(document: dict[str, Any]) -> None:
    (document.get("DATA") or document).pop("ORDER_STATUS" if "DATA" in document else "StatusCode")


def test_the_lgsp_refuses_an_unsigned_vnpost_request(tmp_path: Path, dev_pki: DevPki) -> None:
    rig = next(r for r in RIGS if r.name == "vnpost")
    sandbox = rig.start(tmp_path, dev_pki, SECRET)
    transport = HttpTransport(
        "vnpost",
        TransportSettings(base_url=sandbox.url, max_attempts=1),
        signatures=MessageSignatures(trust=dev_pki.trust_store()),  # verifies replies, signs nothing
    )
    client = rig.client(transport, SECRET)
    try:
        with pytest.raises(PermanentError, match="Status 105") as caught:
            client.create_order(order_request(1))
        assert not isinstance(caught.value, ContractViolation)
        assert sandbox.held() == 0
    finally:
        client.close()
        sandbox.server.stop()
