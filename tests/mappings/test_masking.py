import pytest
from hypothesis import given
from hypothesis import strategies as st

from mappings.masking import mask_citizen_id, mask_personal_data, mask_personal_fields, mask_phone, mask_words


def test_mask_citizen_id_keeps_last_three():
    assert mask_citizen_id("001090012345") == "*********345"
    assert mask_citizen_id("12") == "**"
    assert mask_citizen_id("123") == "***"
    assert mask_citizen_id("") == ""


def test_mask_phone_keeps_layout_and_last_three_digits():
    assert mask_phone("0912345678") == "*******678"
    assert mask_phone("+84 912 345 678") == "+** *** *** 678"
    assert mask_phone("024.3826.1234") == "***.****.*234"
    assert mask_phone("113") == "***"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Số định danh 001090012345 không hợp lệ", "Số định danh *********345 không hợp lệ"),
        ("CCCD:001090012345, ĐT:0912345678.", "CCCD:*********345, ĐT:*******678."),
        ("gọi 0912 345 678 hoặc +84 912.345.679", "gọi **** *** 678 hoặc +** ***.***.679"),
        ("máy bàn 02438261234 (11 số)", "máy bàn ********234 (11 số)"),
        ("ID001090012345", "ID*********345"),
    ],
)
def test_personal_numbers_in_free_text_are_masked(text, expected):
    assert mask_personal_data(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Hồ sơ 000.00.12.H26-261120-0001 đã tiếp nhận",
        "Thủ tục 1.003560.000.00.00.H26",
        "NgayNopHoSo=20261120081500",
        "lệ phí 1.500.000 đồng, 50000 đồng",
        "ngày 20/11/2026 lúc 08:15, mã 123456789",
        "mã vận đơn EE123456785VN",
    ],
)
def test_codes_dates_and_amounts_stay_readable(text):
    assert mask_personal_data(text) == text


@given(
    st.text(alphabet="abc xyz,.:", max_size=20),
    st.from_regex(r"[0-9]{12}", fullmatch=True),
    st.text(alphabet="abc xyz,:", max_size=20),
)
def test_any_embedded_citizen_id_is_masked(before, citizen_id, after):
    masked = mask_personal_data(f"{before} {citizen_id} {after}")
    assert citizen_id not in masked
    assert f"*********{citizen_id[-3:]}" in masked


def test_a_held_record_shows_names_birth_dates_emails_and_addresses_masked_by_field_name():
    record = {
        "ma_ho_so": "000.00.12.H26-261120-0001",
        "chu_ho_so": {
            "Ho_Ten": "Nguyễn Văn An",
            "ngay_sinh": "1990-04-17",
            "email": "an.nguyen@ha-noi.vn",
            "so_giay_to": "001090012345",
            "dia_chi": "Số 12 ngõ 34, 0912345678",
        },
        "NgayThangNamSinh": {"NgayThangNam": "17/04/1990", "Nam": 1990},
        "ThuDienTu": "khong co thu",
        "nguoi_nhan": [{"SoNha": "18B"}, "0987654321"],
        "so_luong": 12,
        "ghi_chu": None,
    }
    assert mask_personal_fields(record) == {
        "ma_ho_so": "000.00.12.H26-261120-0001",
        "chu_ho_so": {
            "Ho_Ten": "N***** V** A*",
            "ngay_sinh": "****-**-**",
            "email": "a********@ha-noi.vn",
            "so_giay_to": "*********345",
            "dia_chi": "S* 1* n** 3*, *******6**",
        },
        "NgayThangNamSinh": {"NgayThangNam": "**/**/****", "Nam": "****"},
        "ThuDienTu": "k**** c* t**",
        "nguoi_nhan": [{"SoNha": "1**"}, "*******321"],
        "so_luong": 12,
        "ghi_chu": None,
    }


def test_a_name_field_that_is_not_text_is_walked_not_starred():
    """``chu_ho_so`` is a name in the portal's payloads and an object in the city's records."""
    assert mask_personal_fields({"chu_ho_so": {"so_dien_thoai": "0912345678", "loai": "CONG_DAN"}}) == {
        "chu_ho_so": {"so_dien_thoai": "*******678", "loai": "CONG_DAN"}
    }


def test_short_values_are_starred_whole():
    assert mask_citizen_id("12") == "**"
    assert mask_citizen_id("1234") == "*234"
    assert mask_phone("12") == "**"
    assert mask_phone("+84 1") == "+** *"
    assert mask_words("a bc") == "a b*"
