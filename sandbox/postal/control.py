"""The sandbox-only endpoints both carriers share: the simulated clock, the callback target,
counters and health -- what tests and the demo drive, never what the hub's adapters call.

``POST /sandbox/clock {"advance_hours": 24}`` (or ``{"to": "2026-11-22T08:00:00+07:00"}``) moves
the clock forward and sends the callbacks of everything that happened meanwhile; the reply says
how many events there were and how many were lost, doubled, reordered, delivered or refused.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from sandbox.faults import mount_fault_control
from sandbox.postal.callbacks import Callbacks, Encode
from sandbox.postal.faults import CarrierFaults
from sandbox.postal.orders import ORDER_DIGITS, CarrierOrders, CarrierProfile, Order

__all__ = ["Answer", "CarrierSandbox", "Handler", "json_bytes", "missing_fields"]

Handler = Callable[[dict[str, Any]], dict[str, Any]]
Answer = Callable[[Request, str, Handler], Awaitable[Response]]


def json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def missing_fields(document: dict[str, Any], required: Iterable[str]) -> str | None:
    """The carrier's refusal text for an order lacking required fields (None when complete)."""
    missing = [key for key in required if not document.get(key)]
    return f"Thiếu thông tin bắt buộc: {', '.join(missing)}" if missing else None


class CarrierSandbox:
    """What both carrier simulators are made of: orders and clock, faults, callbacks, call counters,
    and the FastAPI app their own endpoints are added to (then :meth:`finish` adds the shared ones)."""

    def __init__(
        self,
        title: str,
        db_path: str | Path,
        profile: CarrierProfile,
        *,
        seed: int,
        start: datetime,
        faults: dict[str, Any] | None,
        webhook_url: str | None,
        webhook_path: str,
        encode: Encode,
    ) -> None:
        self.orders = CarrierOrders(db_path, profile, seed=seed, start=start)
        self.faults = CarrierFaults({"seed": seed, **(faults or {})})
        self.callbacks = Callbacks(webhook_url.rstrip("/") if webhook_url else None, webhook_path, encode, self.faults)
        self.calls: Counter[str] = Counter()
        self.app = FastAPI(title=title, docs_url=None, redoc_url=None, openapi_url=None)
        self.app.state.orders, self.app.state.faults = self.orders, self.faults
        self.app.state.callbacks = self.callbacks

    def reply_order_id(self, order: Order) -> str:
        """The order id an order reply shows: the true one, or the previous order's when the fault says so."""
        if not self.faults.reused_order_id():
            return order.order_id
        prefix, seq = order.order_id[:-ORDER_DIGITS], int(order.order_id[-ORDER_DIGITS:])
        return f"{prefix}{max(seq - 1, 1):0{ORDER_DIGITS}d}"

    def finish(self, answer: Answer, operations: Iterable[tuple[str, str, Handler]]) -> FastAPI:
        """Add ``POST path`` for each (path, operation, handler), answered through ``answer``, and the
        shared sandbox endpoints; return the app."""
        for path, operation, handler in operations:

            async def endpoint(request: Request, operation: str = operation, handler: Handler = handler) -> Response:
                return await answer(request, operation, handler)

            self.app.add_api_route(path, endpoint, methods=["POST"], name=operation)
        _mount_carrier_control(self.app, self.orders, self.callbacks, self.faults, self.calls)
        return self.app


def _bad_request(message: str) -> JSONResponse:
    return JSONResponse({"error": "bad_request", "message": message}, status_code=400)


def _target(orders: CarrierOrders, body: Any) -> datetime:
    """Where ``POST /sandbox/clock`` moves the clock to (``ValueError`` naming what is wrong)."""
    if not isinstance(body, dict) or len(body.keys() & {"advance_hours", "to"}) != 1:
        raise ValueError('give exactly one of "advance_hours" (a number) or "to" (an ISO datetime with zone)')
    if "to" in body:
        target = datetime.fromisoformat(str(body["to"]))
        if target.tzinfo is None:
            raise ValueError('"to" needs a time zone offset')
        return target
    hours = body["advance_hours"]
    if not isinstance(hours, int | float) or isinstance(hours, bool) or hours < 0:
        raise ValueError('"advance_hours" must be a non-negative number')
    return orders.now() + timedelta(hours=hours)


def _mount_carrier_control(
    app: FastAPI, orders: CarrierOrders, callbacks: Callbacks, faults: CarrierFaults, calls: Counter[str]
) -> None:
    @app.get("/sandbox/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/sandbox/clock")
    async def clock() -> dict[str, str]:
        return {"now": (await run_in_threadpool(orders.now)).isoformat()}

    @app.post("/sandbox/clock")
    async def advance(request: Request) -> JSONResponse:
        try:
            target = _target(orders, json.loads(await request.body() or b"null"))
            events = await run_in_threadpool(orders.advance, target)
        except ValueError as exc:
            return _bad_request(str(exc))
        sent = await run_in_threadpool(callbacks.deliver, events)
        return JSONResponse({"now": target.isoformat(), "webhooks": sent})

    @app.get("/sandbox/webhook")
    async def webhook_target() -> dict[str, str | None]:
        return {"receiver": callbacks.receiver, "path": callbacks.path}

    @app.post("/sandbox/webhook")
    async def set_webhook_target(request: Request) -> JSONResponse:
        body = await request.json()
        url = body.get("url") if isinstance(body, dict) else None
        if url is not None and not (isinstance(url, str) and url.startswith(("http://127.", "http://[::1]"))):
            return _bad_request('"url" must be the receiver\'s loopback base URL, or null to switch callbacks off')
        callbacks.receiver = url.rstrip("/") if url else None
        return JSONResponse({"receiver": callbacks.receiver, "path": callbacks.path})

    @app.get("/sandbox/stats")
    async def stats() -> dict[str, Any]:
        held = await run_in_threadpool(orders.count)
        return {"calls": dict(calls), "held": {"orders": held}, "webhooks": dict(callbacks.sent)}

    mount_fault_control(app, faults)
