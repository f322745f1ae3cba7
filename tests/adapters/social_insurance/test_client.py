"""SocialInsuranceClient against the live social-insurance SOAP simulator over loopback.

The insured people are the citizen applicants of generated city days, as the population register
holds them, so a lookup here finds the applicant of a dossier the hub staged.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
import requests

from adapters.errors import AuthenticationError, PermanentError, RetryableError, UntrustedReply
from adapters.hooks import PartnerHook
from adapters.settings import TransportSettings
from adapters.signatures import MessageSignatures
from adapters.soap import Credentials, SoapClient, SoapTransport, load_contract
from adapters.soap.envelope import read_envelope
from adapters.social_insurance.client import WSDL, Household, SocialInsuranceClient
from sandbox.population_db.registry import Applicant, applicants_of
from sandbox.server import RunningServer, serve_in_thread
from sandbox.signatures import PartnerSigning
from sandbox.social_insurance.app import create_app
from sandbox.social_insurance.store import insurance_number
from signing.keys import SigningIdentity
from signing.pki import DevPki
from signing.trust import TrustStore

pytestmark = pytest.mark.timeout(120)

USER, PASSWORD = "hub-hanoi", "Pw-bhxh-3e7a"
AGENCY, OFFICER = "000.00.00.H26", "hub-airflow"
DAY, SCALE, SEED = date(2026, 11, 20), 0.02, 7
DOSSIER = "000.00.03.H26-261120-0001"
FAST = {"backoff_initial": 0.01, "backoff_max": 0.05, "read_timeout": 5.0, "max_attempts": 3}


@pytest.fixture(scope="module")
def insurer(
    tmp_path_factory: pytest.TempPathFactory, dev_pki: DevPki
) -> Iterator[tuple[RunningServer, PartnerSigning]]:
    signing = PartnerSigning(dev_pki, "social_insurance", xml=True)
    app = create_app(
        tmp_path_factory.mktemp("bhxh") / "bhxh.db", Credentials(USER, PASSWORD), [AGENCY], signing=signing
    )
    app.state.insurance.load_days(DAY, DAY, SCALE, SEED)
    with serve_in_thread(app) as server:
        yield server, signing


@pytest.fixture
def server(insurer: tuple[RunningServer, PartnerSigning]) -> Iterator[RunningServer]:
    running, signing = insurer
    yield running
    requests.post(f"{running.url}/sandbox/faults", json={"soap_fault_rate": 0.0}, timeout=5).raise_for_status()
    signing.set_mode("valid")


@pytest.fixture(scope="module")
def applicant() -> Applicant:
    """A citizen applicant of the city's day whose name has diacritics (to test NFC/NFD)."""
    return next(a for a in applicants_of(DAY, SCALE, SEED) if a.name != unicodedata.normalize("NFD", a.name))


def make_client(
    url: str, trust: TrustStore | None, hub: SigningIdentity, *, password: str = PASSWORD, agency: str = AGENCY
) -> SocialInsuranceClient:
    transport = SoapTransport(
        "social_insurance", TransportSettings(base_url=url, **FAST), signatures=MessageSignatures(hub, trust)
    )
    return SocialInsuranceClient(
        SoapClient(transport, load_contract(WSDL), Credentials(USER, password)), agency, OFFICER
    )


def received(server: RunningServer) -> list[dict[str, Any]]:
    return requests.get(f"{server.url}/sandbox/received", timeout=5).json()["items"]


@pytest.fixture
def client(
    server: RunningServer, trust_store: TrustStore, pki_identity: Callable[[str], SigningIdentity]
) -> SocialInsuranceClient:
    return make_client(server.url, trust_store, pki_identity("hub"))


def test_household_of_a_city_applicant(client: SocialInsuranceClient, applicant: Applicant) -> None:
    household = client.household(insurance_number(applicant.citizen_id), dossier_no=applicant.dossier_no)
    assert isinstance(household, Household) and 1 <= len(household.members) <= 4
    head = household.members[0]
    assert (head.name, head.birth_date, head.citizen_id, head.relation) == (
        applicant.name,
        applicant.birth_date,  # the population register's birth date: the simulators agree
        applicant.citizen_id,
        "Chủ hộ",
    )
    assert client.household("0199999999", dossier_no=DOSSIER) is None


def test_criteria_search_compares_names_in_nfc(
    client: SocialInsuranceClient, applicant: Applicant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    decomposed = unicodedata.normalize("NFD", applicant.name)
    found = client.find(decomposed, dossier_no=applicant.dossier_no, birth_date=applicant.birth_date)
    assert insurance_number(applicant.citizen_id) in {person.number for person in found}
    by_id = client.find(applicant.name.upper(), dossier_no=applicant.dossier_no, citizen_id=applicant.citizen_id)
    assert [person.citizen_id for person in by_id] == [applicant.citizen_id]
    assert client.find("Không Có Ai", dossier_no=DOSSIER, birth_date=date(1990, 1, 1)) == []
    with pytest.raises(ValueError, match="birth_date or citizen_id"):
        client.find(applicant.name, dossier_no=DOSSIER)
    assert applicant.citizen_id not in caplog.text  # personal numbers never reach the logs


def test_every_lookup_says_who_asked_and_for_which_dossier(
    server: RunningServer, client: SocialInsuranceClient, applicant: Applicant
) -> None:
    client.household(insurance_number(applicant.citizen_id), dossier_no=applicant.dossier_no)
    last = received(server)[-1]
    assert applicant.dossier_no in last["request"] and OFFICER in last["request"] and AGENCY in last["request"]
    assert PASSWORD not in last["reply"]


def test_requests_and_replies_validate_against_the_xsd(
    server: RunningServer, client: SocialInsuranceClient, applicant: Applicant
) -> None:
    already = max((item["id"] for item in received(server)), default=0)
    client.household(insurance_number(applicant.citizen_id), dossier_no=applicant.dossier_no)
    client.find(applicant.name, dossier_no=applicant.dossier_no, birth_date=applicant.birth_date)
    contract = load_contract(WSDL)
    items = [item for item in received(server) if item["id"] > already]
    assert {item["operation"] for item in items} == set(contract.operations)
    for item in items:
        for message in (item["request"], item["reply"]):
            _header, payload = read_envelope(message.encode("utf-8"))
            assert contract.schema_errors(payload) is None, item["operation"]


def test_error_codes_faults_and_untrusted_replies(
    insurer: tuple[RunningServer, PartnerSigning],
    server: RunningServer,
    client: SocialInsuranceClient,
    applicant: Applicant,
    trust_store: TrustStore,
    pki_identity: Callable[[str], SigningIdentity],
) -> None:
    hub = pki_identity("hub")
    with pytest.raises(AuthenticationError, match="100"):
        make_client(server.url, trust_store, hub, password="nope").household("0199999999", dossier_no=DOSSIER)
    with pytest.raises(PermanentError, match="106"):
        make_client(server.url, trust_store, hub, agency="000.00.97.H26").household("0199999999", dossier_no=DOSSIER)
    requests.post(f"{server.url}/sandbox/faults", json={"soap_fault_rate": 1.0}, timeout=5).raise_for_status()
    with pytest.raises(RetryableError, match="soap:Server"):
        client.household("0199999999", dossier_no=DOSSIER)
    requests.post(f"{server.url}/sandbox/faults", json={"soap_fault_rate": 0.0}, timeout=5).raise_for_status()
    for mode in ("unsigned", "tampered", "expired", "wrong_ca", "wrapped"):
        insurer[1].set_mode(mode)
        with pytest.raises(UntrustedReply, match="reply refused"):
            client.find(applicant.name, dossier_no=applicant.dossier_no, birth_date=applicant.birth_date)


def test_the_hooks_build_verifying_soap_clients_from_env_connections(
    server: RunningServer, applicant: Applicant, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = server.url.removeprefix("http://")
    monkeypatch.setenv("AIRFLOW_CONN_BHXH_TEST", f"http://{USER}:{PASSWORD}@{host}?madonvi={AGENCY}&timeout=5")
    client = PartnerHook("social_insurance", "bhxh_test").get_client()
    assert isinstance(client, SocialInsuranceClient) and client.officer == USER
    assert client.household(insurance_number(applicant.citizen_id), dossier_no=applicant.dossier_no) is not None
    assert PartnerHook("social_insurance", "bhxh_test").get_client() is client
    monkeypatch.setenv("AIRFLOW_CONN_HT_NO_AGENCY", f"http://{USER}:{PASSWORD}@{host}")
    with pytest.raises(ValueError, match="madonvi"):
        PartnerHook("civil_status", "ht_no_agency").get_client()
