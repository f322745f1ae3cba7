"""The payment platform's golden messages and its double on loopback (adapter, receiver and job tests)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from mappings.dossier import VN_TZ
from sandbox.payment_platform.app import create_app
from sandbox.payment_platform.ledger import Transaction
from sandbox.server import RunningServer, serve_in_thread

GOLDEN = Path(__file__).parents[1] / "adapters" / "payment_platform" / "golden"
SECRET = "golden-secret-5c1e"  # the key every golden MaXacThuc was computed with
CODE = "HNI-TTHC"
TOKEN = "golden-bearer-0b7a"
DOSSIER = "000.00.01.H26-261120-0001"
AT = datetime(2026, 11, 20, 9, 15, tzinfo=VN_TZ)


def golden(name: str) -> dict[str, Any]:
    return json.loads((GOLDEN / name).read_text(encoding="utf-8"))


def paid_transaction() -> Transaction:
    """The golden day's paid transaction (golden ``query-01``, ``list-01``, ``confirm-01``)."""
    reference = "0000001H26261120000120261120091500"
    return Transaction(reference, DOSSIER, "1.001234", "000.00.01.H26", 70_000, AT, "1", "PP2611200000001")


@pytest.fixture
def platform() -> Iterator[Callable[..., RunningServer]]:
    """``platform(transactions=[...], receiver=None)`` -> the running double (stopped after the test)."""
    running: list[RunningServer] = []

    def start(transactions: list[Transaction] | None = None, receiver: str | None = None) -> RunningServer:
        app = create_app(CODE, SECRET, transactions or [], token=TOKEN, receiver=receiver)
        running.append(serve_in_thread(app))
        return running[-1]

    yield start
    for server in running:
        server.stop()


@pytest.fixture
def day_platform(platform: Callable[..., RunningServer]) -> Iterator[RunningServer]:
    yield platform([paid_transaction()])
