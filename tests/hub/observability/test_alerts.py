"""The after-run watch on both stores: sync lag and quarantine growth raise alerts only past their thresholds."""

from __future__ import annotations

import time
from datetime import timedelta

from hub.observability.alerts import Alert, Thresholds, watch
from hub.store import HubStore, OutboxMessage, QuarantineItem

PARTNER, SOURCE = "national_portal", "city"


def _watch(store: HubStore, thresholds: Thresholds) -> dict[str, Alert]:
    alerts = watch(store, source=SOURCE, partner=PARTNER, thresholds=thresholds, dag_id="d", run_id="r")
    return {a.kind: a for a in alerts}


def _quarantine(store: HubStore, *dossiers: str) -> None:
    store.quarantine.add(
        [QuarantineItem(SOURCE, d, "dates.due_after_received", "hạn trả trước ngày nhận", "h", {}) for d in dossiers]
    )


def test_a_message_waiting_longer_than_the_lag_threshold_alerts(store: HubStore) -> None:
    store.outbox.enqueue([OutboxMessage("k1", PARTNER, "DongBoHoSoMC", "000.00.00.H26-261120-0001", "h1", {"x": 1})])
    time.sleep(1.1)
    assert "sync_lag" not in _watch(store, Thresholds(sync_lag=timedelta(minutes=60)))
    lag = _watch(store, Thresholds(sync_lag=timedelta(milliseconds=500)))["sync_lag"]
    assert lag.details["oldest_pending_seconds"] >= 1
    assert lag.details["outbox"] == {"DongBoHoSoMC": {"pending": 1}}
    assert "national_portal" in lag.summary and lag.document()["alert"] == "sync_lag"


def test_quarantine_growth_counts_only_entries_new_since_the_last_watch(store: HubStore) -> None:
    _quarantine(store, "000.00.00.H26-261120-0001", "000.00.00.H26-261120-0002", "000.00.00.H26-261120-0003")
    growth = _watch(store, Thresholds(quarantine_growth=2))["quarantine_growth"]
    assert growth.details["new_entries"] == 3 and growth.details["by_rule"] == {"dates.due_after_received": 3}
    # Nothing new since: under any threshold, and seeing the same breach again is not growth.
    _quarantine(store, "000.00.00.H26-261120-0001")
    assert _watch(store, Thresholds(quarantine_growth=0)) == {}
    _quarantine(store, "000.00.00.H26-261120-0004")
    assert "quarantine_growth" not in _watch(store, Thresholds(quarantine_growth=1))
    _quarantine(store, "000.00.00.H26-261120-0005", "000.00.00.H26-261120-0006")
    assert _watch(store, Thresholds(quarantine_growth=1))["quarantine_growth"].details["new_entries"] == 2


def test_an_alert_document_masks_personal_numbers() -> None:
    alert = Alert("task_failed", "portal said: citizen 001090012345, phone 0912345678", "d", "r", "t")
    document = alert.document()
    assert document["summary"] == "portal said: citizen *********345, phone *******678"
    assert (document["dag_id"], document["run_id"], document["task_id"]) == ("d", "r", "t")
