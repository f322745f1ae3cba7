"""``ministry_push`` on SQLite and PostgreSQL: candidates, decisions, batches, claims, outcomes, statuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub.store import (
    HubStore,
    MinistryPushes,
    PushDecision,
    PushOutcome,
    PushState,
    StagedRecord,
    StatusUpdate,
)

PARTNER, SOURCE = "civil_status", "city"
CIVIL, OTHER = "1.001193", "1.009974"


def stage(store: HubStore, *records: tuple[str, str, str]) -> None:
    """Stage (dossier_no, procedure code, version) city records."""
    store.staging.stage(
        SOURCE,
        [
            StagedRecord(no, f"{no}-{version}".ljust(64, "0")[:64], {"ma_ho_so": no, "ma_tthc": code}, None)
            for no, code, version in records
        ],
        "batch",
    )


def candidates(pushes: MinistryPushes) -> list[str]:
    return [c.dossier_no for page in pushes.iter_candidates(PARTNER, SOURCE, [CIVIL], 2) for c in page]


def decide(pushes: MinistryPushes, store: HubStore, state: PushState, *numbers: str) -> None:
    current = {
        c.dossier_no: c.content_hash for page in pushes.iter_candidates(PARTNER, SOURCE, [CIVIL], 100) for c in page
    }
    pushes.record_decisions(PARTNER, SOURCE, [PushDecision(n, current[n], state, "why") for n in numbers])


def test_candidates_are_new_interconnected_dossiers_and_new_versions_of_unpushed_ones(store: HubStore) -> None:
    pushes = MinistryPushes(store)
    stage(store, ("A", CIVIL, "1"), ("B", CIVIL, "1"), ("C", OTHER, "1"), ("D", CIVIL, "1"), ("E", CIVIL, "1"))
    assert candidates(pushes) == ["A", "B", "D", "E"]  # paged by 2, procedure filter in SQL
    decide(pushes, store, PushState.PENDING, "A")
    decide(pushes, store, PushState.QUARANTINED, "B")
    decide(pushes, store, PushState.OUT_OF_SCOPE, "D")
    assert candidates(pushes) == ["E"]
    stage(store, ("A", CIVIL, "2"), ("B", CIVIL, "2"), ("D", CIVIL, "2"))
    assert candidates(pushes) == ["B", "D", "E"]  # a pending push is never planned twice
    assert pushes.state_counts(PARTNER) == {
        "pending": 1,
        "sent": 0,
        "acknowledged": 0,
        "failed": 0,
        "quarantined": 1,
        "out_of_scope": 1,
    }


def test_batches_claims_outcomes_and_statuses(store: HubStore) -> None:
    pushes = MinistryPushes(store)
    stage(store, *[(f"N{i}", CIVIL, "1") for i in range(5)])
    decide(pushes, store, PushState.PENDING, *[f"N{i}" for i in range(5)])
    batches = pushes.assign_push_batches(PARTNER, 2)
    assert len(batches) == 3
    claimed = pushes.claim_push_batch(batches[0])
    assert [c.dossier_no for c in claimed] == ["N0", "N1"] and claimed[0].payload["ma_tthc"] == CIVIL
    assert pushes.state_counts(PARTNER)["sent"] == 2
    # A retried task claims its batch again (the ministry answers a repeat "already held")...
    assert [c.dossier_no for c in pushes.claim_push_batch(batches[0])] == ["N0", "N1"]
    assert len(pushes.assign_push_batches(PARTNER, 10)) == 1  # ...while planning takes only what is due
    (lease_over,) = pushes.assign_push_batches(PARTNER, 10, lease=timedelta(0))  # sent ones after a lease
    assert pushes.claim_push_batch(batches[0]) == []  # moved to the new batch: never pushed by two tasks
    assert [c.dossier_no for c in pushes.claim_push_batch(lease_over)] == [f"N{i}" for i in range(5)]

    at = datetime(2026, 11, 20, 3, tzinfo=UTC)
    later = datetime.now(UTC) + timedelta(hours=1)
    pushes.settle_pushes(
        PARTNER,
        [
            PushOutcome("N0", PushState.ACKNOWLEDGED, ministry_status=1, ministry_status_at=at),
            PushOutcome("N1", PushState.PENDING, "HTTP 503", later),
        ],
    )
    n0, n1 = pushes.get(PARTNER, "N0"), pushes.get(PARTNER, "N1")
    assert n0 is not None and n0["attempts"] == 1 and n0["acknowledged_at"] and n0["ministry_status"] == 1
    assert n1 is not None and n1["attempts"] == 1 and n1["reason"] == "HTTP 503"
    assert "N1" not in {
        c.dossier_no for b in pushes.assign_push_batches(PARTNER, 10) for c in pushes.claim_push_batch(b)
    }

    (status_batch,) = pushes.assign_status_batches(PARTNER, 10)
    assert pushes.status_batch(status_batch) == ["N0"]
    pushes.record_statuses(PARTNER, [StatusUpdate("N0", 3, at, False)])
    assert pushes.status_counts(PARTNER) == {3: 1}
    pushes.record_statuses(PARTNER, [StatusUpdate("N0", 4, at, True)])
    assert pushes.assign_status_batches(PARTNER, 10) == []
    assert pushes.status_counts(PARTNER) == {4: 1}
