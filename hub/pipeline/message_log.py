"""Turn the transport's exchange reports into message-log entries.

The log is evidence (``signing.evidence``): it keeps the exact bytes exchanged -- already
stripped of session tokens and passwords by the transport, but otherwise byte for byte, citizen
IDs and phone numbers included, because evidence must be exact -- with their digests, the
detached JWS signature headers sent and received, and how the call went. The store derives the
signer certificates from the signatures' ``x5c`` chains. Nothing here logs a body.
"""

from __future__ import annotations

import hashlib

from adapters.exchange import Exchange
from hub.store import MessageLogEntry

OUTBOUND = "out"


class ExchangeRecorder:
    """An exchange hook that buffers entries so a batch is appended to the log in one transaction.

    Bodies are held in memory until the batch ends: a portal batch is at most a few megabytes,
    and one append per batch (one lock, one commit) is what keeps the chained log cheap.
    """

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
                method=exchange.method,
                url=exchange.url,
                attempt=exchange.attempt,
                redacted=exchange.redacted,
                request_body=exchange.request_body,
                response_body=response,
                request_signature=exchange.request_signature,
                response_signature=exchange.response_signature,
            )
        )
