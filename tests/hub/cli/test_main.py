"""`hub demo`'s store is the default store, so every `hub` command shows the demo's data after it."""

from __future__ import annotations

from pathlib import Path

from hub.cli.main import fresh_demo_store


def test_the_demo_empties_its_own_store_and_moves_any_other_aside(tmp_path: Path) -> None:
    store, marker = tmp_path / "hub.db", tmp_path / "demo" / "store"
    store.write_bytes(b"a day hub up ran")  # not made by a demo: kept, beside
    fresh_demo_store(store, marker)
    assert not store.exists()
    (kept,) = tmp_path.glob("hub.db.*.bak")
    assert kept.read_bytes() == b"a day hub up ran"
    assert marker.read_text(encoding="utf-8") == str(store)

    store.write_bytes(b"the last demo's store")  # made by the demo: simply emptied
    (tmp_path / "hub.db-wal").write_bytes(b"wal")
    fresh_demo_store(store, marker)
    assert not store.exists() and not (tmp_path / "hub.db-wal").exists()
    assert len(list(tmp_path.glob("hub.db.*.bak"))) == 1
