"""The national-portal simulator over real sockets (docs/interfaces.md section 2)."""

from __future__ import annotations

import copy
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from mappings.city_system import to_canonical
from mappings.code_tables import load_code_tables
from mappings.dossier import VN_TZ as VN
from mappings.national_portal import to_dong_bo_ho_so, to_progress_entries
from sandbox.city_system.generator import generate
from sandbox.faults import FaultConfig
from sandbox.national_portal.app import create_app
from sandbox.server import RunningServer, serve_in_thread

pytestmark = pytest.mark.timeout(180)

USER, PASSWORD, UNIT = "hub", "s3cret-for-tests", "000.00.00.H26"
DAY = date(2026, 11, 20)


@pytest.fixture(scope="module")
def generated() -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Portal records and progress entries of clean generated dossiers the portal integrates."""
    tables = load_code_tables()
    day = generate(DAY, 0.2, 5)
    records, progress = [], {}
    for record in day.records:
        if record["id"] in day.defects:
            continue
        if not tables.procedures.get(record["ma_tthc"], DAY).integrated_on_portal:
            continue
        dossier = to_canonical(record, tables)
        records.append(to_dong_bo_ho_so(dossier, tables))
        progress[dossier.dossier_no] = to_progress_entries(dossier)
    return records, progress


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[RunningServer]:
    with serve_in_thread(create_app(tmp_path / "portal.sqlite", USER, PASSWORD, [UNIT])) as server:
        yield server


class Portal:
    """A minimal LGSP client for the tests (the hub's real one lives in adapters/)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()
        self.session = self.login()

    def login(self, password: str = PASSWORD) -> str:
        reply = self.http.post(f"{self.url}/auth", json={"username": USER, "password": password}, timeout=10).json()
        return reply.get("session", "")

    def call(self, service: str, timeout: float = 30, **body: Any) -> requests.Response:
        payload = {"session": self.session, "madonvi": UNIT, "service": service, **body}
        endpoint = "/share" if service in ("LayDanhSachTTHC", "LayDanhMucCoQuan") else "/service"
        return self.http.post(f"{self.url}{endpoint}", json=payload, timeout=timeout)

    def ok(self, service: str, **body: Any) -> dict[str, Any]:
        reply = self.call(service, **body)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def sync(self, records: list[dict[str, Any]], updating: bool = False) -> dict[str, Any]:
        """One call; the portal answers once, ``{error_code, message}``, never per record."""
        reply = self.ok("DongBoHoSoMC", isUpdating="True" if updating else "False", data=records)
        assert set(reply) == {"error_code", "message"}, reply
        return reply

    def faults(self, **changes: Any) -> dict[str, Any]:
        reply = self.http.post(f"{self.url}/sandbox/faults", json=changes, timeout=10)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def stats(self) -> dict[str, Any]:
        return self.http.get(f"{self.url}/sandbox/stats", timeout=10).json()


@pytest.fixture
def client(portal: RunningServer) -> Portal:
    return Portal(portal.url)


def test_login_gives_a_session_and_wrong_credentials_give_100(client: Portal) -> None:
    reply = client.http.post(f"{client.url}/auth", json={"username": USER, "password": PASSWORD}, timeout=5).json()
    assert reply["error_code"] == "0" and len(reply["session"]) >= 32 and "expires_in" not in reply
    wrong = client.http.post(f"{client.url}/auth", json={"username": USER, "password": "nope"}, timeout=5).json()
    assert wrong["error_code"] == "100" and "session" not in wrong and "mật khẩu" in wrong["message"]


def test_calls_without_a_valid_session_or_unit_are_refused(client: Portal) -> None:
    for session in ("", "forged", None):
        payload = {"session": session, "madonvi": UNIT, "service": "LayDanhSachTTHC"}
        reply = client.http.post(f"{client.url}/share", json=payload, timeout=5).json()
        assert reply["error_code"] == "100" and "hết hạn" in reply["message"]
    payload = {"session": client.session, "madonvi": "000.00.99.H26", "service": "LayDanhSachTTHC"}
    assert client.http.post(f"{client.url}/share", json=payload, timeout=5).json()["error_code"] == "106"
    assert client.ok("KhongCoDichVuNay")["error_code"] == "300"
    on_the_wrong_endpoint = {"session": client.session, "madonvi": UNIT, "service": "LayDanhSachTTHC"}
    assert (
        client.http.post(f"{client.url}/service", json=on_the_wrong_endpoint, timeout=5).json()["error_code"] == "300"
    )
    garbage = client.http.post(f"{client.url}/service", data=b"{not json", timeout=5).json()
    assert garbage["error_code"] == "300" and garbage["message"]


def test_store_then_duplicate_then_update(client: Portal, generated: tuple[list[dict[str, Any]], Any]) -> None:
    records = generated[0][:1000]
    started = time.perf_counter()
    reply = client.sync(records)
    elapsed = time.perf_counter() - started
    assert reply["error_code"] == "0" and "thành công" in reply["message"]
    assert elapsed < 3.0, f"a 1000-record call took {elapsed:.2f}s"  # well under 1 s on a quiet machine

    again = client.sync(records[:5])
    assert again["error_code"] == "-3" and "đã tồn tại" in again["message"] and records[0]["MaHoSo"] in again["message"]

    changed = copy.deepcopy(records[0])
    changed["TrangThaiHoSo"] = "10" if changed["TrangThaiHoSo"] != "10" else "9"
    assert client.sync([changed, records[1]], updating=True)["error_code"] == "0"
    stored = client.ok("TraCuuHoSo", mahoso=changed["MaHoSo"])
    assert stored["error_code"] == "0" and stored["result"] == [changed]

    exported = {
        d["MaHoSo"]: d for d in client.http.get(f"{client.url}/sandbox/export/dossiers", timeout=10).json()["items"]
    }
    assert len(exported) == len(records)
    assert exported[changed["MaHoSo"]]["updated_count"] == 1  # the unchanged resend did not count
    assert exported[records[1]["MaHoSo"]]["updated_count"] == 0
    assert exported[changed["MaHoSo"]]["TrangThaiHoSo"] == int(changed["TrangThaiHoSo"])

    unknown = dict(records[0], MaHoSo="000.00.03.H26-261120-9999")
    not_found = client.sync([unknown, records[2]], updating=True)
    assert not_found["error_code"] == "-2" and unknown["MaHoSo"] in not_found["message"]
    records_stats = client.stats()["records"]["DongBoHoSoMC"]
    assert records_stats == {"stored": 1000, "duplicate": 1, "updated": 1, "unchanged": 1, "not_found": 1}


def test_a_batch_with_the_same_dossier_twice_stores_it_once(client: Portal, generated: Any) -> None:
    record = generated[0][0]
    assert client.sync([record, record])["error_code"] == "0"
    assert client.stats()["held"]["dossiers"] == 1


def _broken(record: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    broken = copy.deepcopy(record)
    if value is KeyError:
        del broken[key]
    else:
        broken[key] = value
    return broken


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("MaHoSo", "000.00.03.H26/261120/0001"),
        ("MaHoSo", "000.00.03-261120-0001"),
        ("KenhThucHien", "4"),
        ("KenhThucHien", 2),
        ("LoaiDoiTuong", "0"),
        ("TrangThaiHoSo", "11"),
        ("TrangThaiHoSo", 10),
        ("HinhThuc", 1),
        ("TrichYeuHoSo", "x" * 1001),
        ("NgayNopHoSo", "2026-11-20T08:00:00"),
        ("NgayTiepNhan", "20261340080000"),
        ("NgayHenTra", "20200101000000"),
        ("DonViXuLy", ""),
        ("DonViXuLy", "000.00.03.H26"),
        ("TaiLieuNop", "not a list"),
        ("DuocThanhToanTrucTuyen", 1),
        ("MaTTHC", KeyError),
        ("ThuaMotTruong", "x"),
    ],
)
def test_an_invalid_field_refuses_the_call_naming_the_record_and_field(
    client: Portal, generated: Any, key: str, value: Any
) -> None:
    record = next(r for r in generated[0] if r["NgayTiepNhan"])
    good = next(r for r in generated[0] if r["MaHoSo"] != record["MaHoSo"])
    reply = client.sync([good, _broken(record, key, value)])
    assert reply["error_code"] == "-1"
    assert key in reply["message"], reply["message"]
    assert client.stats()["held"]["dossiers"] == 0  # all or nothing: the good record waits for its own call


def test_nested_items_are_checked_too(client: Portal, generated: Any) -> None:
    record = copy.deepcopy(next(r for r in generated[0] if r["TaiLieuNop"]))
    record["TaiLieuNop"][0]["DuocSoHoa"] = 1
    reply = client.sync([record])
    assert reply["error_code"] == "-1" and "TaiLieuNop[0].DuocSoHoa" in reply["message"]
    record["TaiLieuNop"][0]["DuocSoHoa"] = "1"
    record["TaiLieuNop"][0]["DuongDanTaiTepTin"] = "data:application/pdf;base64,JVBERi0x"
    assert "DuongDanTaiTepTin" in client.sync([record])["message"]


@pytest.mark.parametrize(
    "procedure",
    [
        "1.999999",  # never existed
        "1.000464",  # exists, not integrated on the portal
        "1.009974",  # integrated, but a district procedure that ended on 2025-06-30
    ],
)
def test_procedure_outside_the_portal_catalogue_is_refused(client: Portal, generated: Any, procedure: str) -> None:
    reply = client.sync([dict(generated[0][0], MaTTHC=procedure)])
    assert reply["error_code"] == "-1" and procedure in reply["message"]


def test_more_than_1000_records_is_300_and_nothing_is_stored(client: Portal, generated: Any) -> None:
    records = (generated[0] * 2)[:1001]
    reply = client.ok("DongBoHoSoMC", isUpdating="False", data=records)
    assert reply["error_code"] == "300" and "1000" in reply["message"]
    assert client.stats()["held"]["dossiers"] == 0
    assert client.ok("DongBoHoSoMC", data=records[:2])["error_code"] == "300"  # isUpdating is required
    assert client.ok("DongBoHoSoMC", isUpdating=False, data=records[:2])["error_code"] == "300"  # as a string


def test_progress_entries_are_stored_once(client: Portal, generated: Any) -> None:
    records, progress = generated
    record = next(r for r in records if len(progress[r["MaHoSo"]]) >= 4)
    entries = progress[record["MaHoSo"]]
    client.sync([record])
    first = client.ok("CapNhatTienDoHoSoMC", data=entries)
    assert first == {"error_code": "0", "message": first["message"]} and "thành công" in first["message"]
    assert client.ok("CapNhatTienDoHoSoMC", data=entries)["error_code"] == "0"
    assert client.stats()["held"]["progress_entries"] == len(entries)
    assert client.stats()["records"]["CapNhatTienDoHoSoMC"] == {"stored": len(entries), "duplicate": len(entries)}

    eleven = (entries * 11)[:11]
    assert client.ok("CapNhatTienDoHoSoMC", data=eleven)["error_code"] == "300"
    stranger = dict(entries[0], MaHoSo="000.00.03.H26-261120-9999")
    unknown = client.ok("CapNhatTienDoHoSoMC", data=[stranger])
    assert unknown["error_code"] == "-2" and "Không tìm thấy" in unknown["message"]
    broken = client.ok("CapNhatTienDoHoSoMC", data=[dict(entries[0], TrangThai=4)])
    assert broken["error_code"] == "-1" and "TrangThai" in broken["message"]


def test_lookup_of_an_unknown_dossier_is_an_empty_result(client: Portal) -> None:
    reply = client.ok("TraCuuHoSo", mahoso="000.00.03.H26-261120-0001")
    assert reply["error_code"] == "0" and reply["result"] == []


def test_catalogues(client: Portal) -> None:
    tables = load_code_tables()
    today = datetime.now(VN).date()
    procedures = client.ok("LayDanhSachTTHC")["result"]
    expected = {p.code for p in tables.procedures.rows(today) if p.integrated_on_portal}
    assert {p["MATTHC"] for p in procedures} == expected
    assert all(set(p) == {"MATTHC", "TENTTHC"} for p in procedures)
    (detail,) = client.ok("LayThuTuc", maTTHC="1.001193")["result"]
    assert detail["LINHVUCTHUCHIEN"] == [{"MALINHVUC": "HT", "TENLINHVUC": "Hộ tịch"}]
    agencies = client.ok("LayDanhMucCoQuan")["result"]
    assert {a["MADONVI"] for a in agencies} == tables.agencies.valid_codes(today)
    assert all(set(a) == {"MADONVI", "TENDONVI", "CAPDONVI"} for a in agencies)


def test_sessions_expire(client: Portal) -> None:
    client.faults(session_ttl_s=0.3)
    assert client.ok("LayDanhMucCoQuan")["error_code"] == "0"
    time.sleep(0.4)
    expired = client.ok("LayDanhMucCoQuan")
    assert expired["error_code"] == "100" and "hết hạn" in expired["message"]
    client.faults(session_ttl_s=60)
    client.session = client.login()
    assert client.ok("LayDanhMucCoQuan")["error_code"] == "0"


def test_fail_next_and_error_rate_answer_503(client: Portal) -> None:
    client.faults(fail_next=2)
    codes = [client.call("LayDanhMucCoQuan").status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    client.faults(error_rate=1.0)
    assert (
        client.http.post(f"{client.url}/auth", json={"username": USER, "password": PASSWORD}, timeout=5).status_code
        == 503
    )
    client.faults(error_rate=0.5, seed=7)
    first = [client.call("LayDanhMucCoQuan").status_code for _ in range(12)]
    client.faults(seed=7)
    assert [client.call("LayDanhMucCoQuan").status_code for _ in range(12)] == first  # seeded: replayable
    assert set(first) == {200, 503}
    assert client.stats()["faults"]["http_503"] == 2 + 1 + first.count(503) * 2


def test_a_timeout_still_does_the_work(client: Portal, generated: Any) -> None:
    record = generated[0][0]
    client.faults(timeout_rate=1.0, timeout_s=2.0)
    with pytest.raises(requests.ReadTimeout):
        client.call("DongBoHoSoMC", timeout=0.5, isUpdating="False", data=[record])
    client.faults(timeout_rate=0.0)
    assert client.ok("TraCuuHoSo", mahoso=record["MaHoSo"])["result"] == [record]  # stored before the hang
    assert "đã tồn tại" in client.sync([record])["message"]  # so the client's retry meets "đã tồn tại"
    assert client.stats()["faults"]["timeout"] == 1


def test_latency_is_added(client: Portal) -> None:
    client.faults(latency_ms=300)
    started = time.perf_counter()
    client.ok("LayDanhMucCoQuan")
    assert time.perf_counter() - started >= 0.3


def test_bad_fault_options_are_400(client: Portal) -> None:
    for body in ({"error_rate": 2}, {"latency_ms": -1}, {"fail_next": "3"}, {"nonsense": 1}):
        assert client.http.post(f"{client.url}/sandbox/faults", json=body, timeout=5).status_code == 400
    assert client.http.get(f"{client.url}/sandbox/faults", timeout=5).json() == FaultConfig().to_dict()


def test_export_counts_equal_what_was_stored(client: Portal, generated: Any) -> None:
    records = generated[0][:700]
    client.sync(records)
    client.sync([dict(records[0], MaTTHC="1.999999", MaHoSo="000.00.03.H26-261120-9998")])  # refused: not counted
    counts = client.http.get(
        f"{client.url}/sandbox/export/counts", params={"from": "2026-11-20", "to": "2026-11-20"}, timeout=10
    ).json()
    expected = Counter(("2026-11-20", r["DonViXuLy"], r["MaTTHC"], int(r["TrangThaiHoSo"])) for r in records)
    got = Counter({(i["day"], i["DonViXuLy"], i["MaTTHC"], i["TrangThaiHoSo"]): i["count"] for i in counts["items"]})
    assert got == expected and counts["total"] == len(records)
    other_day = client.http.get(
        f"{client.url}/sandbox/export/counts", params={"from": "2026-11-21", "to": "2026-11-30"}, timeout=10
    ).json()
    assert other_day["total"] == 0
    assert (
        client.http.get(f"{client.url}/sandbox/export/counts", params={"from": "20/11/2026"}, timeout=5).status_code
        == 400
    )
    dossiers = client.http.get(
        f"{client.url}/sandbox/export/dossiers", params={"from": "2026-11-20"}, timeout=10
    ).json()
    assert {d["MaHoSo"] for d in dossiers["items"]} == {r["MaHoSo"] for r in records}
    assert set(dossiers["items"][0]) == {
        "MaHoSo", "TrangThaiHoSo", "MaTTHC", "DonViXuLy", "NgayNopHoSo", "received_at", "updated_at",
        "updated_count",
    }  # fmt: skip


def test_what_the_portal_holds_survives_a_restart(tmp_path: Path, generated: Any) -> None:
    records = generated[0][:50]
    with serve_in_thread(create_app(tmp_path / "p.sqlite", USER, PASSWORD, [UNIT])) as server:
        Portal(server.url).sync(records)
    with serve_in_thread(create_app(tmp_path / "p.sqlite", USER, PASSWORD, [UNIT])) as server:
        again = Portal(server.url)
        assert again.stats()["held"]["dossiers"] == 50
        assert "đã tồn tại" in again.sync(records[:3])["message"]
