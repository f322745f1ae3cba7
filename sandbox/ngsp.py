"""What every ministry double reached through the NGSP/LGSP gateway shares: the gateway's checks
before any business logic, the shared fault injector, signed replies and call counts.

Real gateways check the bearer token and the caller's address against an allow-list (agencies
register their egress addresses) before the ministry sees the call: public guides list the codes
100 AUTHEN_ERROR and 101 IP_DISALLOWED for every ministry service (docs/interfaces.md 7.1). They
answer in HTTP 200 with the ministry's own error shape, which each double gives here as
``error(code, message) -> dict``; only injected faults are HTTP 503 (``sandbox.faults``).

A handler receives the call's values (query parameters for GET, the JSON body for POST) and
returns the reply, or raises :class:`Refused` with the ministry's code and message.
"""

from __future__ import annotations

import hmac
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from sandbox.faults import FaultConfig, FaultInjector, faulty_json, mount_fault_control
from sandbox.signatures import PartnerSigning, mount_signing_control

__all__ = [
    "AUTH_FAILED",
    "IP_NOT_ALLOWED",
    "LOOPBACK",
    "NgspService",
    "Refused",
    "day_param",
    "int_param",
    "required",
    "window_days",
]

AUTH_FAILED, IP_NOT_ALLOWED = "100", "101"
LOOPBACK = frozenset({"127.0.0.1", "::1"})

ErrorShape = Callable[[str, str], dict[str, Any]]
Handler = Callable[[Mapping[str, Any]], Any]


class Refused(Exception):
    """The ministry refuses the call: its error code and its (Vietnamese) message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


def _json(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


class NgspService:
    """One ministry service behind the gateway, mounted on ``app`` (its routes added with :meth:`route`)."""

    def __init__(
        self,
        app: FastAPI,
        *,
        token: str,
        error: ErrorShape,
        malformed: str,
        signing: PartnerSigning | None,
        allowed_ips: Iterable[str] = LOOPBACK,
        faults: FaultConfig = FaultConfig(),  # noqa: B008 -- frozen dataclass, safe as a default
        bearer: bool = True,
    ) -> None:
        """``bearer=False``: the service authenticates its callers itself (a session it issued,
        as the driving-licence service's ``session``), so the gateway checks only the address."""
        if bearer and not token:
            raise ValueError("a non-empty token is required")
        self._token = token.encode() if bearer else None
        self.error, self.malformed, self.signing = error, malformed, signing
        self.allowed_ips = frozenset(allowed_ips)
        self.injector = FaultInjector(faults)
        self.calls: Counter[str] = Counter()
        self.app = app
        app.state.faults = self.injector
        mount_fault_control(app, self.injector)
        mount_signing_control(app, signing)

        @app.get("/sandbox/health")
        async def health() -> dict[str, str]:
            return {"status": "ok"}

        @app.get("/sandbox/stats")
        async def stats() -> dict[str, Any]:
            return {"calls": dict(self.calls)}

    def _refusal(self, request: Request) -> Refused | None:
        bearer = request.headers.get("authorization", "")
        if self._token is not None and (
            not bearer.startswith("Bearer ") or not hmac.compare_digest(bearer[7:].encode(), self._token)
        ):
            return Refused(AUTH_FAILED, "AUTHEN_ERROR - Mã xác thực không chính xác")
        client_ip = request.client.host if request.client else None
        if client_ip not in self.allowed_ips:
            return Refused(IP_NOT_ALLOWED, f"IP_DISALLOWED - Địa chỉ IP {client_ip} không được phép truy cập")
        return None

    async def _values(self, request: Request, method: str) -> Mapping[str, Any]:
        if method == "GET":
            return dict(request.query_params)
        try:
            body = json.loads(await request.body() or b"null")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise Refused(self.malformed, f"Nội dung yêu cầu không phải JSON: {exc}") from None
        if not isinstance(body, dict):
            raise Refused(self.malformed, "Nội dung yêu cầu phải là một đối tượng JSON")
        return body

    def route(self, method: Literal["GET", "POST"], path: str, operation: str, handler: Handler) -> None:
        """Serve ``operation`` at ``path``: gateway checks, then ``handler`` in a worker thread."""

        async def endpoint(request: Request) -> Response:
            async def produce() -> tuple[bytes, int]:
                self.calls[operation] += 1
                try:
                    refused = self._refusal(request)
                    if refused is not None:
                        raise refused
                    values = await self._values(request, method)
                    return _json(await run_in_threadpool(handler, values)), 200
                except Refused as exc:
                    return _json(self.error(exc.code, exc.message)), 200

            return await faulty_json(self.injector, self.signing, produce)

        self.app.add_api_route(path, endpoint, methods=[method])


def required(values: Mapping[str, Any], name: str, code: str) -> Any:
    """A value the ministry requires (``Refused(code)`` naming it when absent or empty)."""
    value = values.get(name)
    if value is None or value == "" or value == []:
        raise Refused(code, f"Thiếu tham số {name}")
    return value


def day_param(values: Mapping[str, Any], name: str, fmt: str, code: str) -> date:
    """A required date written exactly in ``fmt`` (zero-padded, nothing before or after), as the
    ministry parses it; ``Refused(code)`` naming the expected form otherwise."""
    text = str(required(values, name, code))
    try:
        parsed = datetime.strptime(text, fmt)
        if parsed.strftime(fmt) != text:
            raise ValueError(text)
    except ValueError:
        shown = fmt.replace("%d", "dd").replace("%m", "MM").replace("%Y", "yyyy")
        raise Refused(code, f"{name} phải có định dạng {shown}, nhận được {text!r}") from None
    return parsed.date()


def window_days(first: date, last: date, most: int, code: str) -> None:
    """``Refused(code)`` for a window running backwards or longer than ``most`` days."""
    span = (last - first).days + 1
    if not 1 <= span <= most:
        raise Refused(code, f"Khoảng thời gian tra cứu tối đa {most} ngày; yêu cầu {span} ngày")


def int_param(values: Mapping[str, Any], name: str, low: int, high: int, code: str) -> int:
    """A required whole number in ``[low, high]`` (as text in a query, or a JSON number)."""
    value = required(values, name, code)
    text = str(value)
    if isinstance(value, bool) or not text.isdigit() or not low <= int(text) <= high:
        raise Refused(code, f"{name} phải là số nguyên từ {low} đến {high}, nhận được {text!r}")
    return int(text)
