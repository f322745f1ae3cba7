"""Carrier status callbacks: bound, authenticate, validate, keep -- and answer at once.

One path per carrier (``POST /webhooks/vnpost``, ``POST /webhooks/viettel_post``). The carrier's
own client does the checking (``Carrier.parse_webhook``: Viettel Post's shared ``TOKEN`` or
VNPost's ``SignData`` over ``Data`` and ``SendDate``, then the payload), so the receiver holds no
per-carrier rules. A rejected call is answered 401, 400 or 413 with the reason and nothing is stored.

Bad input never costs more than the limit and never answers 500 (issue 17): the body is refused
with 413 from its ``Content-Length`` before a byte of it is read, or while it streams, as soon as
it passes ``MAX_BODY_BYTES`` -- the receiver never holds more than that. Both carriers carry their
credential inside the JSON body, so the body is parsed before it is authenticated; the parse is
bounded first (``adapters.postal.checks.bounded_json``: a linear nesting scan of the raw bytes, so
100,000 nested ``[`` are a 400, not a RecursionError), and text no store keeps (NUL, a lone
surrogate) is a 400 naming the field.

Why the receiver only stores: the request must return fast (carriers time callbacks out and
retry), and nothing in it may wait on a partner. The events go into ``postal_event`` with
insert-or-ignore on their key, so a duplicate or replayed callback changes nothing; the tracking
DAG derives delivery states from the stored events (ordered by the carrier's timestamps), so the
arrival order of callbacks does not matter either. The store write is the only blocking step: it
runs in the thread pool, and callbacks arriving together share one transaction (``GroupCommit``);
each is answered only once its events are committed. Should the store refuse a shared transaction,
each callback in it is committed on its own, so one that the store cannot keep fails alone (503:
the carrier sends it again) and its neighbours are kept.

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
from mappings.text import storable_text

log = logging.getLogger(__name__)
# A callback is one status change (Viettel) or a handful; anything near this is not a callback.
MAX_BODY_BYTES = 256 * 1024


_Waiting = tuple[list[CarrierEvent], "asyncio.Future[None]"]
"""One callback's events and the future its request waits on."""


class GroupCommit:
    """Callbacks that arrive while a write is under way are stored together, in the next one.

    Each request still waits for the commit that holds its events before it is answered (a
    carrier must never hear "accepted" for an event that is not stored), but concurrent callbacks
    share one transaction instead of queueing for the database lock one by one. There is no timer:
    a lone callback is written at once; batches form only under load, as large as the load. A
    shared transaction the store refuses is written again callback by callback, so only the
    callback the store cannot keep sees the error.
    """

    def __init__(self, orders: PostalOrders) -> None:
        self.orders = orders
        self._waiting: list[_Waiting] = []
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
            try:
                await self._commit(batch)
            except Exception as exc:  # whatever the store raised goes to its requests
                if len(batch) == 1:
                    _settle(batch[0][1], exc)
                    continue
                log.warning("a shared commit of %d callbacks failed (%s): each alone", len(batch), type(exc).__name__)
                for waiting in batch:
                    try:
                        await self._commit([waiting])
                    except Exception as alone:  # this callback's own failure
                        _settle(waiting[1], alone)

    async def _commit(self, batch: list[_Waiting]) -> None:
        events = [event for group, _ in batch for event in group]
        added = await run_in_threadpool(self.orders.add_events, events, "webhook")
        log.info(
            "stored %d callbacks: %d events, %d new, orders %s",
            len(batch),
            len(events),
            added,
            sorted({e.order_id for e in events}),
        )
        for _, done in batch:
            _settle(done)


def _settle(done: asyncio.Future[None], error: BaseException | None = None) -> None:
    """Answer one waiting request (unless it gave up meanwhile: a client that hung up)."""
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)


async def limited_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, read only while it stays within ``limit`` bytes: a declared
    ``Content-Length`` above it is refused before anything is read, a body that grows past it
    (chunked, or longer than declared) as soon as it does. Raises a 413 :class:`WebhookRejected`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise WebhookRejected(413, f"body of {int(declared)} bytes (Content-Length) exceeds {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise WebhookRejected(413, f"body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(store: HubStore, carriers: Mapping[str, Carrier], partner_routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The receiver over ``store``, accepting callbacks for ``carriers`` (name -> client) and on
    ``partner_routes`` (other partners' callbacks: ``hub.webhooks.ministry``)."""
    writer = GroupCommit(PostalOrders(store))

    async def receive(request: Request) -> JSONResponse:
        name = request.path_params["carrier"]
        carrier = carriers.get(name)
        if carrier is None:
            return JSONResponse({"error": f"unknown carrier {name!r}"}, status_code=404)
        try:
            events = carrier.parse_webhook(request.headers, await limited_body(request))
        except WebhookRejected as rejection:
            return _rejected(name, rejection)
        try:
            await writer.store(events)
        except Exception:  # the store's failure, not the carrier's: it sends the callback again
            log.exception("%s callback not stored (orders %s)", name, sorted({e.order_id for e in events}))
            return JSONResponse({"error": "the callback could not be stored now; send it again"}, status_code=503)
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
    # A reason may quote the caller's text; what no encoder takes is written as its escape.
    reason = storable_text(mask_personal_data(rejection.reason))
    log.warning("%s callback rejected (%d): %s", carrier, rejection.status, reason)
    return JSONResponse({"error": reason}, status_code=rejection.status)
