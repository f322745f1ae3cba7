"""Golden messages of the population database (written from the public shapes, docs/interfaces.md
5.1) through the hub's adapter and through the sandbox: both must read and write them alike."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from adapters.population_db.client import LOOKUP, WSDL, IdentityQuery, LgspAccount, Officer, person_of
from adapters.soap.contract import load_contract
from adapters.soap.envelope import read_envelope, read_fault
from mappings.identity import BirthDate, RegisteredAddress
from signing.pki import DevPki
from tests.support import population_sandbox
from tests.support.population_sandbox import Sandbox

GOLDEN = Path(__file__).with_name("golden")
CONTRACT = load_contract(WSDL)
OPERATION = CONTRACT.operation(LOOKUP)


def _payload(name: str):
    return read_envelope((GOLDEN / name).read_bytes())[1]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory, dev_pki: DevPki) -> Iterator[Sandbox]:
    running = population_sandbox.start(tmp_path_factory.mktemp("population-golden"), dev_pki)
    yield running
    running.server.stop()


def _post(sandbox: Sandbox, data: str, *, officer: str = "canbo.01") -> requests.Response:
    """A wrapped call as a public client makes it: token first, then the JSON envelope."""
    key = LgspAccount(population_sandbox.ACCESS_KEY, population_sandbox.SECRET_KEY, "H26").header_value()
    token = requests.post(f"{sandbox.url}/getToken", headers={"lgspaccesstoken": key}, timeout=5).json()
    body = {
        "accessToken": f"Bearer {token['access_token']}",
        "lgspAccessToken": key,
        "AuthHash": Officer(officer, population_sandbox.OFFICER_SECRET, "x").auth_hash(),
        "data": data,
    }
    return requests.post(f"{sandbox.url}/{LOOKUP}", json=body, timeout=5)


@pytest.mark.parametrize(
    ("name", "query"),
    [
        ("request_exact_date.xml", IdentityQuery("001190004217", "Lê  Thị Thu Hà", BirthDate(1990, 4, 17))),
        ("request_year_only.xml", IdentityQuery("011234567", "Phạm Văn Khoa", BirthDate(1957))),
    ],
)
def test_the_adapter_writes_the_golden_requests(name: str, query: IdentityQuery) -> None:
    client = population_sandbox.client_on(population_sandbox.transport("http://127.0.0.1:9", None))
    request_id = "GOLDEN-0001" if "exact" in name else "GOLDEN-0002"
    values = client.request_values(request_id, query, " ".join(query.full_name.split()), "1.000025")
    if "year" in name:  # that public client sends neither TaiKhoan nor a phone
        values.pop("TaiKhoan")
    built = CONTRACT.build(LOOKUP, values)
    golden = _payload(name)
    assert CONTRACT.schema_errors(golden) is None
    assert CONTRACT.schema_errors(built) is None
    assert CONTRACT.read(OPERATION.request, built) == CONTRACT.read(OPERATION.request, golden)


def test_the_adapter_reads_the_golden_replies() -> None:
    found = CONTRACT.read(OPERATION.reply, _payload("reply_found.xml"))["CongDan"]
    assert len(found) == 1
    person = person_of(found[0])
    assert (person.citizen_id, person.full_name, person.birth, person.sex) == (
        "001190004217",
        "LÊ THỊ THU HÀ",
        BirthDate(1990, 4, 17),
        "female",
    )
    assert person.permanent == RegisteredAddress("01", "", "90001", "Số 12 phố Kim Mã")
    assert person.current is not None and person.current.district == "001"
    assert CONTRACT.read(OPERATION.reply, _payload("reply_empty.xml"))["CongDan"] == []


@pytest.mark.parametrize("name", ["request_exact_date.xml", "request_year_only.xml"])
def test_the_sandbox_accepts_the_golden_requests_and_answers_in_the_reply_shape(sandbox: Sandbox, name: str) -> None:
    reply = _post(sandbox, (GOLDEN / name).read_text(encoding="utf-8"))
    assert reply.status_code == 200
    payload = read_envelope(reply.content)[1]
    assert payload.tag == OPERATION.reply.text
    assert CONTRACT.schema_errors(payload) is None
    assert CONTRACT.read(OPERATION.reply, payload)["CongDan"] == []  # nobody holds these invented numbers


def test_the_sandbox_refuses_what_no_public_client_sends(sandbox: Sandbox) -> None:
    reply = _post(sandbox, (GOLDEN / "request_plain_date.xml").read_text(encoding="utf-8"))
    assert reply.status_code == 500
    fault = read_fault(read_envelope(reply.content)[1])
    assert fault is not None and fault.faultcode == "soap:Client"


@pytest.mark.parametrize(
    ("code", "change"),
    [("004", ("<dan:MaDVC>1.000025</dan:MaDVC>", "<dan:MaDVC>9.999999</dan:MaDVC>")), ("005", None)],
)
def test_the_sandbox_refuses_in_the_golden_refusal_shape(
    sandbox: Sandbox, code: str, change: tuple[str, str] | None
) -> None:
    data = (GOLDEN / "request_exact_date.xml").read_text(encoding="utf-8")
    reply = _post(sandbox, data.replace(*change)) if change else _post(sandbox, data, officer="someone.else")
    golden = json.loads((GOLDEN / f"refusal_{code}.json").read_text(encoding="utf-8"))
    assert reply.json()["errorCode"] == golden["errorCode"]
    assert set(reply.json()) == set(golden)
