"""Shared fixtures. The Airflow environment is set before anything imports airflow, so DAG
tests run on a migrated SQLite metadata DB under a temporary ``var/``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

_SESSION_VAR = Path(tempfile.mkdtemp(prefix="hub-test-var-"))
os.environ.setdefault("HUB_VAR_DIR", str(_SESSION_VAR))
os.environ.pop("HUB_STORE_URL", None)

from hub.airflow_env import apply_airflow_environment  # noqa: E402  (must run before airflow imports)

apply_airflow_environment()

from adapters.partners import partner_ids  # noqa: E402
from hub.store import HubStore  # noqa: E402
from sandbox.signatures import PartnerSigning  # noqa: E402
from signing.keys import SigningIdentity  # noqa: E402
from signing.pki import DevPki, default_pki_dir, init_dev_pki  # noqa: E402
from signing.trust import TrustStore  # noqa: E402


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

        metadata.drop_all(hub_store.db.engine)
    hub_store.create_schema()
    yield hub_store
    hub_store.db.engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def dev_pki() -> DevPki:
    """The development PKI of the session's ``var/pki``, built once (RSA keys cost 50-100 ms each).

    It sits where :mod:`signing.config` looks by default, so hooks, sandboxes and DAG tasks sign
    and verify with it exactly as the demo does. Tests needing a broken certificate mint one with
    the helpers in :mod:`signing.pki`, never by editing these files.
    """
    return init_dev_pki(default_pki_dir(), partners=partner_ids())


@pytest.fixture(scope="session")
def trust_store(dev_pki: DevPki) -> TrustStore:
    """What a verifier configured with the dev PKI's ``trust/`` folder believes."""
    return dev_pki.trust_store()


@pytest.fixture(scope="session")
def pki_identity(dev_pki: DevPki) -> Callable[[str], SigningIdentity]:
    """``pki_identity(name)``: the identity of ``hub``, a partner or ``tls_server``, loaded once."""
    return cache(dev_pki.identity)


@pytest.fixture
def partner_signing(dev_pki: DevPki) -> Callable[[str], PartnerSigning]:
    """``partner_signing("national_portal")``: a simulator's signing, as the demo's sandbox runs it."""
    return lambda name: PartnerSigning(dev_pki, name)


@dataclass(frozen=True)
class SigningKit:
    """The session PKI, its trust store and the hub's identity, as most signing tests need them."""

    dev: DevPki
    trust: TrustStore
    hub: SigningIdentity


@pytest.fixture(scope="session")
def pki(dev_pki: DevPki, trust_store: TrustStore, pki_identity: Callable[[str], SigningIdentity]) -> SigningKit:
    return SigningKit(dev=dev_pki, trust=trust_store, hub=pki_identity("hub"))


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """Migrate the test session's Airflow metadata DB once (SQLite under the session's var/)."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)


@pytest.fixture(scope="module")
def dagbag(airflow_db: None):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(Path(__file__).resolve().parents[1] / "dags"))
    assert bag.import_errors == {}
    return bag
