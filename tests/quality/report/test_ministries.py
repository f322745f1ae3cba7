"""The report's ministry section: every row as the document states it, in both languages."""

from __future__ import annotations

from quality.report.ministries import ministries_view
from quality.report.view import fmt_int

ROW = {
    "source": "ministry:civil_status",
    "system": "civil_status",
    "ministry": "Bộ Tư pháp",
    "procedure": "1.001193",
    "procedure_name": "Đăng ký khai sinh",
    "processed": 1200,
    "matched": {"same_number": 0, "one_stop_number": 900, "ministry_number": 0, "applicant_procedure_day": 40},
    "ambiguous": 3,
    "ministry_only": 257,
    "at_portal": 1190,
    "not_at_portal": 10,
}


def test_each_ministry_and_procedure_is_a_row_that_adds_up() -> None:
    view = ministries_view({"ministries": [ROW]}, "vi", fmt_int)
    assert view is not None
    (row,) = view["rows"]
    assert row["ministry"].startswith("Bộ Tư pháp (") and row["procedure"] == "1.001193 Đăng ký khai sinh"
    assert (row["processed"], row["matched"], row["ambiguous"], row["ministry_only"]) == ("1.200", "940", "3", "257")
    assert row["portal"] == "1.190 / 10" and "số một cửa 900" in row["matched_by"]


def test_without_the_portal_read_the_column_says_so_and_an_old_document_has_no_section() -> None:
    view = ministries_view({"ministries": [{**ROW, "at_portal": None, "not_at_portal": None}]}, "en", fmt_int)
    assert view is not None and view["rows"][0]["portal"] == "not checked"
    assert ministries_view({}, "en", fmt_int) is None
