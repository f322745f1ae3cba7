"""A ministry's record as the canonical pull-back record, by a contract's field map."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from mappings.civil_status import commune_unit
from mappings.code_tables import load_code_tables
from mappings.facts import portal_facts
from mappings.ministry_records import RecordMap, map_record

TABLES = load_code_tables()
MAP = RecordMap.model_validate(
    {
        "fields": {
            "MaHoSo": {"source": "id"},
            "MaHoSoMotCua": {"source": "maHoSo"},
            "MaTTHC": {
                "source": "module",
                "values": {"KS": "1.001193", "KSNN": ["2.000528", "1.013801"]},
                "lookup": "procedure_on_day",
            },
            "DonViXuLy": {"source": "maDonVi", "lookup": "commune_agency"},
            "TrangThaiHoSo": {"const": "9"},
            "NgayTiepNhan": {"source": "ngayTiepNhan", "format": "%d/%m/%Y"},
            "NgayNopHoSo": {"source": "ngayTiepNhan", "format": "%d/%m/%Y"},
            "NgayHenTra": {"derive": "statutory_due"},
            "NgayKetThucXuLy": {"source": "ketQua.ngayDangKy", "format": "%d/%m/%Y"},
        }
    }
)
RECORD = {"id": 126112000011, "maHoSo": "", "module": "KS", "maDonVi": "90005", "ngayTiepNhan": "20/11/2026",
          "ketQua": {"ngayDangKy": "20/11/2026"}}  # fmt: skip


def test_a_record_maps_to_the_portal_names_with_its_facts() -> None:
    mapped = map_record(RECORD, MAP, TABLES)
    assert mapped["MaHoSo"] == "126112000011" and mapped["MaHoSoMotCua"] is None
    assert (mapped["MaTTHC"], mapped["DonViXuLy"]) == ("1.001193", "000.05.60.H26")
    assert mapped["NgayHenTra"] == "20261123170000"  # birth registration: 1 working day, Friday -> Monday
    assert mapped["BanGhiBo"] == RECORD and mapped["SoGiayToChuHoSo"] is None
    facts = portal_facts(mapped)
    assert facts.status == 9 and facts.finished_at is not None and facts.finished_at <= facts.due_at  # type: ignore[operator]


@pytest.mark.parametrize(("day", "code"), [("20/06/2025", "2.000528"), ("20/11/2026", "1.013801")])
def test_a_procedure_renumbered_by_the_reform_is_chosen_by_the_day(day: str, code: str) -> None:
    mapped = map_record({**RECORD, "module": "KSNN", "ngayTiepNhan": day}, MAP, TABLES)
    assert mapped["MaTTHC"] == code


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"module": "XYZ"}, "MaTTHC"),
        ({"maDonVi": "99999"}, "DonViXuLy"),
        ({"ngayTiepNhan": "2026-11-20"}, "NgayNopHoSo"),
    ],
)
def test_what_the_map_cannot_read_is_none_for_the_gate_to_name(change: dict, key: str) -> None:
    assert map_record({**RECORD, **change}, MAP, TABLES)[key] is None


def test_the_commune_unit_and_its_agency_are_each_others_inverse_on_the_day() -> None:
    assert commune_unit("000.05.60.H26", date(2026, 11, 20), TABLES) == "90005"
    assert commune_unit("000.00.05.H26", date(2026, 11, 20), TABLES) is None  # a department: no commune unit


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"MaTTHC": {"source": "x"}}, "MaHoSo"),
        ({"MaHoSo": {"source": "x"}, "Unknown": {"source": "y"}}, "unknown canonical"),
        ({"MaHoSo": {"source": "x", "const": "y"}}, "exactly one"),
        ({"MaHoSo": {"source": "x"}, "ChuHoSo": {"source": "y", "format": "%Y"}}, "dates only"),
    ],
)
def test_a_bad_map_is_refused_with_the_reason(fields: dict, error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        RecordMap.model_validate({"fields": fields})
