"""Every word the reconciliation report shows, in Vietnamese and English.

The words live apart from the template so an officer can correct a phrase without touching
markup, and so the two languages cannot drift: :func:`texts` refuses a language that lacks a key.
Difference classes carry what they mean *and* what an officer should do, because a count of
"behind at portal" without the next step is a number nobody acts on.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.partners import find

LANGUAGES = ("vi", "en")


@dataclass(frozen=True)
class ClassText:
    """One difference class in words: short name, what it means, what to do about it."""

    name: str
    meaning: str
    action: str


_UI: dict[str, dict[str, str]] = {
    "vi": {
        "html_lang": "vi",
        "nation": "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "motto": "Độc lập - Tự do - Hạnh phúc",
        "authority": "ỦY BAN NHÂN DÂN THÀNH PHỐ HÀ NỘI",
        "issuer": "TRUNG TÂM PHỤC VỤ HÀNH CHÍNH CÔNG",
        "title": "BÁO CÁO ĐỐI SOÁT HỒ SƠ THỦ TỤC HÀNH CHÍNH",
        "subtitle": "Đối chiếu số liệu giữa hệ thống của Thành phố, "
        "Cổng Dịch vụ công quốc gia và các hệ thống liên quan",
        "period": "Kỳ báo cáo",
        "generated_at": "Thời điểm lập",
        "page": "Trang",
        "of": "/",
        "reconciled": "ĐÃ KHỚP",
        "explained": "CHÊNH LỆCH ĐÃ ĐƯỢC GIẢI THÍCH",
        "not_reconciled": "CHƯA KHỚP",
        "no_data": "KHÔNG CÓ SỐ LIỆU",
        "verdict_no_data": "Không nguồn nào có hồ sơ của kỳ này: không có gì để đối chiếu, "
        "nên không thể kết luận số liệu khớp.",
        "verdict_explained": "Mọi hồ sơ chênh lệch đều thuộc loại dự kiến ({classes}) "
        "và đã được giải thích theo từng hồ sơ.",
        "verdict_unexpected": "Có hồ sơ chênh lệch thuộc loại không dự kiến: {classes}.",
        "verdict_none": "Không có hồ sơ chênh lệch giữa các nguồn.",
        "verdict_not_compared": "Chưa đối chiếu đủ các nguồn (xem dưới đây), nên không thể kết luận số liệu khớp "
        "hay chênh lệch đã được giải thích.",
        "verdict_differing": "{n} hồ sơ chênh lệch.",
        "verdict_differing_one": "{n} hồ sơ chênh lệch.",
        "verdict_largest": "Nhiều nhất",
        "verdict_identities_ok": "Mọi đẳng thức kiểm tra đều cân.",
        "verdict_identities_failed": "{n} đẳng thức kiểm tra không cân.",
        "verdict_identities_failed_one": "{n} đẳng thức kiểm tra không cân.",
        "compared": "Đã đối chiếu",
        "not_compared": "Chưa đối chiếu được",
        "portal_basis_export": "số của Cổng theo danh sách hồ sơ Cổng cung cấp",
        "portal_basis_acknowledged": "số của Cổng chỉ gồm hồ sơ Cổng đã xác nhận với hệ thống tích hợp",
        "flags": "Dấu hiệu kèm theo (hồ sơ đã được tính ở một loại phía trên)",
        "flags_intro": "Mỗi hồ sơ chỉ được tính ở một loại chênh lệch; các dấu hiệu khác của cùng hồ sơ liệt kê riêng "
        "dưới đây và không cộng vào tổng.",
        "flag": "Dấu hiệu",
        "counted_as": "Đã tính ở loại",
        "expected_class": "Dự kiến",
        "yes": "có",
        "no": "không",
        "identities": "1. Các đẳng thức kiểm tra",
        "identities_intro": "Mỗi đẳng thức phải cân: vế trái bằng vế phải. "
        "Số liệu thay vào công thức được ghi ngay bên dưới.",
        "identity": "Đẳng thức",
        "formula": "Công thức",
        "with_figures": "Thay số",
        "result": "Kết quả",
        "holds": "Cân",
        "fails": "Không cân",
        "gap": "chênh",
        "terms": "Thành phần",
        "sources": "2. Số hồ sơ theo nguồn",
        "source": "Nguồn",
        "dossiers": "Số hồ sơ",
        "classes": "3. Chênh lệch theo loại",
        "class": "Loại chênh lệch",
        "count": "Số hồ sơ",
        "meaning": "Ý nghĩa",
        "action": "Việc cần làm",
        "classes_absent": "Các loại sau chưa được kiểm tra trong kỳ này nên không có số liệu",
        "kpis": "4. Chỉ số đánh giá (theo Quyết định 766/QĐ-TTg)",
        "kpi": "Chỉ số",
        "value": "Giá trị",
        "numerator": "Tử số",
        "denominator": "Mẫu số",
        "overall": "Toàn Thành phố",
        "kpis_by_agency": "Chỉ số theo cơ quan",
        "no_kpis": "Tài liệu đối soát không có chỉ số.",
        "not_applicable": "không áp dụng",
        "trend": "Xu hướng chỉ số",
        "by_agency": "5. Chênh lệch theo cơ quan",
        "agency": "Cơ quan",
        "total": "Tổng",
        "breakdown": "6. Số hồ sơ theo cơ quan, thủ tục và trạng thái",
        "procedure": "Thủ tục",
        "status": "Trạng thái",
        "city": "Thành phố",
        "portal": "Cổng DVCQG",
        "ministry": "Bộ, ngành",
        "no_status": "(không có)",
        "rows_shown": "Trang này hiển thị {shown} trong {total} dòng ({order}); đầy đủ trong tệp",
        "order_agencies": "cơ quan có nhiều chênh lệch nhất trước",
        "order_codes": "theo mã cơ quan",
        "order_gap": "dòng chênh lệch nhiều nhất giữa các nguồn trước",
        "differences": "7. Danh sách hồ sơ chênh lệch",
        "differences_shown": "Trang này liệt kê tối đa {limit} hồ sơ đầu tiên của mỗi loại; "
        "danh sách đầy đủ ({total} hồ sơ) nằm trong tệp",
        "differences_more": "và {more} hồ sơ khác trong tệp CSV",
        "dossier_no": "Số hồ sơ",
        "detail": "Chi tiết",
        "no_differences": "Không có hồ sơ chênh lệch.",
        "data_docs": "Kết quả kiểm tra chất lượng dữ liệu (GX Data Docs)",
        "files": "Tệp kèm theo",
        "csv_file": "Danh sách chênh lệch (CSV, mở được bằng Excel)",
        "json_file": "Tài liệu đối soát gốc (JSON)",
        "pdf_file": "Bản PDF có chữ ký số",
        "chart_sources": "Số hồ sơ theo nguồn",
        "chart_classes": "Số hồ sơ chênh lệch theo loại",
        "chart_trend": "Xu hướng chỉ số (%)",
        "footer": "Báo cáo được lập tự động từ tài liệu đối soát; "
        "bản PDF được ký số bằng chứng thư của hệ thống tích hợp.",
        "day": "Ngày",
        "month": "Tháng",
        "quarter": "Quý",
        "year": "Năm",
        "range_from": "Từ ngày",
        "range_to": "đến ngày",
    },
    "en": {
        "html_lang": "en",
        "nation": "SOCIALIST REPUBLIC OF VIET NAM",
        "motto": "Independence - Freedom - Happiness",
        "authority": "HANOI PEOPLE'S COMMITTEE",
        "issuer": "PUBLIC ADMINISTRATIVE SERVICE CENTER",
        "title": "RECONCILIATION REPORT: ADMINISTRATIVE-PROCEDURE DOSSIERS",
        "subtitle": "Counts compared between the city system, the national public-service portal and related systems",
        "period": "Period",
        "generated_at": "Generated",
        "page": "Page",
        "of": "of",
        "reconciled": "RECONCILED",
        "explained": "DIFFERENCES EXPLAINED",
        "not_reconciled": "NOT RECONCILED",
        "no_data": "NO DATA",
        "verdict_no_data": "No source holds a dossier of this period: nothing was compared, "
        "so nothing can be said to agree.",
        "verdict_explained": "Every differing dossier is of an expected class ({classes}) "
        "and explained dossier by dossier.",
        "verdict_unexpected": "Some dossiers differ in a class that is not expected: {classes}.",
        "verdict_none": "No dossier differs between the sources.",
        "verdict_not_compared": "Not every source could be compared (see below), so the period cannot be "
        "said to agree or its differences to be explained.",
        "verdict_differing": "{n} dossiers differ.",
        "verdict_differing_one": "{n} dossier differs.",
        "verdict_largest": "Largest class",
        "verdict_identities_ok": "Every accounting identity holds.",
        "verdict_identities_failed": "{n} accounting identities do not hold.",
        "verdict_identities_failed_one": "{n} accounting identity does not hold.",
        "compared": "Compared",
        "not_compared": "Could not compare",
        "portal_basis_export": "the portal's figure is its own dossier listing",
        "portal_basis_acknowledged": "the portal's figure counts only what it acknowledged to the hub",
        "flags": "Flags (dossiers already counted in a class above)",
        "flags_intro": "Each dossier is counted in one class only; what else the same dossier shows is listed "
        "apart below and not added to the total.",
        "flag": "Flag",
        "counted_as": "Counted as",
        "expected_class": "Expected",
        "yes": "yes",
        "no": "no",
        "identities": "1. Accounting identities",
        "identities_intro": "Each identity must hold: left side equals right side. "
        "The figures substituted into the formula are shown below it.",
        "identity": "Identity",
        "formula": "Formula",
        "with_figures": "With figures",
        "result": "Result",
        "holds": "Holds",
        "fails": "Does not hold",
        "gap": "gap",
        "terms": "Terms",
        "sources": "2. Dossiers per source",
        "source": "Source",
        "dossiers": "Dossiers",
        "classes": "3. Differences by class",
        "class": "Class of difference",
        "count": "Dossiers",
        "meaning": "What it means",
        "action": "What to do",
        "classes_absent": "These classes were not checked for this period, so they have no figures",
        "kpis": "4. Performance indicators (Decision 766/QĐ-TTg)",
        "kpi": "Indicator",
        "value": "Value",
        "numerator": "Numerator",
        "denominator": "Denominator",
        "overall": "Whole city",
        "kpis_by_agency": "Indicators per agency",
        "no_kpis": "The reconciliation document holds no indicators.",
        "not_applicable": "n/a",
        "trend": "Indicator trend",
        "by_agency": "5. Differences per agency",
        "agency": "Agency",
        "total": "Total",
        "breakdown": "6. Dossiers per agency, procedure and status",
        "procedure": "Procedure",
        "status": "Status",
        "city": "City",
        "portal": "Portal",
        "ministry": "Ministries",
        "no_status": "(none)",
        "rows_shown": "This page shows {shown} of {total} rows ({order}); all of them are in",
        "order_agencies": "agencies with the most differences first",
        "order_codes": "by agency code",
        "order_gap": "rows with the largest gap between sources first",
        "differences": "7. Differing dossiers",
        "differences_shown": "This page lists at most the first {limit} dossiers of each class; "
        "the full list ({total} dossiers) is in",
        "differences_more": "and {more} more in the CSV file",
        "dossier_no": "Dossier number",
        "detail": "Detail",
        "no_differences": "No dossier differs.",
        "data_docs": "Data-quality validation results (GX Data Docs)",
        "files": "Attached files",
        "csv_file": "Difference list (CSV, opens in Excel)",
        "json_file": "Reconciliation document (JSON)",
        "pdf_file": "Digitally signed PDF",
        "chart_sources": "Dossiers per source",
        "chart_classes": "Differing dossiers by class",
        "chart_trend": "Indicator trend (%)",
        "footer": "Generated automatically from the reconciliation document; "
        "the PDF is signed with the hub's certificate.",
        "day": "Day",
        "month": "Month",
        "quarter": "Quarter",
        "year": "Year",
        "range_from": "From",
        "range_to": "to",
    },
}

# Order in which classes are listed: the portal's own gaps first, then what the hub holds back,
# then ministry and postal differences.
CLASS_ORDER = (
    "missing_at_portal",
    "extra_at_portal",
    "behind_at_portal",
    "quarantined",
    "pending",
    "ministry_only",
    "ministry_ambiguous_match",
    "duplicate",
    "postal_no_order",
    "postal_delivered_not_closed",
    "payment_not_paid",
    "payment_amount_differs",
    "payment_unclaimed",
)

_CLASSES: dict[str, dict[str, ClassText]] = {
    "vi": {
        "missing_at_portal": ClassText(
            "Thiếu trên Cổng DVCQG",
            "Hệ thống của Thành phố có hồ sơ nhưng Cổng Dịch vụ công quốc gia chưa ghi nhận.",
            "Kiểm tra hàng đợi gửi và nhật ký trao đổi của hồ sơ; chạy lại đồng bộ cho kỳ này.",
        ),
        "extra_at_portal": ClassText(
            "Thừa trên Cổng DVCQG",
            "Cổng ghi nhận hồ sơ mà hệ thống của Thành phố không có trong kỳ.",
            "Hỏi đơn vị tiếp nhận: nếu hồ sơ xử lý trên phần mềm của Bộ thì kéo về; "
            "nếu nhập nhầm thì đề nghị Cổng điều chỉnh.",
        ),
        "behind_at_portal": ClassText(
            "Cổng chưa cập nhật",
            "Cổng có hồ sơ nhưng ở phiên bản cũ (trạng thái hoặc tiến độ chưa cập nhật).",
            "Chờ lần đồng bộ kế tiếp; nếu sau một ngày vẫn chênh, kiểm tra nhật ký trao đổi.",
        ),
        "quarantined": ClassText(
            "Bị giữ lại do lỗi dữ liệu",
            "Hồ sơ vi phạm quy tắc chất lượng dữ liệu nên chưa được gửi; cột Chi tiết nêu quy tắc.",
            "Đơn vị tiếp nhận sửa dữ liệu trên hệ thống của Thành phố; hồ sơ sẽ được gửi lại tự động.",
        ),
        "pending": ClassText(
            "Đang chờ gửi lại",
            "Việc gửi tạm thời thất bại (hệ thống đối tác gián đoạn); hệ thống tích hợp sẽ tự gửi lại.",
            "Không cần thao tác nếu số này giảm ở lần chạy sau; nếu kéo dài, báo bộ phận kỹ thuật.",
        ),
        "ministry_only": ClassText(
            "Chỉ có trên phần mềm của Bộ",
            "Hồ sơ được xử lý trên phần mềm của Bộ, hệ thống của Thành phố không có.",
            "Tính hồ sơ vào số liệu của Thành phố (đã được kéo về), không cắt giảm số liệu báo cáo.",
        ),
        "ministry_ambiguous_match": ClassText(
            "Hồ sơ của Bộ khớp với nhiều hồ sơ của Thành phố",
            "Không có số một cửa hay số hồ sơ khác để đối chiếu; nhiều hồ sơ của Thành phố cùng người nộp, "
            "thủ tục và ngày nộp: không tự gộp.",
            "Cơ quan tiếp nhận xác định hồ sơ tương ứng và ghi số hồ sơ của Bộ vào hồ sơ của Thành phố.",
        ),
        "duplicate": ClassText(
            "Trùng lặp (xử lý ở hai nơi)",
            "Cùng số hồ sơ có trên hệ thống của Thành phố và phần mềm của Bộ với nội dung khác nhau.",
            "Xác định nơi xử lý chính thức và đóng bản còn lại để không đếm hai lần.",
        ),
        "postal_no_order": ClassText(
            "Trả qua bưu chính nhưng chưa có vận đơn",
            "Người nộp chọn nhận kết quả qua bưu chính nhưng đơn vị bưu chính chưa có vận đơn.",
            "Tạo vận đơn với đơn vị bưu chính hoặc liên hệ người nộp để thống nhất cách nhận.",
        ),
        "postal_delivered_not_closed": ClassText(
            "Đã phát nhưng hồ sơ chưa kết thúc",
            "Bưu chính báo đã phát kết quả nhưng hồ sơ chưa ở trạng thái Đã trả kết quả.",
            "Cập nhật trạng thái hồ sơ; đối chiếu trước khi thanh toán cước phát được hỗ trợ.",
        ),
        "payment_not_paid": ClassText(
            "Khai đã thanh toán trên Cổng nhưng Nền tảng thanh toán không có giao dịch thành công",
            "Hồ sơ ghi đã thanh toán trực tuyến qua Cổng DVCQG nhưng giao dịch thất bại, chưa hoàn tất hoặc không có.",
            "Đơn vị tiếp nhận kiểm tra biên lai với người nộp; sửa thông tin thanh toán của hồ sơ nếu chưa nộp.",
        ),
        "payment_amount_differs": ClassText(
            "Số tiền thanh toán khác phí, lệ phí của hồ sơ",
            "Nền tảng thanh toán ghi nhận số tiền khác tổng phí, lệ phí của hồ sơ; cột Chi tiết nêu hai số tiền.",
            "Đối chiếu biểu phí của thủ tục; hoàn trả hoặc thu bổ sung phần chênh lệch.",
        ),
        "payment_unclaimed": ClassText(
            "Đã thanh toán trên Cổng nhưng không hồ sơ nào khai",
            "Nền tảng thanh toán có giao dịch thành công cho hồ sơ không khai thanh toán qua Cổng.",
            "Cập nhật thông tin thanh toán của hồ sơ (hoặc hồ sơ bị giữ lại: sửa dữ liệu để đồng bộ).",
        ),
    },
    "en": {
        "missing_at_portal": ClassText(
            "Missing at the portal",
            "The city system holds the dossier but the national portal has not acknowledged it.",
            "Check the dossier's outbox messages and message log; re-run the portal sync for the period.",
        ),
        "extra_at_portal": ClassText(
            "Extra at the portal",
            "The portal counts a dossier the city system does not hold for the period.",
            "Ask the receiving agency: pull it back if it was processed on ministry software, "
            "or ask the portal to correct an entry made by mistake.",
        ),
        "behind_at_portal": ClassText(
            "Behind at the portal",
            "The portal holds an older version of the dossier (status or progress not updated).",
            "Wait for the next sync; if it is still behind after a day, check the message log.",
        ),
        "quarantined": ClassText(
            "Quarantined (data errors)",
            "The dossier broke a data-quality rule and was not sent; the Detail column names the rule.",
            "The receiving agency corrects the data in the city system; the dossier is then sent again automatically.",
        ),
        "pending": ClassText(
            "Pending (being retried)",
            "Delivery failed temporarily (partner outage); the hub sends it again by itself.",
            "No action if the number falls on the next run; if it persists, tell the technical team.",
        ),
        "ministry_only": ClassText(
            "Only on ministry software",
            "The dossier was processed on ministry software; the city system does not hold it.",
            "Count it in the city's figures (the hub pulled it back); do not cut the reported counts.",
        ),
        "ministry_ambiguous_match": ClassText(
            "Ministry dossier matching several city dossiers",
            "No one-stop or other number links it; several city dossiers share its applicant, procedure "
            "and day: it is not merged with any.",
            "The receiving agency identifies the matching dossier and records the ministry's number on it.",
        ),
        "duplicate": ClassText(
            "Duplicate (processed twice)",
            "The same dossier number is in the city system and on ministry software with different content.",
            "Decide which system processes it and close the other copy so it is not counted twice.",
        ),
        "postal_no_order": ClassText(
            "Return by post, no postal order",
            "The applicant chose to receive the result by post but the carrier has no order for it.",
            "Create the postal order with the carrier, or contact the applicant to agree how to return the result.",
        ),
        "postal_delivered_not_closed": ClassText(
            "Delivered, dossier not closed",
            "The carrier reports the result delivered but the dossier is not in status Result returned.",
            "Update the dossier's status; reconcile before paying the subsidised delivery.",
        ),
        "payment_not_paid": ClassText(
            "Claims a payment on the portal, the platform has no paid transaction",
            "The dossier says its fees were paid online on the national portal, but the payment platform's "
            "transaction failed, is unsettled or does not exist.",
            "The receiving agency checks the receipt with the applicant; correct the dossier's payment if unpaid.",
        ),
        "payment_amount_differs": ClassText(
            "Amount paid differs from the dossier's fees",
            "The platform recorded another amount than the sum of the dossier's fees; the Detail column gives both.",
            "Check the procedure's fee schedule; refund or collect the difference.",
        ),
        "payment_unclaimed": ClassText(
            "Paid on the portal, claimed by no dossier",
            "The payment platform holds a paid transaction for a dossier that does not claim a payment there.",
            "Correct the dossier's payment details (or, for a quarantined dossier, fix its data so it syncs).",
        ),
    },
}

_UNKNOWN_CLASS = {
    "vi": ("Loại chênh lệch chưa có mô tả trong phiên bản báo cáo này.", "Báo bộ phận kỹ thuật."),
    "en": ("A class this report version does not describe yet.", "Tell the technical team."),
}

_SOURCES: dict[str, dict[str, str]] = {
    "vi": {
        "city": "Hệ thống giải quyết TTHC Thành phố",
        "postal": "Bưu chính công ích",
        "postal_delivered": "Bưu chính công ích: đã phát",
        "ministry": "Bộ, ngành",
    },
    "en": {
        "city": "City dossier system",
        "postal": "Public postal service",
        "postal_delivered": "Public postal service: delivered",
        "ministry": "Ministry",
    },
}

_IDENTITIES: dict[str, dict[str, str]] = {
    "vi": {
        "hub_flow": "Luồng đồng bộ lên Cổng DVCQG",
        "table01": "Bảng 01: tình hình giải quyết hồ sơ",
        "portal": "Số hồ sơ trên Cổng DVCQG",
        "ministries": "Hồ sơ xử lý trên phần mềm của Bộ",
        "payments_paid": "Giao dịch thành công trên Nền tảng thanh toán (hồ sơ)",
        "payments_claimed": "Hồ sơ khai thanh toán trực tuyến qua Cổng",
        "payments_vnd": "Số tiền thanh toán trên Nền tảng (đồng)",
        "notifications": "Thông báo cho công dân qua iHaNoi",
    },
    "en": {
        "hub_flow": "Sync flow to the national portal",
        "table01": "Table 01: dossier resolution",
        "portal": "Dossiers on the national portal",
        "ministries": "Dossiers processed on ministry software",
        "payments_paid": "Paid on the payment platform (dossiers)",
        "payments_claimed": "Dossiers claiming a payment on the portal",
        "payments_vnd": "Paid on the payment platform (VND)",
        "notifications": "Citizen notifications on iHaNoi",
    },
}

_TERMS: dict[str, dict[str, str]] = {
    "vi": {
        "extracted": "đã trích xuất",
        "delivered": "đã gửi thành công",
        "quarantined": "bị giữ lại",
        "pending": "chờ gửi lại",
        "out_of_scope": "thủ tục chưa tích hợp",
        "no_disposition": "chưa có trạng thái gửi",
        "received": "đã tiếp nhận",
        "unclassified": "chưa phân loại được",
        "total": "tổng số",
        "on_time": "giải quyết đúng hạn",
        "late": "giải quyết quá hạn",
        "in_process": "đang giải quyết",
        "closed_unresolved": "dừng, rút, từ chối",
        "portal": "trên Cổng",
        "city": "của Thành phố",
        "ministry_only": "chỉ có ở Bộ",
        "not_integrated": "thủ tục chưa tích hợp",
        "portal_only": "chỉ có trên Cổng",
        "missing_at_portal": "Cổng không có",
        "unexpected": "Cổng có nhưng ngoài phạm vi/kỳ",
        "processed": "xử lý trên phần mềm của Bộ",
        "matched_same_number": "khớp cùng số hồ sơ",
        "matched_one_stop_number": "khớp theo số một cửa",
        "matched_ministry_number": "khớp theo số hồ sơ của Bộ ghi ở Thành phố",
        "matched_applicant_procedure_day": "khớp theo người nộp, thủ tục và ngày",
        "ambiguous": "khớp nhiều hồ sơ",
        "platform_paid": "thanh toán thành công trên Nền tảng",
        "claimed": "hồ sơ khai thanh toán qua Cổng",
        "matched": "khớp hồ sơ và số tiền",
        "amount_differs": "khác số tiền",
        "unclaimed": "không hồ sơ nào khai",
        "not_paid": "khai nhưng chưa thanh toán",
        "platform_paid_vnd": "tiền thanh toán trên Nền tảng",
        "matched_vnd": "tiền khớp hồ sơ",
        "amount_differs_vnd": "tiền khác phí, lệ phí",
        "unclaimed_vnd": "tiền không hồ sơ nào khai",
        "claimed_vnd": "phí, lệ phí hồ sơ khai (đối chiếu)",
        "notifications_planned": "thông báo cần gửi",
        "notifications_sent": "đã gửi",
        "notifications_pending": "chờ gửi",
        "notifications_refused": "bị từ chối",
        "notifications_too_old": "quá cũ, không gửi",
    },
    "en": {
        "extracted": "extracted",
        "delivered": "delivered",
        "quarantined": "quarantined",
        "pending": "pending",
        "out_of_scope": "procedure not integrated",
        "no_disposition": "no delivery state",
        "received": "received",
        "unclassified": "unclassified",
        "total": "total",
        "on_time": "resolved on time",
        "late": "resolved late",
        "in_process": "in process",
        "closed_unresolved": "stopped, withdrawn, rejected",
        "portal": "on the portal",
        "city": "city",
        "ministry_only": "ministry only",
        "not_integrated": "procedure not integrated",
        "portal_only": "only on the portal",
        "missing_at_portal": "not on the portal",
        "unexpected": "on the portal, out of scope or period",
        "processed": "processed on ministry software",
        "matched_same_number": "matched by the same number",
        "matched_one_stop_number": "matched by the one-stop number",
        "matched_ministry_number": "matched by the ministry's number recorded in the city",
        "matched_applicant_procedure_day": "matched by applicant, procedure and day",
        "ambiguous": "matching several dossiers",
        "platform_paid": "paid on the platform",
        "claimed": "dossiers claiming a portal payment",
        "matched": "matched dossier and amount",
        "amount_differs": "amount differs",
        "unclaimed": "claimed by no dossier",
        "not_paid": "claimed, not paid",
        "platform_paid_vnd": "VND paid on the platform",
        "matched_vnd": "VND matched",
        "amount_differs_vnd": "VND of differing amounts",
        "unclaimed_vnd": "VND claimed by no dossier",
        "claimed_vnd": "fees the dossiers claim (beside it)",
        "notifications_planned": "notifications planned",
        "notifications_sent": "sent",
        "notifications_pending": "pending",
        "notifications_refused": "refused",
        "notifications_too_old": "too old, not sent",
    },
}


# What an identity's terms are made of, in words; beside the equation, which the view writes from
# the identity's own terms (so the words can never leave a term out of it).
_IDENTITY_NOTES: dict[str, dict[str, str]] = {
    "vi": {
        "table01": "tổng số = đã tiếp nhận − dừng, rút, từ chối (trạng thái 3, 7, 8); giải quyết đúng hạn / quá hạn "
        "= trạng thái 9, 10 có ngày kết thúc trước / sau hạn trả; đang giải quyết = trạng thái 1, 2, 4, 5, 6.",
        "portal": "Cổng có hồ sơ của Thành phố và hồ sơ Bộ tự đồng bộ, trừ thủ tục chưa tích hợp; "
        "cộng hồ sơ chỉ có trên Cổng, trừ hồ sơ trong phạm vi mà Cổng không có (bị giữ lại, chờ gửi lại hoặc bị mất).",
        "notifications": "mỗi sự kiện của hồ sơ trong kỳ (tiếp nhận, yêu cầu bổ sung, có kết quả, giao bưu chính, "
        "đã phát, chuyển hoàn) một thông báo; chờ gửi = iHaNoi chưa nhận (sẽ gửi lại); bị từ chối = iHaNoi không "
        "nhận (người nhận chưa có tài khoản) hoặc đã hết số lần gửi lại; quá cũ = sự kiện hub thấy lần đầu khi đã "
        "quá thời hạn thông báo (HUB_NOTIFY_MAX_AGE_DAYS), không gửi.",
    },
    "en": {
        "table01": "total = received − stopped, withdrawn, rejected (status 3, 7, 8); resolved on time / late = "
        "status 9, 10 finished on or before / after the due date; in process = status 1, 2, 4, 5, 6.",
        "portal": "The portal holds the city's dossiers and those ministries synced themselves, less procedures "
        "not integrated; plus dossiers only the portal holds, less in-scope dossiers it lacks (held back, being "
        "retried or lost).",
        "notifications": "one notification per dossier event of the period (received, documents requested, result "
        "ready, handed to the carrier, delivered, returned); pending = iHaNoi has not taken it yet (it is resent); "
        "refused = iHaNoi refused it (no account for the recipient) or the retries ran out; too old = the hub first "
        "saw the event after the notification age limit (HUB_NOTIFY_MAX_AGE_DAYS): not sent.",
    },
}

# Decision 766 indicators' formulas in Vietnamese, by key; English reports print the engine's own.
_KPI_FORMULAS_VI = {
    "synced_to_portal": "hồ sơ mà Cổng đã xác nhận phiên bản hiện hành / hồ sơ của thủ tục đã tích hợp trên Cổng",
    "on_time": "hồ sơ giải quyết (trạng thái 9, 10) có ngày kết thúc không quá hạn trả "
    "/ hồ sơ giải quyết có đủ hai ngày",
    "online": "hồ sơ nộp trực tuyến (KenhThucHien = 2) / tổng số hồ sơ",
    "portal_submitted": "hồ sơ trực tuyến nộp trên Cổng DVCQG (NoiNopHoSo) / hồ sơ trực tuyến; tham chiếu chỉ số 3.2",
    "paid_online": "hồ sơ thanh toán trực tuyến, trên Cổng hoặc cổng thanh toán của Thành phố "
    "(DuocThanhToanTrucTuyen 1 hoặc 2) / hồ sơ có phí, lệ phí lớn hơn 0 (DanhSachLePhi.Gia > 0); chỉ số 3.6. "
    "Khi đã lấy danh sách giao dịch của Nền tảng thanh toán, thanh toán qua Cổng chỉ được tính khi khớp giao dịch "
    "thành công đúng số tiền (cơ sở: Nền tảng thanh toán); nếu chưa lấy, theo thông tin hồ sơ tự khai",
    "digitised": "hồ sơ có ít nhất một thành phần được số hóa (TaiLieuNop.DuocSoHoa) và có kết quả điện tử gắn mã, "
    "có đường dẫn / tổng số hồ sơ; chỉ số 4.2",
    "result_coded": "hồ sơ đã giải quyết (trạng thái 9, 10) có kết quả điện tử gắn mã giấy tờ kết quả và đường dẫn "
    "(MaGiayToKetQua, DuongDanTepTinKetQua) / hồ sơ đã giải quyết; tham chiếu chỉ số 4.1",
    "vneid_verified": "hồ sơ trực tuyến từ tài khoản đã xác thực VNeID (TaiKhoanDuocXacThucVoiVNeID = 1) "
    "/ hồ sơ trực tuyến; tham chiếu chỉ số 4.5",
    "national_data": "hồ sơ có khai thác dữ liệu của người nộp từ ít nhất một cơ sở dữ liệu quốc gia (DSKetNoiCSDL) "
    "/ hồ sơ có định danh người nộp (DinhDanhCHS); tham chiếu chỉ số 4.5",
}

# A difference's detail is a code, with its argument after ": " (quality.reconcile.engine).
_DETAILS: dict[str, dict[str, str]] = {
    "vi": {
        "not_held": "Cổng đã xác nhận nhưng danh sách hồ sơ của Cổng không còn hồ sơ này",
        "dispatch_quarantined": "chưa tạo vận đơn, bị giữ lại",
        "dispatch_pending": "chưa tạo vận đơn, đang chờ tạo lại",
        "dispatch_sent": "đã gửi yêu cầu tạo vận đơn, đơn vị bưu chính chưa trả lời",
        "dispatch_not_planned": "chưa lên kế hoạch gửi bưu chính (chưa có kết quả đính kèm hoặc chưa đến lượt)",
        "ministry_only": "do Bộ tự đồng bộ lên Cổng, giải thích bởi hồ sơ kéo về từ",
        "portal_only": "cả hệ thống của Thành phố và các hồ sơ kéo về từ Bộ đều không có",
        "payment_dossier_quarantined": "hồ sơ đang bị giữ lại do lỗi dữ liệu",
        "payment_no_dossier": "hệ thống của Thành phố không có hồ sơ này",
        "payment_other_gateway": "hồ sơ khai thanh toán qua cổng thanh toán của Thành phố",
        "payment_not_claimed": "hồ sơ không khai thanh toán trực tuyến",
        "payment_unsettled": "giao dịch chưa hoàn tất",
        "payment_failed": "giao dịch thất bại",
        "payment_no_transaction": "Nền tảng không có giao dịch",
        "payment_amounts": "đã thanh toán / phí, lệ phí của hồ sơ (đồng)",
    },
    "en": {
        "not_held": "the portal acknowledged it but its own listing does not hold it",
        "dispatch_quarantined": "no postal order, held back",
        "dispatch_pending": "no postal order yet, to be ordered again",
        "dispatch_sent": "postal order sent, the carrier has not answered yet",
        "dispatch_not_planned": "no postal order planned (no result attached, or not yet planned)",
        "ministry_only": "synced to the portal by the ministry, explained by the pull-back from",
        "portal_only": "neither the city system nor any ministry pull-back holds it",
        "payment_dossier_quarantined": "the dossier is quarantined (data errors)",
        "payment_no_dossier": "the city system does not hold the dossier",
        "payment_other_gateway": "the dossier claims the city's own payment gateway",
        "payment_not_claimed": "the dossier does not claim an online payment",
        "payment_unsettled": "the transaction is unsettled",
        "payment_failed": "the transaction failed",
        "payment_no_transaction": "the platform has no transaction",
        "payment_amounts": "paid / the dossier's fees (VND)",
    },
}

# Why a source could not be compared (``compared.not_compared`` of the document).
_NOT_COMPARED: dict[str, dict[str, str]] = {
    "vi": {
        "national_portal:export": "danh sách hồ sơ của Cổng DVCQG",
        "not_fetched": "chưa lấy cho kỳ {period}: hub reconcile --period {period} --fetch-portal (hoặc --portal-file); "
        "chỉ đối chiếu được hồ sơ Cổng đã xác nhận, hồ sơ Cổng làm mất hoặc có thêm không phát hiện được",
    },
    "en": {
        "national_portal:export": "the national portal's dossier listing",
        "not_fetched": "not fetched for {period}: hub reconcile --period {period} --fetch-portal (or --portal-file); "
        "only what the portal acknowledged was compared, so dossiers it lost or holds in addition go unseen",
    },
}


def identity_note(key: str, language: str) -> str | None:
    return _IDENTITY_NOTES[check_language(language)].get(key)


def kpi_formula(key: str, formula: str, language: str) -> str:
    """The indicator's formula in the report's language (the engine writes it in English)."""
    return _KPI_FORMULAS_VI.get(key, formula) if check_language(language) == "vi" else formula


def detail_text(detail: str, language: str) -> str:
    """A difference's detail in words: its code worded, its argument (rules, a reason, sources) after it."""
    code, _, argument = detail.partition(": ")
    words = _DETAILS[check_language(language)].get(code)
    if words is None:
        return detail  # a rule name list, or a detail this version does not word: as written
    if code == "ministry_only":
        argument = ", ".join(source_name(s.strip(), language) for s in argument.split(","))
    return f"{words}: {argument}" if argument else words


def not_compared_text(entry: dict[str, str], period: str, language: str) -> str:
    words = _NOT_COMPARED[check_language(language)]
    what = words.get(entry["source"]) or source_name(entry["source"], language)
    why = words.get(entry["reason"], entry["reason"]).format(period=period)
    return f"{what}: {why}"


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise ValueError(f"report language {language!r} is not supported: use one of {', '.join(LANGUAGES)}")
    return language


def texts(language: str) -> dict[str, str]:
    return _UI[check_language(language)]


def class_text(kind: str, language: str) -> ClassText:
    """Words for a class; a class this version does not know is shown by its key, never dropped."""
    known = _CLASSES[check_language(language)].get(kind)
    if known:
        return known
    meaning, action = _UNKNOWN_CLASS[language]
    return ClassText(kind, meaning, action)


def source_name(source: str, language: str) -> str:
    """A source's name: the report's own words for the hub's sources (``city``, ``postal``), a
    partner's display name from its registry entry for a partner (``national_portal``) or a
    ministry's pull-back (``ministry:<partner>``)."""
    names = _SOURCES[check_language(language)]
    if source in names:
        return names[source]
    kind, _, partner = source.partition(":")
    known = find(partner if kind == "ministry" else source)
    if known is not None:
        return known.name(language)
    return f"{names['ministry']}: {partner}" if kind == "ministry" and partner else source


def identity_name(key: str, language: str) -> str:
    return _IDENTITIES[check_language(language)].get(key, key)


def term_name(key: str, language: str) -> str:
    return _TERMS[check_language(language)].get(key, key)
