"""Every request, reply and callback the carriers exchange with the hub matches the OpenAPI
contract beside its adapter (adapters/postal/<carrier>.openapi.yaml)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from jsonschema import Draft202012Validator
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import adapters.postal
from adapters.errors import PermanentError
from adapters.exchange import Exchange
from sandbox.server import serve_in_thread
from signing.pki import DevPki
from tests.support.postal_sandboxes import RIGS, CarrierRig, order_request

pytestmark = pytest.mark.timeout(120)

SECRET = "contract-pw-5e1b"


def _spec(carrier: str) -> dict[str, Any]:
    path = Path(adapters.postal.__file__).parent / f"{carrier}.openapi.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _check(spec: dict[str, Any], schema: dict[str, Any], document: Any, what: str) -> None:
    validator = Draft202012Validator({**schema, "components": spec["components"]})
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]
    assert not errors, f"{what}: {errors[:3]}"


def _check_query(
    spec: dict[str, Any], parameters: list[dict[str, Any]], query: dict[str, list[str]], what: str
) -> None:
    declared = {p["name"]: p for p in parameters if p["in"] == "query"}
    assert set(query) <= set(declared), f"{what}: undeclared query parameters {set(query) - set(declared)}"
    assert {n for n, p in declared.items() if p.get("required")} <= set(query), f"{what}: required parameter missing"
    for name, values in query.items():
        _check(spec, declared[name]["schema"], values[0], f"{what} ?{name}")


@pytest.mark.parametrize("rig", RIGS, ids=str)
def test_requests_replies_and_callbacks_match_the_contract(rig: CarrierRig, tmp_path: Path, dev_pki: DevPki) -> None:
    spec = _spec(rig.name)
    callbacks: list[bytes] = []

    async def keep(request: Request) -> JSONResponse:
        callbacks.append(await request.body())
        return JSONResponse({})

    with serve_in_thread(Starlette(routes=[Route("/webhooks/{carrier}", keep, methods=["POST"])])) as receiver:
        sandbox = rig.start(tmp_path, dev_pki, SECRET, webhook_url=receiver.url)
        exchanges: list[Exchange] = []
        client = rig.connect(sandbox, dev_pki, SECRET)
        client.transport.on_exchange = exchanges.append
        try:
            placed = [client.create_order(order_request(n)) for n in range(4)]
            client.create_order(order_request(0))
            client.cancel(placed[3].order_id)
            sandbox.advance(96)
            client.track([o.order_id for o in placed])
            with pytest.raises(PermanentError):
                client.cancel(placed[0].order_id)  # picked up by now: a refusal, in the contract too
        finally:
            client.close()
            sandbox.server.stop()

    operations = {urlsplit(e.url).path for e in exchanges}
    assert len(operations) >= 3
    for exchange in exchanges:
        url = urlsplit(exchange.url)
        operation = spec["paths"][url.path][exchange.method.lower()]
        if exchange.method == "GET":  # the query string against the declared parameters
            _check_query(spec, operation.get("parameters", []), parse_qs(url.query), exchange.operation)
        else:
            request_schema = operation["requestBody"]["content"]["application/json"]["schema"]
            _check(spec, request_schema, json.loads(exchange.request_body), f"{exchange.operation} request")
        assert exchange.status == 200 and exchange.response_body is not None
        reply_schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        _check(spec, reply_schema, json.loads(exchange.response_body), f"{exchange.operation} reply")
    assert callbacks
    callback_schema = spec["webhooks"]["statusChanged"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    for body in callbacks:
        _check(spec, callback_schema, json.loads(body), "callback")
