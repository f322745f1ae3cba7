"""HTTP face of the national-portal simulator (docs/interfaces.md section 2).

The handlers are ``async`` so injected latency and hangs are ``asyncio.sleep`` calls that hold no
worker thread; the storage work runs in Starlette's thread pool. LGSP-level errors are HTTP 200
with an ``error_code`` (as real gateways answer); only injected faults are HTTP 503.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from sandbox.doubles import DoubleContext
from sandbox.faults import FaultConfig, FaultInjector, faulty_json, mount_fault_control
from sandbox.national_portal import ministry_syncs
from sandbox.national_portal.catalogue import Catalogue
from sandbox.national_portal.service import CODE_MALFORMED, INTEGRATION, SHARE, PortalService
from sandbox.national_portal.sessions import SessionRegistry
from sandbox.national_portal.stats import Stats
from sandbox.national_portal.store import PortalStore
from sandbox.signatures import PartnerSigning, mount_signing_control, signed_response
from signing.jws import SIGNATURE_HEADER

__all__ = ["create_app"]


def _json(payload: Any, status_code: int = 200) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(body, status_code=status_code, media_type="application/json")


def _bad_request(message: str) -> JSONResponse:
    return JSONResponse({"error": "bad_request", "message": message}, status_code=400)


def _day_param(request: Request, name: str) -> date | None:
    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"'{name}' must be a date YYYY-MM-DD, got {value!r}") from exc


MAX_EXPORT_PAGE = 10_000
# The hub names each attempt with this header (adapters/transport.py); the double remembers it per
# call answered, so a test can match the portal's calls with the hub's message log.
REQUEST_ID_HEADER = "X-Request-ID"


def _page_size(request: Request) -> int | None:
    value = request.query_params.get("limit")
    if value in (None, ""):
        return None
    if not value.isdigit() or not 1 <= int(value) <= MAX_EXPORT_PAGE:
        raise ValueError(f"'limit' must be an integer from 1 to {MAX_EXPORT_PAGE}, got {value!r}")
    return int(value)


def create_app(
    db_path: str | Path,
    username: str,
    password: str,
    agencies: Iterable[str],
    faults: FaultConfig = FaultConfig(),  # noqa: B008 -- frozen dataclass, safe as a default
    *,
    code_tables: Any | None = None,
    signing: PartnerSigning | None = None,
    dstcode: str | None = None,
) -> FastAPI:
    """Build the portal simulator.

    ``agencies`` are the ``madonvi`` values allowed to connect (others get error 106).
    ``signing``: sign every reply with the portal's certificate and refuse unsigned requests
    (HTTP 401), as a partner on a signed exchange layer does; ``None`` for a portal that signs
    nothing.
    ``dstcode``: the routing code every call must carry in its ``dstcode`` header (None: not checked).
    Authentication is ``POST /auth``, integration services ``POST /service``, the shared
    catalogues ``POST /share`` (the paths the sandbox's Connection names; the real ones are the
    LGSP operator's).
    ``code_tables`` defaults to ``mappings.code_tables.load_code_tables()``; pass one to test
    against a different catalogue.
    """
    injector = FaultInjector(faults)
    stats = Stats()
    store = PortalStore(db_path)
    sessions = SessionRegistry(username, password, injector.session_ttl_s)
    portal = PortalService(store, Catalogue(code_tables), sessions, agencies, stats)

    app = FastAPI(title="National public-service portal (sandbox)", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.portal = portal
    app.state.faults = injector
    app.state.stats = stats
    app.state.store = store

    async def faulty(request: Request, handler: Any, *, service_call: bool) -> Response:
        async def produce() -> tuple[bytes, int]:
            raw = await request.body()
            if signing is not None and (refusal := signing.check_request(raw, request.headers.get(SIGNATURE_HEADER))):
                return _json({"error": "unauthorized", "message": refusal}).body, 401
            if dstcode is not None and request.headers.get("dstcode") != dstcode:
                return _json({"error_code": CODE_MALFORMED, "message": "Thiếu hoặc sai header dstcode"}).body, 200
            return _json(await run_in_threadpool(handler, raw)).body, 200

        return await faulty_json(injector, signing, produce, service_call=service_call, on_fault=stats.fault)

    @app.post("/auth")
    async def auth(request: Request) -> Response:
        return await faulty(request, portal.auth, service_call=False)

    @app.post("/service")
    async def service(request: Request) -> Response:
        request_id = request.headers.get(REQUEST_ID_HEADER)
        return await faulty(request, lambda raw: portal.service(raw, INTEGRATION, request_id), service_call=True)

    @app.post("/share")
    async def share(request: Request) -> Response:
        request_id = request.headers.get(REQUEST_ID_HEADER)
        return await faulty(request, lambda raw: portal.service(raw, SHARE, request_id), service_call=True)

    mount_signing_control(app, signing)

    @app.get("/sandbox/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    # The exports are the portal's statistics the hub reconciles against, so they are signed like
    # every other reply: the hub refuses an export it cannot verify.
    @app.get("/sandbox/export/counts")
    async def export_counts(request: Request) -> Response:
        try:
            start, end = _day_param(request, "from"), _day_param(request, "to")
        except ValueError as exc:
            return _bad_request(str(exc))
        items = await run_in_threadpool(store.counts, start, end)
        body = {
            "from": start.isoformat() if start else None,
            "to": end.isoformat() if end else None,
            "total": sum(item["count"] for item in items),
            "items": items,
        }
        return signed_response(signing, _json(body).body)

    @app.get("/sandbox/export/dossiers")
    async def export_dossiers(request: Request) -> Response:
        try:
            start, end = _day_param(request, "from"), _day_param(request, "to")
            limit = _page_size(request)
        except ValueError as exc:
            return _bad_request(str(exc))
        items = await run_in_threadpool(
            lambda: store.dossiers(
                start,
                end,
                madonvi=request.query_params.get("madonvi") or None,
                after=request.query_params.get("after") or None,
                limit=limit,
            )
        )
        following = items[-1]["MaHoSo"] if limit is not None and len(items) == limit else None
        return signed_response(signing, _json({"items": items, "next": following}).body)

    @app.post("/sandbox/export/forget")
    async def forget(request: Request) -> Response:
        """Make the portal lose a stored dossier, so a demo can show one missing at the portal."""
        body = await request.json()
        number = body.get("dossier_no") if isinstance(body, dict) else None
        if not isinstance(number, str) or not number:
            return _bad_request('body must be {"dossier_no": "<MaHoSo>"}')
        forgotten = await run_in_threadpool(store.forget, number)
        return _json({"dossier_no": number, "forgotten": forgotten})

    @app.get("/sandbox/stats")
    async def get_stats() -> Response:
        totals = await run_in_threadpool(store.totals)
        return _json({**stats.snapshot(), "held": totals})

    @app.get("/sandbox/received")
    async def received(service: str) -> Response:
        """The request ids (``X-Request-ID``) of the ``service`` calls answered, in arrival order."""
        return _json({"service": service, "request_ids": stats.request_ids(service)})

    @app.post("/sandbox/stats/reset")
    async def reset_stats() -> Response:
        stats.reset()
        return _json({"status": "ok"})

    mount_fault_control(app, injector)

    return app


def double(context: DoubleContext) -> FastAPI:
    """The runner's national portal, starting with the faults ``--faults`` asked for and holding the
    ministries' own syncs of the day (``ministry_syncs``), as the real portal does."""
    app = create_app(
        context.db_path,
        context.credentials["username"],
        context.credentials["password"],
        context.agencies,
        context.portal_faults,
        code_tables=context.code_tables,
        signing=context.signing,
        dstcode=context.credentials.get("dstcode"),
    )
    ministry_syncs.install(app, context.credentials["madonvi"], context.load, context.code_tables)
    return app
