import pytest
from hypothesis import given
from hypothesis import strategies as st

from mappings.masking import mask_citizen_id, mask_personal_data, mask_phone


def test_mask_citizen_id_keeps_last_three():
    assert mask_citizen_id("001090012345") == "*********345"
    assert mask_citizen_id("12") == "**"
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
