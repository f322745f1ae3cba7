"""REST API of the city dossier system simulator (docs/interfaces.md section 1).

Bearer token on every call (sandbox endpoints included), keyset pagination on
(``cap_nhat_luc``, ``id``) with an opaque cursor that also pins the snapshot and the window, and
the contract's error shapes: 401 ``unauthorized``, 400 ``bad_request``. The API calls go through
the shared fault injector (:mod:`sandbox.faults`; ``GET|POST /sandbox/faults``), so the extraction
meets the same slow, failing, hung and truncated replies as every other partner's adapter.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from sandbox.city_system.store import CityStore, DayConflictError, Page, to_us
from sandbox.doubles import DoubleContext
from sandbox.faults import FaultConfig, FaultInjector, faulty_json, mount_fault_control
from sandbox.signatures import PartnerSigning, mount_signing_control

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "create_app"]

VN = timezone(timedelta(hours=7))
DEFAULT_LIMIT = 500
MAX_LIMIT = 2000
MAX_ADVANCE = 100_000


class ApiError(Exception):
    """An error answered in the contract's shape ``{"error", "message"}``."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message


def _bad(message: str) -> ApiError:
    return ApiError(400, "bad_request", message)


_OFFSET_AS_SPACE = re.compile(r" (\d{2}:?\d{2})$")


def parse_instant(name: str, value: str) -> datetime:
    """ISO 8601; a naive value is taken as Hanoi time; an unencoded ``+`` (read as a space) is forgiven."""
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(_OFFSET_AS_SPACE.sub(r"+\1", value))
        except ValueError:
            raise _bad(f"'{name}' must be an ISO 8601 date-time, got {value!r}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=VN)


def _encode_cursor(page: Page, window: str) -> str | None:
    if not page.more or page.last_key is None:
        return None
    payload = {"t": page.last_key[0], "i": page.last_key[1], "s": page.snapshot, "w": window}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, window: str) -> tuple[tuple[int, int], int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
        key = (int(payload["t"]), int(payload["i"]))
        snapshot = int(payload["s"])
        cursor_window = payload["w"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise _bad("'cursor' is not a cursor this server issued") from None
    if cursor_window != window:
        raise _bad("'cursor' belongs to a listing with other updated_from/updated_to values")
    return key, snapshot


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    try:
        limit = int(value)
    except ValueError:
        raise _bad(f"'limit' must be an integer 1..{MAX_LIMIT}, got {value!r}") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise _bad(f"'limit' must be between 1 and {MAX_LIMIT}, got {limit}")
    return limit


def create_app(
    db_path: str | Path,
    token: str,
    *,
    code_tables: Any | None = None,
    signing: PartnerSigning | None = None,
    faults: FaultConfig = FaultConfig(),  # noqa: B008 -- frozen dataclass, safe as a default
) -> FastAPI:
    """Build the city simulator over the SQLite file ``db_path``; ``token`` is the bearer token.

    ``signing`` signs the API's replies with the city system's certificate (``None``: unsigned).
    ``faults`` is the initial fault injection of the ``/api/v1`` calls.

    Load data with ``app.state.store.load_day(day, scale, seed)`` (or ``POST /sandbox/load``).
    """
    if not token:
        raise ValueError("a non-empty bearer token is required")
    store = CityStore(db_path, code_tables)
    app = FastAPI(title="Hanoi city dossier system (sandbox)", docs_url=None, redoc_url=None, openapi_url=None)
    injector = FaultInjector(faults)
    app.state.store = store
    app.state.faults = injector
    expected = f"Bearer {token}".encode()

    @app.middleware("http")
    async def require_token(request: Request, call_next: Any) -> Response:
        supplied = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(supplied, expected):
            return JSONResponse(
                {"error": "unauthorized", "message": "Thiếu hoặc sai mã truy cập (Authorization: Bearer <token>)"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return await call_next(request)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"error": exc.error, "message": exc.message}, status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        error = "not_found" if exc.status_code == 404 else "bad_request" if exc.status_code < 500 else "internal"
        return JSONResponse({"error": error, "message": str(exc.detail)}, status_code=exc.status_code)

    mount_signing_control(app, signing)

    mount_fault_control(app, injector)

    @app.get("/api/v1/health")
    async def health() -> Response:
        async def produce() -> tuple[bytes, int]:
            return b'{"status":"ok"}', 200

        return await faulty_json(injector, signing, produce)

    @app.get("/api/v1/dossiers/changes")
    async def changes(request: Request) -> Response:
        return await faulty_json(injector, signing, lambda: _changes_page(request))

    async def _changes_page(request: Request) -> tuple[bytes, int]:
        query = request.query_params
        lo = hi = None
        if query.get("updated_from"):
            lo = to_us(parse_instant("updated_from", query["updated_from"]))
        if query.get("updated_to"):
            hi = to_us(parse_instant("updated_to", query["updated_to"]))
        if lo is not None and hi is not None and lo > hi:
            raise _bad("'updated_from' must not be after 'updated_to'")
        limit = _limit(query.get("limit"))
        window = f"{lo}:{hi}"
        after, snapshot = (None, None)
        if query.get("cursor"):
            after, snapshot = _decode_cursor(query["cursor"], window)
        page = await run_in_threadpool(store.changes, lo, hi, after, snapshot, limit)
        cursor = _encode_cursor(page, window)
        # Stored bodies are JSON already: splice them in instead of decoding and re-encoding.
        body = '{"items":[' + ",".join(page.bodies) + '],"next_cursor":' + json.dumps(cursor) + "}"
        return body.encode(), 200

    @app.get("/sandbox/defects")
    async def defects() -> Response:
        items = await run_in_threadpool(store.defects)
        return JSONResponse({"items": items})

    @app.post("/sandbox/advance")
    async def advance(request: Request) -> Response:
        body = await _json_object(request)
        count = body.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= MAX_ADVANCE:
            raise _bad(f"'count' must be an integer 0..{MAX_ADVANCE}")
        if not isinstance(body.get("at"), str):
            raise _bad("'at' must be an ISO 8601 date-time")
        at = parse_instant("at", body["at"])
        moved = await run_in_threadpool(store.advance, count, at)
        return JSONResponse({"count": len(moved), "items": moved})

    @app.post("/sandbox/load")
    async def load(request: Request) -> Response:
        body = await _json_object(request)
        try:
            day = date.fromisoformat(str(body["day"]))
            scale = float(body.get("scale", 1.0))
            seed = int(body.get("seed", 0))
        except (KeyError, ValueError, TypeError):
            raise _bad("body must be {'day': 'YYYY-MM-DD', 'scale': number, 'seed': integer}") from None
        if not 0 <= scale <= 100:
            raise _bad("'scale' must be between 0 and 100")
        try:
            loaded = await run_in_threadpool(store.load_day, day, scale, seed)
        except DayConflictError as exc:
            raise ApiError(409, "conflict", str(exc)) from None
        return JSONResponse({"loaded": loaded, "total": await run_in_threadpool(store.count)})

    @app.get("/sandbox/summary")
    async def summary() -> Response:
        def collect() -> dict[str, Any]:
            return {"records": store.count(), "revision": store.current_rev(), "days": store.loaded_days()}

        return JSONResponse(await run_in_threadpool(collect))

    return app


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise _bad("body must be JSON") from None
    if not isinstance(body, dict):
        raise _bad("body must be a JSON object")
    return body


def double(context: DoubleContext) -> FastAPI:
    """The runner's city system, the generated day loaded; how many records were new stays on
    ``app.state.records_loaded`` (the runner reports it)."""
    app = create_app(
        context.db_path, context.credentials["token"], code_tables=context.code_tables, signing=context.signing
    )
    app.state.records_loaded = app.state.store.load_day(context.day, context.scale, context.seed)
    return app
