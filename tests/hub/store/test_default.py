"""The shared store: the jobs create it, an operator's command never does."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.store import HubStore
from hub.store.default import StoreMissing, existing_store, store_exists


def test_a_missing_store_is_refused_and_not_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_STORE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
    with pytest.raises(StoreMissing, match=r"no hub store at sqlite:///.*hub\.db yet.*make demo"):
        existing_store()
    assert not (tmp_path / "hub.db").exists()


def test_an_existing_store_is_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    HubStore(url).create_schema()
    monkeypatch.setenv("HUB_STORE_URL", url)
    assert store_exists(url)
    assert existing_store().db.url == url


def test_a_server_database_without_the_stores_tables_is_no_store(store: HubStore) -> None:
    """On PostgreSQL "exists" means the schema is there, not that the server answers."""
    from hub.store.schema import metadata

    if store.db.engine.dialect.name == "sqlite":
        pytest.skip("a SQLite store is its file: the test above covers it")
    assert store_exists(store.db.url)
    metadata.drop_all(store.db.engine)
    assert not store_exists(store.db.url)
