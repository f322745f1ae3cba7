"""End to end through Airflow: `dag.test()` on a migrated SQLite metadata DB, real sandbox servers.

What a data engineer checks after a sync day: every extracted dossier is at the portal,
quarantined with a named rule, out of scope, or pending -- and a re-run sends nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from sandbox.server import RunningServer
from sandbox.signatures import PartnerSigning
from tests.support.portal_sync_env import CITY_TOKEN, city_and_portal

DAY = date(2026, 11, 20)
SCALE = 0.03
SEED = 11
CITY_AUTH = {"Authorization": f"Bearer {CITY_TOKEN}"}
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass
class Partners:
    city: RunningServer
    portal: RunningServer

    def portal_stats(self) -> dict:
        return requests.get(f"{self.portal.url}/sandbox/stats", timeout=5).json()

    def portal_dossiers(self) -> set[str]:
        items = requests.get(f"{self.portal.url}/sandbox/export/dossiers", timeout=5).json()["items"]
        return {item["MaHoSo"] for item in items}

    def city_defects(self) -> dict[str, str]:
        reply = requests.get(f"{self.city.url}/sandbox/defects", headers=CITY_AUTH, timeout=5)
        return {item["ma_ho_so"]: item["defect"] for item in reply.json()["items"]}

    def set_faults(self, **faults: float) -> None:
        requests.post(f"{self.portal.url}/sandbox/faults", json=faults, timeout=5).raise_for_status()

    def set_reply_mode(self, mode: str) -> None:
        requests.post(f"{self.portal.url}/sandbox/signing", json={"reply_mode": mode}, timeout=5).raise_for_status()


@pytest.fixture
def partners(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, partner_signing: Callable[[str], PartnerSigning]
) -> Iterator[Partners]:
    # These doubles sign their replies and the tests tamper with them: verification must be on
    # (no real partner is shown to sign, so it is off unless a Connection asks).
    transport = {"timeout": 5, "max_attempts": 2, "backoff_initial": 0.05, "backoff_max": 0.2, "verify_replies": "true"}
    with city_and_portal(
        tmp_path, monkeypatch, partner_signing, day=DAY, scale=SCALE, seed=SEED, transport=transport
    ) as sandbox:
        yield Partners(sandbox.city, sandbox.portal)


def _run(dagbag, dag_id: str) -> dict:
    """Run one DAG for DAY; return the summary task's result when the DAG has one."""
    day_end = datetime.combine(DAY + timedelta(days=1), datetime.min.time(), tzinfo=HANOI)
    run = dagbag.dags[dag_id].test(logical_date=day_end)
    assert run.state == "success", f"{dag_id} ended {run.state}"
    latest = Path(os.environ["HUB_VAR_DIR"]) / "reports" / "sync" / "latest.json"
    return json.loads(latest.read_text()) if dag_id == "national_portal_sync" else {}


def test_a_day_syncs_completely_and_a_rerun_sends_nothing(dagbag, partners: Partners) -> None:
    _run(dagbag, "city_dossiers_extract")
    summary = _run(dagbag, "national_portal_sync")
    counts = summary["counts"]

    city_total = requests.get(f"{partners.city.url}/sandbox/summary", headers=CITY_AUTH, timeout=5).json()["records"]
    assert counts["extracted"] == city_total > 0
    assert summary["identity_holds"]
    assert counts["pending"] == 0 and counts["unaccounted"] == 0
    assert counts["extracted"] == counts["delivered"] + counts["quarantined"] + counts["out_of_scope"]

    # The portal holds exactly what the hub says it delivered.
    assert len(partners.portal_dossiers()) == counts["delivered"]
    # Every defect the city system carries is quarantined under a named rule, and nothing else is.
    from hub.store import hub_store

    quarantined = {e["dossier_no"] for e in hub_store().quarantine.open_entries()}
    assert quarantined == set(partners.city_defects())
    # Any delivered dossier can be proven alone: its record is a leaf of a batch the hub signed.
    from hub.store import RecordProofs
    from signing.config import trust_store
    from signing.merkle import verify_batch_member

    delivered = sorted(partners.portal_dossiers())
    (proven,) = RecordProofs(hub_store()).for_dossier(delivered[len(delivered) // 2])
    verify_batch_member(proven.record, proven.proof, proven.batch, trust_store())
    assert json.loads(proven.record)["MaHoSo"] == proven.dossier_no
    assert counts["quarantined"] == len(quarantined)
    # Every processing-history entry of a delivered dossier reached the portal, in calls of <= 10.
    stats = partners.portal_stats()
    progress_sent = summary["outbox_records"]["CapNhatTienDoHoSoMC"]["acknowledged"]
    assert stats["held"]["progress_entries"] == progress_sent > 0
    assert stats["calls"]["CapNhatTienDoHoSoMC"]["total"] >= progress_sent / 10

    calls_before = {service: c["total"] for service, c in stats["calls"].items()}
    _run(dagbag, "city_dossiers_extract")
    again = _run(dagbag, "national_portal_sync")
    calls_after = {service: c["total"] for service, c in partners.portal_stats()["calls"].items()}
    assert calls_after == calls_before, "a re-run must not send anything to the portal"
    assert again["counts"] == counts
    assert again["exchanges"] == summary["exchanges"]


def test_a_portal_outage_delays_delivery_and_loses_nothing(dagbag, partners: Partners) -> None:
    partners.set_faults(error_rate=1.0)
    _run(dagbag, "city_dossiers_extract")
    down = _run(dagbag, "national_portal_sync")["counts"]
    assert down["delivered"] == 0
    assert down["pending"] > 0
    assert down["extracted"] == down["pending"] + down["quarantined"] + down["out_of_scope"]
    assert partners.portal_dossiers() == set()

    partners.set_faults(error_rate=0.0)
    _run(dagbag, "city_dossiers_extract")
    up = _run(dagbag, "national_portal_sync")["counts"]
    assert up["pending"] == 0
    assert up["delivered"] == down["pending"]
    assert len(partners.portal_dossiers()) == up["delivered"]


@pytest.mark.parametrize(
    ("reply_mode", "reason"),
    [
        ("unsigned", "carries no signature"),
        ("tampered", "does not match the payload bytes"),
        ("expired", "expired on"),
        ("wrong_ca", "is not in the trust store"),
    ],
)
def test_an_untrusted_portal_reply_is_refused_logged_and_leaves_the_dossiers_pending(
    partners: Partners, reply_mode: str, reason: str
) -> None:
    """The hub acts on a portal reply only once its signature holds; nothing is marked delivered
    on the word of an unsigned, altered, expired or foreign-CA reply -- and a later trusted
    delivery settles the same dossiers without losing or doubling any."""
    from adapters.errors import UntrustedReply
    from adapters.hooks import PartnerHook
    from hub.jobs import portal as portal_jobs
    from hub.jobs.extract import extract
    from hub.pipeline.portal_sync import PARTNER
    from hub.pipeline.summary import sync_summary
    from hub.store import hub_store
    from mappings.sources import CITY_SOURCE

    start = datetime.combine(DAY, datetime.min.time(), tzinfo=HANOI)
    extracted = extract(PartnerHook("city_system").get_client(), start, start + timedelta(days=1))
    assert extracted["records"] > 0, extracted
    batches = portal_jobs.plan_portal_sync()
    portal = PartnerHook("national_portal").get_client()
    portal.list_agencies()  # logged in while the portal still signs properly
    partners.set_reply_mode(reply_mode)

    with pytest.raises(UntrustedReply, match=reason) as refused:
        portal_jobs.deliver_portal_dossiers(portal, batches[0])
    assert "reply refused" in str(refused.value)
    store = hub_store()
    counts = sync_summary(store, source=CITY_SOURCE, partner=PARTNER)["counts"]
    assert counts["delivered"] == 0 and counts["pending"] > 0, counts
    refusals = [e for page in store.message_log.iter_log() for e in page if e.fields["outcome"] != "ok"]
    assert refusals and all(reason in (e.fields["error"] or "") for e in refusals), "the log says why"

    partners.set_reply_mode("valid")
    for batch_id in batches:
        portal_jobs.deliver_portal_dossiers(portal, batch_id)
    settled = sync_summary(store, source=CITY_SOURCE, partner=PARTNER)["counts"]
    assert settled["pending"] == 0 and settled["delivered"] == len(partners.portal_dossiers()) > 0
