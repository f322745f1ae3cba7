"""The SOAP transport (``adapters/soap/client.py``) as its one partner uses it: the population
register's SOAP envelope inside the LGSP's JSON envelope (``post_wrapped``), against the double over
loopback -- injected faults onto the error taxonomy, retries that resend the same bytes, reply
signatures refused with a reason, secrets blanked in the exchange report, envelope framing, the WSDL
parsed once. (The SOAP template's WS-Security, signed requests and ``SoapClient`` were retired with
the population register's move to the LGSP envelope: docs/interfaces.md 5.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from adapters.errors import AuthenticationError, ContractViolation, PermanentError, RetryableError, UntrustedReply
from adapters.exchange import Exchange
from adapters.population_db.client import WSDL, IdentityQuery, Lookup, LookupPurpose, PopulationDbClient
from adapters.soap import RecordNotFound, fault_error, load_contract
from adapters.soap.envelope import EnvelopeError, Fault, read_envelope
from mappings.identity import BirthDate
from signing.errors import UnsafeXml
from signing.pki import DevPki
from tests.support import population_sandbox
from tests.support.population_sandbox import PROCEDURE, SECRET_KEY, AuditList, Sandbox, population_client

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory, dev_pki: DevPki) -> Iterator[Sandbox]:
    running = population_sandbox.start(tmp_path_factory.mktemp("soap"), dev_pki)
    yield running
    running.server.stop()


@pytest.fixture(autouse=True)
def healthy(sandbox: Sandbox) -> Iterator[None]:
    yield
    sandbox.faults(latency_ms=0, error_rate=0, timeout_rate=0, fail_next=0, soap_fault_rate=0, malformed_rate=0, seed=0)
    sandbox.signing.set_mode("valid")


def lookup(client: PopulationDbClient, applicant: dict[str, Any]) -> Lookup:
    query = IdentityQuery(applicant["so_dinh_danh"], applicant["ho_ten"], BirthDate.parse(applicant["ngay_sinh"]))
    return client.lookup(query, LookupPurpose(applicant["ma_ho_so"], "kiểm tra", PROCEDURE), AuditList())


def soap_calls(exchanges: list[Exchange]) -> list[Exchange]:
    return [e for e in exchanges if e.operation != "getToken"]


@pytest.mark.parametrize(
    ("faults", "error", "text", "attempts"),
    [
        ({"error_rate": 1.0}, RetryableError, "HTTP 503", 2),
        ({"soap_fault_rate": 1.0}, RetryableError, "soap:Server", 2),
        ({"timeout_rate": 1.0, "timeout_s": 1.0}, RetryableError, "read timeout", 2),
        ({"malformed_rate": 1.0}, ContractViolation, "not well-formed", 1),
    ],
    ids=["http-5xx", "soap-fault", "hang", "malformed"],
)
def test_each_injected_fault_maps_to_its_error_class(
    sandbox: Sandbox, dev_pki: DevPki, faults: dict[str, Any], error: type[Exception], text: str, attempts: int
) -> None:
    sandbox.faults(**faults)
    exchanges: list[Exchange] = []
    client = population_client(sandbox, dev_pki, exchanges=exchanges, read_timeout=0.4)
    with pytest.raises(error) as caught:
        lookup(client, sandbox.applicant("match"))
    assert text in str(caught.value)
    assert len(soap_calls(exchanges)) == attempts  # retried only when retryable
    assert caught.value.retryable is (error is RetryableError)


def test_latency_is_survived_and_a_retry_resends_the_same_bytes(sandbox: Sandbox, dev_pki: DevPki) -> None:
    sandbox.faults(latency_ms=150, fail_next=1)
    exchanges: list[Exchange] = []
    assert lookup(population_client(sandbox, dev_pki, exchanges=exchanges), sandbox.applicant("match")).person
    calls = soap_calls(exchanges)
    assert [e.outcome for e in calls] == ["retryable", "ok"]
    assert calls[0].request_body == calls[1].request_body


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("unsigned", "no ds:Signature"),
        ("tampered", "digest mismatch"),
        ("expired", "expired on"),
        ("wrong_ca", "is not in the trust store"),
        ("wrapped", "not a child of the document root"),
    ],
)
def test_untrustworthy_replies_are_refused_with_a_reason(
    sandbox: Sandbox, dev_pki: DevPki, mode: str, reason: str
) -> None:
    sandbox.signing.set_mode(mode)
    exchanges: list[Exchange] = []
    with pytest.raises(UntrustedReply) as caught:
        lookup(population_client(sandbox, dev_pki, exchanges=exchanges), sandbox.applicant("match"))
    assert reason in str(caught.value)
    calls = soap_calls(exchanges)
    assert [e.outcome for e in calls] == ["permanent"]  # refused whole, not retried
    assert calls[0].response_body  # ... and kept, byte for byte, for the message log


def test_the_exchange_keeps_the_soap_bytes_but_not_the_lgsp_secrets(sandbox: Sandbox, dev_pki: DevPki) -> None:
    exchanges: list[Exchange] = []
    lookup(population_client(sandbox, dev_pki, exchanges=exchanges), sandbox.applicant("match"))
    (call,) = soap_calls(exchanges)
    assert call.redacted and SECRET_KEY.encode() not in call.request_body
    assert b"soap:Envelope" in call.request_body and b"ds:Signature" in (call.response_body or b"")


def test_the_wsdl_is_parsed_once_per_process(sandbox: Sandbox, dev_pki: DevPki) -> None:
    clients = [population_client(sandbox, dev_pki) for _ in range(3)]
    assert all(client.contract is load_contract(WSDL) for client in clients)
    assert load_contract.cache_info().currsize >= 1


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault("soap:Server", "busy"), RetryableError),
        (Fault("soap:Client", "bad request"), PermanentError),
        (Fault("soap:Client", "denied", 100), AuthenticationError),
        (Fault("soap:Client", "not held", 201), RecordNotFound),
        (Fault("soap:Client", "unreadable", 300), ContractViolation),
    ],
)
def test_a_soap_fault_is_only_ever_an_error_of_its_class(fault: Fault, error: type[Exception]) -> None:
    found = fault_error("population_db", "TraCuuThongTinCongDan", fault, status=500, secrets=())
    assert type(found) is error and fault.message in str(found)


ENVELOPE = (
    b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>%s</soap:Body></soap:Envelope>'
)


@pytest.mark.parametrize(
    ("data", "error", "text"),
    [
        (ENVELOPE % b"<a/><b/>", EnvelopeError, "holds 2 elements"),
        (ENVELOPE % b"", EnvelopeError, "holds 0 elements"),
        (b"<Envelope/>", EnvelopeError, "not a SOAP 1.1 Envelope"),
        (b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + ENVELOPE % b"<a>&e;</a>", UnsafeXml, "DOCTYPE"),
    ],
    ids=["two-payloads", "empty-body", "not-soap", "xxe"],
)
def test_only_one_payload_envelopes_are_read(data: bytes, error: type[Exception], text: str) -> None:
    with pytest.raises(error, match=text):
        read_envelope(data)
