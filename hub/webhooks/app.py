"""Carrier status callbacks: authenticate, validate, keep -- and answer at once.

One path per carrier (``POST /webhooks/vnpost``, ``POST /webhooks/viettel_post``). The carrier's
own client does the checking (``Carrier.parse_webhook``: Viettel Post's shared ``TOKEN`` or
VNPost's HMAC-SHA256 of the body, then the payload), so the receiver holds no per-carrier rules.
A rejected call is answered 401 or 400 with the reason and nothing is stored.

Why the receiver only stores: the request must return fast (carriers time callbacks out and
retry), and nothing in it may wait on a partner. The events go into ``postal_event`` with
insert-or-ignore on their key, so a duplicate or replayed callback changes nothing; the tracking
DAG derives delivery states from the stored events (ordered by the carrier's timestamps), so the
arrival order of callbacks does not matter either. The store write is the only blocking step and
runs in the thread pool, on the store's connection pool.

Logs name the carrier, the order ids and the counts; rejections log the reason masked
(``mappings.masking``), and bodies are never logged: they carry receivers' phone numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from adapters.postal.carrier import Carrier, WebhookRejected
from hub.store import HubStore
from hub.store.postal import PostalOrders
from mappings.masking import mask_personal_data

log = logging.getLogger(__name__)
# A callback is one status change (Viettel) or a handful; anything near this is not a callback.
MAX_BODY_BYTES = 256 * 1024


def create_app(store: HubStore, carriers: Mapping[str, Carrier]) -> Starlette:
    """The receiver over ``store``, accepting callbacks for ``carriers`` (name -> client)."""
    orders = PostalOrders(store)

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
        added = await run_in_threadpool(orders.add_events, events, "webhook")
        log.info(
            "%s callback: %d events (%d new) for orders %s",
            name,
            len(events),
            added,
            sorted({e.order_id for e in events}),
        )
        return JSONResponse({"accepted": len(events), "new": added})

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "carriers": sorted(carriers)})

    routes = [
        Route("/webhooks/{carrier}", receive, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
    ]
    return Starlette(routes=routes)


def _rejected(carrier: str, rejection: WebhookRejected) -> JSONResponse:
    reason = mask_personal_data(rejection.reason)
    log.warning("%s callback rejected (%d): %s", carrier, rejection.status, reason)
    return JSONResponse({"error": reason}, status_code=rejection.status)
