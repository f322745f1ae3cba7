"""iHaNoi's notification API, as a loopback double of the contract the hub assumes
(docs/interfaces.md, "iHaNoi notifications").

No public contract exists, so the double holds what that section writes down and refuses, in the
same ``{"error": <code>, "message": <text>}`` shape, what a client of it never sends:

- ``POST /api/v1/notifications``: a missing or wrong ``X-Api-Key`` is **401**; a body that is not
  the contract's is **400** -- a missing field, a field the contract does not have (a phone, a
  name: the app must not receive them), an unknown ``event_code``, a ``recipient_id`` that is not
  a 12-digit personal number, an ``event_time`` without its offset, a message over 200 characters,
  a link outside the app, an ``Idempotency-Key`` header that is not the body's key; **404** when
  no account is registered for the recipient; **409** a key reused for another body. A key
  accepted before is answered **200** ``duplicate`` -- held once, never an error; a new one
  **202** ``accepted``.
- ``GET /api/v1/notifications/{key}``: what it holds under a key (404 nothing).
- ``GET /api/v1/event-codes``: the codes it accepts.

Which personal numbers have no account is decided per number and seed (``unregistered_share``),
so a run is repeatable. ``/sandbox/faults`` (503s, hangs after doing the work, cut replies) works
as on every double; ``GET /sandbox/stats`` counts what it holds and refused, and
``GET /sandbox/notifications`` lists the held bodies (what the PII tests scan).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from sandbox.doubles import DoubleContext
from sandbox.faults import FaultConfig, FaultInjector, faulty_json, mount_fault_control

EVENT_CODES = (
    "HO_SO_DA_TIEP_NHAN",
    "YEU_CAU_BO_SUNG",
    "DA_CO_KET_QUA",
    "DA_GIAO_BUU_CHINH",
    "DA_PHAT_KET_QUA",
    "DA_CHUYEN_HOAN",
)
FIELDS = frozenset(
    {"idempotency_key", "recipient_id", "dossier_no", "event_code", "event_time", "message", "deep_link"}
)
MAX_MESSAGE = 200
LINK_PREFIX = "ihanoi://"
UNREGISTERED_SHARE = 0.03  # the runner's share of citizens without an iHaNoi account
_NUMBER = re.compile(r"[0-9]{12}")
_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _error(status: int, code: str, message: str) -> tuple[bytes, int]:
    return json.dumps({"error": code, "message": f"{code}: {message}"}, ensure_ascii=False).encode(), status


def _checked(body: Any, header_key: str | None) -> dict[str, Any]:
    """The body, if the contract allows it (a :class:`_Refused` naming the first rule it breaks)."""
    if not isinstance(body, dict):
        raise _Refused(400, "INVALID_BODY", "nội dung phải là một đối tượng JSON")
    if unknown := sorted(set(body) - FIELDS):
        raise _Refused(400, "UNKNOWN_FIELD", f"trường không có trong hợp đồng: {', '.join(unknown)}")
    if missing := sorted(k for k in FIELDS if not isinstance(body.get(k), str) or not body[k]):
        raise _Refused(400, "MISSING_FIELD", f"thiếu trường: {', '.join(missing)}")
    if not _KEY.fullmatch(body["idempotency_key"]) or header_key != body["idempotency_key"]:
        raise _Refused(400, "IDEMPOTENCY_KEY_MISMATCH", "Idempotency-Key phải trùng idempotency_key trong nội dung")
    if body["event_code"] not in EVENT_CODES:
        raise _Refused(400, "UNKNOWN_EVENT_CODE", f"mã sự kiện {body['event_code'][:40]!r} không được hỗ trợ")
    if not _NUMBER.fullmatch(body["recipient_id"]):
        raise _Refused(400, "INVALID_RECIPIENT", "recipient_id phải là số định danh cá nhân 12 chữ số")
    try:
        moment = datetime.fromisoformat(body["event_time"])
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise _Refused(400, "INVALID_EVENT_TIME", "event_time phải theo ISO 8601 kèm múi giờ")
    if len(body["message"]) > MAX_MESSAGE:
        raise _Refused(400, "MESSAGE_TOO_LONG", f"message tối đa {MAX_MESSAGE} ký tự")
    if not body["deep_link"].startswith(LINK_PREFIX):
        raise _Refused(400, "INVALID_DEEP_LINK", f"deep_link phải bắt đầu bằng {LINK_PREFIX}")
    return body


def _registered(recipient: str, seed: int, unregistered_share: float) -> bool:
    digest = hashlib.sha256(f"{seed}:{recipient}".encode()).digest()
    return int.from_bytes(digest[:4]) / 2**32 >= unregistered_share


def create_app(
    api_key: str,
    *,
    unregistered_share: float = 0.0,
    seed: int = 0,
    faults: FaultConfig = FaultConfig(),  # noqa: B008 -- frozen dataclass, safe as a default
) -> FastAPI:
    """The double, accepting ``api_key``; ``unregistered_share`` of recipients have no account."""
    if not api_key:
        raise ValueError("the iHaNoi sandbox needs an API key")
    injector = FaultInjector(faults)
    held: dict[str, dict[str, Any]] = {}  # idempotency key -> {body, notification_id, accepted_at}
    counts: Counter[str] = Counter()
    lock = threading.Lock()
    app = FastAPI(title="iHaNoi notification API (sandbox)", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.faults = injector
    mount_fault_control(app, injector)

    def authorised(request: Request) -> bool:
        given = request.headers.get("x-api-key", "")
        return hmac.compare_digest(given.encode(), api_key.encode())

    def accept(body: dict[str, Any]) -> tuple[bytes, int]:
        key = body["idempotency_key"]
        with lock:
            if (known := held.get(key)) is not None:
                if known["body"] != body:
                    counts["refused"] += 1
                    return _error(409, "IDEMPOTENCY_KEY_REUSED", "khóa đã dùng cho một thông báo khác")
                counts["duplicates"] += 1
                return json.dumps({"status": "duplicate", **_held_reply(known)}).encode(), 200
            if not _registered(body["recipient_id"], seed, unregistered_share):
                counts["refused"] += 1
                return _error(404, "RECIPIENT_NOT_FOUND", "người nhận chưa có tài khoản iHaNoi")
            known = {"body": body, "notification_id": str(uuid.uuid4()), "accepted_at": datetime.now(UTC).isoformat()}
            held[key] = known
            counts[body["event_code"]] += 1
        return json.dumps({"status": "accepted", **_held_reply(known)}).encode(), 202

    @app.post("/api/v1/notifications")
    async def notify(request: Request) -> Response:
        async def produce() -> tuple[bytes, int]:
            if not authorised(request):
                return _error(401, "UNAUTHORIZED", "thiếu hoặc sai X-Api-Key")
            try:
                body = _checked(json.loads(await request.body()), request.headers.get("idempotency-key"))
            except ValueError:
                return _error(400, "INVALID_BODY", "nội dung không phải JSON")
            except _Refused as refused:
                with lock:
                    counts["refused"] += 1
                return _error(refused.status, refused.code, refused.message)
            return accept(body)

        return await faulty_json(injector, None, produce)

    @app.get("/api/v1/notifications/{key}")
    async def lookup(key: str, request: Request) -> Response:
        async def produce() -> tuple[bytes, int]:
            if not authorised(request):
                return _error(401, "UNAUTHORIZED", "thiếu hoặc sai X-Api-Key")
            with lock:
                known = held.get(key)
            if known is None:
                return _error(404, "NOT_FOUND", "không có thông báo với khóa này")
            return json.dumps({**_held_reply(known), "event_code": known["body"]["event_code"]}).encode(), 200

        return await faulty_json(injector, None, produce)

    @app.get("/api/v1/event-codes")
    async def event_codes(request: Request) -> Response:
        async def produce() -> tuple[bytes, int]:
            if not authorised(request):
                return _error(401, "UNAUTHORIZED", "thiếu hoặc sai X-Api-Key")
            return json.dumps({"event_codes": list(EVENT_CODES)}).encode(), 200

        return await faulty_json(injector, None, produce)

    @app.get("/sandbox/stats")
    async def stats() -> dict[str, Any]:
        with lock:
            by_event = {code: counts[code] for code in EVENT_CODES if counts[code]}
            return {"held": {"notifications": len(held)}, "by_event": by_event, "refused": counts["refused"],
                    "duplicates": counts["duplicates"]}  # fmt: skip

    @app.get("/sandbox/notifications")
    async def notifications() -> list[dict[str, Any]]:
        with lock:
            return [known["body"] for known in held.values()]

    @app.get("/sandbox/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _held_reply(known: dict[str, Any]) -> dict[str, Any]:
    return {
        "idempotency_key": known["body"]["idempotency_key"],
        "notification_id": known["notification_id"],
        "accepted_at": known["accepted_at"],
    }


def double(context: DoubleContext) -> FastAPI:
    """The runner's iHaNoi: a few citizens of the day have no account (their notifications are refused)."""
    return create_app(context.credentials["token"], unregistered_share=UNREGISTERED_SHARE, seed=context.seed)
