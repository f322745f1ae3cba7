"""Population database: the generated register, the client's verdicts, audit, cache, masking, hook."""

from __future__ import annotations

import logging
import pickle
import unicodedata
from collections import Counter
from collections.abc import Iterator
from datetime import date
from urllib.parse import quote

import pytest

from adapters.errors import PermanentError
from adapters.hooks import PartnerHook
from adapters.population_db.client import (
    DIACRITICS_ONLY,
    IdentityQuery,
    LookupPurpose,
    ResultCache,
    Verdict,
    fold_name,
)
from adapters.soap import RecordNotFound
from mappings.citizen_id import check_citizen_id
from mappings.code_tables import load_code_tables
from sandbox.population_db.registry import FATE_SHARES, _other_diacritics, applicants_of, birth_date_for
from signing.pki import DevPki
from tests.support.population_sandbox import (
    AGENCY,
    DAY,
    PASSWORD,
    USERNAME,
    AuditList,
    Sandbox,
    population_client,
    soap_client,
    start,
)

pytestmark = pytest.mark.timeout(120)

PURPOSE = LookupPurpose("000.00.12.H26-261120-0001", "xác thực người nộp hồ sơ")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory, dev_pki: DevPki) -> Iterator[Sandbox]:
    running = start(tmp_path_factory.mktemp("population"), dev_pki)
    yield running
    running.server.stop()


def query(applicant: dict[str, str], *, name: str | None = None, born: date | None = None) -> IdentityQuery:
    return IdentityQuery(
        applicant["so_dinh_danh"], name or applicant["ho_ten"], born or date.fromisoformat(applicant["ngay_sinh"])
    )


# --------------------------------------------------------------------------- the generated register


def test_the_register_agrees_with_the_city_generator_in_known_proportions() -> None:
    applicants = list(applicants_of(DAY, 0.1, 0))
    assert len(applicants) > 500
    fates = Counter(a.fate for a in applicants)
    for fate, share in FATE_SHARES:
        assert 0.4 * share < fates[fate] / len(applicants) < 2 * share, fate
    assert list(applicants_of(DAY, 0.1, 0)) == applicants  # deterministic
    tables = load_code_tables()
    for a in applicants[:200]:
        assert a.birth_date == birth_date_for(a.citizen_id)
        assert check_citizen_id(a.citizen_id, tables, sex=a.sex, birth_date=a.birth_date, today=DAY) == []
    assert any(a.name != a.name_as_sent for a in applicants)  # some names arrive in NFD, like the city sends them


def test_a_diacritics_variant_folds_to_the_same_letters() -> None:
    import random

    for name in ("Nguyễn Văn An", "Lê Thị Hoa", "Đặng Minh Đức", "Trần Thu Hà"):
        variant = _other_diacritics(name, random.Random(name))
        assert variant != name and fold_name(variant) == fold_name(name)
        assert unicodedata.normalize("NFC", variant) == variant


# --------------------------------------------------------------------------- verdicts


def test_a_registered_applicant_matches(sandbox: Sandbox, dev_pki: DevPki) -> None:
    result = population_client(sandbox, dev_pki).verify(query(sandbox.applicant("match")), PURPOSE, AuditList())
    assert result.verdict is Verdict.MATCH and result.mismatched == () and "khớp" in result.reason


def test_a_name_sent_in_nfd_is_normalised_and_matches(sandbox: Sandbox, dev_pki: DevPki) -> None:
    applicant = sandbox.applicant("match")
    nfd = unicodedata.normalize("NFD", applicant["ho_ten"])
    assert nfd != applicant["ho_ten"]
    client = population_client(sandbox, dev_pki)
    assert client.verify(query(applicant, name=f" {nfd}  "), PURPOSE, AuditList()).verdict is Verdict.MATCH
    # the register itself compares as received: without the adapter's normalisation it would not match
    raw = soap_client(sandbox, dev_pki).call(
        "XacThucThongTinCongDan",
        {
            "MaYeuCau": "raw-nfd",
            "MaDVC": AGENCY,
            "MaCanBo": "canbo.01",
            "SoDinhDanh": applicant["so_dinh_danh"],
            "HoVaTen": nfd,
            "NgayThangNamSinh": date.fromisoformat(applicant["ngay_sinh"]),
        },
    )
    assert raw["KetQua"] == "KHONG_KHOP" and raw["TruongKhongKhop"] == ["HoVaTen"]


def test_a_diacritics_only_difference_is_reported_as_such(sandbox: Sandbox, dev_pki: DevPki) -> None:
    audit = AuditList()
    result = population_client(sandbox, dev_pki).verify(query(sandbox.applicant("name_diacritics")), PURPOSE, audit)
    assert result.verdict is Verdict.MISMATCH and result.mismatched == ("HoVaTen",)
    assert result.diacritics_only and result.reason == DIACRITICS_ONLY
    assert [r.operation for r in audit.records] == ["XacThucThongTinCongDan", "TraCuuThongTinCongDan"]
    assert "phân loại" in audit.records[1].purpose


def test_another_name_is_a_plain_name_mismatch(sandbox: Sandbox, dev_pki: DevPki) -> None:
    result = population_client(sandbox, dev_pki).verify(
        query(sandbox.applicant("match"), name="Hoàng Thị Someone"), PURPOSE, AuditList()
    )
    assert result.mismatched == ("HoVaTen",) and not result.diacritics_only
    assert result.reason == "họ tên khác với CSDL quốc gia về dân cư"


def test_a_birth_date_difference_names_the_field(sandbox: Sandbox, dev_pki: DevPki) -> None:
    result = population_client(sandbox, dev_pki).verify(query(sandbox.applicant("birth_date")), PURPOSE, AuditList())
    assert result.verdict is Verdict.MISMATCH and result.mismatched == ("NgayThangNamSinh",)
    assert result.reason == "ngày sinh khác với CSDL quốc gia về dân cư"  # Vietnamese, as every quarantine reason


def test_an_unregistered_applicant_is_not_found(sandbox: Sandbox, dev_pki: DevPki) -> None:
    client = population_client(sandbox, dev_pki)
    applicant = sandbox.applicant("not_found")
    assert client.verify(query(applicant), PURPOSE, AuditList()).verdict is Verdict.NOT_FOUND
    with pytest.raises(RecordNotFound):
        client.lookup(applicant["so_dinh_danh"], PURPOSE, AuditList())


def test_lookup_returns_the_citizen_record(sandbox: Sandbox, dev_pki: DevPki) -> None:
    applicant = sandbox.applicant("match")
    citizen = population_client(sandbox, dev_pki).lookup(applicant["so_dinh_danh"], PURPOSE, AuditList())
    assert citizen.full_name == unicodedata.normalize("NFC", applicant["ho_ten"])
    assert f"{citizen.family_name} {citizen.middle_name} {citizen.given_name}".split() == citizen.full_name.split()
    assert citizen.birth_date == date.fromisoformat(applicant["ngay_sinh"])
    assert citizen.sex == ("male" if int(applicant["so_dinh_danh"][3]) % 2 == 0 else "female")
    assert citizen.permanent_address.province == "Thành phố Hà Nội" and citizen.birth_registration_place
    assert applicant["so_dinh_danh"] not in repr(citizen)


# --------------------------------------------------------------------------- audit, cache, masking


def test_every_lookup_is_audited_with_who_why_and_when(sandbox: Sandbox, dev_pki: DevPki) -> None:
    audit = AuditList()
    client = population_client(sandbox, dev_pki, cache=ResultCache(60))
    applicant = sandbox.applicant("match")
    client.verify(query(applicant), PURPOSE, audit)
    client.verify(query(applicant), PURPOSE, audit)  # from the cache: still audited
    with pytest.raises(RecordNotFound):
        client.lookup(sandbox.applicant("not_found")["so_dinh_danh"], PURPOSE, audit)

    first, cached, failed = audit.records
    assert (first.source, cached.source, failed.source) == ("partner", "cache", "failed")
    assert first.outcome == "match" and failed.outcome == "RecordNotFound"
    assert first.dossier_no == PURPOSE.dossier_no and first.purpose == PURPOSE.reason
    assert (first.agency, first.officer) == (AGENCY, "canbo.01") and first.at.tzinfo is not None
    assert first.subject == "*********" + applicant["so_dinh_danh"][-3:]
    assert applicant["so_dinh_danh"] not in repr(audit.records)


def test_answers_are_cached_until_they_expire_and_never_exported(sandbox: Sandbox, dev_pki: DevPki) -> None:
    now = [0.0]
    cache = ResultCache(30, clock=lambda: now[0])
    client = population_client(sandbox, dev_pki, cache=cache)
    applicant = sandbox.applicant("match")
    before = sandbox.calls()
    for _ in range(3):
        client.verify(query(applicant), PURPOSE, AuditList())
    assert sandbox.calls() == before + 1
    now[0] = 31.0
    client.verify(query(applicant), PURPOSE, AuditList())
    assert sandbox.calls() == before + 2
    with pytest.raises(TypeError, match="never exported"):
        pickle.dumps(cache)
    assert applicant["so_dinh_danh"] not in repr(cache)


def test_no_full_id_in_logs_or_errors(sandbox: Sandbox, dev_pki: DevPki, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    messages: list[str] = []
    client = population_client(sandbox, dev_pki)
    ids = [sandbox.applicant(fate)["so_dinh_danh"] for fate in ("match", "name_diacritics", "not_found")]
    for fate in ("match", "name_diacritics", "birth_date", "not_found"):
        client.verify(query(sandbox.applicant(fate)), PURPOSE, AuditList())
    for citizen_id in ids:
        try:
            client.lookup(citizen_id, PURPOSE, AuditList())
        except RecordNotFound as exc:
            messages.append(str(exc))
    with pytest.raises(PermanentError) as refused:
        population_client(sandbox, dev_pki, agency="000.00.99.H99").verify(
            query(sandbox.applicant("match")), PURPOSE, AuditList()
        )
    messages.append(str(refused.value))
    sandbox.faults(error_rate=1.0)
    try:
        with pytest.raises(Exception) as outage:
            client.verify(query(sandbox.applicant("birth_date"), name="Ai Đó"), PURPOSE, AuditList())
        messages.append(str(outage.value))
    finally:
        sandbox.faults(error_rate=0)
    text = caplog.text + "\n".join(messages)
    assert "population XacThucThongTinCongDan" in caplog.text
    for applicant in sandbox.applicants():
        assert applicant["so_dinh_danh"] not in text


# --------------------------------------------------------------------------- Airflow hook


def test_the_hook_builds_one_working_client_per_connection(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    host = sandbox.url.removeprefix("http://")
    uri = (
        f"http://{USERNAME}:{quote(PASSWORD, safe='')}@{host}?madonvi={AGENCY}&macanbo=system&cache_ttl_s=120&timeout=5"
    )
    monkeypatch.setenv("AIRFLOW_CONN_POPULATION_DB", uri)
    client = PartnerHook("population_db").get_client()
    assert PartnerHook("population_db").get_client() is client
    assert (client.agency, client.officer, client.cache.ttl_s) == (AGENCY, "system", 120.0)
    audit = AuditList()
    assert client.verify(query(sandbox.applicant("match")), PURPOSE, audit).verdict is Verdict.MATCH
    assert audit.records[0].officer == "system"
