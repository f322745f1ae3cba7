import shutil
import unicodedata
from datetime import date
from pathlib import Path

import pytest

from mappings.code_tables import DEFAULT_DIR, SUFFIX_ENV, load_code_tables
from mappings.versioned import CodeTableError

BEFORE, AFTER = date(2025, 6, 30), date(2025, 7, 1)
PROVINCE_CODES = [
    "001", "002", "004", "006", "008", "010", "011", "012", "014", "015", "017", "019", "020", "022", "024", "025",
    "026", "027", "030", "031", "033", "034", "035", "036", "037", "038", "040", "042", "044", "045", "046", "048",
    "049", "051", "052", "054", "056", "058", "060", "062", "064", "066", "067", "068", "070", "072", "074", "075",
    "077", "079", "080", "082", "083", "084", "086", "087", "089", "091", "092", "093", "094", "095", "096",
]  # fmt: skip


@pytest.fixture(scope="module")
def tables():
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(SUFFIX_ENV, raising=False)  # the expected codes below use the default H26
        yield load_code_tables()


def copy_tables(tmp_path: Path) -> Path:
    target = tmp_path / "tables"
    shutil.copytree(DEFAULT_DIR, target)
    return target


def test_statuses_cover_portal_codes_with_reconciliation_outcome(tables):
    rows = {r.code: r for r in tables.statuses.rows(AFTER)}
    assert sorted(rows, key=int) == [str(n) for n in range(1, 11)]
    assert {c for c, r in rows.items() if r.outcome == "resolved"} == {"9", "10"}
    assert {c for c, r in rows.items() if r.outcome == "closed_unresolved"} == {"3", "7", "8"}
    assert rows["5"].name_vi == "Yêu cầu bổ sung hồ sơ"
    assert rows["10"].name_en == "Result returned"


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("MOI_NOP", 1),
        ("DA_TIEP_NHAN", 2),
        ("TU_CHOI_TIEP_NHAN", 3),
        ("CHUYEN_PHONG_BAN", 4),
        ("DANG_XU_LY", 4),
        ("TRINH_KY", 4),
        ("CHO_BO_SUNG", 5),
        ("CHO_THANH_TOAN", 6),
        ("CONG_DAN_RUT", 7),
        ("DUNG_XU_LY", 8),
        ("DA_CO_KET_QUA", 9),
        ("DA_TRA_KET_QUA", 10),
    ],
)
def test_local_states_map_to_portal_status(tables, state, status):
    assert tables.local_states.get(state, BEFORE).status_code == status
    assert tables.local_states.get(state, AFTER).status_code == status


def test_local_states_change_with_the_reform(tables):
    assert tables.local_states.get("CHO_XAC_THUC_VNEID", BEFORE) is None
    assert tables.local_states.get("CHO_XAC_THUC_VNEID", AFTER).status_code == 1
    assert tables.local_states.get("CHUYEN_UBND_CAP_HUYEN", BEFORE).status_code == 4
    assert tables.local_states.get("CHUYEN_UBND_CAP_HUYEN", AFTER) is None
    assert "CHO_XAC_THUC_VNEID" in tables.local_states.valid_codes(AFTER) - tables.local_states.valid_codes(BEFORE)


def test_channels_and_applicant_types_by_local_code(tables):
    on = date(2026, 11, 20)
    assert [(r.code, r.local_code) for r in tables.channels.rows(on)] == [
        ("1", "TRUC_TIEP"),
        ("2", "TRUC_TUYEN"),
        ("3", "BUU_CHINH"),
    ]
    assert tables.channels.get("BUU_CHINH", on, by="local_code").code == "3"
    assert tables.applicant_types.get("DOANH_NGHIEP", on, by="local_code").code == "2"
    assert tables.applicant_types.get("KHAC", on, by="local_code").name_vi == "Khác"
    assert tables.channels.get("FAX", on, by="local_code") is None


def test_districts_end_and_communes_begin_on_2025_07_01(tables):
    district = tables.agencies.get("000.00.31.H26", BEFORE)
    assert district.name == "Quận Hoàn Kiếm" and district.level == "district"
    assert tables.agencies.get("000.00.31.H26", AFTER) is None
    ward = tables.agencies.get("000.01.60.H26", AFTER)
    assert ward.name == "Phường Hoàn Kiếm" and ward.level == "commune"
    assert tables.agencies.get("000.01.60.H26", BEFORE) is None

    def count(on, level):
        return sum(r.level == level for r in tables.agencies.rows(on))

    assert (count(BEFORE, "district"), count(AFTER, "district")) == (30, 0)
    assert count(BEFORE, "commune") == 0
    assert count(AFTER, "commune") >= 30
    names = {r.name for r in tables.agencies.rows(AFTER)}
    assert {"Phường Ba Đình", "Xã Sóc Sơn", "Ủy ban nhân dân Thành phố Hà Nội"} <= names


def test_departments_merged_on_2025_03_01(tables):
    mpi = tables.agencies.get("000.00.04.H26", date(2025, 2, 28))
    assert mpi.name == "Sở Kế hoạch và Đầu tư"
    assert tables.agencies.get("000.00.04.H26", date(2025, 3, 1)) is None
    assert tables.agencies.get("000.00.05.H26", date(2025, 3, 1)).name == "Sở Tài chính"
    departments = [r for r in tables.agencies.rows(date(2026, 1, 1)) if r.level == "department"]
    assert 15 <= len(departments) <= 25
    assert "000.00.24.H26" not in tables.agencies.valid_codes(date(2025, 2, 28))


def test_procedures_replaced_on_2025_07_01(tables):
    old = tables.procedures.get("1.009974", BEFORE)
    assert old.authority_level == "district" and old.name == "Cấp giấy phép xây dựng nhà ở riêng lẻ"
    assert tables.procedures.get("1.009974", AFTER) is None
    new = tables.procedures.get("1.013225", AFTER)
    assert new.authority_level == "commune" and new.name == old.name
    assert tables.procedures.get("1.013225", BEFORE) is None


def test_ministry_software_procedures_follow_the_ministry_merger(tables):
    business = tables.procedures.get("2.001610", date(2025, 2, 28))
    assert business.processed_on_ministry_software and business.ministry == "Bộ Kế hoạch và Đầu tư"
    assert tables.procedures.get("2.001610", date(2025, 3, 1)).ministry == "Bộ Tài chính"
    local = tables.procedures.get("1.001193", AFTER)
    assert not local.processed_on_ministry_software and local.ministry is None


def test_procedure_catalogue_is_realistic(tables):
    rows = tables.procedures.rows(date(2026, 1, 1))
    assert 70 <= len(rows) <= 100
    not_integrated = [r for r in rows if not r.integrated_on_portal]
    assert 0 < len(not_integrated) < len(rows) / 4
    weights = sorted((r.weight for r in rows), reverse=True)
    assert sum(weights[:8]) > 0.5 * sum(weights), "a few procedures should dominate the volume"
    assert {r.online_level for r in rows} == {"full", "partial", "none"}
    assert {"HT", "XD", "DD", "DKKD", "LD", "GT", "YT", "GD"} <= {r.field_code for r in rows}
    assert all(r.max_days >= 1 for r in rows)


def test_local_procedure_variant_gets_the_province_suffix(tables):
    row = tables.procedures.get("1.012345.000.00.00.H26", date(2026, 1, 1))
    assert row is not None and row.field_code == "GT"


def test_provinces_are_the_63_birth_registration_codes(tables):
    assert [r.code for r in tables.provinces.rows(date(2026, 1, 1))] == PROVINCE_CODES
    assert tables.provinces.get("001", date(2026, 1, 1)).name == "Hà Nội"
    assert tables.provinces.get("079", date(2026, 1, 1)).name == "Hồ Chí Minh"
    assert tables.provinces.get("003", date(2026, 1, 1)) is None


def test_default_tables_are_cached(tables):
    assert load_code_tables() is tables


def test_province_suffix_comes_from_configuration(monkeypatch):
    monkeypatch.setenv(SUFFIX_ENV, "H30")
    tables = load_code_tables()
    assert tables.province_suffix == "H30"
    assert tables.agencies.get("000.00.12.H30", date(2026, 1, 1)).name == "Sở Xây dựng"
    assert tables.agencies.get("000.00.12.H26", date(2026, 1, 1)) is None
    assert all(code.endswith(".H30") for code in tables.agencies.valid_codes(date(2026, 1, 1)))


def test_bad_province_suffix_is_refused(monkeypatch):
    monkeypatch.setenv(SUFFIX_ENV, "26")
    with pytest.raises(CodeTableError, match="HUB_PROVINCE_SUFFIX"):
        load_code_tables()


def test_all_text_is_nfc_utf8():
    for path in DEFAULT_DIR.glob("*.csv"):
        text = path.read_text(encoding="utf-8")
        assert unicodedata.is_normalized("NFC", text), path.name


def test_same_code_can_change_meaning_on_a_date(tmp_path):
    directory = copy_tables(tmp_path)
    path = directory / "local_states.csv"
    text = path.read_text(encoding="utf-8").replace(
        "CHO_BO_SUNG,Chờ bổ sung hồ sơ,5,2020-01-01,", "CHO_BO_SUNG,Chờ bổ sung hồ sơ,5,2020-01-01,2025-06-30"
    )
    path.write_text(text + "CHO_BO_SUNG,Chờ bổ sung hồ sơ,4,2025-07-01,\n", encoding="utf-8")
    states = load_code_tables(directory).local_states
    assert states.get("CHO_BO_SUNG", BEFORE).status_code == 5
    assert states.get("CHO_BO_SUNG", AFTER).status_code == 4


@pytest.mark.parametrize(
    ("file", "line", "error"),
    [
        ("local_states.csv", "DANG_XU_LY,Trùng,4,2024-01-01,\n", "overlapping"),
        ("local_states.csv", "MOI_NOP_2,Mới,11,2024-01-01,\n", "unknown status 11"),
        ("agencies.csv", "000.00.98,Sở Mới,ministry,2024-01-01,\n", "level"),
        ("agencies.csv", "00.00.98,Sở Mới,department,2024-01-01,\n", "local code"),
        ("agencies.csv", "000.00.98,Sở Mới,department,2024-01-01,2023-01-01\n", "valid_to before valid_from"),
        ("channels.csv", "4,TRUC_TIEP,Trùng,Duplicate,2024-01-01,\n", "local_code='TRUC_TIEP'"),
        ("statuses.csv", "11,Khác,Other,unknown,2024-01-01,\n", "outcome"),
        ("provinces.csv", "097,Tỉnh thiếu cột\n", "wrong number of fields"),
    ],
)
def test_malformed_tables_are_refused_at_load(tmp_path, file, line, error):
    directory = copy_tables(tmp_path)
    with (directory / file).open("a", encoding="utf-8") as f:
        f.write(line)
    with pytest.raises(CodeTableError, match=error):
        load_code_tables(directory)


def test_procedure_ministry_must_match_flag(tmp_path):
    directory = copy_tables(tmp_path)
    with (directory / "procedures.csv").open("a", encoding="utf-8") as f:
        f.write("1.999999,Thủ tục thử,XD,department,true,true,,,full,1,5,2024-01-01,\n")
    with pytest.raises(CodeTableError, match="ministry"):
        load_code_tables(directory)


def test_unexpected_columns_are_refused(tmp_path):
    directory = copy_tables(tmp_path)
    path = directory / "channels.csv"
    path.write_text(path.read_text(encoding="utf-8").replace("name_en", "name_fr"), encoding="utf-8")
    with pytest.raises(CodeTableError, match="columns"):
        load_code_tables(directory)


def test_the_owning_ministry_of_a_procedure_is_dated_and_the_two_tables_must_agree(tmp_path: Path) -> None:
    tables = load_code_tables()
    company = tables.procedures.get("2.001610", date(2024, 6, 1))
    assert company is not None
    before, after = (tables.ministry_system(company, day) for day in (date(2025, 2, 28), date(2025, 3, 1)))
    assert before is not None and after is not None and before.system == after.system == "business_registration"
    assert (before.ministry, after.ministry) == ("Bộ Kế hoạch và Đầu tư", "Bộ Tài chính")  # merged on 1 March 2025

    for table in DEFAULT_DIR.glob("*.csv"):
        shutil.copy(table, tmp_path / table.name)
    systems = tmp_path / "ministry_systems.csv"
    systems.write_text(systems.read_text(encoding="utf-8").replace("Bộ Tài chính", "Bộ Công Thương"), encoding="utf-8")
    with pytest.raises(CodeTableError, match="ministry_systems gives field DKKD"):
        load_code_tables(tmp_path)


def test_a_ministry_system_can_own_single_procedures_of_a_field_the_city_also_handles() -> None:
    tables = load_code_tables()
    day = date(2026, 11, 20)
    owners = {
        code: tables.ministry_system(tables.procedures.get(code, day), day)
        for code in ("1.002809", "1.004227", "1.001978", "2.000815.000.00.02.H26")
    }
    assert {code: (o.system, o.ministry) for code, o in owners.items() if o is not None} == {
        "1.002809": ("driving_licence", "Bộ Công an"),  # moved from Transport on 1 March 2025
        "1.004227": ("land_registration", "Bộ Nông nghiệp và Môi trường"),
        "1.001978": ("unemployment_benefit", "Bộ Nội vụ"),
        "2.000815.000.00.02.H26": ("certification", "Văn phòng Chính phủ"),
    }
    licence = tables.procedures.get("1.002809", date(2025, 2, 28))
    assert tables.ministry_system(licence, date(2025, 2, 28)).ministry == "Bộ Giao thông vận tải"
    # the same fields' other procedures stay with the city system
    for code in ("1.001061", "1.004217", "2.000815"):
        assert tables.ministry_system(tables.procedures.get(code, day), day) is None, code
