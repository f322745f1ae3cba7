"""The generic ministry client's session handling (``auth: session``, the driving-licence API),
against the double over loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from adapters.errors import AuthenticationError
from adapters.exchange import Exchange
from adapters.ministry.client import MinistryClient
from adapters.ministry.contract import contract_of
from adapters.settings import TransportSettings
from adapters.signatures import MessageSignatures
from adapters.transport import HttpTransport
from sandbox.server import RunningServer, serve_in_thread
from tests.support.ministry_sandboxes import EXTRAS, LOGINS, TOKENS, start

DAY = date(2026, 11, 20)
PARTNER = "driving_licence"


@pytest.fixture(scope="module")
def licences(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    app = start(PARTNER, Path(tmp_path_factory.mktemp(PARTNER)), None, DAY, DAY, 0.02, 7)
    with serve_in_thread(app) as server:
        yield server


def _client(url: str, exchanges: list[Exchange], password: str = TOKENS[PARTNER]) -> MinistryClient:
    transport = HttpTransport(
        PARTNER,
        TransportSettings(base_url=url, max_attempts=1),
        signatures=MessageSignatures(),
        on_exchange=exchanges.append,
    )
    return MinistryClient(transport, contract_of(PARTNER), password, EXTRAS[PARTNER], login=LOGINS[PARTNER])


def test_one_session_serves_every_call_and_an_expired_one_is_opened_again_once(licences: RunningServer) -> None:
    exchanges: list[Exchange] = []
    client = _client(licences.url, exchanges)
    pulled = [record for page in client.iter_period(DAY, DAY) for record in page]
    assert pulled and all(r["MaTTHC"] in ("1.002809", "1.002804") for r in pulled)
    assert [e.operation for e in exchanges].count("login") == 1

    licences.server.config.app.state.sessions.clear()  # the service forgets every session
    again = [record for page in client.iter_period(DAY, DAY) for record in page]
    assert [r["MaHoSo"] for r in again] == [r["MaHoSo"] for r in pulled]
    assert [e.operation for e in exchanges].count("login") == 2


def test_a_wrong_password_is_refused_at_login_and_never_retried(licences: RunningServer) -> None:
    exchanges: list[Exchange] = []
    client = _client(licences.url, exchanges, password="not-the-password")
    with pytest.raises(AuthenticationError, match="-302"):
        list(client.iter_period(DAY, DAY))
    assert [e.operation for e in exchanges] == ["login"]


def test_a_session_contract_needs_the_connection_login() -> None:
    transport = HttpTransport(PARTNER, TransportSettings(base_url="http://127.0.0.1:9"), signatures=MessageSignatures())
    with pytest.raises(ValueError, match="needs its login"):
        MinistryClient(transport, contract_of(PARTNER), "password", EXTRAS[PARTNER])
