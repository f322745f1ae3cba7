"""`hub demo`'s store is the default store, so every `hub` command shows the demo's data after it;
its Airflow runs leave their task logs where an engineer looks for them."""

from __future__ import annotations

import importlib.metadata
from datetime import date
from pathlib import Path

import pytest
import typer

from hub.airflow_env import airflow_environment
from hub.cli.main import dags_test_log, fresh_demo_store, run_airflow


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


def test_an_airflow_run_keeps_what_it_printed_in_its_log_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`airflow dags test` prints its tasks' logs instead of writing Airflow's task-log files: the
    demo keeps them beside Airflow's logs, private, also when the run fails (then the error says where)."""
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("AIRFLOW_HOME", raising=False)
    monkeypatch.delenv("AIRFLOW__LOGGING__BASE_LOG_FOLDER", raising=False)
    env = airflow_environment()
    log = dags_test_log(env, "national_portal_sync", date(2026, 11, 20), "first run")
    assert log == tmp_path / "var/airflow/logs/dags_test/dag_id=national_portal_sync/2026-11-20-first-run.log"

    run_airflow("version", env=env, quiet=True, log=log)
    assert log.read_text(encoding="utf-8").strip() == importlib.metadata.version("apache-airflow")
    assert log.stat().st_mode & 0o777 == 0o600 and log.parent.stat().st_mode & 0o777 == 0o700

    failed = log.with_name("failed.log")
    with pytest.raises(typer.Exit):
        run_airflow("no-such-command", env=env, quiet=True, log=failed)
    assert "no-such-command" in failed.read_text(encoding="utf-8")
