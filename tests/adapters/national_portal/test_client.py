"""NationalPortalClient against the live portal simulator (sandbox/national_portal) over loopback.

What the portal did is read from its own counters (``/sandbox/stats``), never from the client.
A scripted server (from test_adapters_transport) plays a portal that breaks the contract.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from jsonschema import Draft202012Validator

import adapters.national_portal
from adapters.errors import (
    AuthenticationError,
    CircuitOpenError,
    ContractViolation,
    PermanentError,
    RetryableError,
)
from adapters.exchange import Exchange
from adapters.national_portal.client import NationalPortalClient
from adapters.national_portal.models import Agency, Classification, Procedure
from adapters.national_portal.settings import PortalOptions
from adapters.settings import TransportSettings
from adapters.transport import HttpTransport
from sandbox.national_portal.app import create_app
from sandbox.server import RunningServer, serve_in_thread
from tests.adapters.test_transport import ScriptedServer, Step

pytestmark = pytest.mark.timeout(120)

USERNAME = "hub-hanoi"
PASSWORD = "Pw-portal-7f3a9c1e"  # a secret: must never show up in a message, a log or an exchange
AGENCY = "000.00.00.H26"
ID_NUMBER = "001090012345"
PHONE = "0912345678"
FAST = {"backoff_initial": 0.01, "backoff_max": 0.05, "read_timeout": 5.0}


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[RunningServer]:
    server = serve_in_thread(create_app(tmp_path / "portal.db", USERNAME, PASSWORD, [AGENCY]))
    yield server
    server.stop()


def make_client(
    url: str,
    exchanges: list[Exchange] | None = None,
    password: str = PASSWORD,
    agency: str = AGENCY,
    options: PortalOptions | None = None,
    **settings: Any,
) -> NationalPortalClient:
    transport = HttpTransport(
        "national_portal",
        TransportSettings(base_url=url, **{**FAST, **settings}),
        on_exchange=exchanges.append if exchanges is not None else None,
    )
    return NationalPortalClient(transport, USERNAME, password, agency, options)


def faults(server: RunningServer, **changes: Any) -> None:
    requests.post(f"{server.url}/sandbox/faults", json=changes, timeout=5).raise_for_status()


def stats(server: RunningServer) -> dict[str, Any]:
    return requests.get(f"{server.url}/sandbox/stats", timeout=5).json()


def calls(server: RunningServer, service: str, outcome: str = "total") -> int:
    return stats(server)["calls"].get(service, {}).get(outcome, 0)


GOLDEN = Path(__file__).with_name("golden")


def dossier(seq: int, *, procedure: str = "1.001193", submitted: str = "20261120081500") -> dict[str, Any]:
    """The golden DongBoHoSoMC record (what public clients send), numbered ``seq``, filed at ``submitted``."""
    (record,) = json.loads((GOLDEN / "dong_bo_ho_so.request.json").read_text(encoding="utf-8"))["data"]
    return {**record, "MaHoSo": f"000.01.60.H26-261120-{seq:04d}", "MaTTHC": procedure, "NgayNopHoSo": submitted,
            "NgayTiepNhan": submitted, "NgayHenTra": "20261130170000", "SoGiayToChuHoSo": ID_NUMBER,
            "SoDienThoai": PHONE}  # fmt: skip


def progress(dossier_no: str, step: int) -> dict[str, Any]:
    (entry,) = json.loads((GOLDEN / "cap_nhat_tien_do.request.json").read_text(encoding="utf-8"))["data"]
    return {**entry, "MaHoSo": dossier_no, "ThoiDiemXuLy": f"202611201{step % 10}0000", "NoiDungXuLy": f"Bước {step}"}


# ------------------------------------------------------------------------------------------ records


def test_a_refused_call_is_halved_until_the_refused_records_are_found(portal: RunningServer) -> None:
    client = make_client(portal.url)
    invalid = {**dossier(3), "NgayNopHoSo": "2026-11-20"}
    unknown_procedure = dossier(4, procedure="2.001035")  # in the catalogue, not integrated on the portal
    first = client.sync_dossiers([dossier(1), dossier(2), invalid, unknown_procedure], updating=False)
    assert [r.classification for r in first] == [
        Classification.STORED,
        Classification.STORED,
        Classification.REJECTED,
        Classification.REJECTED,
    ]
    assert [r.dossier_no for r in first] == [f"000.01.60.H26-261120-{n:04d}" for n in (1, 2, 3, 4)]
    assert (first[2].code, first[3].code) == ("-1", "-1")
    assert "NgayNopHoSo" in first[2].message  # the reason names the field
    # 4 refused -> [1, 2] stored, [3, 4] refused -> 3 and 4 alone: 2n - 1 calls at most
    assert calls(portal, "DongBoHoSoMC") == 5

    again = client.sync_dossiers([dossier(1)], updating=False)
    assert again[0].classification is Classification.ALREADY_EXISTS
    assert again[0].code == "-3" and "đã tồn tại" in again[0].message

    updated = client.sync_dossiers([{**dossier(1), "TrangThaiHoSo": "9"}, dossier(99)], updating=True)
    assert [r.classification for r in updated] == [Classification.STORED, Classification.NOT_FOUND]
    assert client.lookup(dossier(1)["MaHoSo"])["TrangThaiHoSo"] == "9"  # type: ignore[index]
    assert client.lookup("000.01.60.H26-261120-0777") is None


def test_records_go_in_calls_of_the_configured_batch_size(portal: RunningServer) -> None:
    records = [dossier(n) for n in range(1, 26)]
    results = make_client(portal.url).sync_dossiers(records, updating=False)
    assert [r.dossier_no for r in results] == [r["MaHoSo"] for r in records]
    assert {r.classification for r in results} == {Classification.STORED}
    assert calls(portal, "DongBoHoSoMC") == 3  # 10 + 10 + 5: the conservative default
    one_by_one = make_client(portal.url, options=PortalOptions(batch_size=1))
    assert len(one_by_one.sync_dossiers(records[:3], updating=True)) == 3
    assert calls(portal, "DongBoHoSoMC") == 6  # public practice: one record per call
    assert stats(portal)["held"]["dossiers"] == 25


def test_progress_is_pushed_in_chunks_of_ten_and_a_rerun_stores_nothing_twice(portal: RunningServer) -> None:
    client = make_client(portal.url)
    client.sync_dossiers([dossier(1), dossier(2)], updating=False)
    entries = [progress(dossier(1 + n % 2)["MaHoSo"], n) for n in range(25)]
    results = client.push_progress(entries)
    assert len(results) == 25 and {r.classification for r in results} == {Classification.STORED}
    assert calls(portal, "CapNhatTienDoHoSoMC") == 3  # 10 + 10 + 5, as public clients send them

    rerun = client.push_progress(entries)
    assert {r.classification for r in rerun} == {Classification.STORED}
    snapshot = stats(portal)
    assert snapshot["records"]["CapNhatTienDoHoSoMC"] == {"stored": 25, "duplicate": 25}
    assert snapshot["held"]["progress_entries"] == 25

    unknown = client.push_progress([progress("000.01.60.H26-261120-0555", 1)])
    assert unknown[0].classification is Classification.NOT_FOUND and unknown[0].code == "-2"


def test_catalogues_are_typed(portal: RunningServer) -> None:
    client = make_client(portal.url)
    procedures, agencies = client.list_procedures(), client.list_agencies()
    assert procedures and all(isinstance(p, Procedure) for p in procedures)
    assert "1.001193" in {p.code for p in procedures} and "2.001035" not in {p.code for p in procedures}
    assert agencies and all(isinstance(a, Agency) for a in agencies)
    assert AGENCY in {a.code for a in agencies} and all(a.name and a.level for a in agencies)


# ------------------------------------------------------------------------------------------ session


def test_expired_session_is_renewed_transparently_once(portal: RunningServer) -> None:
    client = make_client(portal.url)
    client.list_agencies()
    faults(portal, session_ttl_s=0.5)
    time.sleep(0.6)  # the session the client holds has expired on the portal's side
    assert client.list_agencies()  # error 100 -> log in again -> the same call again
    assert calls(portal, "auth", "ok") == 2
    assert calls(portal, "LayDanhMucCoQuan", "error_100") == 1
    assert calls(portal, "LayDanhMucCoQuan", "ok") == 2

    faults(portal, session_ttl_s=0)  # now even a fresh session is refused
    with pytest.raises(AuthenticationError, match="session refused again right after a fresh login"):
        client.list_agencies()
    assert calls(portal, "auth", "ok") == 3  # one more login, no loop


def test_session_is_logged_in_lazily_and_reused(portal: RunningServer) -> None:
    client = make_client(portal.url)
    assert calls(portal, "auth") == 0
    client.list_agencies()
    client.list_procedures()
    client.lookup("000.00.03.H26-261120-0001")
    assert calls(portal, "auth") == 1


def test_wrong_password_is_a_clear_authentication_error_without_the_password(portal: RunningServer) -> None:
    wrong = "Wrong-pass-123456"
    with pytest.raises(AuthenticationError) as caught:
        make_client(portal.url, password=wrong).list_agencies()
    message = str(caught.value)
    assert message.startswith("national_portal auth: login refused (error 100")
    assert "check the Connection's login and password" in message
    assert wrong not in message and PASSWORD not in message
    assert calls(portal, "auth", "denied") == 1  # not retried


def test_unknown_agency_is_permanent(portal: RunningServer) -> None:
    with pytest.raises(PermanentError, match=r"error 106: agency code \(madonvi\) 000\.00\.99\.H26") as caught:
        make_client(portal.url, agency="000.00.99.H26").list_agencies()
    assert not isinstance(caught.value, RetryableError)
    assert calls(portal, "LayDanhMucCoQuan") == 1


# ------------------------------------------------------------------------------------------ faults


def test_503s_are_retried_until_the_call_succeeds(portal: RunningServer) -> None:
    client = make_client(portal.url)
    client.list_agencies()
    faults(portal, fail_next=2)
    results = client.sync_dossiers([dossier(1)], updating=False)
    assert results[0].classification is Classification.STORED
    snapshot = stats(portal)
    assert snapshot["faults"]["http_503"] == 2
    assert snapshot["calls"]["DongBoHoSoMC"]["total"] == 1  # the one that got through


def test_hung_calls_time_out_and_fail_retryable_after_max_attempts(portal: RunningServer) -> None:
    client = make_client(portal.url, read_timeout=0.3, max_attempts=3)
    client.list_agencies()
    faults(portal, timeout_rate=1.0, timeout_s=2.0)
    with pytest.raises(RetryableError, match=r"no reply within the 0\.3 s read timeout"):
        client.list_procedures()
    assert stats(portal)["faults"]["timeout"] == 3  # the portal saw exactly max_attempts calls


def test_breaker_opens_and_later_calls_do_not_reach_the_portal(portal: RunningServer) -> None:
    client = make_client(portal.url, max_attempts=1, breaker_threshold=2, breaker_cooldown=60)
    client.list_agencies()
    faults(portal, error_rate=1.0)
    for _ in range(2):
        with pytest.raises(RetryableError):
            client.list_agencies()
    with pytest.raises(CircuitOpenError):
        client.sync_dossiers([dossier(1)], updating=False)
    assert stats(portal)["faults"]["http_503"] == 2


# ------------------------------------------------------------------------------------------ secrets


def test_no_secret_or_full_id_in_logs_messages_or_exchanges(
    portal: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    exchanges: list[Exchange] = []
    client = make_client(portal.url, exchanges)
    bad = {**dossier(1), "LoaiDoiTuong": "9"}
    results = client.sync_dossiers([bad], updating=False)
    faults(portal, session_ttl_s=0)
    with pytest.raises(AuthenticationError) as caught:
        client.list_agencies()
    session = client._session
    assert session

    assert results[0].classification is Classification.REJECTED
    texts = [caplog.text, str(caught.value), *(r.message for r in results)]
    texts += [e.request_body.decode() + (e.response_body or b"").decode() for e in exchanges]
    texts += [e.error or "" for e in exchanges]
    for text in texts:
        assert PASSWORD not in text
        assert session not in text
    for text in [caplog.text, str(caught.value), *(e.error or "" for e in exchanges)]:
        assert ID_NUMBER not in text and PHONE not in text
    auth_exchanges = [e for e in exchanges if e.operation == "auth"]
    assert auth_exchanges and all(e.redacted for e in auth_exchanges)
    assert all(json.loads(e.request_body)["password"] == "***" for e in auth_exchanges)


# ------------------------------------------------------------------------------------------ contract

SPEC = yaml.safe_load((Path(adapters.national_portal.__file__).parent / "openapi.yaml").read_text(encoding="utf-8"))
REPLY_SCHEMAS = {
    "auth": ("AuthOk",),
    "DongBoHoSoMC": ("Envelope",),
    "CapNhatTienDoHoSoMC": ("Envelope",),
    "TraCuuHoSo": ("LookupReply",),
    "LayDanhSachTTHC": ("ProceduresReply",),
    "LayDanhMucCoQuan": ("AgenciesReply",),
}
PATHS = {"auth": "/auth", "LayDanhSachTTHC": "/share", "LayDanhMucCoQuan": "/share"}


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator({**schema, "components": SPEC["components"]})


def test_every_request_and_reply_matches_openapi_yaml(portal: RunningServer) -> None:
    """The contract beside the adapter is executable: what the client sent and what the simulator
    answered in a full conversation both validate against it."""
    exchanges: list[Exchange] = []
    client = make_client(portal.url, exchanges)
    client.sync_dossiers([dossier(1), dossier(2)], updating=False)
    client.sync_dossiers([dossier(1), {**dossier(3), "NgayHenTra": "20261119170000"}], updating=False)
    client.sync_dossiers([dossier(1), dossier(4)], updating=True)
    client.push_progress([progress(dossier(1)["MaHoSo"], n) for n in range(3)])
    client.lookup(dossier(1)["MaHoSo"])
    client.lookup(dossier(9)["MaHoSo"])
    client.list_procedures()
    client.list_agencies()
    assert {e.operation for e in exchanges} == set(REPLY_SCHEMAS)

    for exchange in exchanges:
        path = PATHS.get(exchange.operation, "/service")
        request_schema = SPEC["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        validator(request_schema).validate(json.loads(exchange.request_body))
        reply = json.loads(exchange.response_body or b"null")
        problems = {
            name: [error.message for error in validator({"$ref": f"#/components/schemas/{name}"}).iter_errors(reply)]
            for name in REPLY_SCHEMAS[exchange.operation]
        }
        assert any(not errors for errors in problems.values()), (exchange.operation, problems)


AUTH_OK = Step(body={"error_code": "0", "message": "ok", "session": "scripted-session-0001"})


def scripted(*steps: Step) -> tuple[ScriptedServer, NationalPortalClient]:
    server = ScriptedServer([AUTH_OK, *steps])
    return server, make_client(server.url, max_attempts=2)


def test_a_malformed_reply_is_a_contract_violation_and_not_retried() -> None:
    server, client = scripted(Step(body={"message": "no error_code"}))
    try:
        with pytest.raises(ContractViolation, match="error_code"):
            client.sync_dossiers([dossier(1), dossier(2)], updating=False)
        assert server.count == 2  # login + one call
    finally:
        server.stop()


def test_an_unknown_code_is_pending_with_its_message_and_a_named_refusal_is_rejected() -> None:
    d1, d2, d3 = dossier(1), dossier(2), dossier(3)
    server, client = scripted(
        Step(body={"error_code": "42", "message": "Hệ thống bận"}),  # the call of three: halve
        Step(body={"error_code": "00", "message": ""}),  # d1 alone: success as O-T spells it
        Step(body={"error_code": 7, "message": f"Hồ sơ {d2['MaHoSo']} sai định dạng"}),  # d2, d3: halve again
        Step(body={"error_code": 7, "message": f"Hồ sơ {d2['MaHoSo']} sai định dạng"}),  # d2 alone: named
        Step(body={"error_code": "42", "message": "Hệ thống bận"}),  # d3 alone: not named
    )
    try:
        results = client.sync_dossiers([d1, d2, d3], updating=False)
        assert [r.classification for r in results] == [
            Classification.STORED,
            Classification.REJECTED,
            Classification.PENDING,
        ]
        assert (results[1].code, results[2].code, results[2].message) == ("7", "42", "Hệ thống bận")
        assert server.count == 6  # login + 5 calls (2n - 1)
    finally:
        server.stop()


def test_error_300_on_a_catalogue_is_permanent() -> None:
    server, client = scripted(Step(body={"error_code": "300", "message": "Dữ liệu không hợp lệ"}))
    try:
        with pytest.raises(PermanentError, match="error_code 300"):
            client.list_agencies()
    finally:
        server.stop()


def test_error_500_is_retried() -> None:
    server, client = scripted(
        Step(body={"error_code": 500, "message": "Lỗi hệ thống"}),
        Step(body={"error_code": 0, "message": "Thêm mới thành công"}),
    )
    try:
        (result,) = client.sync_dossiers([dossier(1)], updating=False)
        assert result.classification is Classification.STORED
        assert server.count == 3  # login, the 500, the retry
    finally:
        server.stop()


@pytest.mark.parametrize("code", ["0", "3", "-3", -1])
def test_already_exists_text_under_any_code_is_understood(code: str | int) -> None:
    server, client = scripted(Step(body={"error_code": code, "message": "Hồ sơ ĐÃ TỒN TẠI trên hệ thống"}))
    try:
        (result,) = client.sync_dossiers([dossier(1)], updating=False)
        assert result.classification is Classification.ALREADY_EXISTS and result.code == str(code)
    finally:
        server.stop()


# ------------------------------------------------------------------------------------------ transport settings


def test_endpoints_and_dstcode_come_from_the_connection(tmp_path: Path) -> None:
    app = create_app(tmp_path / "p.db", USERNAME, PASSWORD, [AGENCY], dstcode="LGSP-HN-01")
    with serve_in_thread(app) as server:
        routed = PortalOptions(dstcode="LGSP-HN-01")
        assert make_client(server.url, options=routed).list_agencies()
        with pytest.raises(AuthenticationError, match="dstcode"):
            make_client(server.url).list_agencies()  # no dstcode header: the adapter refuses the login
        moved = PortalOptions(dstcode="LGSP-HN-01", share_endpoint="/service")
        with pytest.raises(PermanentError, match="không được hỗ trợ"):
            make_client(server.url, options=moved).list_agencies()  # a catalogue on the integration path


def test_the_batch_size_and_paths_are_checked_extras() -> None:
    assert PortalOptions.from_extras({"madonvi": AGENCY, "batch_size": "3"}).batch_size == 3
    for bad in ({"batch_size": "0"}, {"auth_endpoint": "auth"}, {"unknown": "x"}):
        with pytest.raises(ValueError):
            PortalOptions.from_extras(bad)


def test_a_real_portal_needs_a_madonvi_of_the_configured_province(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_PROVINCE_SUFFIX", raising=False)
    make_client("https://dichvucong.example.vn/lgsp")  # H26 on a real host: fine (nothing is called)
    make_client("http://127.0.0.1:9", agency="000.00.00.H24")  # the loopback sandbox: any unit
    with pytest.raises(ValueError, match=r"does not end in the configured province code \.H26"):
        make_client("https://dichvucong.example.vn/lgsp", agency="000.00.00.H24")
    monkeypatch.setenv("HUB_PROVINCE_SUFFIX", "H24")
    make_client("https://dichvucong.example.vn/lgsp", agency="000.00.00.H24")


def test_the_session_is_renewed_by_age(portal: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    import adapters.national_portal.client as module

    client = make_client(portal.url)
    client.list_agencies()
    monkeypatch.setattr(module, "SESSION_MAX_AGE_S", 0.0)
    client.list_agencies()
    assert calls(portal, "auth", "ok") == 2 and calls(portal, "LayDanhMucCoQuan", "error_100") == 0


def test_the_request_bodies_are_the_bytes_json_dumps_wrote_and_the_log_keeps_them_redacted() -> None:
    """The body is encoded once by the fast encoder: on the wire, byte for byte what ``json.dumps``
    with compact separators and UTF-8 kept wrote before (the portal's golden records, Vietnamese,
    an empty list, a null and small and large floats among them); in the exchange report, the
    document with its session blanked, as ``json.dumps`` with its defaults writes it."""
    odd = {**progress("000.01.60.H26-261120-0001", 1), "Ghi": None, "So": [1e-07, 2.5, 1e16, 2**70], "Ds": []}
    entries = [odd, *(progress("000.01.60.H26-261120-0001", step) for step in range(2, 6))]
    records = [dossier(1), dossier(2)]
    exchanges: list[Exchange] = []
    server = ScriptedServer([AUTH_OK], default=Step(body={"error_code": "0", "message": "ok"}))
    try:
        client = make_client(server.url, exchanges)
        client.push_progress(entries)
        client.sync_dossiers(records, updating=True)
    finally:
        server.stop()
    session = AUTH_OK.body["session"]  # type: ignore[index]
    sent = [
        {"session": session, "madonvi": AGENCY, "service": "CapNhatTienDoHoSoMC", "data": entries},
        {"session": session, "madonvi": AGENCY, "service": "DongBoHoSoMC", "isUpdating": "True", "data": records},
    ]
    before = [json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode() for body in sent]
    assert [r["body"] for r in server.requests[1:]] == before
    logged = [json.dumps({**body, "session": "***"}, ensure_ascii=False).encode() for body in sent]
    assert [e.request_body for e in exchanges[1:]] == logged
    assert all(e.redacted for e in exchanges)
