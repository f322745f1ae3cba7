"""Turn the transport's exchange reports into message-log entries, durable before the next call.

The log is evidence (``signing.evidence``): it keeps the exact bytes exchanged -- already
stripped of session tokens and passwords by the transport, but otherwise byte for byte, citizen
IDs and phone numbers included, because evidence must be exact -- with their digests, the
detached JWS signature headers sent and received, and how the call went. The store derives the
signer certificates from the signatures' ``x5c`` chains. Nothing here logs a body.

Why write-ahead: a partner acts on a request when it arrives, not when the hub logs the reply.
Buffering a batch's exchanges until the batch ended meant that a process killed after the portal
had answered seven calls left those seven out of the log for good. Now each request is committed
as an intent before it leaves and its exchange is chained as soon as it returns, so after a kill
anywhere the log holds every request a partner may have acted on; :func:`recover_orphans` chains
a dead process's intents with outcome "unknown" and the owning flow resolves them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence
from datetime import datetime

from adapters import partners
from adapters.exchange import Exchange
from hub.store import MessageLogEntry, OpenIntent
from hub.store.message_log import MessageLog
from hub.store.work_queue import LEASE

log = logging.getLogger(__name__)

OUTBOUND = "out"
ORPHAN_ERROR = "no reply recorded: the process that sent this request ended before logging its reply"
SAFE = frozenset({"GET", "HEAD"})
SAFE_RESOLUTION = "a {method} request reads and changes nothing at the partner (a safe method, RFC 9110)"
READ_ONLY_RESOLUTION = (
    "a {method} {operation} to {partner}, a partner the hub only reads from (read_only, adapters/partners.py): "
    "every call there is a query, so it changed nothing"
)


def log_entry(exchange: Exchange, batch_id: str | None) -> MessageLogEntry:
    """The log entry of one exchange report (before sending: the request side only)."""
    response = exchange.response_body
    return MessageLogEntry(
        exchange_id=exchange.exchange_id,
        partner=exchange.partner,
        operation=exchange.operation,
        direction=OUTBOUND,
        batch_id=batch_id,
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


def process_owner() -> str:
    """``host:pid`` of this process: what an intent records so a later run can tell if its sender lives."""
    return f"{socket.gethostname()}:{os.getpid()}"


class DurableRecorder:
    """The transport's two hooks for one block of calls: ``sending`` commits the request as an
    intent before it leaves, together with the exchanges that returned since the last request
    (chained, their intents dropped) -- one commit per call, and every exchange in the log before
    the next request goes out; ``flush`` chains the last ones when the block ends. At most the
    exchanges of the calls in flight are held, so memory does not grow with the block.

    A process killed between a reply and the next request leaves that exchange as an intent: the
    next run chains it as "unknown" and resolves it, as it would a call killed in flight.
    Sealing stays per block (one signature over the Merkle root of what was appended): the seal
    is what costs, the commits are small.
    """

    def __init__(
        self,
        message_log: MessageLog,
        batch_id: str | None,
        observe: Callable[[Sequence[MessageLogEntry]], None] | None = None,
    ) -> None:
        self.message_log = message_log
        self.batch_id = batch_id
        self.observe = observe
        self.owner = process_owner()
        self._batch_noted = False  # which dossiers the batch carries is noted with its first entry
        self._returned: list[MessageLogEntry] = []  # exchanges back since the last request went out
        self._lock = threading.Lock()  # a block may call from several threads (population: 4 in flight)
        self.answered: dict[str, str] = {}  # operation -> the first exchange of it answered ok

    def sending(self, exchange: Exchange) -> None:
        with self._lock:
            returned, self._returned = self._returned, []
            self.message_log.open_intent(
                log_entry(exchange, self.batch_id),
                self.owner,
                finished=returned,
                snapshot_batches=not self._batch_noted,
            )
            self._batch_noted = self._batch_noted or bool(returned)

    def flush(self) -> None:
        """Chain the exchanges that returned after the last request of the block."""
        with self._lock:
            returned, self._returned = self._returned, []
            if returned:
                self.message_log.append(returned, snapshot_batches=not self._batch_noted)
                self._batch_noted = True

    def finished(self, exchange: Exchange) -> None:
        entry = log_entry(exchange, self.batch_id)
        with self._lock:
            self._returned.append(entry)
        if entry.outcome == "ok":
            self.answered.setdefault(entry.operation, entry.exchange_id)
        if self.observe is not None:
            self.observe([entry])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def is_orphaned(intent: OpenIntent, now: datetime) -> bool:
    """Whether an intent's sender is gone: on this host, its process no longer exists; from
    another host (a Celery worker elsewhere), the work queue's lease has run out since it was sent
    -- the same presumption of death that makes a claimed batch due again."""
    host, _, pid = intent.owner.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        return not _alive(int(pid))
    return now - intent.started_at > LEASE


def changed_nothing(intent: OpenIntent) -> str | None:
    """Why a request whose reply was lost changed nothing at its partner, or None when it may have.

    Such a request's outcome matters to no one, so it is resolved as soon as it is chained: a safe
    method (RFC 9110 section 9.2.1), or any call to a partner the hub only reads from -- the
    population register's lookups are POSTs (SOAP in the LGSP envelope) but queries all the same.
    """
    if intent.method in SAFE:
        return SAFE_RESOLUTION.format(method=intent.method)
    registered = partners.find(intent.partner)
    if registered is not None and registered.read_only:
        return READ_ONLY_RESOLUTION.format(method=intent.method, operation=intent.operation, partner=intent.partner)
    return None


def recover_orphans(message_log: MessageLog, partner: str, now: datetime) -> int:
    """Chain, with outcome "unknown", the requests to ``partner`` whose sending process died
    before their reply was logged -- on this host, or elsewhere with its lease timed out; returns
    how many. Run before a new block of calls to it. This is where every unknown outcome is created,
    so the ones that changed nothing (:func:`changed_nothing`) are resolved here, at once."""
    orphans = [i for i in message_log.open_intents(partner) if i.state == "sending" and is_orphaned(i, now)]
    recovered = len(message_log.mark_unknown([i.exchange_id for i in orphans], ORPHAN_ERROR))
    message_log.resolve({i.exchange_id: why for i in orphans if (why := changed_nothing(i)) is not None})
    if recovered:
        log.warning(
            "%s: %d requests sent by a process that died before logging their replies are now in the "
            "message log with outcome unknown; the flow resolves them",
            partner,
            recovered,
        )
    return recovered


def resolve_by_resend(message_log: MessageLog, partner: str, recorder: DurableRecorder) -> int:
    """Resolve the unknown outcomes of ``recorder``'s batch that its block resent successfully.

    A work queue hands a retried batch the same unsettled items and every partner answers a repeat
    idempotently, so an unknown call of the batch is settled when the retried block made the same
    operation and the partner answered it. The generic resolution for partners whose flow has no
    lookup of its own; a flow that can look (the portal's ``TraCuuHoSo``) resolves first.
    """
    if recorder.batch_id is None:
        return 0
    resolutions = {
        intent.exchange_id: f"idempotent resend: the retried batch's {intent.operation} call "
        f"{recorder.answered[intent.operation]} was answered"
        for intent in message_log.unknown_outcomes(partner)
        if intent.batch_id == recorder.batch_id and intent.operation in recorder.answered
    }
    return message_log.resolve(resolutions)
