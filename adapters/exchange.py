"""What the transport reports about every request/reply, so the hub can keep its message log.

The transport knows nothing about the hub store: it calls an ``ExchangeHook`` once per attempt
that reached the network (a call refused by the open circuit breaker is not an exchange), after
classifying the outcome and before raising or returning. The hook runs in the caller's thread;
an exception from it propagates to the caller, because an exchange the log failed to keep must
not pass silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Outcome = Literal["ok", "retryable", "permanent", "contract_violation"]


@dataclass(frozen=True, slots=True)
class Exchange:
    """One attempt of one call.

    ``request_body``/``response_body`` are the bytes on the wire, except that the values of
    secret top-level JSON keys (session, password) are replaced; ``redacted`` says whether that
    happened. Headers are never reported (they carry bearer tokens), except the signature
    headers, which are evidence: ``request_signature``/``response_signature`` hold the detached
    JWS sent with the request and received with the reply, when there was one.
    """

    exchange_id: str
    partner: str
    operation: str
    method: str
    url: str
    attempt: int
    record_count: int
    request_body: bytes
    response_body: bytes | None
    status: int | None
    outcome: Outcome
    error: str | None
    started_at: datetime
    duration_ms: float
    redacted: bool
    request_signature: str | None = None
    response_signature: str | None = None


ExchangeHook = Callable[[Exchange], None]
