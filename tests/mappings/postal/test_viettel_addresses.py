"""Viettel Post's address ids for the hub's communes, across the July 2025 reform."""

from __future__ import annotations

from datetime import date

import pytest

from mappings.code_tables import load_code_tables
from mappings.errors import MappingError
from mappings.postal.viettel_addresses import UNMAPPED_RULE, load_viettel_addresses, viettel_address
from mappings.versioned import VersionedTable

BEFORE, AFTER = date(2025, 6, 30), date(2025, 7, 1)


def test_every_commune_version_has_viettel_ids_for_its_own_period() -> None:
    table, communes = load_viettel_addresses(), load_code_tables().communes
    for day in (BEFORE, AFTER, date(2026, 11, 20)):
        assert table.valid_codes(day) == {c.code for c in communes.rows(day)}, day
    ward_ids = [row.ward_id for row in table.all_rows()]
    assert len(ward_ids) == len(set(ward_ids))  # one Viettel ward per commune version


def test_a_pre_reform_ward_has_its_district_and_a_reform_ward_none() -> None:
    table = load_viettel_addresses()
    old = viettel_address(table, "00070", BEFORE)  # Phường Hàng Trống, Hoàn Kiếm district
    new = viettel_address(table, "90001", AFTER)  # Phường Hoàn Kiếm
    assert (old.province_id, new.province_id) == (1, 1)  # Hà Nội in Viettel's catalogue
    assert old.district_id > 0 and new.district_id == 0
    assert str(old.ward_id) != "00070" and old.ward_id != 70  # Viettel's id, not the statistics code


def test_an_address_outside_its_period_or_unknown_to_viettel_names_the_rule_and_why() -> None:
    table = load_viettel_addresses()
    with pytest.raises(MappingError) as abolished:
        viettel_address(table, "00070", AFTER)
    assert abolished.value.rule == UNMAPPED_RULE and "2020-01-01..2025-06-30" in abolished.value.message
    behind = VersionedTable("viettel_addresses", [r for r in table.all_rows() if r.code != "90126"])
    with pytest.raises(MappingError) as missing:
        viettel_address(behind, "90126", AFTER)
    assert missing.value.rule == UNMAPPED_RULE and "chưa có trong danh mục" in missing.value.message
