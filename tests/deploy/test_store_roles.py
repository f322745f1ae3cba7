"""The hub store's roles (deploy/compose/hub-store-roles.sql) on a real server: the owner creates
the tables, the runtime role the services log in as does a day's writes and no DDL at all."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from glob import glob
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from hub.store import HubStore, QuarantineItem
from tests.signing.test_evidence_chain import fill

ROOT = Path(__file__).resolve().parents[2]
ROLES_SQL = ROOT / "deploy" / "compose" / "hub-store-roles.sql"
OWNER, RUNTIME, DATABASE = "hub_roles_owner_t", "hub_roles_runtime_t", "hub_roles_t"
DDL = ("CREATE TABLE intruder (x int)", "DROP TABLE quarantine", "ALTER TABLE quarantine ADD COLUMN x int")

pytestmark = pytest.mark.postgres


def _psql() -> str:
    found = sorted(glob("/usr/lib/postgresql/*/bin/psql")) or [shutil.which("psql") or ""]
    if not found[-1]:
        pytest.skip("no psql (Debian's postgresql package)")
    return found[-1]


def _drop(admin: sa.Engine) -> None:
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
        for role in (RUNTIME, OWNER):
            conn.execute(sa.text(f'DROP ROLE IF EXISTS "{role}"'))


@pytest.fixture
def roles() -> Iterator[tuple[str, str]]:
    """(owner URL, runtime URL) of a database made by the deployment's SQL, dropped afterwards."""
    url = os.environ.get("HUB_TEST_PG_URL")
    if not url:
        pytest.skip("no PostgreSQL server (set HUB_TEST_PG_URL; .ci/run starts one)")
    server = make_url(url)
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    _drop(admin)
    created = subprocess.run(
        [
            _psql(), "-X", "-q", "-v", "ON_ERROR_STOP=1",
            "-h", str(server.host), "-p", str(server.port), "-U", str(server.username), "-d", str(server.database),
            "-v", f"owner={OWNER}", "-v", f"runtime={RUNTIME}", "-v", f"database={DATABASE}",
            "-v", "owner_password=owner-pw-t", "-v", "runtime_password=runtime-pw-t", "-f", str(ROLES_SQL),
        ],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr

    def as_role(role: str, password: str) -> str:
        return server.set(username=role, password=password, database=DATABASE).render_as_string(False)

    try:
        yield as_role(OWNER, "owner-pw-t"), as_role(RUNTIME, "runtime-pw-t")
    finally:
        _drop(admin)
        admin.dispose()


def test_the_runtime_role_writes_rows_and_cannot_change_the_schema(roles: tuple[str, str]) -> None:
    owner_url, runtime_url = roles
    owner = HubStore(owner_url)
    owner.create_schema()  # what `hub airflow-init` does with HUB_STORE_OWNER_URL
    owner.db.engine.dispose()

    runtime = HubStore(runtime_url)
    try:
        runtime.create_schema()  # every process does this on first use: a no-op once the tables exist
        runtime.quarantine.add([QuarantineItem("city", "000.00.12.H26-261120-0001", "r", "reason", "h", {"a": 1})])
        assert fill(runtime, batches=2, size=2) == [1, 2, 3, 4]  # the message log's locked, chained appends
        assert len(runtime.quarantine.open_entries()) == 1
        for ddl in DDL:
            with (
                pytest.raises(sa.exc.ProgrammingError, match=r"permission denied|must be owner"),
                runtime.db.engine.begin() as conn,
            ):
                conn.execute(sa.text(ddl))
    finally:
        runtime.db.engine.dispose()
