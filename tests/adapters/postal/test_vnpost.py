"""VNPost as public clients call it, against its double over loopback and with golden messages
(tests/adapters/postal/golden/vnpost/, written from the public shapes in docs/interfaces.md 9, not
captured): the hub's item code and dossier number in the order, ``{Status, Message}`` replies, the
tracking feed after a kept ``lastId``, OAuth tokens renewed before they expire, and callbacks as
``{Data, SendDate, SignData}`` -- through the adapter, the double and the hub's webhook receiver."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from jsonschema import Draft202012Validator
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import adapters.postal
from adapters.errors import ContractViolation, PermanentError, RetryableError
from adapters.exchange import Exchange
from adapters.postal.vnpost import VNPostClient
from adapters.settings import TransportSettings
from adapters.signatures import MessageSignatures
from adapters.transport import HttpTransport
from hub.store import HubStore
from hub.store.postal import PostalOrders
from hub.webhooks.app import create_app
from mappings.postal.states import PostalState, fold
from sandbox.server import RunningServer, serve_in_thread
from signing.pki import DevPki
from tests.support.postal_sandboxes import ITEM_CODES, VNPOST, Sandbox, order_request, vnpost_client

pytestmark = pytest.mark.timeout(120)

SECRET = "vnpost-consumer-secret-19"
GOLDEN = Path(__file__).with_name("golden") / "vnpost"
SPEC = yaml.safe_load((Path(adapters.postal.__file__).parent / "vnpost.openapi.yaml").read_text(encoding="utf-8"))


def golden(name: str) -> Any:
    return json.loads((GOLDEN / name).read_text(encoding="utf-8"))


def _valid(schema: str, document: Any) -> list[str]:
    validator = Draft202012Validator({"$ref": f"#/components/schemas/{schema}", "components": SPEC["components"]})
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


@pytest.fixture
def vnpost(tmp_path: Path, dev_pki: DevPki) -> Iterator[tuple[Sandbox, VNPostClient, list[Exchange]]]:
    sandbox = VNPOST.start(tmp_path, dev_pki, SECRET, seed=3)
    client = VNPOST.connect(sandbox, dev_pki, SECRET)
    exchanges: list[Exchange] = []
    client.transport.on_exchange = exchanges.append
    yield sandbox, client, exchanges
    client.close()
    sandbox.server.stop()


# ------------------------------------------------------------------------------------------ golden messages


def test_the_golden_messages_are_the_contract() -> None:
    checks = {
        "order.request": _valid("OrderRequest", golden("order.request.json")),
        "token.reply": _valid("TokenReply", golden("token.reply.json")),
        "tracking.reply": _valid("FeedReply", golden("tracking.reply.json")),
        "callback": _valid("Callback", golden("callback.json")),
        "callback.unknown_status": _valid("Callback", golden("callback.unknown_status.json")),
        **{name: _valid("Reply", case["reply"]) for name, case in golden("replies.json").items() if name[0] != "_"},
    }
    assert {name: errors for name, errors in checks.items() if errors} == {}
    for item in golden("tracking.reply.json")["Data"] + [json.loads(golden("callback.json")["Data"])]:
        assert _valid("Change", item) == []


def test_the_adapter_sends_the_golden_order_and_the_double_accepts_it(
    vnpost: tuple[Sandbox, VNPostClient, list[Exchange]],
) -> None:
    sandbox, client, exchanges = vnpost
    placed = client.create_order(VNPOST.order(1))
    sent = [e for e in exchanges if e.operation == "OrderLGSPWithItemCode"]
    assert json.loads(sent[0].request_body) == golden("order.request.json")
    assert json.loads(sent[0].response_body or b"{}")["Status"] == "100" and sandbox.held() == 1
    assert (placed.order_id, placed.item_code, placed.reference) == (
        "000.00.60.H26-261120-0001",
        "RH200000010VN",
        "000.00.60.H26-261120-0001/KQ",
    )
    again = client.create_order(VNPOST.order(1))
    assert (again.order_id, again.item_code) == (placed.order_id, placed.item_code)
    assert sandbox.held() == 1  # the same OrderNumber and ItemCode again: still one parcel


@pytest.fixture
def replaying() -> Iterator[tuple[RunningServer, dict[str, Any]]]:
    """A loopback server answering the golden replies (``answers`` says which, per path)."""
    answers: dict[str, Any] = {"/token": golden("token.reply.json"), "/order/tracking": golden("tracking.reply.json")}

    async def reply(request: Request) -> Response:
        if request.url.path == "/order/tracking" and request.query_params["lastId"] != "0" * 24:
            return JSONResponse({"Status": "100", "Message": "Thành công", "Data": []})
        return JSONResponse(answers[request.url.path])

    paths = ("/token", "/order/OrderLGSPWithItemCode", "/order/cancel", "/order/tracking")
    app = Starlette(routes=[Route(path, reply, methods=["GET", "POST"]) for path in paths])
    with serve_in_thread(app) as server:
        yield server, answers


def test_the_golden_replies_read_by_the_adapter(replaying: tuple[RunningServer, dict[str, Any]]) -> None:
    server, answers = replaying
    settings = TransportSettings(base_url=server.url, sign_requests=False, verify_replies=False, max_attempts=1)
    client = vnpost_client(HttpTransport("vnpost", settings), SECRET)
    for name, case in golden("replies.json").items():
        if name[0] == "_":
            continue
        path = "/order/cancel" if name.startswith("cancel") else "/order/OrderLGSPWithItemCode"
        answers[path] = case["reply"]
        call = (lambda: client.cancel("000.00.60.H26-261120-0001")) if path == "/order/cancel" else (
            lambda: client.create_order(VNPOST.order(1))
        )  # fmt: skip
        if case["means"] == "accepted":
            call()
        else:
            with pytest.raises(PermanentError, match=f"Status {case['reply']['Status']}") as refused:
                call()
            assert not isinstance(refused.value, ContractViolation)
    page = client.read_feed(None, 50)
    data = golden("tracking.reply.json")["Data"]
    assert page.last_id == data[-1]["Id"] and [e.status_code for e in page.events] == ["70", "91", "60", "100"]
    assert client.read_feed(page.last_id, 50).events == []
    first = [e for e in page.events if e.order_id == "000.00.60.H26-261120-0001"]
    assert fold(first).state is PostalState.DELIVERED and fold(first).anomalies == ()
    assert fold([e for e in page.events if e not in first]).state is PostalState.CANCELLED
    client.close()


def test_the_double_answers_in_the_golden_shapes(
    vnpost: tuple[Sandbox, VNPostClient, list[Exchange]], tmp_path: Path
) -> None:
    sandbox, client, exchanges = vnpost
    captured: list[bytes] = []

    async def keep(request: Request) -> JSONResponse:
        captured.append(await request.body())
        return JSONResponse({})

    with serve_in_thread(Starlette(routes=[Route("/webhooks/{carrier}", keep, methods=["POST"])])) as catcher:
        sandbox.post("/sandbox/webhook", {"url": catcher.url})
        for n in range(6):
            client.create_order(VNPOST.order(n))
        sandbox.advance(24 * 6)
    client.read_feed(None, 500)
    (feed,) = [json.loads(e.response_body or b"") for e in exchanges if e.operation == "tracking"]
    assert _valid("FeedReply", feed) == [] and feed["Data"]
    assert {frozenset(item) for item in feed["Data"]} == {frozenset(golden("tracking.reply.json")["Data"][0])}
    assert captured and {frozenset(json.loads(body)) for body in captured} == {frozenset(golden("callback.json"))}
    assert all(_valid("Callback", json.loads(body)) == [] for body in captured)
    for body in captured:
        assert set(json.loads(json.loads(body)["Data"])) == set(json.loads(golden("callback.json")["Data"]))
        assert client.parse_webhook({}, body)  # signed as the adapter checks it


def test_golden_callbacks_through_the_receiver_into_the_store(store: HubStore) -> None:
    client = vnpost_client(HttpTransport("vnpost", TransportSettings(base_url="http://127.0.0.1:9")), SECRET)
    with serve_in_thread(create_app(store, {"vnpost": client})) as receiver:
        url = f"{receiver.url}/webhooks/vnpost"
        good = json.dumps(golden("callback.json")).encode()
        tampered = golden("callback.json") | {"SendDate": "22/11/2026 09:31:13"}
        odd = json.dumps(golden("callback.unknown_status.json")).encode()
        statuses = [requests.post(url, data=body, timeout=10).status_code for body in (good, good, odd)]
        assert statuses == [200, 200, 200]
        assert requests.post(url, json=tampered, timeout=10).status_code == 401
    orders = PostalOrders(store)
    assert orders.count_events() == 2  # the doubled callback is one event
    kept = orders.events_of("vnpost", ["000.00.60.H26-261120-0001"])["000.00.60.H26-261120-0001"]
    track = fold(kept)
    assert track.state is PostalState.DELIVERED  # 100 is delivered (the hub once read it as returned)
    (anomaly,) = track.anomalies  # the code no public source lists is kept and named, not guessed
    assert anomaly.status_code == "95" and "vnpost:95" in anomaly.reason


# ------------------------------------------------------------------------------------------ contract behaviour


def test_an_item_code_outside_the_citys_block_never_leaves_the_hub(
    vnpost: tuple[Sandbox, VNPostClient, list[Exchange]],
) -> None:
    sandbox, client, exchanges = vnpost
    for code in (None, "RH200000011VN", "EE123456785VN"):  # none, a wrong check digit, another block
        with pytest.raises(ContractViolation) as caught:
            client.create_order(replace(order_request(4), item_code=code))
        assert caught.value.side == "hub"
    assert exchanges == [] and sandbox.held() == 0


def test_the_double_refuses_a_code_another_order_holds(vnpost: tuple[Sandbox, VNPostClient, list[Exchange]]) -> None:
    sandbox, client, _ = vnpost
    client.create_order(VNPOST.order(1))
    stolen = replace(VNPOST.order(2), item_code=ITEM_CODES.code(ITEM_CODES.first + 1))
    with pytest.raises(PermanentError, match="Status 102"):
        client.create_order(stolen)
    assert sandbox.held() == 1


def test_cancel_takes_the_order_number_and_only_before_the_post_office_accepts(
    vnpost: tuple[Sandbox, VNPostClient, list[Exchange]],
) -> None:
    sandbox, client, _ = vnpost
    waiting = client.create_order(VNPOST.order(1))
    client.cancel(waiting.order_id)
    moving = client.create_order(VNPOST.order(2))
    sandbox.advance(48)
    with pytest.raises(PermanentError, match="Status 104"):
        client.cancel(moving.order_id)
    sandbox.advance(1)
    codes = {e.order_id: e.status_code for e in client.read_feed(None, 500).events}
    assert codes[waiting.order_id] == "60" and codes[moving.order_id] != "60"


def test_the_feed_pages_after_the_stored_cursor_and_a_failed_page_is_read_again(
    vnpost: tuple[Sandbox, VNPostClient, list[Exchange]], store: HubStore
) -> None:
    sandbox, client, _ = vnpost
    for n in range(12):
        client.create_order(VNPOST.order(n))
    sandbox.advance(24 * 10)
    everything = client.read_feed(None, 500).events
    assert len(everything) > 12

    sandbox.faults(fail_next=3)  # an outage: the read fails, and nothing is committed
    with pytest.raises(RetryableError):
        client.read_feed(None, 5)
    assert PostalOrders(store).feed_cursor("vnpost") is None
    second_page = client.read_feed(client.read_feed(None, 5).last_id, 5)

    orders = PostalOrders(store)
    pages: list[tuple[str | None, int]] = []
    cursor = orders.feed_cursor("vnpost")
    while True:  # what track_carrier does, one page at a time, as if each run crashed after its commit
        page = client.read_feed(cursor, 5)
        orders.add_feed_page("vnpost", page.events, page.last_id)
        pages.append((cursor, len(page.events)))
        if not page.events:
            break
        cursor = orders.feed_cursor("vnpost")
        assert cursor == page.last_id  # committed with the page, not before
    assert orders.count_events() == len(everything) and pages[1][1] == len(second_page.events)
    assert client.read_feed(orders.feed_cursor("vnpost"), 5).events == []  # caught up: nothing read twice


def test_the_token_is_renewed_before_it_expires_and_once_more_after_a_refusal(
    vnpost: tuple[Sandbox, VNPostClient, list[Exchange]],
) -> None:
    sandbox, client, exchanges = vnpost
    sandbox.faults(session_ttl_s=2.0)  # tokens issued now say expires_in 2
    client.read_feed(None, 10)
    time.sleep(1.85)  # inside the last tenth of its life: renewed before use, no 401
    client.read_feed(None, 10)
    assert [(e.operation, e.status) for e in exchanges] == [("token", 200), ("tracking", 200)] * 2
    exchanges.clear()
    sandbox.faults(session_ttl_s=1800.0)
    client.read_feed(None, 10)  # the token just issued is still good
    sandbox.faults(session_ttl_s=0.0)  # the gateway drops every token now
    with pytest.raises(PermanentError):
        client.read_feed(None, 10)
    assert [(e.operation, e.status) for e in exchanges][-3:] == [("tracking", 401), ("token", 200), ("tracking", 401)]


def test_the_lgsp_refuses_an_unsigned_request(tmp_path: Path, dev_pki: DevPki) -> None:
    sandbox = VNPOST.start(tmp_path, dev_pki, SECRET)
    transport = HttpTransport(
        "vnpost",
        TransportSettings(base_url=sandbox.url, max_attempts=1),
        signatures=MessageSignatures(trust=dev_pki.trust_store()),  # verifies replies, signs nothing
    )
    client = vnpost_client(transport, SECRET)
    try:
        with pytest.raises(PermanentError, match="Status 105") as caught:
            client.create_order(VNPOST.order(1))
        assert not isinstance(caught.value, ContractViolation)
        assert sandbox.held() == 0
    finally:
        client.close()
        sandbox.server.stop()
