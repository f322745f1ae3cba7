"""Extraction serialises a city record once: the stored payload is the text its hash covers; two city
records with one dossier number are two dossiers, both held back, never one merged into the other."""

from __future__ import annotations

import copy
import json
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from adapters.city_system.client import CitySystemClient
from adapters.settings import TransportSettings
from adapters.transport import HttpTransport
from hub.jobs.quality import stored_gate
from hub.pipeline import portal_sync
from hub.pipeline.extract import extract_city_dossiers, staged_record
from hub.pipeline.summary import sync_summary
from hub.store import HubStore
from hub.store import schema as t
from hub.store.staging import current_version_of
from mappings.sources import CITY_SOURCE
from quality.reconcile import DifferenceClass, Period, reconcile
from sandbox.city_system.app import create_app as city_app
from sandbox.city_system.generator import generate
from sandbox.server import serve_in_thread
from signing.digests import content_hash


def test_staged_record_hash_is_the_content_hash_of_the_stored_text() -> None:
    record = {"ma_ho_so": "000.00.12.H26-261102-0001", "trich_yeu": "Cấp giấy phép", "id": 7, "b": [1, None]}
    staged = staged_record(record)
    assert staged.dossier_no == "000.00.12.H26-261102-0001"
    assert staged.content_hash == content_hash(record)
    assert json.loads(staged.payload) == record


DAY = date(2026, 11, 20)
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
TOKEN = "shared-number-token"


def _window(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, datetime.min.time(), tzinfo=HANOI)
    return start, start + timedelta(days=1)


def _another_record_with_the_number_of(record: dict, new_id: int, at: str) -> dict:
    """A different city record (its own id, its own content) that carries ``record``'s dossier number."""
    other = copy.deepcopy(record)
    other.update(id=new_id, trich_yeu=f"{record['trich_yeu']} (hồ sơ khác)", cap_nhat_luc=at)
    return other


def _staged_ids(store: HubStore, keys: set[str]) -> dict[str, int]:
    """The city id inside the current staged version of each key."""
    cur, staged = t.dossier_current, t.staged_dossier
    query = sa.select(cur.c.dossier_no, staged.c.payload).join(staged, current_version_of(staged, cur))
    with store.db.engine.connect() as conn:
        rows = conn.execute(query.where(cur.c.dossier_no.in_(keys))).all()
    return {key: (json.loads(p) if isinstance(p, str) else p)["id"] for key, p in rows}


def test_two_city_records_with_one_dossier_number_are_both_quarantined_never_merged(
    store: HubStore, tmp_path: Path
) -> None:
    day = generate(DAY, 0.01, 5)
    app = city_app(tmp_path / "city.sqlite", TOKEN)
    app.state.store.load(day.records, day.defects)
    first, second = [r for r in day.records if r["id"] not in day.defects][:2]
    new_id = max(r["id"] for r in day.records) + 1
    # Two records with one number in one window, before anything was staged.
    app.state.store.load([_another_record_with_the_number_of(first, new_id, first["cap_nhat_luc"])])
    gate = stored_gate(store, "run-shared")
    with serve_in_thread(app) as server:
        client = CitySystemClient(HttpTransport("city_system", TransportSettings(base_url=server.url)), TOKEN)
        day_one = extract_city_dossiers(client, store, *_window(DAY))
        portal_sync.plan(store, gate, source=CITY_SOURCE)
        assert store.outbox.counts(portal_sync.PARTNER)["DongBoHoSoMC"]["pending"] > 0
        queued_before = store.outbox.counts(portal_sync.PARTNER)["DongBoHoSoMC"]["pending"]
        # The next day another record arrives with the number of a dossier already queued for the portal.
        later = f"{DAY + timedelta(days=1)}T09:00:00+07:00"
        app.state.store.load([_another_record_with_the_number_of(second, new_id + 1, later)])
        day_two = extract_city_dossiers(client, store, *_window(DAY + timedelta(days=1)))
        portal_sync.plan(store, gate, source=CITY_SOURCE)

    summary = sync_summary(store, source=CITY_SOURCE, partner=portal_sync.PARTNER)
    counts = summary["counts"]
    # Every record read is counted, each as itself: the identity holds over 4 dossiers sharing 2 numbers.
    assert (day_one.records, day_two.records) == (len(day.records) + 1, 1)
    assert counts["extracted"] == day_one.records + day_two.records
    assert summary["identity_holds"], counts
    assert summary["quarantine_by_rule"]["dossier_no.unique"] == 4
    shared = {e["dossier_no"]: e["reason"] for e in store.quarantine.open_entries() if e["rule"] == "dossier_no.unique"}
    keys = {
        first["ma_ho_so"]: first["id"],
        f"{first['ma_ho_so']}#{new_id}": new_id,
        second["ma_ho_so"]: second["id"],
        f"{second['ma_ho_so']}#{new_id + 1}": new_id + 1,
    }
    assert set(shared) == set(keys)
    assert f"id {first['id']}, {new_id}" in shared[first["ma_ho_so"]]
    # Never merged: each key holds its own record, and nothing of either record is left to send.
    assert _staged_ids(store, set(keys)) == keys
    assert store.outbox.counts(portal_sync.PARTNER)["DongBoHoSoMC"]["pending"] == queued_before - 1
    # The reconciliation lists all four as quarantined under the rule.
    result = reconcile(store.db, Period.parse(f"{DAY}..{DAY + timedelta(days=1)}"))
    quarantined = {d.dossier_no: d.detail for d in result.differences if d.kind is DifferenceClass.QUARANTINED}
    assert {key: quarantined.get(key) for key in keys} == dict.fromkeys(keys, "dossier_no.unique")
