"""The message log has no gap after a crash (``hub.jobs.common.recorded``).

A delivery of progress entries runs in a separate process against the sandbox portal over
loopback and is killed with SIGKILL in the middle of its batch (50 calls of 10 entries), while the
portal is holding the reply to a call it has already acted on. What the portal received is read
from the portal itself (its store and the request ids it answered, ``/sandbox/received``), never
from the hub.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
import sqlalchemy as sa
from typer.testing import CliRunner

from hub.store import schema as t
from sandbox.national_portal.store import PortalStore
from sandbox.server import RunningServer
from sandbox.signatures import PartnerSigning
from signing.digests import content_hash
from tests.support.portal_sync_env import city_and_portal

DAY = date(2026, 11, 20)
SCALE, SEED = 0.03, 11
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
PROGRESS = "CapNhatTienDoHoSoMC"
KILL_AFTER_CALLS = 7  # as in the finding: the portal had answered 7 calls of the batch
DELIVER = (
    "import sys; from adapters.hooks import PartnerHook; from hub.jobs.portal import deliver_portal_progress; "
    "deliver_portal_progress(PartnerHook('national_portal').get_client(), sys.argv[1])"
)


@dataclass
class Portal:
    server: RunningServer
    store: PortalStore

    def get(self, path: str, **params: str) -> dict:
        return requests.get(f"{self.server.url}{path}", params=params, timeout=5).json()

    def faults(self, **faults: float) -> None:
        requests.post(f"{self.server.url}/sandbox/faults", json=faults, timeout=5).raise_for_status()

    def calls(self) -> int:
        return self.get("/sandbox/stats")["calls"].get(PROGRESS, {}).get("total", 0)

    def received(self) -> list[str]:
        return self.get("/sandbox/received", service=PROGRESS)["request_ids"]

    def held_progress(self) -> list[tuple[str, str]]:
        """(dossier, entry hash) of every progress entry the portal's own store holds."""
        with self.store.db.read() as conn:
            return [tuple(row) for row in conn.execute("SELECT ma_ho_so, entry_hash FROM progress")]


@pytest.fixture
def portal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, partner_signing: Callable[[str], PartnerSigning]
) -> Iterator[Portal]:
    transport = {"timeout": 60, "max_attempts": 1}
    with city_and_portal(
        tmp_path, monkeypatch, partner_signing, day=DAY, scale=SCALE, seed=SEED, transport=transport
    ) as sandbox:
        yield Portal(sandbox.portal, sandbox.portal_store)


def _prepare_progress_batch() -> str:
    """Extract the day, deliver its dossiers and return the first batch of progress entries."""
    from adapters.hooks import PartnerHook
    from hub.jobs import portal as portal_jobs
    from hub.jobs.extract import extract

    start = datetime.combine(DAY, datetime.min.time(), tzinfo=HANOI)
    extract(PartnerHook("city_system").get_client(), start, start + timedelta(days=1))
    client = PartnerHook("national_portal").get_client()
    for batch in portal_jobs.plan_portal_sync():
        portal_jobs.deliver_portal_dossiers(client, batch)
    return portal_jobs.plan_portal_progress()[0]


def _wait_for(condition: Callable[[], bool], what: str, limit_s: float = 600.0) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.01)


def _kill_mid_batch(portal: Portal, batch_id: str) -> None:
    """Run the batch's delivery in a child process; once the portal has answered KILL_AFTER_CALLS
    of its calls, make it hold its next reply (the work done, the answer late) and SIGKILL the child."""
    portal.faults(latency_ms=40)  # slow enough to stop it mid-batch
    child = subprocess.Popen([sys.executable, "-c", DELIVER, batch_id], env=os.environ.copy())
    try:
        _wait_for(lambda: portal.calls() >= KILL_AFTER_CALLS, f"the portal answered {KILL_AFTER_CALLS} calls")
        portal.faults(latency_ms=0, timeout_rate=1.0, timeout_s=120)
        _wait_for(lambda: portal.get("/sandbox/stats")["faults"].get("timeout", 0) >= 1, "a reply is held back")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    portal.faults(timeout_rate=0.0)


def _logged(operation: str) -> list[tuple[str, str]]:
    """(exchange id, outcome) of every logged exchange of ``operation``, in log order."""
    from hub.store import hub_store

    return [
        (e.fields["exchange_id"], e.fields["outcome"])
        for page in hub_store().message_log.iter_log()
        for e in page
        if e.fields["operation"] == operation
    ]


def _logged_progress_entries() -> set[tuple[str, str]]:
    """Every (dossier, entry hash) some logged CapNhatTienDoHoSoMC request carried."""
    from hub.store import hub_store

    log = hub_store().message_log
    digests = [e.fields["request_digest"] for page in log.iter_log() for e in page if e.fields["operation"] == PROGRESS]
    return {
        (entry["MaHoSo"], content_hash(entry))
        for body in log.message_bodies(digests).values()
        for entry in json.loads(body)["data"]
    }


def _verify() -> tuple[int, str]:
    from hub.cli.main import app

    result = CliRunner().invoke(app, ["evidence", "verify"])
    return result.exit_code, result.output


def test_a_delivery_killed_mid_batch_leaves_every_request_the_portal_acted_on_in_the_log(portal: Portal) -> None:
    from adapters.hooks import PartnerHook
    from hub.jobs.portal import deliver_portal_progress, summarize_portal_sync
    from hub.store import hub_store

    batch_id = _prepare_progress_batch()
    _kill_mid_batch(portal, batch_id)

    answered = portal.received()
    assert KILL_AFTER_CALLS < len(answered) < 50, "killed in the middle of the batch"
    # Before any further run: every call the portal acted on is in the log already, the one whose
    # reply it held back as a request sent with no reply -- and verify says so instead of "intact".
    logged = dict(_logged(PROGRESS))
    sent_no_reply = {i.exchange_id: i for i in hub_store().message_log.open_intents() if i.operation == PROGRESS}
    unlogged = set(answered) - set(logged)
    assert unlogged == set(sent_no_reply), f"{len(unlogged)} calls the portal acted on are not in the log"
    (in_flight,) = sent_no_reply.values()
    assert all(outcome == "ok" for outcome in logged.values())
    code, out = _verify()
    assert code == 2 and "1 requests sent by a process that died" in out, out

    # The completion run: Airflow retries the mapped task, which claims the same batch again.
    report = deliver_portal_progress(PartnerHook("national_portal").get_client(), batch_id)
    assert report["unknown_outcomes_resolved"] == 1

    answered = portal.received()
    outcomes = _logged(PROGRESS)
    ids = [exchange_id for exchange_id, _ in outcomes]
    assert len(ids) == len(set(ids)), "an exchange logged twice"
    assert sorted(ids) == sorted(answered), "every call the portal received is logged, once, and nothing else"
    assert dict(outcomes)[in_flight.exchange_id] == "unknown"

    # Nothing lost, nothing doubled at the portal: it holds each entry once, every entry of the
    # batch is acknowledged, and everything it holds came in a logged request.
    summary = summarize_portal_sync(None)
    stats = portal.get("/sandbox/stats")
    acknowledged = summary["outbox_records"][PROGRESS]["acknowledged"]
    held = portal.held_progress()
    assert len(held) == len(set(held)) == acknowledged == report["records"] > 400  # the whole batch
    assert stats["records"][PROGRESS]["stored"] == acknowledged
    assert stats["records"][PROGRESS]["duplicate"] >= 10, "the killed run's entries were resent, not stored twice"
    assert set(held) <= _logged_progress_entries()

    assert in_flight.exchange_id not in {i.exchange_id for i in hub_store().message_log.open_intents()}
    with hub_store().db.engine.connect() as conn:
        (resolution,) = conn.execute(
            sa.select(t.message_intent.c.resolution).where(t.message_intent.c.exchange_id == in_flight.exchange_id)
        ).scalars()
    assert (
        resolution
        == "idempotent resend: the portal acknowledged 10 of 10 entries this call carried, 0 refused and quarantined"
    )
    code, out = _verify()
    assert code == 0 and "requests" not in out, out
