"""Reconciliation reports: what an official reads (verdict, identities, KPIs, differences), the CSV
they open in Excel, the JSON they can re-render, and the signed PDF a ministry files."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID
from pyhanko.pdf_utils.reader import PdfFileReader

from quality.reconcile import Difference, DifferenceClass, Identity, Kpi, Period, Reconciliation
from quality.reconcile.engine import TABLE01_FORMULA
from quality.reconcile.model import BreakdownRow
from quality.report import ReportDocumentError, ReportFiles, verify_report_pdf, write_reconciliation_report
from quality.report.pdf import render_pdf, sign_pdf
from quality.report.view import DIFFERENCES_PER_CLASS, identity_view, printed_sum
from signing.errors import SignatureInvalid, UntrustedSigner
from signing.pki import mint_foreign_identity, mint_identity, mint_identity_without_signing_usage
from tests.conftest import SigningKit
from tests.support.report_documents import (
    BIRTH,
    DEPT_CONSTRUCTION,
    DEPT_JUSTICE,
    NOT_FETCHED,
    differing_day,
    empty_period,
    explained_day,
    reconciled_day,
)


class _Element(HTMLParser):
    """Text and tag names inside the element with a given id (the stdlib HTML parser; no XML here)."""

    VOID = frozenset({"br", "meta", "img", "input", "link", "hr"})

    def __init__(self, element_id: str) -> None:
        super().__init__()
        self.element_id = element_id
        self.depth = 0
        self.text: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth:
            self.tags.append((tag, dict(attrs)))
            if tag not in self.VOID:
                self.depth += 1
        elif dict(attrs).get("id") == self.element_id:
            self.depth = 1

    def handle_endtag(self, tag: str) -> None:
        if self.depth and tag not in self.VOID:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.text.append(data)


def element(html: str, element_id: str) -> _Element:
    parser = _Element(element_id)
    parser.feed(html)
    assert parser.tags or parser.text, f"no element with id {element_id!r}"
    return parser


def text_of(html: str, element_id: str) -> str:
    return " ".join(" ".join(element(html, element_id).text).split())


def differences_csv_rows(files: ReportFiles) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(files.csv.read_text(encoding="utf-8-sig"))))


@pytest.fixture(scope="module")
def differing(tmp_path_factory: pytest.TempPathFactory, pki: SigningKit) -> tuple[dict[str, Any], ReportFiles]:
    """One signed report of a day with differences, read by many tests (WeasyPrint takes seconds per report)."""
    document = differing_day()
    folder = tmp_path_factory.mktemp("reports") / "2026-11-20"
    return document, write_reconciliation_report(document, folder, signer=pki.hub)


def test_the_page_opens_with_the_verdict_in_vietnamese(differing: tuple[dict[str, Any], ReportFiles]) -> None:
    _, files = differing
    html = files.html.read_text(encoding="utf-8")
    assert '<html lang="vi">' in html
    verdict = text_of(html, "verdict")
    assert verdict.startswith("✗ CHƯA KHỚP")
    assert "83 hồ sơ chênh lệch." in verdict
    assert "Nhiều nhất: Thiếu trên Cổng DVCQG (61)." in verdict
    assert "1 đẳng thức kiểm tra không cân." in verdict
    # The verdict is the first section of the page, before any table.
    assert html.index('id="verdict"') < html.index("<table")
    assert text_of(html, "period") == "Ngày 20/11/2026"


def test_identities_show_formula_figures_and_which_one_fails(differing: tuple[dict[str, Any], ReportFiles]) -> None:
    _, files = differing
    identities = text_of(files.html.read_text(encoding="utf-8"), "identities")
    # In words, each term's code name beside it, then every term's figure.
    assert (
        "đã trích xuất (extracted) = đã gửi thành công (delivered) + bị giữ lại (quarantined) "
        "+ chờ gửi lại (pending) + thủ tục chưa tích hợp (out_of_scope)"
    ) in identities
    assert "1.250 = 1.187 + 7 + 4 + 50" in identities  # Vietnamese thousands separator
    assert "Không cân chênh 2" in identities  # hub flow: 1,250 extracted, 1,248 accounted for
    assert "1.250 = 1.003 + 12 + 235 đã trích xuất" not in identities
    assert re.search(r"đang giải quyết \(in_process\) 1\.250 = 1\.003 \+ 12 \+ 235 .* Cân", identities)


def test_classes_counts_sources_and_kpis_with_their_formulas(differing: tuple[dict[str, Any], ReportFiles]) -> None:
    _, files = differing
    html = files.html.read_text(encoding="utf-8")
    classes = text_of(html, "classes")
    assert "Cổng chưa cập nhật 9 có Cổng có hồ sơ nhưng ở phiên bản cũ" in classes  # an expected class
    assert "Thiếu trên Cổng DVCQG 61 không" in classes  # not expected
    assert "Bị giữ lại do lỗi dữ liệu 7 có" in classes and "Đơn vị tiếp nhận sửa dữ liệu" in classes
    assert "Trùng lặp (xử lý ở hai nơi) 0" in classes  # checked, none found: shown as zero
    assert "Tổng 83" in classes  # the headline's 83 differing dossiers, each in one class
    # Classes the engine does not check are named as unchecked, not shown as zero.
    assert "chưa được kiểm tra trong kỳ này" in classes and "Thừa trên Cổng DVCQG" in classes
    sources = text_of(html, "sources")
    assert "Hệ thống giải quyết TTHC Thành phố 1.250" in sources
    assert "Cổng Dịch vụ công quốc gia 1.180" in sources
    assert "Bộ Tư pháp (hộ tịch) 2" in sources
    kpis = text_of(html, "kpis")
    assert (
        "Tỷ lệ hồ sơ đồng bộ lên Cổng DVCQG hồ sơ mà Cổng đã xác nhận phiên bản hiện hành "
        "/ hồ sơ của thủ tục đã tích hợp trên Cổng 1.187 1.200 98,9 %" in kpis
    )  # the formula in Vietnamese, not the engine's English
    assert "Tỷ lệ hồ sơ trực tuyến hồ sơ nộp trực tuyến (KenhThucHien = 2) / tổng số hồ sơ 0 0 không áp dụng" in kpis
    assert "000.00.03.H26 Sở Tư pháp 98,9 % 560/566 99,4 % 500/503" in kpis  # per agency, named from code tables
    by_agency = text_of(html, "by-agency")
    assert by_agency.index(DEPT_CONSTRUCTION) < by_agency.index("000.00.03.H26")  # most differences first
    breakdown = text_of(html, "breakdown")
    assert "1.001193 Đăng ký khai sinh 10 – Đã trả kết quả 412 405 2" in breakdown


def test_charts_are_inline_svg_with_no_script_and_no_network(differing: tuple[dict[str, Any], ReportFiles]) -> None:
    _, files = differing
    html = files.html.read_text(encoding="utf-8")
    for chart in ("chart-sources", "chart-classes", "chart-trend"):
        tags = [tag for tag, _ in element(html, chart).tags]
        assert tags[0] == "svg", chart
    assert "Thiếu trên Cổng DVCQG" in " ".join(element(html, "chart-classes").text)  # text stays text
    assert "Tỷ lệ hồ sơ giải quyết đúng hạn" in " ".join(element(html, "chart-trend").text)
    assert "<script" not in html and "<link" not in html and "<img" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)  # nothing fetched from anywhere
    assert "@media print" in html and "counter(pages)" in html


def test_the_page_lists_the_first_rows_per_class_and_links_the_csv_for_all(
    differing: tuple[dict[str, Any], ReportFiles],
) -> None:
    document, files = differing
    html = files.html.read_text(encoding="utf-8")
    section = element(html, "differences")
    missing_table = [attrs for tag, attrs in section.tags if tag == "table" and attrs.get("data-kind")]
    assert [t["data-kind"] for t in missing_table] == [
        "missing_at_portal",
        "behind_at_portal",
        "quarantined",
        "pending",
        "ministry_only",
    ]
    rows_per_class: dict[str, int] = {}
    kind = None
    for tag, attrs in section.tags:
        if tag == "table":
            kind = attrs.get("data-kind")
        elif tag == "tr" and kind:
            rows_per_class[kind] = rows_per_class.get(kind, 0) + 1
    assert rows_per_class["missing_at_portal"] == DIFFERENCES_PER_CLASS + 1  # header row + the first 50 of 61
    assert rows_per_class["quarantined"] == 7 + 1
    text = text_of(html, "differences")
    assert "tối đa 50 hồ sơ đầu tiên của mỗi loại; danh sách đầy đủ (83 hồ sơ) nằm trong tệp differences.csv" in text
    assert "… và 11 hồ sơ khác trong tệp CSV" in text
    assert ("a", {"href": "differences.csv"}) in section.tags
    first = document["differences"][0]["dossier_no"]
    assert first in text and document["differences"][DIFFERENCES_PER_CLASS]["dossier_no"] not in text
    assert "city.malformed_date, portal.rejected: Ngày hẹn trả trước ngày tiếp nhận" in text


def test_csv_holds_every_difference_with_bom_and_header(differing: tuple[dict[str, Any], ReportFiles]) -> None:
    document, files = differing
    raw = files.csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 only with the BOM
    assert raw.splitlines()[0] == b"\xef\xbb\xbfdossier_no,kind,kind_label,counted_as,source,agency,detail"
    rows = differences_csv_rows(files)
    assert len(rows) == 83 == len(document["differences"])
    assert [(r["dossier_no"], r["kind"], r["source"], r["agency"]) for r in rows] == [
        (d["dossier_no"], d["kind"], d["source"], d["agency"]) for d in document["differences"]
    ]
    quarantined = next(r for r in rows if r["kind"] == "quarantined")
    assert quarantined["kind_label"] == "Bị giữ lại do lỗi dữ liệu"
    assert quarantined["detail"] == "city.malformed_date, portal.rejected: Ngày hẹn trả trước ngày tiếp nhận"


def test_json_is_the_document_as_given(differing: tuple[dict[str, Any], ReportFiles]) -> None:
    document, files = differing
    assert json.loads(files.json.read_text(encoding="utf-8")) == document
    assert "Ngày hẹn trả" in files.json.read_text(encoding="utf-8")  # readable, not \\u-escaped


def test_english_report(tmp_path: Path) -> None:
    files = write_reconciliation_report(differing_day(), tmp_path, signer=None, language="en")
    html = files.html.read_text(encoding="utf-8")
    assert '<html lang="en">' in html
    verdict = text_of(html, "verdict")
    assert verdict.startswith("✗ NOT RECONCILED")
    assert "83 dossiers differ. Largest class: Missing at the portal (61)." in verdict
    assert "1,250 = 1,187 + 7 + 4 + 50" in text_of(html, "identities")
    assert "1 accounting identity does not hold." in verdict
    assert "Share synced to the national portal" in text_of(html, "kpis") and "98.9 %" in text_of(html, "kpis")
    assert text_of(html, "period") == "Day 2026-11-20"
    assert differences_csv_rows(files)[0]["kind_label"] == "Missing at the portal"


def test_reconciled_day_without_signer_writes_no_pdf(tmp_path: Path) -> None:
    folder = tmp_path / "2026-11-20"
    folder.mkdir()
    (folder / "reconciliation.pdf").write_bytes(b"%PDF-1.7 signed report of an earlier run")

    files = write_reconciliation_report(reconciled_day(), folder, signer=None)
    assert files.pdf is None
    assert not (folder / "reconciliation.pdf").exists()  # last run's signed PDF no longer matches: gone
    html = files.html.read_text(encoding="utf-8")
    verdict = text_of(html, "verdict")
    assert verdict.startswith("✓ ĐÃ KHỚP")
    assert "Không có hồ sơ chênh lệch giữa các nguồn. Mọi đẳng thức kiểm tra đều cân." in verdict
    assert "Không cân" not in text_of(html, "identities")
    assert "Không có hồ sơ chênh lệch." in text_of(html, "differences")
    assert 'id="chart-trend"' not in html  # no trend in the document, no chart
    assert 'href="reconciliation.pdf"' not in html
    assert files.csv.read_bytes() == b"\xef\xbb\xbfdossier_no,kind,kind_label,counted_as,source,agency,detail\r\n"


def test_month_and_quarter_periods_read_the_vietnamese_way(tmp_path: Path) -> None:
    document = reconciled_day()
    document["period"] = {"first": "2026-10-01", "last": "2026-12-31", "kind": "quarter", "label": "2026-Q4"}
    html = write_reconciliation_report(document, tmp_path / "q", signer=None).html.read_text(encoding="utf-8")
    assert text_of(html, "period") == "Quý IV/2026"
    document["period"] = {"first": "2026-11-01", "last": "2026-11-30", "kind": "month", "label": "2026-11"}
    html = write_reconciliation_report(document, tmp_path / "m", signer=None).html.read_text(encoding="utf-8")
    assert text_of(html, "period") == "Tháng 11/2026"


def test_no_field_is_rendered_unescaped_not_even_in_charts_or_csv(tmp_path: Path) -> None:
    document = differing_day()
    hostile = "<script>alert('x')</script>"
    document["sources"].append({"source": f"ministry:{hostile}", "dossiers": 1})
    document["kpis"][0]["label_vi"] = "<b onmouseover=alert(1)>$x^2$</b>"
    document["differences"][0].update(
        agency=hostile, detail='=HYPERLINK("http://evil","x") <img src=x onerror=alert(1)>'
    )
    document["counts"]["brand_new_class"] = 1
    document["differences"].append(
        {"dossier_no": "<i>n</i>", "kind": "brand_new_class", "source": "city", "agency": "x"}
    )
    files = write_reconciliation_report(document, tmp_path, signer=None)
    html = files.html.read_text(encoding="utf-8")
    assert "<script" not in html and "<b onmouseover" not in html and "<img" not in html and "<i>n</i>" not in html
    assert "&lt;script&gt;alert(" in html  # shown as text, in the tables and in the SVG charts alike
    assert "$x^2$" in " ".join(element(html, "chart-trend").text)  # mathtext off: printed as written
    assert "brand_new_class 1" in text_of(html, "classes")  # an unknown class is shown by its key, never dropped
    rows = differences_csv_rows(files)
    assert rows[0]["detail"].startswith("'=HYPERLINK(")  # Excel shows it as text, never runs it
    assert rows[0]["agency"] == hostile


def test_gx_data_docs_are_linked_when_the_document_carries_them(tmp_path: Path) -> None:
    document = reconciled_day()
    docs = tmp_path / "gx" / "data_docs" / "index.html"
    document["data_docs"] = str(docs)
    html = write_reconciliation_report(document, tmp_path / "r", signer=None).html.read_text(encoding="utf-8")
    assert ("a", {"href": docs.as_uri()}) in element(html, "data-docs").tags
    # A relative path (what the jobs write) stays relative to the report's folder: it opens from
    # wherever var/ is, where it once became file:///gx/data_docs/index.html, resolved from the cwd.
    docs.parent.mkdir(parents=True)
    docs.write_text("<html></html>", encoding="utf-8")
    document["data_docs"] = "../gx/data_docs/index.html"
    report = write_reconciliation_report(document, tmp_path / "r", signer=None).html
    (_, attrs), *_ = element(report.read_text(encoding="utf-8"), "data-docs").tags
    assert attrs["href"] == "../gx/data_docs/index.html"
    assert (report.parent / str(attrs["href"])).resolve() == docs.resolve()
    assert "GX Data Docs" in text_of(html, "data-docs")
    assert 'id="data-docs"' not in write_reconciliation_report(
        reconciled_day(), tmp_path / "none", signer=None
    ).html.read_text(encoding="utf-8")

    document["data_docs"] = "javascript:alert(1)"
    with pytest.raises(ReportDocumentError, match="http"):
        write_reconciliation_report(document, tmp_path / "bad", signer=None)


def test_documents_the_renderer_cannot_read_are_refused_before_writing(tmp_path: Path) -> None:
    old = {"period": {"first": "2026-11-20", "last": "2026-11-20"}, "identity": {}, "counts": {}, "differences": []}
    with pytest.raises(ReportDocumentError, match=r"schema None; this renderer reads 'hub.reconciliation/3'"):
        write_reconciliation_report(old, tmp_path / "old", signer=None)
    incomplete = differing_day()
    del incomplete["identities"]
    with pytest.raises(ReportDocumentError, match="lacks identities"):
        write_reconciliation_report(incomplete, tmp_path / "incomplete", signer=None)
    with pytest.raises(ValueError, match="language 'fr'"):
        write_reconciliation_report(differing_day(), tmp_path / "fr", signer=None, language="fr")
    assert not any(tmp_path.iterdir())


def test_signed_pdf_validates_against_the_dev_root(
    differing: tuple[dict[str, Any], ReportFiles], pki: SigningKit
) -> None:
    _, files = differing
    assert files.pdf is not None
    pdf = files.pdf.read_bytes()
    assert pdf.startswith(b"%PDF-") and b"/ETSI.CAdES.detached" in pdf  # PAdES
    assert PdfFileReader(io.BytesIO(pdf)).root["/Pages"]["/Count"] > 1  # the whole report, page after page
    subject = verify_report_pdf(files.pdf, pki.trust)
    assert subject == pki.hub.certificate.subject.rfc4514_string()
    assert "CN=hub DEV signing" in subject


def test_a_pdf_changed_after_signing_fails_validation(
    differing: tuple[dict[str, Any], ReportFiles], pki: SigningKit, tmp_path: Path
) -> None:
    _, files = differing
    assert files.pdf is not None
    signed = files.pdf.read_bytes()

    tampered = bytearray(signed)
    tampered[len(signed) // 3] ^= 0x01  # one bit inside the signed byte range (page content)
    (tmp_path / "tampered.pdf").write_bytes(bytes(tampered))
    with pytest.raises(SignatureInvalid):
        verify_report_pdf(tmp_path / "tampered.pdf", pki.trust)

    (tmp_path / "appended.pdf").write_bytes(signed + b"\n% a line added after signing\n")
    with pytest.raises(SignatureInvalid, match="added after"):
        verify_report_pdf(tmp_path / "appended.pdf", pki.trust)


def test_unsigned_or_foreign_signed_pdfs_are_refused(tmp_path: Path, pki: SigningKit) -> None:
    unsigned = tmp_path / "unsigned.pdf"
    unsigned.write_bytes(render_pdf("<p>Báo cáo</p>", tmp_path))
    with pytest.raises(SignatureInvalid, match="no signature"):
        verify_report_pdf(unsigned, pki.trust)


@pytest.mark.parametrize("who", ["foreign CA", "no signing usage", "TLS server certificate"])
def test_pdfs_signed_by_a_certificate_not_fit_for_reports_are_refused(
    who: str, tmp_path: Path, pki: SigningKit
) -> None:
    signer = {
        "foreign CA": lambda: mint_foreign_identity("hub"),
        "no signing usage": lambda: mint_identity_without_signing_usage(pki.dev, "hub"),
        "TLS server certificate": lambda: mint_identity(
            pki.dev, "hub", extended_key_usage=[ExtendedKeyUsageOID.SERVER_AUTH]
        ),
    }[who]()
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(sign_pdf(render_pdf("<h1>Báo cáo đối soát</h1>", tmp_path), signer, reason="test"))
    with pytest.raises(UntrustedSigner, match="is not trusted for signing reports"):
        verify_report_pdf(pdf, pki.trust)


def test_a_year_of_agencies_and_cells_is_capped_in_the_page_and_kept_whole_in_the_files(tmp_path: Path) -> None:
    document = differing_day()
    agencies = [f"{n:03d}.00.00.H26" for n in range(300)]
    document["by_agency"] = {a: {"missing_at_portal": i % 7, "pending": 1} for i, a in enumerate(agencies)}
    document["breakdown"] = [
        {"agency": a, "procedure": BIRTH, "status": s, "city": 100, "portal": 100 - (i % 5), "ministry": 0}
        for i, a in enumerate(agencies)
        for s in (4, 9, 10)
    ]
    document["kpis"][0]["by_agency"] = {a: {"numerator": 9, "denominator": 10, "value": 0.9} for a in agencies}
    document["differences"] = [
        {"dossier_no": f"{a}-261120-{n:04d}", "kind": "missing_at_portal", "source": "city", "agency": a}
        for a in agencies
        for n in range(20)
    ]
    files = write_reconciliation_report(document, tmp_path, signer=None)
    html = files.html.read_text(encoding="utf-8")
    by_agency = text_of(html, "by-agency")
    assert "Trang này hiển thị 100 trong 300 dòng (cơ quan có nhiều chênh lệch nhất trước)" in by_agency
    assert sum(1 for tag, _ in element(html, "by-agency").tags if tag == "tr") == 100 + 1
    assert "006.00.00.H26" in by_agency and "000.00.00.H26" not in by_agency  # 7 differences shown, 1 left out
    breakdown = text_of(html, "breakdown")
    assert "hiển thị 100 trong 900 dòng (dòng chênh lệch nhiều nhất giữa các nguồn trước)" in breakdown
    assert " 100 100 0" not in breakdown  # rows that agree are the ones left to the JSON
    assert "hiển thị 100 trong 302 dòng (theo mã cơ quan)" in text_of(html, "kpis")  # 300 + the two of on_time
    assert len(differences_csv_rows(files)) == 6000  # the CSV keeps every difference
    assert json.loads(files.json.read_text(encoding="utf-8")) == document


def test_renders_what_the_engine_model_writes(tmp_path: Path) -> None:
    """The contract from the producer's side: a document from ``Reconciliation.to_dict()`` as it is."""
    justice, no_date = DEPT_JUSTICE, "HT-2026-000123"
    table01 = Identity(
        "table01",
        TABLE01_FORMULA,
        {
            "received": 8,
            "closed_unresolved": 2,
            "total": 6,
            "on_time": 3,
            "late": 1,
            "in_process": 2,
            "unclassified": 0,
        },
        "total",
        ("on_time", "late", "in_process"),
    )
    result = Reconciliation(
        period=Period.parse("2026-Q4"),
        generated_at=datetime(2026, 12, 31, 19, 0, tzinfo=UTC),
        sources={"city": 6, "national_portal": 5, "ministry:civil_status": 1},
        identities=[table01],
        checked=(DifferenceClass.MISSING_AT_PORTAL, DifferenceClass.MINISTRY_ONLY),
        differences=[
            Difference(f"{justice}-261120-0001", DifferenceClass.MISSING_AT_PORTAL, "city", justice),
            Difference(no_date, DifferenceClass.MINISTRY_ONLY, "ministry:civil_status", justice),
        ],
        breakdown=[BreakdownRow(justice, BIRTH, 10, 6, 5, 1)],
        kpis=[Kpi("on_time", "Tỷ lệ đúng hạn", "On time", "on_time / resolved", 3, 4, {justice: (3, 4)})],
    )
    files = write_reconciliation_report(result.to_dict(), tmp_path, signer=None)
    html = files.html.read_text(encoding="utf-8")
    assert "CHƯA KHỚP" in text_of(html, "verdict") and "2 hồ sơ chênh lệch." in text_of(html, "verdict")
    assert text_of(html, "period") == "Quý IV/2026"
    identities = text_of(html, "identities")
    assert "6 = 3 + 1 + 2" in identities  # figures in the equation ...
    assert "2 = status" not in identities  # ... not in the definitions after it
    assert "chưa phân loại được: 0" in identities
    assert "75,0 %" in text_of(html, "kpis")
    assert [r["dossier_no"] for r in differences_csv_rows(files)] == [f"{justice}-261120-0001", no_date]


def test_an_explained_day_says_so_and_counts_each_dossier_once(tmp_path: Path) -> None:
    files = write_reconciliation_report(explained_day(), tmp_path, signer=None)
    html = files.html.read_text(encoding="utf-8")
    verdict = text_of(html, "verdict")
    assert verdict.startswith("✓ CHÊNH LỆCH ĐÃ ĐƯỢC GIẢI THÍCH") and "CHƯA KHỚP" not in verdict
    assert "9 hồ sơ chênh lệch." in verdict
    assert "thuộc loại dự kiến (Bị giữ lại do lỗi dữ liệu, Chỉ có trên phần mềm của Bộ)" in verdict
    assert 'class="verdict explained"' in html
    classes = text_of(html, "classes")
    assert "Tổng 9" in classes  # the headline's figure: each dossier in exactly one class
    # The ministry dossier the portal holds too is a flag, listed apart, not a tenth dossier.
    assert "Thừa trên Cổng DVCQG 1" in text_of(html, "flags")
    flags = element(html, "differences").text
    assert "Chỉ có trên phần mềm của Bộ" in " ".join(flags)
    csv_flag = next(r for r in differences_csv_rows(files) if r["kind"] == "extra_at_portal")
    assert csv_flag["counted_as"] == "ministry_only"
    assert csv_flag["detail"] == "do Bộ tự đồng bộ lên Cổng, giải thích bởi hồ sơ kéo về từ: Bộ Tư pháp (hộ tịch)"


def test_every_identity_is_printed_with_every_term_and_adds_up_as_printed(tmp_path: Path) -> None:
    """The portal line once read ``1.022 = 1.071 + 0 - 40``, leaving missing-at-portal out, marked as holding."""
    for language in ("vi", "en"):
        html = write_reconciliation_report(explained_day(), tmp_path / language, signer=None, language=language)
        identities = text_of(html.html.read_text(encoding="utf-8"), "identities")
        assert ("1.187 = 1.250 + 2 + 0 - 50 - 15" if language == "vi" else "1,187 = 1,250 + 2 + 0 - 50 - 15") in (
            identities
        )
        for identity in explained_day()["identities"]:
            printed = identity_view(identity, language)["with_figures"]
            assert printed_sum(printed, language) == (identity["left"], identity["left"]), printed
    assert "on the portal (portal) = city + ministry only (ministry_only) + only on the portal" in identities
    assert "- not on the portal (missing_at_portal)" in identities


def test_a_period_without_data_is_no_data_never_a_green_verdict(tmp_path: Path) -> None:
    files = write_reconciliation_report(empty_period(), tmp_path, signer=None)
    html = files.html.read_text(encoding="utf-8")
    verdict = text_of(html, "verdict")
    assert verdict.startswith("– KHÔNG CÓ SỐ LIỆU")
    assert "không thể kết luận số liệu khớp" in verdict
    assert "ĐÃ KHỚP" not in verdict and 'class="verdict no_data"' in html


def test_the_report_says_which_sources_it_compared_and_which_it_could_not(tmp_path: Path) -> None:
    """The month report once skipped the portal side without a word -- and called the month reconciled."""
    document = reconciled_day()  # every count agrees, as far as it looked: without the portal's listing
    document["period"] = {"first": "2026-11-01", "last": "2026-11-30", "kind": "month", "label": "2026-11"}
    document["compared"] = {"portal_basis": "acknowledged", "not_compared": [NOT_FETCHED]}
    document["verdict"].update(status="not_reconciled", reconciled=False, not_compared=[NOT_FETCHED["source"]])
    html = write_reconciliation_report(document, tmp_path, signer=None).html.read_text(encoding="utf-8")
    verdict = text_of(html, "verdict")
    assert verdict.startswith("✗ CHƯA KHỚP") and "ĐÃ KHỚP" not in verdict and "GIẢI THÍCH" not in verdict
    assert "Chưa đối chiếu đủ các nguồn (xem dưới đây), nên không thể kết luận số liệu khớp" in verdict
    english = write_reconciliation_report(document, tmp_path / "missing-en", signer=None, language="en").html
    assert "Not every source could be compared" in text_of(english.read_text(encoding="utf-8"), "verdict")
    compared = text_of(html, "compared")
    assert "Đã đối chiếu: Hệ thống giải quyết TTHC Thành phố (1.250), Cổng Dịch vụ công quốc gia (1.200)" in compared
    assert "số của Cổng chỉ gồm hồ sơ Cổng đã xác nhận" in compared
    assert (
        "Chưa đối chiếu được: danh sách hồ sơ của Cổng DVCQG: chưa lấy cho kỳ 2026-11: "
        "hub reconcile --period 2026-11 --fetch-portal" in compared
    )
    english = write_reconciliation_report(explained_day(), tmp_path / "en", signer=None, language="en").html
    compared = text_of(english.read_text(encoding="utf-8"), "compared")
    assert "the portal's figure is its own dossier listing" in compared and "Could not compare" not in compared


def test_one_language_per_report(tmp_path: Path) -> None:
    """Formulas, class names, details and notes in the report's language; code names only beside words."""
    vi = write_reconciliation_report(explained_day(), tmp_path / "vi", signer=None).html.read_text(encoding="utf-8")
    words = " ".join(text_of(vi, section) for section in ("verdict", "identities", "classes", "kpis", "differences"))
    for english in ("where total", "resolved on time", "delivered /", "explained by", "the portal", "dossiers"):
        assert english not in words, english
    en = write_reconciliation_report(explained_day(), tmp_path / "en", signer=None, language="en")
    words = " ".join(
        text_of(en.html.read_text(encoding="utf-8"), section) for section in ("verdict", "identities", "classes")
    )
    for vietnamese in ("hồ sơ", "Cổng", "đúng hạn", "Bị giữ lại"):
        assert vietnamese not in words, vietnamese
