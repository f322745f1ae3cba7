"""Golden ministry messages (``tests/adapters/<partner>/golden/``, written from the public shapes of
docs/interfaces.md section 7, not captured) held against the ministry doubles, the generic client
and the hub's own requests.

Each golden file is one exchange: the operation, the request the hub sends, the reply the ministry
gives and what the hub makes of it (canonical pull-back records, a status, records, or the error
class it raises). Three properties per file:

1. the double answers the golden request in the golden reply's shape (same keys at every level);
2. the client reads the golden reply as the file says;
3. the hub's own request for the operation has the golden request's keys (and, for the listings,
   its exact values).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

import adapters.errors
from adapters.exchange import Exchange
from adapters.ministry.client import _NOT_FOUND as NOT_FOUND
from adapters.ministry.client import MinistryClient
from adapters.ministry.contract import contract_of, contract_partners
from adapters.settings import TransportSettings
from adapters.signatures import MessageSignatures
from adapters.transport import HttpTransport
from mappings.city_system import to_canonical
from mappings.code_tables import load_code_tables
from mappings.ministry_records import map_record
from sandbox.city_system.generator import generate
from sandbox.server import RunningServer, serve_in_thread
from tests.support.ministry_sandboxes import EXTRAS, LOGINS, TOKENS, start

DAY, SCALE, SEED = date(2026, 11, 20), 0.02, 7
ADAPTERS = Path(__file__).parents[1]


def goldens(partner: str) -> list[Path]:
    return sorted((ADAPTERS / partner / "golden").glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


CASES = [(partner, path) for partner in contract_partners() for path in goldens(partner)]


def test_every_ministry_contract_has_goldens() -> None:
    assert all(goldens(partner) for partner in contract_partners())


@pytest.fixture(scope="module")
def doubles(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningServer]]:
    servers = {}
    for partner in contract_partners():
        app = start(partner, tmp_path_factory.mktemp(partner), None, DAY, DAY, SCALE, SEED)
        servers[partner] = serve_in_thread(app).__enter__()
    yield servers
    for server in servers.values():
        server.stop()


def _client(partner: str, url: str, exchanges: list[Exchange] | None = None) -> MinistryClient:
    transport = HttpTransport(
        partner,
        TransportSettings(base_url=url, max_attempts=1),
        signatures=MessageSignatures(),
        on_exchange=exchanges.append if exchanges is not None else None,
    )
    return MinistryClient(
        transport, contract_of(partner), TOKENS[partner], EXTRAS.get(partner, {}), login=LOGINS.get(partner, "")
    )


def _with_session(partner: str, url: str, request: dict[str, Any]) -> dict[str, Any]:
    """The golden request with a session the double opened, for a ministry whose calls carry one
    (the golden's own session value is only an example of its form)."""
    session = contract_of(partner).session
    if session is None or session.param not in request:
        return request
    login = {session.user: LOGINS[partner], session.password: TOKENS[partner]}
    opened = requests.post(f"{url}{contract_of(partner).operations[session.operation].path}", json=login, timeout=10)
    return {**request, session.param: opened.json()[session.key]}


def _without_session(partner: str, request: dict[str, Any]) -> dict[str, Any]:
    session = contract_of(partner).session
    return {k: v for k, v in request.items() if session is None or k != session.param}


def shape(value: Any) -> Any:
    """The keys of a JSON value at every level (lists by their first element, scalars as one mark)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return "value"


def _same_shape(sent: Any, golden: Any) -> bool:
    if isinstance(golden, dict) and isinstance(sent, dict):
        return set(golden) == set(sent) and all(
            _same_shape(sent[k], golden[k]) for k in golden if golden[k] is not None and sent[k] is not None
        )
    if isinstance(golden, list) and isinstance(sent, list):
        return not golden or not sent or _same_shape(sent[0], golden[0])
    return not isinstance(golden, dict | list) and not isinstance(sent, dict | list)


@pytest.mark.parametrize(("partner", "path"), CASES, ids=[f"{p}/{f.stem}" for p, f in CASES])
def test_the_double_answers_the_golden_request_in_the_golden_shape(
    doubles: dict[str, RunningServer], partner: str, path: Path
) -> None:
    golden = load(path)
    spec = contract_of(partner).operations[golden["operation"]]
    url, headers = f"{doubles[partner].url}{spec.path}", {"Authorization": f"Bearer {TOKENS[partner]}"}
    request = _with_session(partner, doubles[partner].url, golden["request"])
    if spec.method == "GET":
        reply = requests.get(url, params=request, headers=headers, timeout=10)
    else:
        reply = requests.post(url, json=request, headers=headers, timeout=10)
    assert reply.status_code == 200
    assert _same_shape(reply.json(), golden["reply"]), f"{reply.json()} is not shaped like {golden['reply']}"


@pytest.mark.parametrize(("partner", "path"), CASES, ids=[f"{p}/{f.stem}" for p, f in CASES])
def test_the_client_reads_the_golden_reply(partner: str, path: Path) -> None:
    golden = load(path)
    client = _client(partner, "http://127.0.0.1:9")  # never called: the reply is read as received
    operation = golden["operation"]
    reply = client.contract.reply_of(operation)
    if "raises" in golden:
        with pytest.raises(getattr(adapters.errors, golden["raises"])):
            client._read(operation, reply, golden["reply"])
        return
    found = client._read(operation, reply, golden["reply"])
    if "canonical" in golden:
        listed = golden.get("listed", {})
        if "listed_with" in golden:
            listing = load(path.with_name(golden["listed_with"]))
            listed = client._read(
                listing["operation"], client.contract.reply_of(listing["operation"]), listing["reply"]
            )[0]
        assert client.contract.record is not None
        canonical = [map_record({**listed, **record}, client.contract.record, load_code_tables()) for record in found]
        assert [{k: v for k, v in c.items() if k != "BanGhiBo"} for c in canonical] == golden["canonical"]
        assert [c["BanGhiBo"] for c in canonical] == [{**listed, **record} for record in found]
    if "status" in golden:
        assert client.contract.status is not None
        status = None if found is NOT_FOUND else int(golden["reply"][client.contract.status.value])
        assert status == golden["status"]
    if "records" in golden:
        assert ([] if found is NOT_FOUND else found) == golden["records"]


def _sent(exchanges: list[Exchange], operation: str) -> list[dict[str, Any]]:
    """The requests the hub sent for ``operation``: query parameters or JSON bodies."""
    sent = []
    for exchange in exchanges:
        if exchange.operation != operation:
            continue
        if exchange.method == "GET":
            sent.append(dict(parse_qsl(urlsplit(exchange.url).query)))
        else:
            sent.append(json.loads(exchange.request_body))
    return sent


def test_the_hub_sends_the_golden_listing_requests(doubles: dict[str, RunningServer]) -> None:
    for partner in (p for p in contract_partners() if contract_of(p).pull is not None):
        exchanges: list[Exchange] = []
        client = _client(partner, doubles[partner].url, exchanges)
        pulled = [record for page in client.iter_period(DAY, DAY) for record in page]
        assert pulled, partner
        for path in goldens(partner):
            golden = load(path)
            if "raises" in golden or golden["operation"] not in {c.pull.operation for c in [client.contract] if c.pull}:
                continue
            sent = [_without_session(partner, request) for request in _sent(exchanges, golden["operation"])]
            assert _without_session(partner, golden["request"]) in sent, f"{partner}: {golden['request']}"
        detail = client.contract.pull.detail if client.contract.pull else None
        if detail is None:  # the listing carries the whole record
            continue
        requests_sent = _sent(exchanges, detail.operation)
        golden_detail = next(load(p)["request"] for p in goldens(partner) if load(p)["operation"] == detail.operation)
        assert all(set(sent) == set(golden_detail) for sent in requests_sent)


def test_the_hub_sends_the_golden_push_and_status_requests(doubles: dict[str, RunningServer]) -> None:
    exchanges: list[Exchange] = []
    client = _client("civil_status", doubles["civil_status"].url, exchanges)
    tables = load_code_tables()
    generated = generate(DAY, SCALE, SEED)
    record = next(r for r in generated.records if r["ma_tthc"] == "1.001193" and r["id"] not in generated.defects)
    dossier = to_canonical(record, tables)
    client.register(dossier)
    status = client.status(dossier.dossier_no)
    assert status is not None and status.status == 1
    for operation in ("dangKyHoTich", "traTrangThaiHoSo"):
        golden = next(load(p)["request"] for p in goldens("civil_status") if load(p)["operation"] == operation)
        (sent,) = _sent(exchanges, operation)
        assert set(sent) == set(golden) and type(sent["maDonVi"]) is type(golden["maDonVi"]) is int


def test_the_hub_sends_the_golden_lookup_requests(doubles: dict[str, RunningServer]) -> None:
    exchanges: list[Exchange] = []
    client = _client("social_insurance", doubles["social_insurance"].url, exchanges)
    for path in goldens("social_insurance"):
        golden = load(path)
        name = next(n for n, s in client.contract.lookups.items() if s.operation == golden["operation"])
        if "raises" in golden:
            with pytest.raises(getattr(adapters.errors, golden["raises"])):
                client.lookup(name, **golden["request"])
        else:
            found = client.lookup(name, **golden["request"])
            assert bool(found) == (golden.get("records", True) != [])
        assert _sent(exchanges, golden["operation"])[-1] == golden["request"]
