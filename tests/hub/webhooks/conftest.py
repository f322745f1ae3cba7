"""The receiver over real sockets, on the test store (SQLite and, when available, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hub.store import HubStore
from hub.webhooks.app import create_app
from sandbox.server import RunningServer, serve_in_thread
from tests.support.callback_receiver import callback_carriers


@pytest.fixture
def receiver(store: HubStore) -> Iterator[tuple[RunningServer, HubStore]]:
    with serve_in_thread(create_app(store, callback_carriers())) as server:
        yield server, store
