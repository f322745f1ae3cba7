"""The city-day generator: deterministic, calibrated to Table 01, consistent, defects as declared."""

from __future__ import annotations

import unicodedata
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from mappings.citizen_id import check_citizen_id
from mappings.city_system import to_canonical
from mappings.code_tables import CodeTables, load_code_tables
from mappings.dossier_number import is_valid_dossier_number, parse_dossier_number
from mappings.errors import MappingError
from sandbox.city_system.calibration import CHANNEL_SHARES, DEPARTMENT_SHARE, classify, table_01_shares
from sandbox.city_system.defects import DEFECTS
from sandbox.city_system.generator import GeneratedDay, generate, generate_day

pytestmark = pytest.mark.timeout(300)

DAY = date(2026, 11, 20)  # a Friday, after the July 2025 reform
OLD_DAY = date(2024, 5, 10)  # a Friday, before it: districts still exist


@pytest.fixture(scope="module")
def tables() -> CodeTables:
    return load_code_tables()


@pytest.fixture(scope="module")
def full_day() -> GeneratedDay:
    return generate(DAY, 1.0, 42)


@pytest.fixture(scope="module")
def clean(full_day: GeneratedDay) -> list[dict[str, Any]]:
    return [r for r in full_day.records if r["id"] not in full_day.defects]


def test_same_seed_same_records_other_seed_other_records() -> None:
    first = generate_day(DAY, 0.05, 7)
    assert first == generate_day(DAY, 0.05, 7)
    assert first != generate_day(DAY, 0.05, 8)
    assert generate(DAY, 0.05, 7).defects == generate(DAY, 0.05, 7).defects


def test_volume_is_about_11000_on_a_working_day_and_5_percent_on_weekends(full_day: GeneratedDay) -> None:
    assert 10_500 <= len(full_day.records) <= 11_500
    saturday = generate_day(DAY + timedelta(days=1), 1.0, 42)
    assert 0.03 * 11_000 <= len(saturday) <= 0.07 * 11_000
    assert 50 <= len(generate_day(DAY, 0.01, 42)) <= 150


def test_outcome_shares_match_table_01_of_2023(clean: list[dict[str, Any]]) -> None:
    counts = Counter(classify(r) for r in clean)
    shares = {k: v / len(clean) for k, v in counts.items()}
    expected = table_01_shares("2023")  # 98.40% on time, 0.25% late, 1.35% in process
    assert shares["on_time"] == pytest.approx(expected["on_time"], abs=0.004)
    assert shares["late"] == pytest.approx(expected["late"], abs=0.0015)
    assert shares["in_process"] == pytest.approx(expected["in_process"], abs=0.004)


def test_channel_mix_and_department_share(full_day: GeneratedDay, tables: CodeTables) -> None:
    n = len(full_day.records)
    channels = Counter(r["kenh_nop"] for r in full_day.records)
    for channel, share in CHANNEL_SHARES.items():
        assert channels[channel] / n == pytest.approx(share, abs=0.04), channel
    levels = Counter(tables.agencies.get(r["don_vi_xu_ly"], DAY).level for r in full_day.records)
    assert levels["department"] / n == pytest.approx(DEPARTMENT_SHARE, abs=0.03)
    assert "district" not in levels  # abolished on 2025-07-01
    old_levels = Counter(tables.agencies.get(r["don_vi_xu_ly"], OLD_DAY).level for r in generate_day(OLD_DAY, 0.2, 1))
    assert old_levels["district"] > 0 and "commune" not in old_levels


def test_applicant_types_ids_and_names_look_real(clean: list[dict[str, Any]], tables: CodeTables) -> None:
    types = Counter(r["chu_ho_so"]["loai"] for r in clean)
    assert types["CONG_DAN"] / len(clean) > 0.6 and types["DOANH_NGHIEP"] > 0 and types["CO_QUAN"] > 0
    citizens = [r["chu_ho_so"] for r in clean if r["chu_ho_so"]["loai"] == "CONG_DAN"]
    for applicant in citizens:
        assert check_citizen_id(applicant["so_giay_to"], tables, today=DAY) == [], applicant["so_giay_to"]
        assert applicant["dien_thoai"] is None or (
            len(applicant["dien_thoai"]) == 10 and applicant["dien_thoai"][0] == "0"
        )
    hanoi = sum(a["so_giay_to"].startswith("001") for a in citizens) / len(citizens)
    assert 0.5 < hanoi < 0.75
    nfd = [a["ho_ten"] for a in citizens if unicodedata.normalize("NFC", a["ho_ten"]) != a["ho_ten"]]
    assert 0.005 < len(nfd) / len(citizens) < 0.05  # a few arrive decomposed, as real inputs do
    assert any("ễ" in unicodedata.normalize("NFC", a["ho_ten"]) for a in citizens)


def test_dossier_numbers_follow_a_per_agency_daily_sequence(
    full_day: GeneratedDay, clean: list[dict[str, Any]]
) -> None:
    numbers = [r["ma_ho_so"] for r in full_day.records]
    assert len(set(numbers)) == len(numbers)
    per_agency = Counter(r["don_vi_xu_ly"] for r in full_day.records)
    by_agency: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for record in clean:
        parsed = parse_dossier_number(record["ma_ho_so"])
        assert parsed.agency == record["don_vi_xu_ly"] and parsed.day == DAY
        by_agency[parsed.agency].append((record["ngay_nop"], parsed.seq))
    for agency, numbered in by_agency.items():
        seqs = [seq for _, seq in numbered]
        assert len(seqs) == len(set(seqs)) and max(seqs) <= per_agency[agency]  # 1..n, one each
        assert [seq for _, seq in sorted(numbered)] == sorted(seqs)  # issued in submission order


def test_dates_are_ordered_and_within_the_day(clean: list[dict[str, Any]]) -> None:
    for r in clean:
        submitted = datetime.fromisoformat(r["ngay_nop"])
        updated = datetime.fromisoformat(r["cap_nhat_luc"])
        assert r["cap_nhat_luc"].endswith("+07:00") and updated.date() == DAY
        assert submitted <= updated
        if r["ngay_tiep_nhan"]:
            received = datetime.fromisoformat(r["ngay_tiep_nhan"])
            assert submitted <= received <= updated
            if r["ngay_hen_tra"]:
                assert received <= datetime.fromisoformat(r["ngay_hen_tra"])
        for step in r["qua_trinh_xu_ly"]:
            assert datetime.fromisoformat(step["thoi_diem"]) <= updated
            if step["han_xu_ly"]:
                assert datetime.fromisoformat(step["ngay_bat_dau"]) <= datetime.fromisoformat(step["han_xu_ly"])


def test_history_and_results_agree_with_the_status(clean: list[dict[str, Any]], tables: CodeTables) -> None:
    statuses = Counter()
    for r in clean:
        status = tables.local_states.get(r["trang_thai"], DAY).status_code
        statuses[status] += 1
        history = r["qua_trinh_xu_ly"]
        assert 1 <= len(history) <= 7 and history[-1]["trang_thai"] == r["trang_thai"]
        assert [h["stt"] for h in history] == list(range(1, len(history) + 1))
        times = [h["thoi_diem"] for h in history]
        assert times == sorted(times)
        assert (r["ngay_ket_thuc_xu_ly"] is not None) == (status in (3, 7, 8, 9, 10))
        assert (r["ngay_tra"] is not None) == (status == 10)
        assert bool(r["ket_qua"]) == (status in (3, 8, 9, 10))
        assert (r["ngay_tiep_nhan"] is None) == (status in (1, 3))
        if r["kenh_nop"] == "BUU_CHINH":
            assert r["tra_ket_qua_qua_buu_chinh"]
        assert all(doc["url"].startswith("https://") for doc in r["tai_lieu"])
    assert set(statuses) >= {1, 2, 4, 9, 10}


def test_clean_records_map_to_the_canonical_model(clean: list[dict[str, Any]], tables: CodeTables) -> None:
    for record in clean[::7]:
        dossier = to_canonical(record, tables)
        assert dossier.dossier_no == record["ma_ho_so"]


def test_ministry_procedures_stay_out_of_the_city_system(clean: list[dict[str, Any]], tables: CodeTables) -> None:
    assert not any(tables.procedures.get(r["ma_tthc"], DAY).processed_on_ministry_software for r in clean)


def _defect_found(name: str, record: dict[str, Any], tables: CodeTables) -> bool:
    """An independent check of each named defect, from the outside."""
    if name == "due_before_received":
        if record["ngay_hen_tra"] is None or record["ngay_tiep_nhan"] is None:
            return False
        try:
            return datetime.fromisoformat(record["ngay_hen_tra"]) < datetime.fromisoformat(record["ngay_tiep_nhan"])
        except ValueError:
            return False  # that is date_malformed
    if name == "unknown_procedure":
        return tables.procedures.get(record["ma_tthc"], DAY) is None
    if name == "bad_dossier_number":
        return not is_valid_dossier_number(record["ma_ho_so"])
    if name == "bad_citizen_id":
        applicant = record["chu_ho_so"]
        if applicant["loai"] not in ("CONG_DAN", "KHAC") or applicant["so_giay_to"] is None:
            return False  # businesses carry a tax code, organisations nothing
        return check_citizen_id(applicant["so_giay_to"], tables, today=DAY) != []
    if name == "abstract_too_long":
        return len(record["trich_yeu"]) > 1000
    if name == "missing_applicant_name":
        return not record["chu_ho_so"]["ho_ten"].strip()
    if name == "unknown_local_state":
        return tables.local_states.get(record["trang_thai"], DAY) is None
    if name == "date_malformed":
        try:
            for key in ("ngay_nop", "ngay_tiep_nhan", "ngay_hen_tra"):
                if record[key] is not None:
                    datetime.fromisoformat(record[key])
        except ValueError:
            return True
        return False
    raise AssertionError(name)


def test_defects_listed_are_the_defects_present(full_day: GeneratedDay, tables: CodeTables) -> None:
    by_id = {r["id"]: r for r in full_day.records}
    assert 0.006 < len(full_day.defects) / len(full_day.records) < 0.014
    assert set(full_day.defects.values()) == set(DEFECTS)
    for record_id, name in full_day.defects.items():
        assert _defect_found(name, by_id[record_id], tables), (name, record_id)
    for record in full_day.records:  # and no record has one of these defects without being listed
        if record["id"] in full_day.defects:
            continue
        found = [name for name in DEFECTS if _defect_found(name, record, tables)]
        assert found == [], (record["ma_ho_so"], found)


def test_defective_records_fail_mapping_or_a_business_rule(full_day: GeneratedDay, tables: CodeTables) -> None:
    by_id = {r["id"]: r for r in full_day.records}
    rules = Counter()
    for record_id, name in full_day.defects.items():
        try:
            to_canonical(by_id[record_id], tables)
        except MappingError as exc:
            rules[(name, exc.rule)] += 1
    assert all(defect in ("unknown_local_state", "date_malformed") for defect, _ in rules)
