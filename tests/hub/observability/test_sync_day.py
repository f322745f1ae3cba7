"""What an operator sees of a sync day: StatsD metrics, alerts on a webhook, lineage, masked logs.

Everything runs for real: the DAGs through ``dag.test()`` against the sandbox partners on
loopback (fixtures shared with ``test_e2e_portal_sync``), a UDP socket standing in for the StatsD
agent, a small HTTP server standing in for the alert webhook, and the OpenLineage provider's own
file transport.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI, Request

from sandbox.server import serve_in_thread
from tests.e2e.test_portal_sync import (  # noqa: F401  (fixtures)
    DAY,
    HANOI,
    Partners,
    _run,
    partners,
)
from tests.support.statsd import StatsdSink

FULL_ID_OR_PHONE = re.compile(r"(?<![0-9])(?:[0-9]{12}|0[0-9]{9})(?![0-9])")


@pytest.fixture
def statsd(monkeypatch: pytest.MonkeyPatch) -> Iterator[StatsdSink]:
    sink = StatsdSink()
    monkeypatch.setenv("HUB_STATSD_PORT", str(sink.port))
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_PORT", str(sink.port))
    yield sink
    sink.close()


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict]]:
    """The ``hub_alerts`` Connection points at a loopback server; yields the JSON bodies it got."""
    received: list[dict] = []
    app = FastAPI()

    @app.post("/alerts")
    async def alert(request: Request) -> dict:
        received.append(await request.json())
        return {"ok": True}

    with serve_in_thread(app) as server:
        monkeypatch.setenv("AIRFLOW_CONN_HUB_ALERTS", f"{server.url}/alerts")
        yield received


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The hub's JSON log lines of the test, as the command line writes them."""
    from hub.observability.logging import JsonFormatter, install

    install()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(previous)


def _lineage_events() -> list[dict]:
    path = Path(os.environ["HUB_VAR_DIR"]) / "lineage" / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def _personal_numbers(store) -> set[str]:
    """Every ID and phone number in the day's staged city records."""
    import sqlalchemy as sa

    from hub.store import schema

    with store.db.engine.connect() as conn:
        payloads = conn.execute(sa.select(schema.staged_dossier.c.payload)).scalars().all()
    text = "\n".join(p if isinstance(p, str) else json.dumps(p) for p in payloads)
    return set(re.findall(r"(?<![0-9])[0-9]{10,12}(?![0-9])", text))


def _log_lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_sync_day_is_measured_traced_logged_and_alerts_on_quarantine_growth(
    dagbag,
    partners: Partners,  # noqa: F811
    statsd: StatsdSink,
    webhook: list[dict],
    json_log: io.StringIO,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One sync day, seen the way an operator sees it; the city's ~1 % defects exceed a threshold of 1."""
    monkeypatch.setenv("HUB_ALERT_QUARANTINE_GROWTH", "1")
    _run(dagbag, "city_dossiers_extract")
    summary = _run(dagbag, "national_portal_sync")
    counts = summary["counts"]

    from hub.observability import metrics
    from hub.store import hub_store
    from quality.reconcile.engine import reconcile
    from quality.reconcile.model import Period

    metrics.reconciliation(reconcile(hub_store().db, Period.day(DAY)))
    got = statsd.metrics()
    # Where the dossiers stand with the portal, exactly as the run's summary says.
    for state in ("extracted", "delivered", "quarantined", "pending", "out_of_scope"):
        assert statsd.last(f"hub.records.national_portal.{state}") == counts[state], state
    assert statsd.last("hub.outbox.national_portal.oldest_pending_seconds") == 0
    open_entries = hub_store().quarantine.open_entries("city")
    assert statsd.last("hub.quarantine.city.open") == len(open_entries) > 0
    by_rule = Counter(e["rule"] for e in open_entries)  # each rule's open entries: the dashboard's bars
    sent = {
        rule: statsd.last(f"hub.quarantine.city.rule.{re.sub(r'[^A-Za-z0-9_-]+', '_', rule)}.open") for rule in by_rule
    }
    assert sent == by_rule
    # Every call to a partner: one latency sample and one call counted; no errors.
    calls = summary["exchanges"]
    assert len(got["hub.partner.national_portal.DongBoHoSoMC.latency_ms"]) == calls["DongBoHoSoMC"]
    assert sum(v for v, _ in got["hub.partner.national_portal.DongBoHoSoMC.calls"]) == calls["DongBoHoSoMC"]
    assert all(t == "ms" and v > 0 for v, t in got["hub.partner.national_portal.DongBoHoSoMC.latency_ms"])
    assert statsd.last("hub.partner.national_portal.error_rate") == 0
    assert not [name for name in got if name.endswith(".errors")]
    assert any(name.startswith("hub.partner.city_system.") for name in got)
    # The reconciliation of the day: the hub's identity holds, the quarantined class is counted.
    assert statsd.last("hub.reconcile.identity.hub_flow.gap") == 0
    assert statsd.last("hub.reconcile.quarantined") == counts["quarantined"]

    # Quarantine growth over the threshold: one alert, with the rules and example dossiers.
    (growth,) = [a for a in webhook if a["alert"] == "quarantine_growth"]
    assert growth["dag_id"] == "national_portal_sync" and growth["run_id"]
    assert growth["details"]["new_entries"] == len(open_entries)
    assert set(growth["details"]["by_rule"]) == {e["rule"] for e in open_entries}
    assert set(growth["details"]["examples"]) <= {e["dossier_no"] for e in open_entries}

    # Lineage: the provider's listener wrote START/COMPLETE events naming the systems involved.
    events = _lineage_events()
    jobs = {e["job"]["name"] for e in events}
    assert {
        "city_dossiers_extract.extract",
        "national_portal_sync.plan",
        "national_portal_sync.deliver_dossiers",
    } <= jobs
    done = {e["job"]["name"]: e for e in events if e["eventType"] == "COMPLETE"}
    datasets = lambda e, side: {(d["namespace"], d["name"]) for d in e[side]}  # noqa: E731
    assert datasets(done["city_dossiers_extract.extract"], "inputs") == {("hanoi-city-dossier-system", "api.ho_so")}
    assert ("hanoi-dossier-hub", "staging.city_dossiers") in datasets(done["city_dossiers_extract.extract"], "outputs")
    assert datasets(done["national_portal_sync.deliver_dossiers"], "outputs") == {
        ("dvcqg-national-portal", "lgsp.DongBoHoSoMC")
    }
    assert all(e["job"]["namespace"] == "hanoi-dossier-hub" for e in events)

    # Logs: correlation ids on the lines; none of the day's ID or phone numbers, and nothing shaped
    # like one in any message (ids such as message_id are UUIDs, whose last group may be all digits).
    lines = _log_lines(json_log)
    text = json_log.getvalue()
    personal = _personal_numbers(hub_store())
    assert len(personal) > 100 and not [n for n in personal if n in text]
    said = "\n".join(f"{line['message']} {line.get('exception', '')}" for line in lines)
    assert not FULL_ID_OR_PHONE.search(said), FULL_ID_OR_PHONE.search(said)
    batch_lines = [line for line in lines if line.get("batch_id", "").startswith("DongBoHoSoMC-")]
    assert batch_lines and all("message_id" in line for line in batch_lines if "attempt" in line["message"])
    quarantined = {line["dossier_no"] for line in lines if line["message"].startswith("quarantined under")}
    assert quarantined == {e["dossier_no"] for e in open_entries}

    # Re-running the day quarantines nothing new: under the threshold, no second alert.
    _run(dagbag, "city_dossiers_extract")
    _run(dagbag, "national_portal_sync")
    assert [a["alert"] for a in webhook] == ["quarantine_growth"]


def test_logs_mask_personal_numbers_and_carry_correlation_ids(json_log: io.StringIO) -> None:
    from hub.observability.logging import correlated

    log = logging.getLogger("hub.test")
    with correlated(dossier_no="000.00.00.H26-261120-0001", batch_id="b-1"):
        with correlated(message_id="m-9"):
            log.info("applicant %s, phone %s", "001090012345", "0912 345 678")
        try:
            raise ValueError("refused citizen 079203004567")
        except ValueError:
            log.exception("portal said no")
    first, second = _log_lines(json_log)
    assert first["message"] == "applicant *********345, phone **** *** 678"
    assert (first["dossier_no"], first["batch_id"], first["message_id"]) == ("000.00.00.H26-261120-0001", "b-1", "m-9")
    assert "message_id" not in second and "*********567" in second["exception"]
    assert not FULL_ID_OR_PHONE.search(json_log.getvalue())


def test_airflow_sends_its_own_statsd_metrics_to_the_same_place(statsd: StatsdSink) -> None:
    """airflow.cfg turns StatsD on; the host and port are the hub's (hub.airflow_env)."""
    from airflow.sdk.observability.metrics.stats_utils import get_stats_factory

    get_stats_factory()().incr("dag_processing.processes")
    deadline = datetime.now() + timedelta(seconds=5)
    while "airflow.dag_processing.processes" not in statsd.metrics() and datetime.now() < deadline:
        threading.Event().wait(0.05)
    assert statsd.metrics()["airflow.dag_processing.processes"] == [(1.0, "c")]


def test_a_failing_task_posts_an_alert_saying_which_dag_task_run_and_why(
    dagbag,
    partners: Partners,  # noqa: F811
    statsd: StatsdSink,
    webhook: list[dict],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The portal's replies are signed by a foreign CA: delivery must fail, and say so."""
    _run(dagbag, "city_dossiers_extract")
    partners.set_reply_mode("wrong_ca")
    dag = dagbag.dags["national_portal_sync"]
    for task in dag.tasks:
        monkeypatch.setattr(task, "retries", 0)  # fail now, not after the production retry schedule
    day_end = datetime.combine(DAY + timedelta(days=1), datetime.min.time(), tzinfo=HANOI)
    run = dag.test(logical_date=day_end)
    assert run.state == "failed"

    failures = [a for a in webhook if a["alert"] == "task_failed"]
    assert failures, webhook
    alert = failures[0]
    assert alert["dag_id"] == "national_portal_sync"
    assert alert["run_id"] == run.run_id
    assert alert["task_id"] in ("plan", "deliver_dossiers")
    assert "UntrustedReply" in alert["details"]["exception"] and "not in the trust store" in alert["summary"]
    # The refused replies count as partner errors.
    assert statsd.last("hub.partner.national_portal.error_rate") > 0


def test_a_missed_deadline_posts_an_alert_from_the_triggerer(
    webhook: list[dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sync DAGs' DeadlineAlert (on when HUB_SYNC_DEADLINE_MINUTES is set) runs the hub's
    notifier in the triggerer; here Airflow's own CallbackTrigger runs it with the context the
    scheduler hands over when a deadline is missed."""
    import asyncio

    from airflow.triggers.callback import CallbackTrigger

    from dags import common

    monkeypatch.setenv("HUB_SYNC_DEADLINE_MINUTES", "45")
    alert = common.sync_deadline()["deadline"]
    assert alert.interval == timedelta(minutes=45)
    context = {
        "dag_run": {"dag_id": "national_portal_sync", "dag_run_id": "scheduled__2026-11-21T00:00:00+07:00"},
        "deadline": {"id": "d-1", "deadline_time": "2026-11-20T18:30:00+00:00"},
    }
    trigger = CallbackTrigger(alert.callback.path, {**alert.callback.kwargs, "context": context})

    async def run() -> list:
        return [event.payload async for event in trigger.run()]

    states = [payload["state"] for payload in asyncio.run(run())]
    assert states[-1] == "success", states
    (posted,) = webhook
    assert posted["alert"] == "deadline_missed"
    assert posted["dag_id"] == "national_portal_sync"
    assert posted["run_id"] == "scheduled__2026-11-21T00:00:00+07:00"
    assert "2026-11-20T18:30:00" in posted["summary"]


@pytest.mark.parametrize(
    ("task", "inputs", "outputs"),
    [
        (
            "ministry_exchange.civil_status.push",
            {("hanoi-dossier-hub", "staging.city_dossiers")},
            {("ministry-civil_status", "lgsp.civil_status")},
        ),
        (
            "ministry_exchange.business_registration.pull",
            {("ministry-business_registration", "lgsp.business_registration")},
            {("hanoi-dossier-hub", "staging.ministry_business_registration")},
        ),
        (
            "population_verify.verify",
            {("hanoi-dossier-hub", "staging.city_dossiers"), ("csdl-dan-cu", "lgsp.population_register")},
            {("hanoi-dossier-hub", "staging.population_check")},
        ),
    ],
)
def test_ministry_and_population_tasks_name_their_lineage(
    dagbag,
    task: str,
    inputs: set,
    outputs: set,
) -> None:
    """The DAGs not run above: what the OpenLineage provider extracts from each task's inlets and
    outlets (the same extraction its listener does when the task runs)."""
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.providers.openlineage.extractors.manager import ExtractorManager

    dag_id, task_id = task.split(".", 1)
    lineage = OperatorLineage()
    ExtractorManager().extract_inlets_and_outlets(lineage, dagbag.dags[dag_id].get_task(task_id))
    assert {(d.namespace, d.name) for d in lineage.inputs} == inputs
    assert {(d.namespace, d.name) for d in lineage.outputs} == outputs
