"""The columnar copy reconciliation reads: after every change the hub writes, a reconciliation
through the copy reports exactly what one reading the store from scratch reports, on both stores."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from hub.store import HubStore, QuarantineItem, StagedRecord
from hub.store.postal import PostalOrders
from mappings.delivery import DeliveryState
from mappings.postal.states import PostalState, Track
from mappings.sources import CITY_SOURCE
from quality.reconcile import DifferenceClass, engine, reconcile
from quality.reconcile import columnar as columnar_module
from quality.reconcile.columnar import Refresh
from tests.quality.reconcile.test_engine import (
    DAY,
    MISSING,
    PENDING,
    PERSON,
    QUARANTINED,
    _at,
    _deliver,
    _dispose,
    _facts,
    _postal_store,
    _record,
    _store_with_differences,
)

FETCHED = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)
NEW = [f"000.00.12.H26-261120-02{k:02d}" for k in range(5)]  # staged after the copy was built


def _document(store: HubStore, **columnar: Any) -> dict[str, Any]:
    """Everything the reconciliation reports (every classified difference and figure), but its time."""
    document = reconcile(store.db, DAY, **columnar).to_dict()
    document.pop("generated_at")
    return document


@pytest.fixture
def refreshes(monkeypatch: pytest.MonkeyPatch) -> list[Refresh]:
    """What each reconciliation through the copy did to it (rebuilt, or the rows it re-read)."""
    seen: list[Refresh] = []
    load = engine.load_from_copy

    def recorded(*args: Any, **kwargs: Any) -> Refresh:
        seen.append(load(*args, **kwargs))
        return seen[-1]

    monkeypatch.setattr(engine, "load_from_copy", recorded)
    return seen


def _snapshot(store: HubStore, numbers: list[str], fetched: datetime) -> None:
    store.portal_snapshots.replace(DAY.label, [(no, 4, "2026-11-20T10:00:00+07:00") for no in numbers], fetched)


def _a_day_of_changes(store: HubStore) -> None:
    """New dossiers and versions, delivery states moved, quarantine resolved and reopened, a parcel
    tracked, the portal's export fetched again -- through the hub's own write paths."""
    store.staging.stage(
        CITY_SOURCE, [StagedRecord(no, f"v1-{no}", {"ma_ho_so": no, **PERSON}, None, _facts(4)) for no in NEW], "b3"
    )
    store.staging.stage(CITY_SOURCE, [_record(PENDING, "v3")], "b4")  # a new version of a pending dossier
    _deliver(store, [MISSING, NEW[0]])
    _dispose(store, NEW[1], DeliveryState.QUARANTINED)
    store.quarantine.resolve(CITY_SOURCE, [QUARANTINED])
    store.quarantine.add([QuarantineItem(CITY_SOURCE, NEW[1], "due_before_received", "reason", f"v1-{NEW[1]}", PERSON)])
    PostalOrders(store).record_tracks(
        "vnpost", {"VN0": (Track(PostalState.DELIVERED, state_at=_at(24)), False)}, _at(24, 12)
    )
    _snapshot(store, [MISSING, NEW[0], NEW[2]], FETCHED + timedelta(hours=1))


@pytest.mark.parametrize("overlap", [timedelta(0), columnar_module.OVERLAP], ids=["no-overlap", "overlap"])
def test_a_refreshed_copy_reconciles_exactly_as_the_store_read_from_scratch(
    store: HubStore, tmp_path: Path, refreshes: list[Refresh], overlap: timedelta, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(columnar_module, "OVERLAP", overlap)
    copy = tmp_path / "reconcile.duckdb"
    _store_with_differences(store)
    _postal_store(store)
    _snapshot(store, [MISSING, QUARANTINED], FETCHED)

    assert _document(store, columnar=copy) == _document(store)
    assert refreshes[-1].rebuilt == "no copy yet"

    _a_day_of_changes(store)
    incremental = _document(store, columnar=copy)

    assert incremental == _document(store)
    assert refreshes[-1].rebuilt is None
    if not overlap:  # only what changed was re-read: the 5 new dossiers and the 1 new version, ...
        assert refreshes[-1].rows["version"] < 16
        assert refreshes[-1].rows["portal"] == 3  # the period's new fetch, whole
    # The changes show: new dossiers missing at the portal, a new quarantine entry.
    result = reconcile(store.db, DAY, columnar=copy)
    assert set(NEW[2:]) <= set(result.dossiers(DifferenceClass.MISSING_AT_PORTAL))
    assert NEW[1] in result.dossiers(DifferenceClass.QUARANTINED)
    assert refreshes[-1].rows.get("portal") is None  # nothing changed since: the fetch is the copy's already


def test_a_copy_that_cannot_be_trusted_is_rebuilt_and_still_reconciles_exactly(
    store: HubStore, tmp_path: Path, refreshes: list[Refresh]
) -> None:
    copy = tmp_path / "reconcile.duckdb"
    _store_with_differences(store)
    reconcile(store.db, DAY, columnar=copy)

    copy.write_bytes(b"not a DuckDB file")
    assert _document(store, columnar=copy) == _document(store)
    assert refreshes[-1].rebuilt is not None and refreshes[-1].rebuilt.startswith("unreadable copy")

    with store.db.engine.begin() as conn:  # a delivery record gone from the store (a restored backup)
        conn.execute(sa.text("DELETE FROM delivery WHERE dossier_no = :no"), {"no": PENDING})
    assert _document(store, columnar=copy) == _document(store)
    assert refreshes[-1].rebuilt == "delivery: the copy holds rows the store no longer has"

    assert _document(store, columnar=copy, rebuild_columnar=True) == _document(store)
    assert refreshes[-1].rebuilt == "asked"


def test_a_copy_of_another_store_is_rebuilt(tmp_path: Path, refreshes: list[Refresh]) -> None:
    copy = tmp_path / "reconcile.duckdb"
    first, second = (HubStore(f"sqlite:///{tmp_path / name}") for name in ("a.db", "b.db"))
    for store in (first, second):
        store.create_schema()
    _store_with_differences(first)
    reconcile(first.db, DAY, columnar=copy)

    _postal_store(second)
    assert _document(second, columnar=copy) == _document(second)
    assert refreshes[-1].rebuilt == "store changed"


def test_two_reconciliations_at_once_share_the_copy_without_corrupting_it(
    store: HubStore, tmp_path: Path, refreshes: list[Refresh]
) -> None:
    copy = tmp_path / "reconcile.duckdb"
    _store_with_differences(store)
    reconcile(store.db, DAY, columnar=copy)
    _a_day_of_changes(store)
    expected = _document(store)

    with ThreadPoolExecutor(2) as pool:
        documents = list(pool.map(lambda _: _document(store, columnar=copy), range(2)))

    assert documents == [expected, expected]
    assert _document(store, columnar=copy) == expected
    assert [r.rebuilt for r in refreshes] == ["no copy yet", None, None, None]


def test_a_refresh_waits_for_a_run_reading_the_copy_in_place(
    store: HubStore, tmp_path: Path, refreshes: list[Refresh], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compare reads the copy's file in place: a second run (whose refresh rewrites that file)
    waits until the first has finished reading, and each reports the store as it stood when it ran."""
    copy = tmp_path / "reconcile.duckdb"
    _store_with_differences(store)
    before = _document(store)
    reconcile(store.db, DAY, columnar=copy)
    reading, resume = threading.Event(), threading.Event()
    compare = engine.by_ministry

    def paused(*args: Any, **kwargs: Any) -> Any:  # the first run stops in mid-compare, reading the copy
        if not reading.is_set():
            reading.set()
            assert resume.wait(30)
        return compare(*args, **kwargs)

    monkeypatch.setattr(engine, "by_ministry", paused)

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(_document, store, columnar=copy)
        assert reading.wait(30)
        _a_day_of_changes(store)
        second = pool.submit(_document, store, columnar=copy)
        done = threading.Event()
        second.add_done_callback(lambda _: done.set())
        assert not done.wait(1), "the second run read or refreshed the copy while the first was reading it"
        resume.set()
        assert first.result() == before
        after = second.result()

    assert after == _document(store) != before
    assert [r.rebuilt for r in refreshes] == ["no copy yet", None, None]
    assert refreshes[-1].rows["version"] > 0  # the second run refreshed the copy with the day's changes
