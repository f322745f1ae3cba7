"""The sandbox runner serves both carriers: their Connections come from its state file, their
callbacks reach the receiver given with ``--webhook-url``, authenticated with the state's secrets."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from adapters.hooks import PartnerHook
from adapters.partners import carriers
from adapters.postal.carrier import CarrierEvent, CodeTakingCarrier, WebhookRejected
from hub.connections import sandbox_connections
from sandbox.runner import read_state, serve
from sandbox.server import serve_in_thread
from tests.support.postal_sandboxes import order_request

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[dict[str, Any], dict[str, list[Any]], dict[str, Any]]]:
    clients: dict[str, Any] = {}
    received: dict[str, list[Any]] = {name: [] for name in carriers()}

    async def receive(request: Request) -> JSONResponse:
        carrier = request.path_params["carrier"]
        try:
            events: list[CarrierEvent] = clients[carrier].parse_webhook(dict(request.headers), await request.body())
        except WebhookRejected as exc:
            received[carrier].append(exc.status)
            return JSONResponse({"error": exc.reason}, status_code=exc.status)
        received[carrier].extend(events)
        return JSONResponse({})

    stop = threading.Event()
    with serve_in_thread(Starlette(routes=[Route("/webhooks/{carrier}", receive, methods=["POST"])])) as receiver:
        options = {"day": date(2026, 11, 20), "scale": 0.01, "seed": 3, "webhook_url": receiver.url}
        thread = threading.Thread(target=serve, args=(tmp_path,), kwargs={**options, "stop_event": stop})
        thread.start()
        try:
            deadline = time.monotonic() + 180
            while (state := read_state(tmp_path)) is None and time.monotonic() < deadline and thread.is_alive():
                time.sleep(0.2)
            assert state is not None, "the runner did not come up"
            yield state, received, clients
        finally:
            stop.set()
            thread.join(60)


def test_the_runner_serves_both_carriers_with_callbacks_to_the_receiver(
    running: tuple[dict[str, Any], dict[str, list[Any]], dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    state, received, clients = running
    for variable, uri in sandbox_connections(state).items():
        monkeypatch.setenv(variable, uri)
    for name in carriers():
        clients[name] = client = PartnerHook(name).get_client()
        orders = [client.create_order(_order(client, n)) for n in range(5)]
        reply = requests.post(f"{state[name]['url']}/sandbox/clock", json={"advance_hours": 96}, timeout=60)
        sent = reply.json()["webhooks"]
        assert sent["events"] > 5 and sent.get("delivered", 0) > 0
        assert all(isinstance(item, CarrierEvent) for item in received[name])  # no 401/400: secrets match
        assert {e.order_id for e in received[name]} <= {o.order_id for o in orders}
        stats = requests.get(f"{state[name]['url']}/sandbox/stats", timeout=10).text
        assert "webhook_secret" not in stats and "callback_secret" not in stats


def _order(client: Any, n: int) -> Any:
    """The n-th order, under a code from the block the runner issued where the carrier takes the hub's (VNPost)."""
    order = order_request(n)
    if isinstance(client, CodeTakingCarrier):
        return replace(order, item_code=client.item_codes.code(client.item_codes.first + n))
    return order
