"""Fetching a day's transactions from the double and settling the open ones with QUERY."""

from __future__ import annotations

from datetime import date

import pytest

from adapters.payment_platform.client import PaymentClient
from adapters.settings import TransportSettings
from adapters.transport import HttpTransport
from hub.jobs.payments import fetch_platform_payments
from hub.store import PaymentRecords, store_for
from sandbox.payment_platform.app import create_app, day_transactions
from sandbox.server import serve_in_thread

DAY = date(2026, 11, 20)


def test_the_days_list_is_stored_and_the_open_transactions_settled(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    monkeypatch.setenv("HUB_STORE_URL", url)
    transactions, injected = day_transactions(DAY, 0.05, 7)
    with serve_in_thread(create_app("HNI-TTHC", "secret-3a", transactions)) as server:
        transport = HttpTransport("payment_platform", TransportSettings(base_url=server.url))
        client = PaymentClient(transport, "HNI-TTHC", "secret-3a")
        counts = fetch_platform_payments(client, DAY.isoformat())
        again = fetch_platform_payments(client, DAY.isoformat())
    assert counts["transactions"] == len(transactions) and counts["days_fetched"] == 1
    assert (counts["queried"], counts["settled"], counts["query_failed"]) == (2, 2, 0)  # the two "pending"
    # fetched after the day ended, its list is final: the second run reads nothing again
    assert (again["days_kept"], again["days_fetched"], again["queried"]) == (1, 0, 0)
    kept = PaymentRecords(store_for(url)).of_days(DAY, DAY)
    states = {tx.dossier_no: tx.state for tx in kept}
    assert all(states[no] == "1" for no, kind in injected.items() if kind in ("pending", "amount_differs", "unclaimed"))
    assert [kind for no, kind in injected.items() if states.get(no) == "4"] == ["failed"]
