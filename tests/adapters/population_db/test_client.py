"""The population-database client against its sandbox on loopback: the LGSP envelope as public
clients send it, what comes back, refusals, the audit and the cache."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from adapters.errors import AuthenticationError, UntrustedReply
from adapters.exchange import Exchange
from adapters.population_db.client import (
    IdentityQuery,
    Lookup,
    LookupPurpose,
    OfficerNotAuthorised,
    PopulationDbClient,
    ProcedureNotLicensed,
    ResultCache,
    from_connection,
)
from mappings.identity import BirthDate, StatedIdentity, Verdict, compare
from signing.pki import DevPki
from tests.support import population_sandbox
from tests.support.population_sandbox import PROCEDURE, AuditList, Sandbox, population_client

PURPOSE = "xác thực người nộp hồ sơ"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory, dev_pki: DevPki) -> Iterator[Sandbox]:
    running = population_sandbox.start(tmp_path_factory.mktemp("population"), dev_pki)
    yield running
    running.server.stop()


@pytest.fixture(autouse=True)
def _no_faults(sandbox: Sandbox) -> Iterator[None]:
    yield
    sandbox.faults(fail_next=0, error_rate=0, malformed_rate=0, soap_fault_rate=0)
    sandbox.signing.set_mode("valid")


def _query(applicant: dict[str, Any], birth: BirthDate | None = None) -> IdentityQuery:
    return IdentityQuery(
        applicant["so_dinh_danh"], applicant["ho_ten"], birth or BirthDate.parse(applicant["ngay_sinh"])
    )


def _lookup(client: PopulationDbClient, applicant: dict[str, Any], audit: AuditList, **kw: Any) -> Lookup:
    purpose = LookupPurpose(applicant["ma_ho_so"], PURPOSE, kw.pop("procedure", PROCEDURE))
    return client.lookup(_query(applicant, **kw), purpose, audit)


@pytest.mark.parametrize(
    ("fate", "verdict", "mismatched", "diacritics_only"),
    [
        ("match", Verdict.MATCH, (), False),
        ("name_diacritics", Verdict.MISMATCH, ("HoVaTen",), True),
        ("birth_date", Verdict.MISMATCH, ("NgayThangNamSinh",), False),
        ("not_found", Verdict.NOT_FOUND, (), False),
    ],
)
def test_the_hub_compares_what_the_register_answers(
    sandbox: Sandbox, dev_pki: DevPki, fate: str, verdict: Verdict, mismatched: tuple[str, ...], diacritics_only: bool
) -> None:
    applicant = sandbox.applicant(fate)
    query = _query(applicant)
    answer = _lookup(population_client(sandbox, dev_pki), applicant, AuditList())
    check = compare(StatedIdentity(query.citizen_id, query.full_name, query.birth), answer.person)
    assert (check.verdict, check.mismatched, check.diacritics_only) == (verdict, mismatched, diacritics_only)
    if fate == "not_found":
        assert answer.person is None  # an empty CongdanCollection: an answer, not an error


def test_a_name_sent_decomposed_is_normalised_before_it_is_sent(sandbox: Sandbox, dev_pki: DevPki) -> None:
    applicant = sandbox.applicant("match", nfd=True)
    answer = _lookup(population_client(sandbox, dev_pki), applicant, AuditList())
    assert answer.person is not None
    check = compare(
        StatedIdentity(applicant["so_dinh_danh"], applicant["ho_ten"], BirthDate.parse(applicant["ngay_sinh"])),
        answer.person,
    )
    assert check.verdict is Verdict.MATCH


def test_the_request_is_the_lgsp_json_envelope_with_the_soap_xml_in_data(sandbox: Sandbox, dev_pki: DevPki) -> None:
    exchanges: list[Exchange] = []
    client = population_client(sandbox, dev_pki, exchanges=exchanges)
    applicant = sandbox.applicant("match")
    _lookup(client, applicant, AuditList())
    _lookup(client, applicant, AuditList(), birth=BirthDate(int(applicant["ngay_sinh"][:4])))
    assert [e.operation for e in exchanges] == ["getToken", "TraCuuThongTinCongDan", "TraCuuThongTinCongDan"]
    sent = json.loads(sandbox.received()[-2]["request"])
    assert set(sent) == {"accessToken", "lgspAccessToken", "AuthHash", "data"}
    assert sent["accessToken"].startswith("Bearer ")
    data = sent["data"]
    assert 'xmlns:ns0="http://dancuquocgia.bca"' in data and "<ns0:MaTichHop>037</ns0:MaTichHop>" in data
    assert f"<ns0:MaDVC>{PROCEDURE}</ns0:MaDVC>" in data and "<ns0:MaCanBo>canbo.01</ns0:MaCanBo>" in data
    assert f"<ns0:NgayThangNam>{applicant['ngay_sinh'].replace('-', '')}</ns0:NgayThangNam>" in data
    assert "Security" not in data and "Signature" not in data  # no public client sends either
    year_only = json.loads(sandbox.received()[-1]["request"])["data"]
    assert f"<ns0:Nam>{applicant['ngay_sinh'][:4]}</ns0:Nam>" in year_only and "NgayThangNam>" not in year_only
    kept = json.loads(exchanges[1].request_body)  # the message log keeps no token, key or hash
    assert (kept["accessToken"], kept["lgspAccessToken"], kept["AuthHash"]) == ("***", "***", "***")
    assert exchanges[1].redacted and b"access_token" in exchanges[0].response_body  # blanked value, kept key
    assert json.loads(exchanges[0].response_body)["access_token"] == "***"


def test_an_expired_token_is_renewed_once(sandbox: Sandbox, dev_pki: DevPki) -> None:
    exchanges: list[Exchange] = []
    client = population_client(sandbox, dev_pki, exchanges=exchanges)
    applicant = sandbox.applicant("match")
    _lookup(client, applicant, AuditList())
    client._token = ("a-token-the-lgsp-never-issued", float("inf"))  # as if it had expired at the LGSP
    assert _lookup(client, applicant, AuditList()).person is not None
    assert [(e.operation, e.status) for e in exchanges[2:]] == [
        ("TraCuuThongTinCongDan", 401),
        ("getToken", 200),
        ("TraCuuThongTinCongDan", 200),
    ]


def test_refusals_004_and_005_are_their_own_errors_audited_and_not_retried(sandbox: Sandbox, dev_pki: DevPki) -> None:
    applicant = sandbox.applicant("match")
    audit = AuditList()
    exchanges: list[Exchange] = []
    with pytest.raises(ProcedureNotLicensed, match="004"):
        _lookup(population_client(sandbox, dev_pki, exchanges=exchanges), applicant, audit, procedure="9.999999")
    with pytest.raises(OfficerNotAuthorised, match="005"):
        _lookup(population_client(sandbox, dev_pki, exchanges=exchanges, officer_secret="stale"), applicant, audit)
    assert isinstance(OfficerNotAuthorised("p", "o", "m"), AuthenticationError)
    assert [e.outcome for e in exchanges if e.operation != "getToken"] == ["permanent", "permanent"]
    assert [(r.source, r.outcome) for r in audit.records] == [
        ("failed", "ProcedureNotLicensed"),
        ("failed", "OfficerNotAuthorised"),
    ]


def test_every_lookup_is_audited_with_the_officer_and_purpose(sandbox: Sandbox, dev_pki: DevPki) -> None:
    applicant = sandbox.applicant("not_found")
    audit = AuditList()
    client = population_client(sandbox, dev_pki, cache=ResultCache(60))
    _lookup(client, applicant, audit)
    _lookup(client, applicant, audit)  # answered from the cache: still an access to personal data
    calls = sandbox.calls()
    _lookup(client, applicant, audit)
    assert sandbox.calls() == calls  # a cached "nobody" is an answer too
    first, second = audit.records[:2]
    assert (first.source, first.outcome, second.source) == ("partner", "not_found", "cache")
    assert (first.officer, first.agency) == ("canbo.01", population_sandbox.UNIT)
    assert first.purpose == f"{PURPOSE}; MaDVC {PROCEDURE}"
    assert applicant["so_dinh_danh"] not in repr(first) and first.subject.endswith(applicant["so_dinh_danh"][-3:])


def test_replies_are_checked_only_when_the_connection_asks(sandbox: Sandbox, dev_pki: DevPki) -> None:
    applicant = sandbox.applicant("match")
    sandbox.signing.set_mode("tampered")
    assert _lookup(population_client(sandbox, None), applicant, AuditList()).person is not None
    with pytest.raises(UntrustedReply):
        _lookup(population_client(sandbox, dev_pki), applicant, AuditList())


def test_the_connection_must_name_the_officer_and_unit(sandbox: Sandbox) -> None:
    channel = population_sandbox.transport(sandbox.url, None)
    with pytest.raises(ValueError, match="officer_secret"):
        from_connection(channel, "key", "secret", {"madonvi": "000.00.00.H26"})
    client = from_connection(channel, "key", "s3cr3t-9", {"madonvi": "000.00.00.H26", "officer_secret": "0ff1cer-7"})
    assert (client.officer.code, client.officer.unit, client.account.partner_code) == (
        "key",
        "000.00.00.H26",
        "000.00.00.H26",
    )
    assert "s3cr3t-9" not in repr(client.account) and "0ff1cer-7" not in repr(client.officer)
