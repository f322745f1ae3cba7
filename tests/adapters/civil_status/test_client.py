"""CivilStatusClient against the live civil-status SOAP simulator over loopback.

Pushed dossiers come from the city generator (civil-status procedures), mapped to canonical
dossiers exactly as the hub stages them. What the ministry received is read from its own log
(``/sandbox/received``) and counts (``/sandbox/summary``), never from the client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from adapters.civil_status.client import WSDL, CivilStatusClient
from adapters.errors import AuthenticationError, ContractViolation, PermanentError, RetryableError, UntrustedReply
from adapters.exchange import Exchange
from adapters.settings import TransportSettings
from adapters.signatures import MessageSignatures
from adapters.soap import Credentials, SoapClient, SoapTransport, load_contract
from adapters.soap.envelope import read_envelope
from mappings.city_system import to_canonical
from mappings.dossier import VN_TZ, Dossier
from mappings.dossier_number import parse_dossier_number
from sandbox.city_system.generator import generate
from sandbox.civil_status.app import create_app
from sandbox.civil_status.store import ON_MINISTRY_SOFTWARE, PUSHED
from sandbox.ministry_dossiers import MINISTRY_SEQ_BASE
from sandbox.server import RunningServer, serve_in_thread
from sandbox.signatures import PartnerSigning
from sandbox.tables import tables
from signing.keys import SigningIdentity
from signing.pki import DevPki
from signing.trust import TrustStore

pytestmark = pytest.mark.timeout(180)

USER, PASSWORD = "hub-hanoi", "Pw-hotich-91c2"  # the password must never show in an exchange or a message
AGENCY, OFFICER = "000.00.00.H26", "hub-airflow"
MONTH = (date(2026, 11, 1), date(2026, 11, 30))
FAST = {"backoff_initial": 0.01, "backoff_max": 0.05, "read_timeout": 5.0, "max_attempts": 3}


@pytest.fixture(scope="module")
def ministry(
    tmp_path_factory: pytest.TempPathFactory, dev_pki: DevPki
) -> Iterator[tuple[RunningServer, PartnerSigning]]:
    signing = PartnerSigning(dev_pki, "civil_status", xml=True)
    app = create_app(tmp_path_factory.mktemp("ht") / "ht.db", Credentials(USER, PASSWORD), [AGENCY], signing=signing)
    app.state.civil.load_days(*MONTH, 0.02, 7)
    with serve_in_thread(app) as server:
        yield server, signing


@pytest.fixture
def server(ministry: tuple[RunningServer, PartnerSigning]) -> Iterator[RunningServer]:
    running, signing = ministry
    yield running
    faults(running, fail_next=0, error_rate=0.0, timeout_rate=0.0, soap_fault_rate=0.0, malformed_rate=0.0)
    signing.set_mode("valid")


@pytest.fixture(scope="module")
def dossiers() -> list[Dossier]:
    """Civil-status dossiers of the city system (field HT), canonical, as the hub would push them."""
    day, code_tables = date(2026, 11, 20), tables()
    records = generate(day, 0.02, 3).records
    return [to_canonical(r, code_tables) for r in records if r["ma_linh_vuc"] == "HT"][:12]


def faults(server: RunningServer, **changes: Any) -> None:
    requests.post(f"{server.url}/sandbox/faults", json=changes, timeout=5).raise_for_status()


def sandbox(server: RunningServer, path: str, **body: Any) -> Any:
    if body:
        return requests.post(f"{server.url}{path}", json=body, timeout=10).json()
    return requests.get(f"{server.url}{path}", timeout=10).json()


def make_client(
    url: str,
    trust: TrustStore,
    hub: SigningIdentity,
    exchanges: list[Exchange] | None = None,
    *,
    password: str = PASSWORD,
    agency: str = AGENCY,
    **settings: Any,
) -> CivilStatusClient:
    transport = SoapTransport(
        "civil_status",
        TransportSettings(base_url=url, **{**FAST, **settings}),
        signatures=MessageSignatures(identity=hub, trust=trust),
        on_exchange=exchanges.append if exchanges is not None else None,
    )
    soap = SoapClient(transport, load_contract(WSDL), Credentials(USER, password))
    return CivilStatusClient(soap, agency, OFFICER)


@pytest.fixture
def client(
    server: RunningServer, trust_store: TrustStore, pki_identity: Callable[[str], SigningIdentity]
) -> CivilStatusClient:
    return make_client(server.url, trust_store, pki_identity("hub"))


# ------------------------------------------------------------------------------------------ push and status


def test_push_is_idempotent_and_dossiers_move_to_registered(
    server: RunningServer, client: CivilStatusClient, dossiers: list[Dossier]
) -> None:
    before = sandbox(server, "/sandbox/summary")[PUSHED]
    first = [client.register(d) for d in dossiers]
    assert [r.dossier_no for r in first] == [d.dossier_no for d in dossiers]
    assert {(r.status, r.already_held) for r in first} == {(1, False)}
    again = [client.register(d) for d in dossiers]  # a re-run
    assert {(r.status, r.already_held) for r in again} == {(1, True)}
    assert sandbox(server, "/sandbox/summary")[PUSHED] - before == len(dossiers)  # nothing stored twice

    number = dossiers[0].dossier_no
    assert client.result(number).registration is None  # type: ignore[union-attr]
    seen: set[int] = set()
    for _ in range(3):
        sandbox(server, "/sandbox/advance", at="2026-11-21T10:00:00+07:00")
        seen.update(client.status(d.dossier_no).status for d in dossiers)  # type: ignore[union-attr]
    assert seen <= {2, 3, 4} and 4 in seen
    result = client.result(number)
    assert result is not None and result.status == 4
    assert result.registration["CoQuanDangKy"] == dossiers[0].handling_agency  # type: ignore[index]
    assert result.registration["NgayDangKy"] == datetime(2026, 11, 21, 10, tzinfo=VN_TZ)  # type: ignore[index]


def test_unknown_dossiers_are_none_not_errors(client: CivilStatusClient) -> None:
    assert client.status("000.00.03.H26-261120-0999") is None
    assert client.result("000.00.03.H26-261120-0999") is None


# ------------------------------------------------------------------------------------------ pull-back


def test_pull_back_lists_a_month_of_registrations_once_with_their_origin(
    ministry: tuple[RunningServer, PartnerSigning], client: CivilStatusClient
) -> None:
    pages = list(client.iter_registered(*MONTH, page_size=40))
    items = [item for page in pages for item in page]
    numbers = [item["MaHoSo"] for item in items]
    assert len(numbers) == len(set(numbers)) and len(pages) > 2
    store = ministry[0].server.config.app.state.civil
    total, _ = store.registered(*MONTH, None, 0, 1)
    assert len(numbers) == total
    from_ministry = [item for item in items if item["Nguon"] == ON_MINISTRY_SOFTWARE]
    assert from_ministry
    city_numbers = {r["ma_ho_so"] for r in generate(date(2026, 11, 20), 0.02, 7).records}
    for item in from_ministry:
        assert parse_dossier_number(item["MaHoSo"]).seq > MINISTRY_SEQ_BASE
        assert item["MaHoSo"] not in city_numbers
        assert item["KetQua"]["SoDangKy"] and date(2026, 11, 1) <= item["KetQua"]["NgayDangKy"].date()


def test_a_period_over_31_days_is_refused_by_the_ministry(client: CivilStatusClient) -> None:
    with pytest.raises(ContractViolation, match="300") as caught:
        list(client._period_pages(date(2026, 11, 1), date(2026, 12, 15), 10))  # past the client's own windows
    assert caught.value.side == "hub"


# ------------------------------------------------------------------------------------------ errors


def test_error_codes_are_clear_permanent_errors(
    server: RunningServer, trust_store: TrustStore, pki_identity: Callable[[str], SigningIdentity], tmp_path: Path
) -> None:
    hub = pki_identity("hub")
    with pytest.raises(AuthenticationError, match="100") as caught:
        make_client(server.url, trust_store, hub, password="wrong").status("000.00.03.H26-261120-0001")
    assert PASSWORD not in str(caught.value) and "wrong" not in str(caught.value)
    with pytest.raises(PermanentError, match=r"106.*unknown agency"):
        make_client(server.url, trust_store, hub, agency="000.00.98.H26").status("000.00.03.H26-261120-0001")
    app = create_app(tmp_path / "ip.db", Credentials(USER, PASSWORD), [AGENCY], allowed_ips=["10.1.2.3"])
    with serve_in_thread(app) as elsewhere, pytest.raises(AuthenticationError, match=r"101.*allow-list"):
        make_client(elsewhere.url, None, hub).status("000.00.03.H26-261120-0001")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fault", "error", "text"),
    [
        ({"error_rate": 1.0}, RetryableError, "HTTP 503"),
        ({"soap_fault_rate": 1.0}, RetryableError, "soap:Server 500"),
        ({"malformed_rate": 1.0}, ContractViolation, "not well-formed"),
    ],
)
def test_faults_map_to_the_right_error_class(
    server: RunningServer, client: CivilStatusClient, fault: dict[str, float], error: type[Exception], text: str
) -> None:
    faults(server, **fault)
    with pytest.raises(error, match=text):
        client.status("000.00.03.H26-261120-0001")


def test_transient_faults_are_retried_and_a_hung_call_times_out(
    server: RunningServer,
    client: CivilStatusClient,
    trust_store: TrustStore,
    pki_identity: Callable[[str], SigningIdentity],
) -> None:
    faults(server, fail_next=2)
    assert client.status("000.00.03.H26-261120-0001") is None
    faults(server, timeout_rate=1.0, timeout_s=1.0)
    slow = make_client(server.url, trust_store, pki_identity("hub"), read_timeout=0.3, max_attempts=1)
    with pytest.raises(RetryableError, match="read timeout"):
        slow.status("000.00.03.H26-261120-0001")


@pytest.mark.parametrize("mode", ["unsigned", "tampered", "expired", "wrong_ca", "wrapped"])
def test_untrusted_replies_are_refused(
    ministry: tuple[RunningServer, PartnerSigning], server: RunningServer, client: CivilStatusClient, mode: str
) -> None:
    ministry[1].set_mode(mode)
    with pytest.raises(UntrustedReply, match="reply refused"):
        client.iter_registered(date(2026, 11, 20), date(2026, 11, 20)).__next__()


# ------------------------------------------------------------------------------------------ contract


def test_requests_and_replies_validate_against_the_xsd(
    server: RunningServer, client: CivilStatusClient, dossiers: list[Dossier]
) -> None:
    already = max((item["id"] for item in sandbox(server, "/sandbox/received")["items"]), default=0)
    client.register(dossiers[-1])
    client.status(dossiers[-1].dossier_no)
    client.result(dossiers[-1].dossier_no)
    next(client.iter_registered(date(2026, 11, 19), date(2026, 11, 20)))
    contract = load_contract(WSDL)
    received = [item for item in sandbox(server, "/sandbox/received")["items"] if item["id"] > already]
    operations = {item["operation"] for item in received if item["outcome"] == "ok"}
    assert operations == set(contract.operations)
    for item in received:
        if item["outcome"] != "ok":
            continue
        for message in (item["request"], item["reply"]):
            _header, payload = read_envelope(message.encode("utf-8"))
            assert contract.schema_errors(payload) is None, (item["operation"], message[:200])
