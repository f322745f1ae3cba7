"""Receiver addresses against the versioned communes table: the 1 July 2025 reform moves every
Hanoi address to one of 126 new communes, and an order must name the one in force on its day."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from mappings.city_system import to_canonical
from mappings.code_tables import DEFAULT_DIR, CodeTableError, commune_problem, load_code_tables
from sandbox.city_system.generator import generate

BEFORE, REFORM = date(2025, 6, 30), date(2025, 7, 1)


def test_hanoi_has_126_communes_after_the_reform_51_of_them_wards() -> None:
    rows = [r for r in load_code_tables().communes.rows(REFORM) if r.province_code == "01"]
    assert len(rows) == 126
    assert sum(r.kind == "ward" for r in rows) == 51
    assert len({r.name for r in rows}) == 126


def test_the_table_switches_versions_on_the_reform_day() -> None:
    tables = load_code_tables()
    assert commune_problem(tables, "00070", "01", BEFORE) is None  # Phường Hàng Trống, former Hoàn Kiếm district
    assert commune_problem(tables, "00070", "01", REFORM) == (
        "commune 00070 (Phường Hàng Trống) is not valid on 2025-07-01 (valid 2020-01-01..2025-06-30)"
    )
    assert commune_problem(tables, "90001", "01", REFORM) is None  # Phường Hoàn Kiếm
    assert "is not valid on 2025-06-30" in (commune_problem(tables, "90001", "01", BEFORE) or "")


@pytest.mark.parametrize(
    ("code", "province", "reason"),
    [("90001", "79", "is in province 01, not '79'"), ("12345", "01", "unknown"), ("", "01", "unknown")],
)
def test_a_wrong_pair_says_what_is_wrong(code: str, province: str, reason: str) -> None:
    assert reason in (commune_problem(load_code_tables(), code, province, REFORM) or "")


def test_overlapping_versions_of_a_commune_are_refused_at_load(tmp_path: Path) -> None:
    for source in DEFAULT_DIR.glob("*.csv"):
        (tmp_path / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    communes = tmp_path / "communes.csv"
    again = "90001,Phường Hoàn Kiếm,ward,01,2025-12-01,\n"
    communes.write_text(communes.read_text(encoding="utf-8") + again, encoding="utf-8")
    with pytest.raises(CodeTableError, match="overlapping"):
        load_code_tables(tmp_path)


def test_postal_return_dossiers_carry_a_receiver_address_the_carriers_accept() -> None:
    tables = load_code_tables()
    day = date(2026, 11, 20)
    generated = generate(day, 0.03, 7)
    records = [r for r in generated.records if r["id"] not in generated.defects]
    postal = [r for r in records if r["tra_ket_qua_qua_buu_chinh"]]
    assert postal and all(r["dia_chi_nhan_ket_qua"] is None for r in records if not r["tra_ket_qua_qua_buu_chinh"])
    for record in postal:
        dossier = to_canonical(record, tables)
        address = dossier.delivery_address
        assert address is not None
        assert address.name == dossier.applicant_name  # the applicant receives the result
        assert address.phone == (dossier.phone or address.phone) and address.phone.isdigit()
        assert commune_problem(tables, address.commune_code, address.province_code, day) is None
    assert len({to_canonical(r, tables).delivery_address.commune_code for r in postal}) > 5  # type: ignore[union-attr]


def test_a_dossier_shows_the_receiver_phone_masked() -> None:
    record = next(r for r in generate(date(2026, 11, 20), 0.03, 7).records if r["tra_ket_qua_qua_buu_chinh"])
    dossier = to_canonical(record, load_code_tables())
    phone = record["dia_chi_nhan_ket_qua"]["dien_thoai"]
    assert phone not in repr(dossier.delivery_address) and phone not in str(dossier.delivery_address)
    assert phone[-3:] in repr(dossier.delivery_address)


def test_a_record_without_the_address_key_maps_to_no_address() -> None:
    record = dict(next(r for r in generate(date(2026, 11, 20), 0.03, 7).records if r["tra_ket_qua_qua_buu_chinh"]))
    del record["dia_chi_nhan_ket_qua"]
    assert to_canonical(record, load_code_tables()).delivery_address is None
