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
from hub.pipeline.message_log import ExchangeRecorder
from hub.store import hub_store
from signing.config import hub_identity


class HasTransport(Protocol):
    """Any partner client: what the message log hooks into is its transport."""

    transport: HttpTransport


@contextmanager
def recorded(client: HasTransport, batch_id: str | None) -> Iterator[None]:
    """Keep every exchange the block makes in the message log, written once at the end.

    The transport is shared per process; an Airflow task owns its process, so swapping the hook
    for the task's duration cannot mix two tasks' exchanges.
    """
    recorder = ExchangeRecorder(batch_id)
    previous, client.transport.on_exchange = client.transport.on_exchange, recorder
    try:
        with correlated(batch_id=batch_id):
            yield
    finally:
        client.transport.on_exchange = previous
        # One seal per batch: a signature over the Merkle root of the entries just appended.
        hub_store().message_log.append(recorder.entries, seal=hub_identity())
        events.exchanges(recorder.entries)


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
