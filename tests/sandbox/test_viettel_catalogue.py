"""The sandbox Viettel Post's address catalogue and the hub's mapping written from it stay one."""

from __future__ import annotations

from pathlib import Path

from mappings.postal.viettel_addresses import TABLE_PATH, load_viettel_addresses
from sandbox.postal import viettel_catalogue


def test_the_committed_mapping_is_what_the_generator_makes(tmp_path: Path) -> None:
    assert viettel_catalogue.main(["--check"]) == 0
    stale = tmp_path / "viettel_addresses.csv"
    stale.write_text(TABLE_PATH.read_text(encoding="utf-8").replace(",15003,", ",15999,"), encoding="utf-8")
    assert viettel_catalogue.main(["--check"], path=stale) == 1
    assert viettel_catalogue.main([], path=stale) == 0
    assert stale.read_text(encoding="utf-8") == viettel_catalogue.render()


def test_the_catalogue_accepts_exactly_the_mapped_triples() -> None:
    mapped = {(r.province_id, r.district_id, r.ward_id) for r in load_viettel_addresses().all_rows()}
    assert viettel_catalogue.catalogue() == mapped
    assert not any(ward < 1000 for _, _, ward in mapped)  # never a statistics-office number
