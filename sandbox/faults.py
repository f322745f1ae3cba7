"""Fault injection shared by every partner simulator: latency, HTTP 503s, hung calls, truncated
replies, short sessions -- and the ``/sandbox/faults`` endpoints that set them at run time.

The hub's adapters must survive what real partners and LGSP gateways do: answer slowly, answer 503
under load, hang past the client's timeout, send a reply cut short, and expire sessions early.
One injector serves every simulator, so all partners misbehave the same way and the adapter
conformance suite can provoke each fault on each of them with the same request. The RNG is
seeded so a failing test replays the same sequence of faults.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal, Protocol

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from sandbox.signatures import PartnerSigning, signed_response

__all__ = [
    "UNAVAILABLE",
    "FaultConfig",
    "FaultControl",
    "FaultDecision",
    "FaultInjector",
    "faulty_json",
    "mount_fault_control",
    "truncate",
]

UNAVAILABLE = {"error": "service_unavailable", "message": "Hệ thống đang quá tải hoặc bảo trì, vui lòng thử lại sau"}


@dataclass(frozen=True)
class FaultConfig:
    """What to inject. Rates are probabilities per call in ``[0, 1]``.

    - ``latency_ms``: added to every ``/auth`` and ``/service`` call.
    - ``error_rate``: share of those calls answered HTTP 503 without doing anything.
    - ``timeout_rate``: share of those calls that do their work and then sleep ``timeout_s`` before
      answering: the client gives up, yet the effect happened (the nasty case for idempotency).
    - ``timeout_s``: how long a "timeout" sleeps; set it above the client's read timeout.
    - ``malformed_rate``: share of those calls that do their work and answer a body cut in half
      (what a crashing serializer or a proxy truncating large bodies produces). A JSON partner
      signs the cut body, as its signing layer signs whatever the serializer gave it, so the hub
      meets a trusted reply it cannot parse: a contract violation, not a signature failure.
    - ``session_ttl_s``: session lifetime; applies to sessions already issued too, so a test can
      expire every session at once by setting it to 0.
    - ``fail_next``: the next N ``/service`` calls answer HTTP 503 (counts down; deterministic).
    - ``seed``: seed of the RNG behind ``error_rate`` / ``timeout_rate`` (re-seeded when set).
    """

    latency_ms: int = 0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_s: float = 5.0
    session_ttl_s: float = 1800.0
    fail_next: int = 0
    malformed_rate: float = 0.0
    seed: int | None = 0

    def validated(self) -> FaultConfig:
        """Return self, or raise ``ValueError`` naming the first out-of-range option."""
        if not isinstance(self.latency_ms, int) or isinstance(self.latency_ms, bool) or self.latency_ms < 0:
            raise ValueError("latency_ms must be a non-negative integer")
        for name in ("error_rate", "timeout_rate", "malformed_rate"):
            value = getattr(self, name)
            if not _is_number(value) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a number between 0 and 1")
        for name in ("timeout_s", "session_ttl_s"):
            value = getattr(self, name)
            if not _is_number(value) or value < 0:
                raise ValueError(f"{name} must be a non-negative number")
        if not isinstance(self.fail_next, int) or isinstance(self.fail_next, bool) or self.fail_next < 0:
            raise ValueError("fail_next must be a non-negative integer")
        if self.seed is not None and (not isinstance(self.seed, int) or isinstance(self.seed, bool)):
            raise ValueError("seed must be an integer or null")
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def field_names(cls) -> set[str]:
        return {f.name for f in fields(cls)}


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


FaultDecision = Literal["ok", "error", "timeout", "malformed"]


class FaultInjector:
    """Thread-safe holder of the current :class:`FaultConfig` and its RNG."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self._config = (config or FaultConfig()).validated()
        self._rng = random.Random(self._config.seed)
        self._fail_next = self._config.fail_next

    @property
    def config(self) -> FaultConfig:
        with self._lock:
            return replace(self._config, fail_next=self._fail_next)

    def update(self, changes: dict[str, Any]) -> FaultConfig:
        """Apply a partial update (keys of :class:`FaultConfig`); unknown keys raise ``ValueError``."""
        unknown = set(changes) - FaultConfig.field_names()
        if unknown:
            raise ValueError(f"unknown fault option(s): {', '.join(sorted(unknown))}")
        with self._lock:
            base = replace(self._config, fail_next=self._fail_next)
            new = replace(base, **changes).validated()
            self._config = new
            self._fail_next = new.fail_next
            if "seed" in changes:
                self._rng = random.Random(new.seed)
            return new

    def decide(self, *, service_call: bool) -> tuple[FaultDecision, float, float]:
        """Decide the fate of one call: (decision, latency seconds, timeout seconds).

        ``fail_next`` only counts ``/service`` calls (``service_call=True``) so a test can log in
        and then make exactly the next N business calls fail.
        """
        with self._lock:
            cfg = self._config
            latency = cfg.latency_ms / 1000.0
            if service_call and self._fail_next > 0:
                self._fail_next -= 1
                return "error", latency, cfg.timeout_s
            if cfg.error_rate and self._rng.random() < cfg.error_rate:
                return "error", latency, cfg.timeout_s
            if cfg.timeout_rate and self._rng.random() < cfg.timeout_rate:
                return "timeout", latency, cfg.timeout_s
            if cfg.malformed_rate and self._rng.random() < cfg.malformed_rate:
                return "malformed", latency, cfg.timeout_s
            return "ok", latency, cfg.timeout_s

    def session_ttl_s(self) -> float:
        with self._lock:
            return self._config.session_ttl_s

    def snapshot(self) -> dict[str, Any]:
        return self.config.to_dict()


def truncate(body: bytes) -> bytes:
    """A reply cut in the middle (never empty, so it is a broken body rather than no body)."""
    return body[: max(len(body) // 2, 1)]


async def faulty_json(
    injector: FaultInjector,
    signing: PartnerSigning | None,
    produce: Callable[[], Awaitable[tuple[bytes, int]]],
    *,
    service_call: bool = True,
    on_fault: Callable[[str], None] | None = None,
) -> Response:
    """Answer one call of a JSON simulator through the injector: wait the latency, answer HTTP 503
    without doing the work, or ``produce()`` the reply (body, status) and then cut it short or hold
    it past the client's timeout; sign what is finally sent. ``on_fault`` counts faults served
    (``http_503``, ``timeout``, ``malformed``) for simulators that report them."""
    decision, latency, hang = injector.decide(service_call=service_call)
    if latency:
        await asyncio.sleep(latency)
    if decision == "error":
        if on_fault is not None:
            on_fault("http_503")
        return signed_response(signing, json.dumps(UNAVAILABLE, ensure_ascii=False).encode(), 503)
    body, status = await produce()
    if decision == "malformed":
        body = truncate(body)
    if decision in ("timeout", "malformed") and on_fault is not None:
        on_fault(decision)
    if decision == "timeout":
        await asyncio.sleep(hang)  # the work is done, but the answer comes too late for the client
    return signed_response(signing, body, status)


class FaultControl(Protocol):
    """What ``/sandbox/faults`` drives: :class:`FaultInjector`, or a simulator's extension of it."""

    def update(self, changes: dict[str, Any]) -> Any: ...

    def snapshot(self) -> dict[str, Any]: ...


def mount_fault_control(app: FastAPI, control: FaultControl) -> None:
    """``GET|POST /sandbox/faults``: read the fault settings, or change some of them (400 naming the
    first bad option; nothing changes then)."""

    @app.get("/sandbox/faults")
    async def get_faults() -> JSONResponse:
        return JSONResponse(control.snapshot())

    @app.post("/sandbox/faults")
    async def set_faults(request: Request) -> JSONResponse:
        try:
            changes = json.loads(await request.body() or b"{}")
            if not isinstance(changes, dict):
                raise ValueError("body must be a JSON object of fault options")
            control.update(changes)
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": "bad_request", "message": str(exc)}, status_code=400)
        return JSONResponse(control.snapshot())
