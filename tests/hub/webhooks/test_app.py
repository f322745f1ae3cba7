"""Hostile input at the callback receiver (issue 17, item 2): whatever the body, the answer is a
4xx with a reason -- never a 500 -- the receiver never holds more than its size limit, and one
callback the store cannot keep never fails the valid callbacks committed with it."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from adapters.postal.carrier import CarrierEvent
from adapters.postal.vnpost_signdata import sign_data
from bench.postal import viettel_callback
from hub.store import HubStore
from hub.store.postal import PostalOrders
from hub.webhooks.app import MAX_BODY_BYTES, GroupCommit, create_app
from mappings.dossier import VN_TZ
from mappings.postal.carrier_time import format_carrier_time
from sandbox.server import RunningServer
from tests.support.callback_receiver import VIETTEL_TOKEN, VNPOST_SECRET, callback_carriers
from tests.support.hostile import JSON

pytestmark = pytest.mark.timeout(300)

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=VN_TZ)
NESTED = b"[" * 100_000  # 100 KB here; the 200 KB body is the same with its closing brackets
CARRIERS = ("viettel_post", "vnpost")


def _post(server: RunningServer, carrier: str, body: bytes) -> requests.Response:
    return requests.post(
        f"{server.url}/webhooks/{carrier}", data=body, headers={"Content-Type": "application/json"}, timeout=30
    )


def _viettel(order_id: str, code: str = "501", **data: Any) -> bytes:
    """A Viettel callback with its TOKEN, ``data`` replacing fields of its DATA."""
    document = json.loads(viettel_callback(order_id, code, T0, VIETTEL_TOKEN)[0])
    document["DATA"].update(data)
    return json.dumps(document).encode()  # a lone surrogate or NUL goes out as its JSON escape


def _vnpost_signed(changes: Any) -> bytes:
    """A VNPost callback whose ``Data`` is ``changes`` as JSON, signed with the right key."""
    data = json.dumps(changes)  # escapes included: "\\ud800" stays six characters until decoded
    send_date = format_carrier_time(T0)
    return json.dumps(
        {"Data": data, "SendDate": send_date, "SignData": sign_data(data, send_date, VNPOST_SECRET)}
    ).encode()


# --------------------------------------------------------------------------- nesting


@pytest.mark.parametrize("carrier", CARRIERS)
def test_a_deeply_nested_body_is_refused_with_400_before_anything_else(receiver, carrier: str) -> None:
    server, store = receiver
    for body in (NESTED, NESTED + b"]" * 100_000, b'{"TOKEN": "x", "DATA": ' + NESTED + b"}"):
        reply = _post(server, carrier, body)
        assert reply.status_code == 400, reply.text
        assert "deeper than" in reply.json()["error"]
    assert PostalOrders(store).count_events() == 0


def test_a_deeply_nested_data_inside_a_signed_vnpost_callback_is_400(receiver) -> None:
    server, store = receiver
    data = "[" * 50_000 + "]" * 50_000
    send_date = format_carrier_time(T0)
    body = json.dumps({"Data": data, "SendDate": send_date, "SignData": sign_data(data, send_date, VNPOST_SECRET)})
    reply = _post(server, "vnpost", body.encode())
    assert reply.status_code == 400 and "Data nests" in reply.json()["error"]
    assert PostalOrders(store).count_events() == 0


# --------------------------------------------------------------------------- text no store keeps


def test_a_lone_surrogate_is_400_and_every_valid_neighbour_in_the_burst_is_stored(receiver) -> None:
    server, store = receiver
    valid = [_viettel(f"2{i:06d}", "100") for i in range(244)]
    poisoned = _viettel("2999999", "100", STATUS_NAME="trạng thái \ud800")
    bodies = [*valid[:120], poisoned, *valid[120:]]
    with ThreadPoolExecutor(max_workers=16) as pool:
        replies = list(pool.map(lambda body: _post(server, "viettel_post", body), bodies))
    statuses = [r.status_code for r in replies]
    assert statuses[120] == 400 and "U+D800" in replies[120].json()["error"]
    assert statuses[:120] + statuses[121:] == [200] * 244
    assert PostalOrders(store).count_events() == 244


def test_nul_and_surrogates_in_either_carriers_callback_are_400_naming_the_field(receiver) -> None:
    server, store = receiver
    change = {"OrderNumber": "000.00.60.H26-261120-0001", "StatusCode": "100", "StatusDate": format_carrier_time(T0)}
    replies = {
        "viettel NUL": _post(server, "viettel_post", _viettel("1000001", ORDER_NUMBER="1000\x00001")),
        "vnpost surrogate in Data": _post(server, "vnpost", _vnpost_signed({**change, "StatusName": "\udfff"})),
        "vnpost surrogate outside Data": _post(
            server, "vnpost", json.dumps({"Data": "{}", "SendDate": "\ud800", "SignData": "x"}).encode()
        ),
    }
    assert {name: r.status_code for name, r in replies.items()} == dict.fromkeys(replies, 400)
    assert "ORDER_NUMBER (U+0000)" in replies["viettel NUL"].json()["error"]
    assert "StatusName (U+DFFF)" in replies["vnpost surrogate in Data"].json()["error"]
    assert PostalOrders(store).count_events() == 0
    # An escaped pair inside Data is one character, not two halves: it is kept.
    emoji = _post(server, "vnpost", _vnpost_signed({**change, "StatusName": "đã phát \U0001f4e6"}))
    assert emoji.status_code == 200 and PostalOrders(store).count_events() == 1


def test_a_callback_the_store_refuses_fails_alone_and_its_group_is_kept(store: HubStore) -> None:
    """Past the receiver's checks, the store may still refuse one callback: the group it was
    committed with is written again callback by callback."""
    writer = GroupCommit(PostalOrders(store))

    def event(n: int, name: str = "đã nhận") -> CarrierEvent:
        return CarrierEvent("viettel_post", f"3{n:06d}", None, "100", name, T0 + timedelta(minutes=n))

    async def burst() -> list[BaseException | None]:
        groups = [[event(n)] for n in range(30)]
        groups.insert(12, [event(99, "không lưu được \ud800")])  # what no UTF-8 store keeps
        return await asyncio.gather(*(writer.store(g) for g in groups), return_exceptions=True)

    outcomes = asyncio.run(burst())
    assert [i for i, outcome in enumerate(outcomes) if outcome is not None] == [12]
    assert PostalOrders(store).count_events() == 30


# --------------------------------------------------------------------------- size


def test_a_declared_50_mb_body_is_413_before_any_of_it_is_sent(receiver) -> None:
    server, store = receiver
    host, port = server.url.removeprefix("http://").split(":")
    head = (
        f"POST /webhooks/viettel_post HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {50 * 1024 * 1024}\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(head.encode())  # the body never follows: the answer must not wait for it
        status, reason = _read_reply(connection)
    assert status == 413 and "exceeds" in reason and "Content-Length" in reason
    assert PostalOrders(store).count_events() == 0


def _read_reply(connection: socket.socket) -> tuple[int, str]:
    """The status and the ``error`` of one HTTP reply read off a raw socket."""
    raw = b""
    while b"\r\n\r\n" not in raw:
        received = connection.recv(4096)
        assert received, f"the connection closed mid-reply: {raw!r}"
        raw += received
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(int(line.split(":")[1]) for line in lines if line.lower().startswith("content-length:"))
    while len(body) < length:
        body += connection.recv(4096)
    return int(lines[0].split()[1]), json.loads(body)["error"]


def test_a_body_just_over_the_limit_is_413_with_the_reason(receiver) -> None:
    server, _ = receiver
    reply = _post(server, "vnpost", b" " * (MAX_BODY_BYTES + 1))
    assert reply.status_code == 413 and str(MAX_BODY_BYTES) in reply.json()["error"]


async def _asgi_post(app: Starlette, carrier: str, chunks: Any) -> tuple[int, bytes]:
    """POST the byte chunks ``chunks`` yields to ``app`` with no Content-Length (chunked, as a
    sender that does not say how much is coming); the status and body of the answer."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": f"/webhooks/{carrier}", "raw_path": f"/webhooks/{carrier}".encode(), "query_string": b"",
        "root_path": "", "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80),
    }  # fmt: skip
    pieces = iter(chunks)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        piece = next(pieces, None)
        if piece is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": piece, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_a_streamed_50_mb_body_is_413_and_the_receiver_never_holds_more_than_the_limit(store: HubStore) -> None:
    app = create_app(store, callback_carriers())
    chunk, total = 64 * 1024, 50 * 1024 * 1024
    pulled = [0]

    def body() -> Any:
        for _ in range(total // chunk):
            pulled[0] += chunk
            yield bytes(chunk)  # a fresh piece each time, as a socket delivers them

    tracemalloc.start()
    try:
        status, answer = asyncio.run(_asgi_post(app, "viettel_post", body()))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 413 and b"exceeds" in answer
    assert pulled[0] <= MAX_BODY_BYTES + chunk  # reading stopped at the limit, not at 50 MB
    assert peak < 4 * MAX_BODY_BYTES, f"peak {peak} bytes while refusing a {total}-byte body"


# --------------------------------------------------------------------------- fuzz


@pytest.fixture
def fuzz_app(store: HubStore) -> Starlette:
    """One receiver for all of a fuzz run's examples, called in-process (thousands of bodies)."""
    return create_app(store, callback_carriers())


_VIETTEL_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "ORDER_NUMBER": JSON,
        "ORDER_REFERENCE": JSON,
        "ORDER_STATUSDATE": st.sampled_from([format_carrier_time(T0), "20/11/2026 25:61:00", ""]) | JSON,
        "ORDER_STATUS": st.sampled_from([501, 504, 999999, -1]) | JSON,
        "STATUS_NAME": JSON,
    },
)
_VNPOST_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "OrderNumber": JSON,
        "StatusCode": st.sampled_from(["70", "100", "9" * 5000]) | JSON,
        "StatusName": JSON,
        "StatusDate": st.sampled_from([format_carrier_time(T0), "31/02/2026 09:00:00"]) | JSON,
    },
)


def _mutated(body: bytes, data: st.DataObject) -> bytes:
    """A genuine callback with a slice replaced by hostile bytes (brackets, escapes, junk)."""
    start = data.draw(st.integers(0, len(body)))
    end = data.draw(st.integers(start, len(body)))
    junk = data.draw(
        st.sampled_from([b"[" * 5000, b"{" * 40, b'"\\ud800"', b'"\\u0000"', b"\xff\xfe", b"9" * 6000, b'"'])
        | st.binary(max_size=64)
    )
    return body[:start] + junk + body[end:]


_HOSTILE = st.one_of(
    st.tuples(st.sampled_from(CARRIERS), st.binary(max_size=512)),
    st.tuples(st.just("viettel_post"), _VIETTEL_FIELDS.map(lambda d: json.dumps({"DATA": d, "TOKEN": VIETTEL_TOKEN}))),
    st.tuples(st.just("vnpost"), st.one_of(_VNPOST_FIELDS, st.lists(_VNPOST_FIELDS, max_size=3), JSON)),
    st.tuples(st.sampled_from(CARRIERS), JSON.map(json.dumps)),
)


@settings(
    max_examples=int(os.environ.get("HUB_FUZZ_CASES", "3000")),  # `make chaos` runs more
    deadline=None,
    derandomize=True,  # the same bodies on every run (a seeded fuzz, not a flaky one)
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=_HOSTILE, mutate=st.booleans(), data=st.data())
def test_no_hostile_body_is_ever_answered_500(
    fuzz_app: Starlette, case: tuple[str, Any], mutate: bool, data: Any
) -> None:
    carrier, content = case
    if carrier == "vnpost" and not isinstance(content, bytes | str):
        body = _vnpost_signed(content)  # authenticated: the hostile part is what Data decodes to
    else:
        body = content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass")
    if mutate:
        body = _mutated(body, data)
    status, answer = asyncio.run(_asgi_post(fuzz_app, carrier, [body]))
    assert status in (200, 400, 401, 413), (status, answer[:300])
    if status != 200:
        assert json.loads(answer)["error"]
