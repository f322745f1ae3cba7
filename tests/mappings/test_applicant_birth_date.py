"""The applicant's birth date: generated into the city record from the same function the population
register uses, mapped into the canonical dossier, and kept out of the portal payload (its contract
has no field for it)."""

from __future__ import annotations

import copy
from datetime import date

import pytest

from mappings.city_system import to_canonical
from mappings.code_tables import load_code_tables
from mappings.errors import MappingError
from mappings.national_portal import to_dong_bo_ho_so
from sandbox.city_system.generator import generate
from sandbox.city_system.people import birth_date_for
from sandbox.population_db.registry import applicants_of
from tests.support.factories import RECORD

DAY = date(2026, 11, 20)


def test_people_carry_the_register_birth_date_and_organisations_none() -> None:
    generated = generate(DAY, 0.03, 5)
    people = 0
    for record in generated.records:
        applicant = record["chu_ho_so"]
        if applicant["loai"] in ("DOANH_NGHIEP", "CO_QUAN"):
            assert applicant["ngay_sinh"] is None
        elif generated.defects.get(record["id"]) != "bad_citizen_id":
            people += 1
            assert applicant["ngay_sinh"] == birth_date_for(applicant["so_giay_to"]).isoformat()
    assert people > 50
    register = {a.dossier_no: a.birth_date.isoformat() for a in applicants_of(DAY, 0.03, 5)}
    by_number = {r["ma_ho_so"]: r["chu_ho_so"]["ngay_sinh"] for r in generated.records}
    assert register and all(by_number[number] == born for number, born in register.items())


def _record(**applicant: object) -> dict:
    record = copy.deepcopy(RECORD)
    record["chu_ho_so"].update(applicant)
    return record


def test_the_birth_date_maps_to_the_canonical_dossier_and_not_to_the_portal() -> None:
    tables = load_code_tables()
    dossier = to_canonical(_record(ngay_sinh="1990-04-17"), tables)
    assert dossier.applicant_birth_date == date(1990, 4, 17)
    assert to_dong_bo_ho_so(dossier, tables) == to_dong_bo_ho_so(
        dossier.model_copy(update={"applicant_birth_date": None}), tables
    )


def test_a_record_staged_before_the_field_existed_still_maps() -> None:
    assert to_canonical(copy.deepcopy(RECORD), load_code_tables()).applicant_birth_date is None


@pytest.mark.parametrize("value", ["17/04/1990", "1990-02-30", 19900417, "1990-04-17T00:00:00+07:00"])
def test_a_malformed_birth_date_is_a_named_mapping_error(value: object) -> None:
    with pytest.raises(MappingError) as raised:
        to_canonical(_record(ngay_sinh=value), load_code_tables())
    assert raised.value.rule == "city.malformed_date"
