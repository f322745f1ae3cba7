"""``hub webhooks serve`` as an operator starts it: its own process, carrier secrets (and, with
``--vbdlis``, the land system's security code) from the same ``AIRFLOW_CONN_*`` Connections the
DAGs use, callbacks into the configured hub store."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from bench.postal import viettel_callback, vnpost_callback
from hub.store import HubStore, MinistryCallbacks
from hub.store.postal import PostalOrders
from mappings.dossier import VN_TZ
from signing.pki import DevPki

pytestmark = pytest.mark.timeout(180)

SECRET = "serve-callback-secret"
GOLDEN = Path(__file__).parents[2] / "adapters" / "land_registration" / "golden" / "callbacks"
AT = datetime(2026, 11, 21, 9, 30, tzinfo=VN_TZ)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_receiver_process_stores_authentic_callbacks_and_refuses_forged_ones(
    tmp_path: Path, dev_pki: DevPki
) -> None:
    store_url = f"sqlite:///{tmp_path / 'hub.db'}"
    port = _free_port()
    env = {
        **os.environ,
        "HUB_STORE_URL": store_url,
        # Where the carriers' APIs are does not matter here: the receiver never calls them.
        "AIRFLOW_CONN_VNPOST": f"http://hub-lgsp:{quote('lgsp-secret')}@127.0.0.1:9?customer_code=HNI-TTHC"
        f"&item_code_range=RH10000000-RH10000999&callback_secret={SECRET}",
        "AIRFLOW_CONN_VIETTEL_POST": f"http://hub%40viettelpost:pw@127.0.0.1:9?webhook_token={SECRET}",
        "AIRFLOW_CONN_LAND_REGISTRATION": f"http://:vbdlis-token@127.0.0.1:9?callback_security_code={SECRET}",
    }
    command = [sys.executable, "-m", "hub.cli", "webhooks", "serve", "--host", "127.0.0.1", "--port", str(port)]
    command.append("--vbdlis")
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{base}/health", timeout=1).json()["carriers"] == ["viettel_post", "vnpost"]:
                    break
            except requests.RequestException:
                pass
            assert process.poll() is None and time.monotonic() < deadline, (
                process.stdout.read() if process.stdout else ""
            )
            time.sleep(0.5)

        body, headers = vnpost_callback("000.00.60.H26-261120-0001", "100", AT, SECRET)
        assert requests.post(f"{base}/webhooks/vnpost", data=body, headers=headers, timeout=10).status_code == 200
        body, _ = viettel_callback("1000001", "501", AT, SECRET)
        assert requests.post(f"{base}/webhooks/viettel_post", data=body, timeout=10).status_code == 200
        forged, _ = viettel_callback("1000002", "501", AT, "guessed")
        assert requests.post(f"{base}/webhooks/viettel_post", data=forged, timeout=10).status_code == 401
        ended = json.loads((GOLDEN / "02-ketthuchoso.json").read_text(encoding="utf-8"))["request"]
        for code, status in ((SECRET, 200), ("guessed", 401)):
            reply = requests.post(f"{base}/webhooks/vbdlis/KetThucHoSo/{code}", json=ended, timeout=10)
            assert reply.status_code == status
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    store = HubStore(store_url)
    assert PostalOrders(store).count_events() == 2
    assert MinistryCallbacks(store).count("land_registration") == 1
    assert SECRET not in output
    store.db.engine.dispose()
