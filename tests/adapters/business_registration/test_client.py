"""BusinessRegistrationClient against the live business-registration simulator over loopback.

One server holds a generated month (November 2026); each test resets its faults and signing mode.
What the ministry did is read from its own counters and exports, never from the client.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import yaml
from jsonschema import Draft202012Validator

import adapters.business_registration
import adapters.national_portal
from adapters.business_registration.client import (
    MAX_WINDOW_DAYS,
    BusinessRegistrationClient,
    Company,
    DossierStatus,
)
from adapters.errors import AuthenticationError, ContractViolation, PermanentError, RetryableError, UntrustedReply
from adapters.exchange import Exchange
from adapters.hooks import PartnerHook
from adapters.periods import windows
from adapters.settings import TransportSettings
from adapters.signatures import MessageSignatures
from adapters.transport import HttpTransport
from mappings.dossier_number import parse_dossier_number
from sandbox.business_registration.app import create_app
from sandbox.business_registration.store import BusinessRegistrationStore, is_business_registration
from sandbox.city_system.generator import generate
from sandbox.ministry_dossiers import MINISTRY_SEQ_BASE
from sandbox.server import RunningServer, serve_in_thread
from sandbox.signatures import PartnerSigning
from sandbox.tables import tables
from signing.pki import DevPki
from signing.trust import TrustStore

pytestmark = pytest.mark.timeout(120)

TOKEN = "br-token-5c1d9e"  # a secret: never in a message or a log
AGENCY = "000.00.05.H26"
MONTH = (date(2026, 11, 1), date(2026, 11, 30))
SCALE, SEED = 0.02, 7
FAST = {"backoff_initial": 0.01, "backoff_max": 0.05, "read_timeout": 5.0, "max_attempts": 3}


@pytest.fixture(scope="module")
def ministry(
    tmp_path_factory: pytest.TempPathFactory, dev_pki: DevPki
) -> Iterator[tuple[RunningServer, PartnerSigning]]:
    signing = PartnerSigning(dev_pki, "business_registration")
    app = create_app(tmp_path_factory.mktemp("br") / "br.db", TOKEN, [AGENCY], signing=signing)
    app.state.store.load_days(*MONTH, SCALE, SEED)
    with serve_in_thread(app) as server:
        yield server, signing


@pytest.fixture
def server(ministry: tuple[RunningServer, PartnerSigning]) -> Iterator[RunningServer]:
    running, signing = ministry
    yield running
    faults(running, fail_next=0, error_rate=0.0, timeout_rate=0.0, latency_ms=0)
    signing.set_mode("valid")


def faults(server: RunningServer, **changes: Any) -> None:
    requests.post(f"{server.url}/sandbox/faults", json=changes, timeout=5).raise_for_status()


def calls(server: RunningServer, operation: str) -> int:
    return requests.get(f"{server.url}/sandbox/stats", timeout=5).json()["calls"].get(operation, 0)


def make_client(
    url: str,
    trust: TrustStore,
    exchanges: list[Exchange] | None = None,
    *,
    token: str = TOKEN,
    agency: str = AGENCY,
    **settings: Any,
) -> BusinessRegistrationClient:
    transport = HttpTransport(
        "business_registration",
        TransportSettings(base_url=url, **{**FAST, **settings}),
        on_exchange=exchanges.append if exchanges is not None else None,
        signatures=MessageSignatures(trust=trust),
    )
    return BusinessRegistrationClient(transport, token, agency)


def held(server: RunningServer, first: date, last: date) -> list[str]:
    reply = requests.get(f"{server.url}/sandbox/export/dossiers", params={"from": first, "to": last}, timeout=5)
    return reply.json()["items"]


def listed(client: BusinessRegistrationClient, first: date, last: date, page_size: int = 500) -> list[dict[str, Any]]:
    return [item for page in client.iter_period(first, last, page_size) for item in page]


# ------------------------------------------------------------------------------------------ windows


def test_windows_cut_any_period_into_consecutive_windows_of_at_most_five_days() -> None:
    assert windows(date(2026, 11, 20), date(2026, 11, 20), MAX_WINDOW_DAYS) == [
        (date(2026, 11, 20), date(2026, 11, 20))
    ]
    month = windows(*MONTH, MAX_WINDOW_DAYS)
    assert month == [(date(2026, 11, d), date(2026, 11, d + 4)) for d in (1, 6, 11, 16, 21, 26)]
    for first, last in [(date(2024, 2, 25), date(2024, 3, 3)), (date(2025, 12, 30), date(2026, 1, 12))]:
        spans = windows(first, last, MAX_WINDOW_DAYS)
        days = [s + timedelta(days=i) for s, e in spans for i in range((e - s).days + 1)]
        assert days == [first + timedelta(days=i) for i in range((last - first).days + 1)]  # each day exactly once
        assert all(1 <= (e - s).days + 1 <= MAX_WINDOW_DAYS for s, e in spans)
    with pytest.raises(ValueError, match="before"):
        windows(date(2026, 11, 2), date(2026, 11, 1), MAX_WINDOW_DAYS)


def test_paging_helper_lists_a_month_exactly_once(server: RunningServer, trust_store: TrustStore) -> None:
    before = calls(server, "danhSachHoSo")
    items = listed(make_client(server.url, trust_store), *MONTH, page_size=20)
    numbers = [item["MaHoSo"] for item in items]
    assert len(numbers) == len(set(numbers))  # nothing twice
    assert sorted(numbers) == held(server, *MONTH)  # nothing missing
    assert len(numbers) > 6 * 20  # several pages in some window
    assert calls(server, "danhSachHoSo") - before >= len(numbers) / 20  # pages of 20, every window
    assert all("20261101" <= item["NgayCapNhat"][:8] <= "20261130" for item in items)


def test_a_window_over_five_days_is_refused_by_the_client_and_by_the_ministry(
    server: RunningServer, trust_store: TrustStore
) -> None:
    client = make_client(server.url, trust_store)
    with pytest.raises(ValueError, match=r"1\.\.5 days, not 6"):
        client.iter_window(date(2026, 11, 1), date(2026, 11, 6))
    assert len(list(client.iter_window(date(2026, 11, 1), date(2026, 11, 5)))) >= 1

    reply = requests.get(
        f"{server.url}/danhSachHoSo",
        params={"maDonVi": AGENCY, "tuNgay": "20261101", "denNgay": "20261106"},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    ).json()
    assert reply["error_code"] == 300 and "tối đa 5 ngày" in reply["message"] and "6 ngày" in reply["message"]
    with pytest.raises(ContractViolation, match=r"error 300: .*tối đa 5 ngày") as caught:
        list(client._window_pages(date(2026, 11, 1), date(2026, 11, 6), 500))  # past the client's own check
    assert caught.value.side == "hub" and not caught.value.retryable


# ------------------------------------------------------------------------------------------ data


def test_pulled_back_dossiers_are_ministry_procedures_the_city_system_never_numbers(
    server: RunningServer, trust_store: TrustStore
) -> None:
    day = date(2026, 11, 20)
    items = listed(make_client(server.url, trust_store), day, day)
    assert items
    code_tables = tables()
    city_numbers = {r["ma_ho_so"] for r in generate(day, SCALE, SEED).records}
    for item in items:
        number = parse_dossier_number(item["MaHoSo"])
        assert number.seq > MINISTRY_SEQ_BASE and number.day <= day
        assert is_business_registration(code_tables.procedures.get(item["MaTTHC"], day))  # type: ignore[arg-type]
        assert item["MaHoSo"] not in city_numbers


def test_the_generated_month_is_deterministic(tmp_path: Path) -> None:
    stores = [BusinessRegistrationStore(tmp_path / f"{n}.db") for n in range(2)]
    for store in stores:
        store.load_days(date(2026, 11, 19), date(2026, 11, 20), SCALE, SEED)
        assert store.load_days(date(2026, 11, 19), date(2026, 11, 20), SCALE, SEED) == 0  # loading again adds nothing
    assert stores[0].numbers(*MONTH) == stores[1].numbers(*MONTH) != []


def test_status_and_company_lookups(server: RunningServer, trust_store: TrustStore) -> None:
    client = make_client(server.url, trust_store)
    item = next(i for i in listed(client, date(2026, 11, 20), date(2026, 11, 20)) if i["LoaiDoiTuong"] == 2)
    status = client.status(item["MaHoSo"])
    assert isinstance(status, DossierStatus)
    assert status.status == item["TrangThaiHoSo"] and status.history[0]["MaHoSo"] == item["MaHoSo"]
    company = client.company(item["SoGiayToChuHoSo"])
    assert isinstance(company, Company) and company.name == item["ChuHoSo"]
    assert client.status(f"{AGENCY}-261120-9998") is None
    assert client.company("0199999999") is None


# ------------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("overrides", "error", "text"),
    [
        ({"token": "wrong"}, AuthenticationError, r"error 100: .* credentials refused"),
        ({"agency": "000.00.99.H26"}, PermanentError, r"error 106: .* agency code 000.00.99.H26 unknown"),
    ],
)
def test_error_codes_are_clear_permanent_errors_sent_once(
    server: RunningServer, trust_store: TrustStore, overrides: dict[str, str], error: type[Exception], text: str
) -> None:
    before = calls(server, "tinhTrangHoSo")
    with pytest.raises(error, match=text) as caught:
        make_client(server.url, trust_store, **overrides).status(f"{AGENCY}-261120-5001")
    assert not caught.value.retryable  # type: ignore[attr-defined]
    assert calls(server, "tinhTrangHoSo") - before == 1
    assert TOKEN not in str(caught.value)


def test_a_caller_outside_the_allow_list_gets_error_101(tmp_path: Path, trust_store: TrustStore) -> None:
    app = create_app(tmp_path / "br.db", TOKEN, [AGENCY], allowed_ips=["10.20.30.40"])
    with serve_in_thread(app) as running:
        client = make_client(running.url, None)  # type: ignore[arg-type]  # this simulator signs nothing
        with pytest.raises(AuthenticationError, match=r"error 101: .* not on the ministry's allow-list"):
            client.company("0100000000")


def test_faults_are_retried_when_retryable_and_surface_as_retryable(
    server: RunningServer, trust_store: TrustStore
) -> None:
    client = make_client(server.url, trust_store)
    faults(server, fail_next=2)
    assert client.company("0199999999") is None  # two 503s, then the answer
    faults(server, error_rate=1.0)
    with pytest.raises(RetryableError, match="HTTP 503"):
        client.company("0199999999")
    faults(server, error_rate=0.0, timeout_rate=1.0, timeout_s=1.0)
    with pytest.raises(RetryableError, match="read timeout"):
        make_client(server.url, trust_store, read_timeout=0.3, max_attempts=1).company("0199999999")


@pytest.mark.parametrize("mode", ["unsigned", "tampered", "expired", "wrong_ca"])
def test_untrusted_replies_are_refused_and_not_retried(
    ministry: tuple[RunningServer, PartnerSigning], server: RunningServer, trust_store: TrustStore, mode: str
) -> None:
    ministry[1].set_mode(mode)
    before = calls(server, "tinhTrangHoSo")
    with pytest.raises(UntrustedReply, match="reply refused"):
        make_client(server.url, trust_store).status(f"{AGENCY}-261120-5001")
    assert calls(server, "tinhTrangHoSo") - before == 1


# ------------------------------------------------------------------------------------------ contract

SPEC = yaml.safe_load((Path(adapters.business_registration.__file__).parent / "openapi.yaml").read_text("utf-8"))
PORTAL = yaml.safe_load((Path(adapters.national_portal.__file__).parent / "openapi.yaml").read_text("utf-8"))
REPLIES = {"danhSachHoSo": "DossierPage", "tinhTrangHoSo": "StatusReply", "chiTietDoanhNghiep": "CompanyReply"}


def _validator(spec: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator({**schema, "components": spec["components"]})


def test_every_request_and_reply_matches_openapi_yaml(server: RunningServer, trust_store: TrustStore) -> None:
    exchanges: list[Exchange] = []
    client = make_client(server.url, trust_store, exchanges)
    items = listed(client, date(2026, 11, 18), date(2026, 11, 24), page_size=50)
    business = next(i for i in items if i["LoaiDoiTuong"] == 2)
    client.status(business["MaHoSo"])
    client.status(f"{AGENCY}-261120-9998")
    client.company(business["SoGiayToChuHoSo"])
    assert {e.operation for e in exchanges} == set(REPLIES)

    # The register's records carry the portal's keys (its own types: integer codes, agency code).
    portal_keys = set(PORTAL["components"]["schemas"]["DongBoHoSoMCRecord"]["properties"])
    for exchange in exchanges:
        operation = SPEC["paths"][f"/{exchange.operation}"]["get"]
        query = dict(parse_qsl(urlsplit(exchange.url).query))
        for parameter in operation["parameters"]:
            parameter = SPEC["components"]["parameters"]["maDonVi"] if "$ref" in parameter else parameter
            if parameter.get("required"):
                assert parameter["name"] in query, (exchange.operation, parameter["name"])
            if parameter["name"] in query:
                value: Any = query[parameter["name"]]
                value = int(value) if parameter["schema"].get("type") == "integer" else value
                _validator(SPEC, parameter["schema"]).validate(value)
        reply = json.loads(exchange.response_body or b"null")
        schemas = (REPLIES[exchange.operation], "ErrorReply")
        assert any(_validator(SPEC, {"$ref": f"#/components/schemas/{name}"}).is_valid(reply) for name in schemas), (
            exchange.operation
        )
        for item in reply.get("data", []) if exchange.operation == "danhSachHoSo" else []:
            assert set(item) - {"NgayCapNhat"} <= portal_keys


def test_the_hook_builds_a_verifying_client_from_an_env_connection(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = server.url.removeprefix("http://")
    # No public evidence shows the register signing replies: verification is the Connection's choice.
    uri = f"http://:{TOKEN}@{host}?madonvi={AGENCY}&timeout=5"
    monkeypatch.setenv("AIRFLOW_CONN_BR_TEST", f"{uri}&verify_replies=true")
    client = PartnerHook("business_registration", "br_test").get_client()
    assert client.agency_code == AGENCY and client.transport.signatures.trust is not None
    monkeypatch.setenv("AIRFLOW_CONN_BR_PLAIN", uri)
    assert PartnerHook("business_registration", "br_plain").get_client().transport.signatures.trust is None
    assert client.company("0199999999") is None
    assert PartnerHook("business_registration", "br_test").get_client() is client
    monkeypatch.setenv("AIRFLOW_CONN_BR_NO_AGENCY", f"http://:{TOKEN}@{host}")
    with pytest.raises(ValueError, match="agency code"):
        PartnerHook("business_registration", "br_no_agency").get_client()
