"""Shared fixtures. The Airflow environment is set before anything imports airflow, so DAG
tests run on a migrated SQLite metadata DB under a temporary ``var/``."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_SESSION_VAR = Path(tempfile.mkdtemp(prefix="hub-test-var-"))
os.environ.setdefault("HUB_VAR_DIR", str(_SESSION_VAR))
os.environ.pop("HUB_STORE_URL", None)

from hub.airflow_env import apply_airflow_environment  # noqa: E402  (must run before airflow imports)

apply_airflow_environment()

from hub.store import HubStore  # noqa: E402


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The session's var/ (Airflow DB, reports) is scratch: leave nothing behind in /tmp."""
    shutil.rmtree(_SESSION_VAR, ignore_errors=True)


def _pg_url() -> str | None:
    url = os.environ.get("HUB_TEST_PG_URL")
    if not url and os.environ.get("HUB_REQUIRE_PG") == "1":
        pytest.fail("HUB_REQUIRE_PG=1 but HUB_TEST_PG_URL is not set: the PostgreSQL suite must run here")
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HubStore]:
    """A fresh, empty hub store on SQLite and, when a server is available, on PostgreSQL."""
    if request.param == "sqlite":
        hub_store = HubStore(f"sqlite:///{tmp_path / 'hub.db'}")
    else:
        url = _pg_url()
        if not url:
            pytest.skip("no PostgreSQL server (set HUB_TEST_PG_URL; .ci/run starts one)")
        hub_store = HubStore(url)
        from hub.store.schema import metadata

        metadata.drop_all(hub_store.engine)
    hub_store.create_schema()
    yield hub_store
    hub_store.engine.dispose()
