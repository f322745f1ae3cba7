"""Golden portal messages (tests/adapters/national_portal/golden/, written from the ledger's public
field lists, not captured) held against the ledger, the OpenAPI contract, the hub's own messages,
the sandbox portal and the reply parser.

The ledger (docs/interfaces.md 2.5-2.7) is the one list of fields: its tables are parsed here, so
a field added to the ledger and not to the contract, the goldens or the mapping fails a test.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

import adapters.national_portal
from adapters.national_portal.models import Classification, LookupReply, classify, refusal_of
from mappings.code_tables import load_code_tables
from mappings.dossier import ApplicantIdentifier, ResultDocument
from mappings.national_portal import to_dong_bo_ho_so, to_progress_entries
from sandbox.national_portal.catalogue import Catalogue
from sandbox.national_portal.service import CODE_OK, INTEGRATION, PortalService
from sandbox.national_portal.sessions import SessionRegistry
from sandbox.national_portal.stats import Stats
from sandbox.national_portal.store import PortalStore
from tests.mappings.test_national_portal import dossier

GOLDEN = Path(__file__).with_name("golden")
LEDGER = Path(__file__).parents[3] / "docs" / "interfaces.md"
SPEC = yaml.safe_load((Path(adapters.national_portal.__file__).parent / "openapi.yaml").read_text(encoding="utf-8"))
OMITTED = {"SoBienNhan"}  # in the ledger as "not required, omit" (O-I comments it out)


def golden(name: str) -> Any:
    return json.loads((GOLDEN / name).read_text(encoding="utf-8"))


def _section(title: str) -> str:
    text = LEDGER.read_text(encoding="utf-8")
    start = text.index(title)
    return text[start : text.index("\n### ", start + 1)]


def _first_cells(section: str) -> list[str]:
    return re.findall(r"^\| `([A-Za-z\[\]\.]+)` \|", section, flags=re.MULTILINE)


def ledger_record() -> set[str]:
    return set(_first_cells(_section("### 2.5 DongBoHoSoMC"))) - OMITTED


def ledger_items() -> dict[str, set[str]]:
    items: dict[str, set[str]] = {}
    for cell in _first_cells(_section("### 2.6 DongBoHoSoMC")):
        name, _, key = cell.partition("[].")
        items.setdefault(name, set()).add(key)
    return items


def ledger_progress() -> set[str]:
    return set(_first_cells(_section("### 2.7 CapNhatTienDoHoSoMC")))


def schema(name: str) -> dict[str, Any]:
    return SPEC["components"]["schemas"][name]


def full_dossier() -> Any:
    """A dossier with every Decision 766 field filled, so every key and list item is produced."""
    return dossier(
        submitted_via_portal=True,
        vneid_verified=True,
        payment_gateway="city",
        applicant_identifiers=[ApplicantIdentifier(kind="citizen_id", number="001190000042")],
        consulted_databases=["1"],
        portal_account_id="tk-7781",
        note="ghi chú",
        results=[ResultDocument(code="GKS", name="Giấy khai sinh", url="https://f.example/gks", result_code="KQ1")],
    )


# ------------------------------------------------------------------------------------------ ledger


def test_the_openapi_record_has_exactly_the_ledger_fields() -> None:
    record = schema("DongBoHoSoMCRecord")["properties"]
    assert set(record) == ledger_record()
    for name, keys in ledger_items().items():
        assert set(record[name]["items"]["properties"]) == keys, name
    lists = {name for name, spec in record.items() if spec.get("type") == "array"}
    assert lists == set(ledger_items()) | {"DanhSachTepDinhKemKhac", "DanhSachHoSoBoSung"}
    assert set(schema("ProgressEntry")["properties"]) == ledger_progress()


def test_golden_requests_have_the_ledger_fields_and_match_the_contract() -> None:
    request = golden("dong_bo_ho_so.request.json")
    (record,) = request["data"]
    assert set(record) == ledger_record()
    for name, keys in ledger_items().items():
        assert all(set(item) == keys for item in record[name]), name
    (entry,) = golden("cap_nhat_tien_do.request.json")["data"]
    assert set(entry) == ledger_progress()
    components = {"components": SPEC["components"]}
    for name, request_schema in (
        ("dong_bo_ho_so.request.json", "DongBoHoSoMCRequest"),
        ("cap_nhat_tien_do.request.json", "CapNhatTienDoHoSoMCRequest"),
        ("tra_cuu_ho_so.request.json", "TraCuuHoSoRequest"),
    ):
        Draft202012Validator({"$ref": f"#/components/schemas/{request_schema}", **components}).validate(golden(name))


# ------------------------------------------------------------------------------------------ hub messages


def _strings_only(value: Any, where: str = "") -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _strings_only(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _strings_only(item, f"{where}[{index}]")
    else:
        assert isinstance(value, str), f"{where} is {type(value).__name__}, public clients send strings"


def test_hub_messages_have_the_golden_key_sets_and_string_types() -> None:
    tables = load_code_tables()
    sent = to_dong_bo_ho_so(full_dossier(), tables)
    (record,) = golden("dong_bo_ho_so.request.json")["data"]
    assert set(sent) == set(record)
    for name, items in record.items():
        if isinstance(items, list) and items:
            assert all(set(item) == set(items[0]) for item in sent[name]), name
    _strings_only(sent)
    (entry,) = golden("cap_nhat_tien_do.request.json")["data"]
    progress = to_progress_entries(full_dossier())
    assert progress and all(set(e) == set(entry) for e in progress)
    _strings_only(progress)
    assert sent["DonViXuLy"] == "Phường Hoàn Kiếm" and sent["TenLinhVuc"] == "Hộ tịch"
    assert sent["DuocThanhToanTrucTuyen"] == "2" and sent["NoiNopHoSo"] == "1"
    assert sent["DanhSachGiayToKetQua"][0]["MaGiayToKetQua"] == "KQ1"


# ------------------------------------------------------------------------------------------ sandbox


@pytest.fixture
def service(tmp_path: Path) -> tuple[PortalService, str]:
    sessions = SessionRegistry("u", "p", lambda: 600.0)
    portal = PortalService(PortalStore(tmp_path / "portal.sqlite"), Catalogue(), sessions, ["000.00.00.H26"], Stats())
    token = sessions.login("u", "p")
    assert token is not None
    return portal, token


def _call(portal: PortalService, token: str, request: dict[str, Any]) -> dict[str, Any]:
    return portal.service(json.dumps({**request, "session": token}).encode(), INTEGRATION)


def test_the_sandbox_accepts_the_golden_requests(service: tuple[PortalService, str]) -> None:
    portal, token = service
    for name in ("dong_bo_ho_so.request.json", "cap_nhat_tien_do.request.json"):
        reply = _call(portal, token, golden(name))
        assert reply["error_code"] == CODE_OK, (name, reply)
        assert set(reply) == {"error_code", "message"}  # no per-record results
    found = _call(portal, token, golden("tra_cuu_ho_so.request.json"))
    assert [r["MaHoSo"] for r in found["result"]] == ["000.01.60.H26-261120-0042"]
    again = _call(portal, token, golden("dong_bo_ho_so.request.json"))
    assert classify(again["error_code"], again["message"]) is Classification.ALREADY_EXISTS


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda r: r.update(TrangThaiHoSo=10), "TrangThaiHoSo"),
        (
            lambda r: r["TaiLieuNop"][0].update(DuongDanTaiTep=r["TaiLieuNop"][0].pop("DuongDanTaiTepTin")),
            "DuongDanTaiTep",
        ),
        (lambda r: r["DanhSachLePhi"][0].update(SoTien=8000), "SoTien"),
        (lambda r: r.pop("MaTTHC"), "MaTTHC"),
        (lambda r: r.update(NgayNopHoSo="2026-11-20"), "NgayNopHoSo"),
        (lambda r: r.update(DonViXuLy="000.01.60.H26"), "DonViXuLy"),
    ],
)
def test_the_sandbox_refuses_what_public_clients_never_send(service: tuple[PortalService, str], change, named) -> None:
    portal, token = service
    request = golden("dong_bo_ho_so.request.json")
    change(request["data"][0])
    reply = _call(portal, token, request)
    assert reply["error_code"] != CODE_OK and set(reply) == {"error_code", "message"}
    assert named in reply["message"] and "000.01.60.H26-261120-0042" in reply["message"]
    assert refusal_of("000.01.60.H26-261120-0042", reply["message"]) is Classification.REJECTED


def test_the_sandbox_refuses_a_boolean_is_updating(service: tuple[PortalService, str]) -> None:
    portal, token = service
    reply = _call(portal, token, {**golden("dong_bo_ho_so.request.json"), "isUpdating": False})
    assert reply["error_code"] != CODE_OK and "isUpdating" in reply["message"]


# ------------------------------------------------------------------------------------------ replies


@pytest.mark.parametrize("name", sorted(k for k in golden("replies.json") if not k.startswith("_")))
def test_the_reply_parser_reads_every_golden_reply(name: str) -> None:
    case = golden("replies.json")[name]
    reply, means = case["reply"], case["means"]
    if means in ("absent", "held"):
        result = LookupReply.model_validate(reply).result
        assert bool(result) is (means == "held")
        return
    outcome = classify(reply["error_code"], reply["message"])
    if means == "pending":
        assert outcome is None
        assert refusal_of("000.01.60.H26-261120-0042", reply["message"]) is Classification.PENDING
    else:
        assert outcome is Classification(means)
