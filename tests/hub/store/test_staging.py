"""Staging's bulk writes (``hub.store.staging`` through ``Database.insert_rows``) on SQLite and PostgreSQL:
a generated day is stored exactly as SQLAlchemy's own INSERT stores the same values, re-staging it
changes nothing, a new version moves the pointer and the facts and keeps the old version, and a
page that fails half-way leaves nothing behind."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from hub.pipeline.extract import staged_record
from hub.store import HubStore, StagedRecord
from hub.store import schema as t
from hub.store.database import utc
from hub.store.facts import dossier_facts
from sandbox.city_system.generator import generate_day
from signing.digests import content_hash

SOURCE = "city"
DAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 17, 30, 5, 123456, tzinfo=UTC)
TABLES = (t.staged_dossier, t.dossier_current, dossier_facts)
TEXT_FACTS = ("agency", "one_stop_no", "other_no", "applicant_key", "payment_gateway")


@pytest.fixture(scope="module")
def day() -> list[dict[str, Any]]:
    return generate_day(DAY, 0.1, 5)  # ~1,100 records: more than one chunk of 500, one PostgreSQL page


def _fixed_clock(store: HubStore) -> HubStore:
    store.db.now = lambda: NOW  # type: ignore[method-assign]
    return store


def _dump(store: HubStore) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the staging tables as the driver returns the stored values (SQLite: the text
    written for datetimes and JSON), in key order."""
    dumped = {}
    with store.db.engine.connect() as conn:
        for table in TABLES:
            order = ", ".join(c.name for c in table.primary_key.columns)
            dumped[table.name] = [
                tuple(row) for row in conn.exec_driver_sql(f"SELECT * FROM {table.name} ORDER BY {order}")
            ]
    return dumped


def _stage_through_sqlalchemy(store: HubStore, records: list[StagedRecord], batch_id: str) -> None:
    """The reference: the same values through SQLAlchemy's INSERT (its parameter conversion), for
    records that are all new."""
    versions = [
        {
            "source": SOURCE,
            "dossier_no": r.dossier_no,
            "content_hash": r.content_hash,
            "payload": r.payload,
            "source_updated_at": utc(r.source_updated_at),
            "batch_id": batch_id,
            "staged_at": NOW,
        }
        for r in records
    ]
    facts = [
        {
            "source": SOURCE,
            "dossier_no": r.dossier_no,
            "content_hash": r.content_hash,
            **{k: utc(v) if isinstance(v, datetime) else v for k, v in dataclasses.asdict(r.facts).items()},
            **{k: getattr(r.facts, k) or "" for k in TEXT_FACTS},  # "" is absent in these columns
        }
        for r in records
        if r.facts is not None
    ]
    with store.db.engine.begin() as conn:
        conn.execute(sa.insert(t.staged_dossier), versions)
        conn.execute(
            sa.insert(t.dossier_current), [{k: v for k, v in row.items() if k != "payload"} for row in versions]
        )
        conn.execute(sa.insert(dossier_facts), facts)


def _second_store(store: HubStore, tmp_path: Any) -> HubStore:
    """An empty store of the same kind beside ``store`` (PostgreSQL: a schema of its own)."""
    if store.db.engine.dialect.name == "sqlite":
        other = HubStore(f"sqlite:///{tmp_path / 'reference.db'}")
    else:
        with store.db.engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS reference CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA reference")
        url = store.db.engine.url.update_query_dict({"options": "-csearch_path=reference"})
        other = HubStore(url.render_as_string(hide_password=False))
    other.create_schema()
    return _fixed_clock(other)


def test_a_generated_day_is_stored_as_sqlalchemy_stores_it(store: HubStore, day: list[dict], tmp_path: Any) -> None:
    records = [staged_record(r) for r in day]
    assert len({r.dossier_no for r in records}) == len(records)
    counts = _fixed_clock(store).staging.stage(SOURCE, records, "b1")
    assert (counts.new_versions, counts.unchanged) == (len(records), 0)
    reference = _second_store(store, tmp_path)
    try:
        _stage_through_sqlalchemy(reference, records, "b1")
        assert _dump(store) == _dump(reference)
    finally:
        reference.db.engine.dispose()
    with store.db.engine.connect() as conn:
        stored = conn.execute(sa.select(t.staged_dossier.c.content_hash, t.staged_dossier.c.payload)).all()
    assert len(stored) == len(day)
    assert all(content_hash(payload) == h for h, payload in stored)  # every stored hash recomputes


def test_restaging_a_day_changes_nothing(store: HubStore, day: list[dict]) -> None:
    records = [staged_record(r) for r in day]
    _fixed_clock(store).staging.stage(SOURCE, records, "b1")
    before = _dump(store)
    store.db.now = lambda: datetime(2026, 11, 21, tzinfo=UTC)  # type: ignore[method-assign]
    again = store.staging.stage(SOURCE, records, "b2")
    assert (again.new_versions, again.unchanged) == (0, len(records))
    assert _dump(store) == before


def test_a_new_version_moves_the_pointer_and_the_facts_and_keeps_the_old_version(
    store: HubStore, day: list[dict]
) -> None:
    _fixed_clock(store).staging.stage(SOURCE, [staged_record(r) for r in day], "b1")
    changed = [{**r, "ghi_chu": f"{r.get('ghi_chu') or ''} (bổ sung)"} for r in day[:300]]
    later = datetime(2026, 11, 21, 8, tzinfo=UTC)
    store.db.now = lambda: later  # type: ignore[method-assign]
    counts = store.staging.stage(SOURCE, [staged_record(r) for r in changed + day[300:]], "b2")
    assert (counts.new_versions, counts.unchanged) == (300, len(day) - 300)
    new = {r.dossier_no: r for r in map(staged_record, changed)}
    with store.db.engine.connect() as conn:
        versions = conn.execute(
            sa.select(t.staged_dossier.c.dossier_no, sa.func.count()).group_by(t.staged_dossier.c.dossier_no)
        ).all()
        current = conn.execute(
            sa.select(t.dossier_current.c.dossier_no, t.dossier_current.c.content_hash, t.dossier_current.c.batch_id)
        ).all()
        facts = dict(conn.execute(sa.select(dossier_facts.c.dossier_no, dossier_facts.c.content_hash)).all())
    assert sorted(n for _, n in versions) == [1] * (len(day) - 300) + [2] * 300
    assert {d: (h, b) for d, h, b in current if d in new} == {d: (r.content_hash, "b2") for d, r in new.items()}
    assert sum(b == "b1" for _, _, b in current) == len(day) - 300
    assert {d: facts[d] for d in new} == {d: r.content_hash for d, r in new.items()}  # the facts follow
    assert store.staging.count(SOURCE) == len(day)


def test_a_page_that_fails_half_way_leaves_nothing_half_written(
    store: HubStore, day: list[dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The versions and pointers are written when the facts fail: the page's transaction takes them back."""
    records = [staged_record(r) for r in day]
    store.staging.stage(SOURCE, records[:100], "b1")
    before = _dump(store)

    def crash(*_args: Any) -> None:
        raise RuntimeError("process died mid-page")

    monkeypatch.setattr(type(store.staging), "_stage_facts", crash)
    with pytest.raises(RuntimeError, match="mid-page"):
        store.staging.stage(SOURCE, records, "b2")
    assert _dump(store) == before
    monkeypatch.undo()
    counts = store.staging.stage(SOURCE, records, "b3")
    assert (counts.new_versions, counts.unchanged) == (len(records) - 100, 100)
