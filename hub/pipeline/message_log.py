"""Turn the transport's exchange reports into message-log entries.

The log keeps digests and sizes of the exact bytes exchanged (bodies already stripped of
session tokens and passwords by the transport), so a later dispute can be settled by hashing
the bytes either side kept.
"""

from __future__ import annotations

import hashlib

from adapters.exchange import Exchange
from hub.store import MessageLogEntry

OUTBOUND = "out"


class ExchangeRecorder:
    """An exchange hook that buffers entries so they are written in one bulk insert."""

    def __init__(self, batch_id: str | None) -> None:
        self.batch_id = batch_id
        self.entries: list[MessageLogEntry] = []

    def __call__(self, exchange: Exchange) -> None:
        response = exchange.response_body
        self.entries.append(
            MessageLogEntry(
                exchange_id=exchange.exchange_id,
                partner=exchange.partner,
                operation=exchange.operation,
                direction=OUTBOUND,
                batch_id=self.batch_id,
                record_count=exchange.record_count,
                request_digest=hashlib.sha256(exchange.request_body).hexdigest(),
                response_digest=None if response is None else hashlib.sha256(response).hexdigest(),
                request_bytes=len(exchange.request_body),
                response_bytes=None if response is None else len(response),
                http_status=exchange.status,
                outcome=exchange.outcome,
                error=exchange.error,
                started_at=exchange.started_at,
                duration_ms=exchange.duration_ms,
            )
        )
