"""What the transport reports about every request/reply, so the hub can keep its message log.

The transport knows nothing about the hub store: it calls an ``ExchangeHook`` (``on_exchange``)
once per attempt that reached the network (a call refused by the open circuit breaker is not an
exchange), after classifying the outcome and before raising or returning. A second hook
(``on_sending``), when set, gets the same attempt just before its request leaves -- outcome
``unknown``, no response -- so the log can make the request durable first: a process killed
while waiting for the reply then leaves a trace of a request the partner may have acted on. The
hooks run in the caller's thread; an exception from either propagates to the caller (from
``on_sending``: before anything is sent), because an exchange the log failed to keep must not
pass silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

# "unknown": sent, reply not (yet) known -- the report ``on_sending`` gets.
Outcome = Literal["ok", "retryable", "permanent", "contract_violation", "unknown"]


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
