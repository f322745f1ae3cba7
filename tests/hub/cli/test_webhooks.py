"""``callback_receiver``: the demo's ``hub webhooks serve`` process, with a sandbox carrier calling it back."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from hub.cli.webhooks import callback_receiver
from hub.store import HubStore
from hub.store.postal import PostalOrders
from signing.pki import DevPki
from tests.support.postal_sandboxes import USERNAME, VIETTEL_POST, WEBHOOK_SECRET, order_request

pytestmark = pytest.mark.timeout(600)
SECRET = "receiver-cli-pw"


def test_the_receiver_process_keeps_what_the_carrier_calls_back_and_stops_after(
    tmp_path: Path, dev_pki: DevPki
) -> None:
    sandbox = VIETTEL_POST.start(tmp_path, dev_pki, SECRET)
    store_url = f"sqlite:///{tmp_path / 'hub.db'}"
    host = sandbox.url.removeprefix("http://")
    connection = f"http://{quote(USERNAME, safe='')}:{SECRET}@{host}?webhook_token={WEBHOOK_SECRET}"
    env = {**os.environ, "HUB_STORE_URL": store_url, "AIRFLOW_CONN_VIETTEL_POST": connection}
    client = VIETTEL_POST.connect(sandbox, dev_pki, SECRET)
    try:
        placed = client.create_order(order_request(1))
        with callback_receiver(env, {"viettel_post": {"url": sandbox.url}}, ["viettel_post"]) as url:
            assert sandbox.get("/sandbox/webhook")["receiver"] == url
            sent = sandbox.advance(24 * 4)
            client.track([placed.order_id])  # and the replay of the whole history
        assert sent["delivered"] > 0
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{url}/health", timeout=2)  # the process is gone
    finally:
        client.close()
        sandbox.server.stop()
    store = HubStore(store_url)
    kept = PostalOrders(store).events_of("viettel_post", [placed.order_id])[placed.order_id]
    assert len(kept) >= sent["delivered"] and {e.status_code for e in kept} >= {"100"}
    store.db.engine.dispose()
