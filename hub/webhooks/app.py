"""Carrier status callbacks: authenticate, validate, keep -- and answer at once.

One path per carrier (``POST /webhooks/vnpost``, ``POST /webhooks/viettel_post``). The carrier's
own client does the checking (``Carrier.parse_webhook``: Viettel Post's shared ``TOKEN`` or
VNPost's HMAC-SHA256 of the body, then the payload), so the receiver holds no per-carrier rules.
A rejected call is answered 401 or 400 with the reason and nothing is stored.

Why the receiver only stores: the request must return fast (carriers time callbacks out and
retry), and nothing in it may wait on a partner. The events go into ``postal_event`` with
insert-or-ignore on their key, so a duplicate or replayed callback changes nothing; the tracking
DAG derives delivery states from the stored events (ordered by the carrier's timestamps), so the
arrival order of callbacks does not matter either. The store write is the only blocking step: it
runs in the thread pool, and callbacks arriving together share one transaction (``GroupCommit``);
each is answered only once its events are committed.

Logs name the carrier, the order ids and the counts; rejections log the reason masked
(``mappings.masking``), and bodies are never logged: they carry receivers' phone numbers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from adapters.postal.carrier import Carrier, CarrierEvent, WebhookRejected
from hub.store import HubStore
from hub.store.postal import PostalOrders
from mappings.masking import mask_personal_data

log = logging.getLogger(__name__)
# A callback is one status change (Viettel) or a handful; anything near this is not a callback.
MAX_BODY_BYTES = 256 * 1024


class GroupCommit:
    """Callbacks that arrive while a write is under way are stored together, in the next one.

    Each request still waits for the commit that holds its events before it is answered (a
    carrier must never hear "accepted" for an event that is not stored), but concurrent callbacks
    share one transaction instead of queueing for the database lock one by one. There is no timer:
    a lone callback is written at once; batches form only under load, as large as the load.
    """

    def __init__(self, orders: PostalOrders) -> None:
        self.orders = orders
        self._waiting: list[tuple[list[CarrierEvent], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def store(self, events: list[CarrierEvent]) -> None:
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((events, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        await done

    async def _drain(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            events = [event for group, _ in batch for event in group]
            try:
                added = await run_in_threadpool(self.orders.add_events, events, "webhook")
            except Exception as exc:  # every waiting request answers 500; the carriers retry
                for _, done in batch:
                    done.set_exception(exc)
                continue
            log.info(
                "stored %d callbacks: %d events, %d new, orders %s",
                len(batch),
                len(events),
                added,
                sorted({e.order_id for e in events}),
            )
            for _, done in batch:
                done.set_result(None)


def create_app(store: HubStore, carriers: Mapping[str, Carrier], partner_routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The receiver over ``store``, accepting callbacks for ``carriers`` (name -> client) and on
    ``partner_routes`` (other partners' callbacks: ``hub.webhooks.ministry``)."""
    writer = GroupCommit(PostalOrders(store))

    async def receive(request: Request) -> JSONResponse:
        name = request.path_params["carrier"]
        carrier = carriers.get(name)
        if carrier is None:
            return JSONResponse({"error": f"unknown carrier {name!r}"}, status_code=404)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return _rejected(name, WebhookRejected(400, f"body of {len(body)} bytes exceeds {MAX_BODY_BYTES}"))
        try:
            events = carrier.parse_webhook(request.headers, body)
        except WebhookRejected as rejection:
            return _rejected(name, rejection)
        await writer.store(events)
        return JSONResponse({"accepted": len(events)})

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "carriers": sorted(carriers)})

    routes = [
        Route("/webhooks/{carrier}", receive, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        *partner_routes,
    ]
    return Starlette(routes=routes)


def _rejected(carrier: str, rejection: WebhookRejected) -> JSONResponse:
    reason = mask_personal_data(rejection.reason)
    log.warning("%s callback rejected (%d): %s", carrier, rejection.status, reason)
    return JSONResponse({"error": reason}, status_code=rejection.status)
