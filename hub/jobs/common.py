"""What every job module shares: the exchange recorder around a partner call and the run reports."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from adapters.transport import HttpTransport
from hub.observability import events
from hub.observability.logging import correlated
from hub.paths import var_dir
from hub.pipeline.message_log import DurableRecorder, recover_orphans, resolve_by_resend
from hub.store import hub_store
from signing.config import hub_identity


class HasTransport(Protocol):
    """Any partner client: what the message log hooks into is its transport."""

    transport: HttpTransport


@contextmanager
def recorded(client: HasTransport, batch_id: str | None) -> Iterator[None]:
    """Keep every exchange the block makes in the message log, each durable before the next call.

    First the requests of a dead process to the same partner are chained with outcome "unknown"
    (``recover_orphans``); then every request is committed as an intent before it is sent and its
    exchange chained when it returns; at the end the block's resends settle the batch's unknown
    outcomes that are left (``resolve_by_resend``) and one seal signs what was appended. The transport
    is shared per process; an Airflow task owns its process, so swapping its hooks for the task's
    duration cannot mix two tasks' exchanges.
    """
    store = hub_store()
    transport = client.transport
    recover_orphans(store.message_log, transport.partner, store.db.now())
    recorder = DurableRecorder(store.message_log, batch_id, observe=events.exchanges)
    previous = transport.on_sending, transport.on_exchange
    transport.on_sending, transport.on_exchange = recorder.sending, recorder.finished
    try:
        with correlated(batch_id=batch_id):
            yield
    finally:
        transport.on_sending, transport.on_exchange = previous
        recorder.flush()
        resolve_by_resend(store.message_log, transport.partner, recorder)
        # One seal per block: a signature over the Merkle root of the entries appended since the
        # last seal (none when nothing was appended).
        store.message_log.seal(hub_identity())


def _write_json(path: Path, value: dict[str, Any]) -> None:
    path.write_text(json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")


def write_report(kind: str, run_id: str | None, report: dict[str, Any]) -> Path:
    """Write a run's report as ``var/reports/<kind>/<run id>.json`` and as ``latest.json`` beside it."""
    folder = var_dir() / "reports" / kind
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', run_id or 'manual')}.json"
    _write_json(path, report)
    _write_json(folder / "latest.json", report)
    return path
