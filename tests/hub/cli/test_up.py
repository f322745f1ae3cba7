"""`make up` as the service center's data engineer and a ministry officer meet it: started headless,
driven by a real browser (headless Debian Chromium), then stopped with Ctrl-C.

One deployment for the module (start-up costs a minute or two): a login page in front of the UI
and the REST API, the DAG list and the `national_portal_sync` grid after logging in, a run
triggered from the UI's Trigger dialog that succeeds (recorded as the user who triggered it, not
"Anonymous"), a read-only `ministry` account, Connections stored with their secrets masked,
nothing listening beyond 127.0.0.1, and Ctrl-C leaving no process behind (the fixture's teardown).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests

from adapters.partners import partner_ids
from hub.paths import REPO_ROOT
from hub.processes import free_port, tail
from tests.support.chromium import Browser, chromium_binary

pytestmark = pytest.mark.timeout(1500)

START_TIMEOUT_S = 600
RUN_TIMEOUT_S = 900
EXTRACT_DAG = "city_dossiers_extract"
SYNC_DAG = "national_portal_sync"
HANOI = timezone(timedelta(hours=7))
TRIGGER_BUTTONS = "[...document.querySelectorAll({scope})].filter(b => b.innerText.trim() === 'Trigger')"


@dataclass
class Deployment:
    base_url: str
    var: Path
    process: subprocess.Popen
    output: Path

    @property
    def passwords(self) -> dict[str, str]:
        return json.loads((self.var / "up" / "passwords.json").read_text(encoding="utf-8"))

    def token(self, user: str) -> str:
        reply = requests.post(
            f"{self.base_url}/auth/token", json={"username": user, "password": self.passwords[user]}, timeout=30
        )
        assert reply.status_code == 201, reply.text
        return reply.json()["access_token"]

    def api(self, method: str, path: str, user: str = "admin", **kwargs: object) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token(user)}"}
        return requests.request(method, f"{self.base_url}/api/v2{path}", headers=headers, timeout=60, **kwargs)

    def processes(self) -> list[psutil.Process]:
        """`make up` and everything it started (uv, hub, the sandbox, every Airflow service and worker)."""
        root = psutil.Process(self.process.pid)
        return [root, *root.children(recursive=True)]


def _clean_environment(var: Path) -> dict[str, str]:
    """The operator's shell: none of the test session's Airflow or hub settings, a fresh var/.

    Cron schedules are off (``use_job_schedule``, which ``hub up`` leaves to the environment) so
    that on a small CI machine the runs the test triggers are not queued behind a day's worth of
    scheduled ones; asset-triggered runs still follow.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "HUB_"))}
    return {**env, "HUB_VAR_DIR": str(var), "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False"}


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """`make up` on a free port with a fresh var/; at the end, Ctrl-C -- which must stop every
    process it started (checked here, at teardown, whatever order the tests ran in)."""
    chromium_binary()  # skip (or fail in CI) before starting anything
    var = tmp_path_factory.mktemp("make-up")
    port = free_port()
    output = var / "make-up.out"
    with open(output, "wb") as out:
        process = subprocess.Popen(
            ["make", "--no-print-directory", "up", f"UP_PORT={port}", "SCALE=0.01"],
            cwd=REPO_ROOT, env=_clean_environment(var), stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    up = Deployment(f"http://127.0.0.1:{port}", var, process, output)
    started: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while "Airflow is up" not in output.read_text(errors="replace"):
            assert process.poll() is None, f"make up exited with {process.returncode}:\n{tail(output, 40)}"
            assert time.monotonic() < deadline, f"make up not ready after {START_TIMEOUT_S}s:\n{tail(output, 40)}"
            time.sleep(2)
        yield up
        started = up.processes()
        assert len(started) >= 8  # make, uv, hub, the sandbox, four Airflow services (and their children)
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends to the terminal's foreground group
        process.wait(300)
        _, alive = psutil.wait_procs(started, timeout=60)
        assert not alive, f"still running after Ctrl-C: {[_described(p) for p in alive]}"
        assert "Stopped." in output.read_text()
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{up.base_url}/api/v2/monitor/health", timeout=5)
    finally:
        for leftover in started or (up.processes() if process.poll() is None else []):
            with contextlib.suppress(psutil.NoSuchProcess):
                leftover.kill()


def _described(process: psutil.Process) -> str:
    with contextlib.suppress(psutil.Error):
        return f"{process.pid} {' '.join(process.cmdline())[:200]}"
    return str(process.pid)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    # A browser whose clock is UTC, as on a server or CI workstation: the UI still shows Hanoi
    # time (plugins/ui_timezone.py presets Airflow's default_timezone).
    with Browser(chromium_binary(), tmp_path / "profile", timezone="UTC") as b:
        yield b


def log_in(browser: Browser, up: Deployment, path: str, user: str) -> None:
    browser.open(f"{up.base_url}{path}")
    browser.type_into("input[name=username]", user)
    browser.type_into("input[name=password]", up.passwords[user])
    browser.click("button[type=submit]")


def test_the_api_refuses_anonymous_and_wrong_credentials(deployment: Deployment) -> None:
    assert requests.get(f"{deployment.base_url}/api/v2/dags", timeout=30).status_code == 401
    wrong = {"username": "admin", "password": "admin"}
    assert requests.post(f"{deployment.base_url}/auth/token", json=wrong, timeout=30).status_code == 401
    assert requests.get(f"{deployment.base_url}/auth/token", timeout=30).status_code == 403  # no all-admins token


def test_secrets_and_passwords_are_private_files(deployment: Deployment) -> None:
    up = deployment.var / "up"
    for name in ("secrets.json", "passwords.json"):
        assert (up / name).stat().st_mode & 0o777 == 0o600, name
    assert set(deployment.passwords) == {"admin", "ministry"}
    assert "Log in as admin or ministry" in deployment.output.read_text()


def test_nothing_listens_beyond_loopback(deployment: Deployment) -> None:
    pids = {p.pid for p in deployment.processes()}
    listening = [c for c in psutil.net_connections("inet") if c.status == psutil.CONN_LISTEN and c.pid in pids]
    assert len(listening) >= 1 + len(partner_ids())  # the API server and every sandbox partner at least
    assert {c.laddr.ip for c in listening} <= {"127.0.0.1", "::1"}, listening


def test_connections_are_in_the_ui_with_secrets_masked(deployment: Deployment) -> None:
    reply = deployment.api("GET", "/connections", params={"limit": 100})
    assert reply.status_code == 200, reply.text
    stored = {c["connection_id"]: c for c in reply.json()["connections"]}
    assert set(stored) == set(partner_ids())
    state = json.loads((deployment.var / "sandbox" / "state.json").read_text(encoding="utf-8"))
    assert stored["national_portal"]["password"] == "***"
    assert state["national_portal"]["password"] not in json.dumps(stored)
    assert stored["vnpost"]["extra"] and state["vnpost"]["callback_secret"] not in stored["vnpost"]["extra"]


def test_ministry_staff_read_but_cannot_trigger(deployment: Deployment) -> None:
    assert deployment.api("GET", f"/dags/{SYNC_DAG}", user="ministry").status_code == 200
    refused = deployment.api("POST", f"/dags/{SYNC_DAG}/dagRuns", user="ministry", json={"logical_date": None})
    assert refused.status_code == 403
    assert deployment.api("GET", "/connections", user="ministry").status_code == 403


def new_manual_runs(up: Deployment, dag_id: str, before: set[str]) -> list[dict[str, Any]]:
    runs = up.api("GET", f"/dags/{dag_id}/dagRuns").json()["dag_runs"]
    return [r for r in runs if r["dag_run_id"] not in before and r["run_type"] == "manual"]


def wait_for_run(up: Deployment, dag_id: str, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while (run := up.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}").json())["state"] not in ("success", "failed"):
        assert time.monotonic() < deadline, f"{dag_id} run {run_id} not finished after {RUN_TIMEOUT_S}s: {run}"
        time.sleep(5)
    tasks = up.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances").json()["task_instances"]
    assert run["state"] == "success", {t["task_id"]: t["state"] for t in tasks}
    assert {t["state"] for t in tasks} <= {"success", "skipped"}
    return run


def test_log_in_see_the_dags_and_trigger_a_sync_from_the_grid(deployment: Deployment, browser: Browser) -> None:
    # Yesterday's extract, through the REST API as a script would: its task reads the city_system
    # Connection from the metadata DB and authenticates to the Execution API with the shared secret.
    # The logical date closing the interval: the timetable infers [yesterday, today) from it.
    today = datetime.now(HANOI).date()
    body = {"dag_run_id": f"ui_test__{today}", "logical_date": f"{today}T00:00:00+07:00"}
    reply = deployment.api("POST", f"/dags/{EXTRACT_DAG}/dagRuns", json=body)
    assert reply.status_code == 200, reply.text

    log_in(browser, deployment, "/dags", "admin")
    browser.wait_for_text(SYNC_DAG, timeout_s=120)
    assert EXTRACT_DAG in browser.text()
    assert "+07:00" in browser.text()  # the header's clock: Hanoi time, though the browser's is UTC
    wait_for_run(deployment, EXTRACT_DAG, body["dag_run_id"])

    browser.open(f"{deployment.base_url}/dags/{SYNC_DAG}")
    for task in ("plan", "deliver_dossiers", "summarize"):
        browser.wait_for_text(task, timeout_s=120)
    before = {r["dag_run_id"] for r in deployment.api("GET", f"/dags/{SYNC_DAG}/dagRuns").json()["dag_runs"]}
    browser.evaluate(f"{TRIGGER_BUTTONS.format(scope=json.dumps('button'))}[0].click()")
    dialog_button = TRIGGER_BUTTONS.format(scope=json.dumps("[role=dialog] button"))
    browser.wait_for("the Trigger dialog", f"{dialog_button}.length > 0")
    browser.evaluate(f"{dialog_button}.pop().click()")
    deadline = time.monotonic() + 60
    while not (ours := new_manual_runs(deployment, SYNC_DAG, before)):
        assert time.monotonic() < deadline, "clicking Trigger in the dialog created no run"
        time.sleep(1)
    assert len(ours) == 1, ours
    assert ours[0]["triggering_user_name"] == "admin"  # not "Anonymous"
    run = wait_for_run(deployment, SYNC_DAG, ours[0]["dag_run_id"])
    path = f"/dags/{SYNC_DAG}/dagRuns/{run['dag_run_id']}/taskInstances/summarize/xcomEntries/return_value"
    value = deployment.api("GET", path).json()["value"]
    summary = json.loads(value) if isinstance(value, str) else value
    counts = summary["counts"]
    assert counts["delivered"] > 0
    assert counts["extracted"] == sum(counts[k] for k in ("delivered", "quarantined", "pending", "out_of_scope"))
