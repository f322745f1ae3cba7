"""The SOAP template (adapters/soap, sandbox/soap) against a live SOAP sandbox over loopback.

The population database is the partner here because it is the first on the template; what is
tested is the template: contract check, faults -> error classes, signature refusals, exchange
reports, the WSDL parsed once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
import zeep
from lxml import etree

from adapters.errors import (
    AuthenticationError,
    ContractViolation,
    PermanentError,
    RetryableError,
    UntrustedReply,
)
from adapters.exchange import Exchange
from adapters.population_db.client import WSDL
from adapters.soap import RecordNotFound, load_contract
from adapters.soap.envelope import EnvelopeError, payload_bytes, read_envelope
from signing.errors import UnsafeXml
from signing.pki import DevPki
from signing.safe_xml import parse_xml
from signing.trust import TrustStore
from signing.xmldsig import signer_certificate, verify_enveloped
from tests.support.population_sandbox import AGENCY, PASSWORD, Sandbox, soap_client, start

pytestmark = pytest.mark.timeout(120)

VERIFY, LOOKUP = "XacThucThongTinCongDan", "TraCuuThongTinCongDan"
XSD = WSDL.with_suffix(".xsd")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory, dev_pki: DevPki) -> Iterator[Sandbox]:
    running = start(tmp_path_factory.mktemp("soap"), dev_pki)
    yield running
    running.server.stop()


@pytest.fixture(autouse=True)
def healthy(sandbox: Sandbox) -> Iterator[None]:
    yield
    sandbox.faults(latency_ms=0, error_rate=0, timeout_rate=0, fail_next=0, soap_fault_rate=0, malformed_rate=0, seed=0)
    sandbox.signing.set_mode("valid")


def verify_values(applicant: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {
        "MaYeuCau": "req-1",
        "MaDVC": AGENCY,
        "MaCanBo": "canbo.01",
        "SoDinhDanh": applicant["so_dinh_danh"],
        "HoVaTen": applicant["ho_ten"],
        "NgayThangNamSinh": date.fromisoformat(applicant["ngay_sinh"]),
        **changes,
    }


def lookup_values(citizen_id: str) -> dict[str, Any]:
    return {"MaYeuCau": "req-2", "MaDVC": AGENCY, "MaCanBo": "canbo.01", "SoDinhDanh": citizen_id}


# --------------------------------------------------------------------------- contract


def test_requests_and_replies_on_the_wire_validate_against_the_xsd(
    sandbox: Sandbox, dev_pki: DevPki, trust_store: TrustStore
) -> None:
    schema = etree.XMLSchema(parse_xml(XSD.read_bytes()))  # compiled here, independently of the adapter
    exchanges: list[Exchange] = []
    client = soap_client(sandbox, dev_pki, exchanges=exchanges)
    for fate in ("match", "name_diacritics", "birth_date", "not_found"):
        client.call(VERIFY, verify_values(sandbox.applicant(fate)))
    client.call(LOOKUP, lookup_values(sandbox.applicant("match")["so_dinh_danh"]))

    assert len(exchanges) == 5
    for exchange in exchanges:
        for body, signer in ((exchange.request_body, "hub"), (exchange.response_body, "population_db")):
            assert body is not None
            _header, payload = read_envelope(body)
            assert schema.validate(payload), schema.error_log
            document = payload_bytes(payload)
            verify_enveloped(document, trust_store)  # signed, by a trusted certificate ...
            assert f"CN={signer} " in signer_certificate(document).subject.rfc4514_string() + " "  # ... the right one
    # what the sandbox kept is what went over the wire
    kept = sandbox.received(VERIFY)[-4:]
    assert [item["reply"].encode() for item in kept] == [e.response_body for e in exchanges[:4]]


def test_a_request_that_breaks_the_xsd_is_refused_before_sending(sandbox: Sandbox, dev_pki: DevPki) -> None:
    exchanges: list[Exchange] = []
    client = soap_client(sandbox, dev_pki, exchanges=exchanges)
    with pytest.raises(ContractViolation) as caught:
        client.call(VERIFY, verify_values(sandbox.applicant("match"), SoDinhDanh="00109001234"))
    assert caught.value.side == "hub" and "pattern" in str(caught.value)
    assert exchanges == []


def test_the_wsdl_is_parsed_once_per_process(
    sandbox: Sandbox, dev_pki: DevPki, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[str] = []
    original = zeep.Client.__init__

    def counting(self: zeep.Client, wsdl: str, *args: Any, **kwargs: Any) -> None:
        built.append(wsdl)
        original(self, wsdl, *args, **kwargs)

    monkeypatch.setattr(zeep.Client, "__init__", counting)
    contract = load_contract(WSDL)
    clients = [soap_client(sandbox, dev_pki) for _ in range(3)]
    for client in clients:
        client.call(LOOKUP, lookup_values(sandbox.applicant("match")["so_dinh_danh"]))
    assert built == []  # already loaded by earlier calls in this process: nobody parsed it again
    assert all(client.contract is contract for client in clients)
    assert load_contract.cache_info().currsize >= 1


def test_the_sandbox_serves_its_wsdl_and_xsd(sandbox: Sandbox) -> None:
    wsdl = requests.get(f"{sandbox.url}/?wsdl", timeout=5)
    xsd = requests.get(f"{sandbox.url}/population_db.xsd", timeout=5)
    assert wsdl.status_code == xsd.status_code == 200
    assert wsdl.content == WSDL.read_bytes() and xsd.content == XSD.read_bytes()


# --------------------------------------------------------------------------- faults


@pytest.mark.parametrize(
    ("faults", "error", "text", "attempts"),
    [
        ({"error_rate": 1.0}, RetryableError, "HTTP 503", 2),
        ({"soap_fault_rate": 1.0}, RetryableError, "soap:Server 500", 2),
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
    client = soap_client(sandbox, dev_pki, exchanges=exchanges, read_timeout=0.4)
    with pytest.raises(error) as caught:
        client.call(VERIFY, verify_values(sandbox.applicant("match")))
    assert text in str(caught.value)
    assert len(exchanges) == attempts  # retried only when retryable
    assert caught.value.retryable is (error is RetryableError)


def test_latency_is_survived_and_a_fail_next_is_retried(sandbox: Sandbox, dev_pki: DevPki) -> None:
    sandbox.faults(latency_ms=150, fail_next=1)
    exchanges: list[Exchange] = []
    reply = soap_client(sandbox, dev_pki, exchanges=exchanges).call(VERIFY, verify_values(sandbox.applicant("match")))
    assert reply["KetQua"] == "KHOP"
    assert [e.outcome for e in exchanges] == ["retryable", "ok"]
    assert exchanges[0].request_body == exchanges[1].request_body  # a retry resends the same signed bytes


@pytest.mark.parametrize(
    ("make", "error", "text"),
    [
        (lambda s, p: soap_client(s, p, password="wrong-password-1"), AuthenticationError, "100"),
        (lambda s, p: soap_client(s, p, sign=False), AuthenticationError, "no ds:Signature"),
    ],
    ids=["wrong-password", "unsigned-request"],
)
def test_refused_credentials_and_unsigned_requests_are_authentication_errors(
    sandbox: Sandbox, dev_pki: DevPki, make: Any, error: type[Exception], text: str
) -> None:
    with pytest.raises(error) as caught:
        make(sandbox, dev_pki).call(VERIFY, verify_values(sandbox.applicant("match")))
    assert text in str(caught.value) and not caught.value.retryable
    assert "wrong-password-1" not in str(caught.value)


def test_unknown_agency_and_not_found_are_permanent(sandbox: Sandbox, dev_pki: DevPki) -> None:
    exchanges: list[Exchange] = []
    client = soap_client(sandbox, dev_pki, exchanges=exchanges)
    with pytest.raises(PermanentError, match="106") as agency:
        client.call(VERIFY, verify_values(sandbox.applicant("match"), MaDVC="000.00.99.H99"))
    with pytest.raises(RecordNotFound, match="201"):
        client.call(LOOKUP, lookup_values(sandbox.applicant("not_found")["so_dinh_danh"]))
    assert not agency.value.retryable and len(exchanges) == 2


def test_a_caller_outside_the_ip_allow_list_gets_fault_101(sandbox: Sandbox, tmp_path: Path, dev_pki: DevPki) -> None:
    restricted = start(tmp_path, dev_pki, allowed_ips=("10.0.0.1",))
    try:
        with pytest.raises(AuthenticationError, match="101") as caught:
            soap_client(restricted, dev_pki).call(VERIFY, verify_values(sandbox.applicant("match")))
        assert "allow-list" in str(caught.value)
    finally:
        restricted.server.stop()


# --------------------------------------------------------------------------- signatures


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
    requests.post(f"{sandbox.url}/sandbox/signing", json={"reply_mode": mode}, timeout=5).raise_for_status()
    exchanges: list[Exchange] = []
    with pytest.raises(UntrustedReply) as caught:
        soap_client(sandbox, dev_pki, exchanges=exchanges).call(VERIFY, verify_values(sandbox.applicant("match")))
    assert reason in str(caught.value)
    assert [e.outcome for e in exchanges] == ["permanent"]  # refused whole, not retried
    assert exchanges[0].response_body  # ... and kept, byte for byte, for the message log


def test_the_exchange_keeps_exact_bytes_but_not_the_password(sandbox: Sandbox, dev_pki: DevPki) -> None:
    exchanges: list[Exchange] = []
    soap_client(sandbox, dev_pki, exchanges=exchanges).call(VERIFY, verify_values(sandbox.applicant("match")))
    (exchange,) = exchanges
    assert exchange.redacted and b"<wsse:Password" in exchange.request_body
    assert PASSWORD.encode() not in exchange.request_body and b"Pw&amp;dan-cu" not in exchange.request_body
    assert b"ds:Signature" in exchange.request_body and b"ds:Signature" in (exchange.response_body or b"")
    assert exchange.request_body.replace(b"***", b"") == sandbox.received(VERIFY)[-1]["request"].encode().replace(
        b"Pw&amp;dan-cu&lt;7f3a&gt;9c1e", b""
    )


# --------------------------------------------------------------------------- envelope framing

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


def test_a_second_body_element_is_refused_by_the_sandbox(sandbox: Sandbox) -> None:
    reply = requests.post(
        sandbox.url, data=ENVELOPE % b"<a/><b/>", headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=5
    )
    assert reply.status_code == 500 and b"<loi:MaLoi>300</loi:MaLoi>" in reply.content
