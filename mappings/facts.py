"""The few facts of a dossier version that reconciliation and the KPIs count by, read from a partner record.

The producer already holds the parsed record when it stages it, so it extracts the facts once and
the store writes them beside the version (``hub.store.facts``): reconciliation then reads a dozen
narrow columns instead of parsing millions of payloads. Pure: no I/O.

Codes are the portal's (``TrangThaiHoSo``, ``KenhThucHien``), mapped by the producer with the code
tables valid on the record's day; a value the producer could not map is None, which the
reconciliation reports instead of guessing.

Two shapes reach staging: city records (local workflow states and channel names, ISO dates) and
ministry pull-backs, which carry the portal's own field names (``TrangThaiHoSo``, ``yyyyMMddHHmmss``
dates, ``TaiLieuNop[].DuocSoHoa``). Reading is deliberately forgiving: staging keeps every record
and the quality gate names what is wrong with it, so a value that cannot be read becomes None (or
False for a flag) rather than failing the batch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from mappings.city_system import PAYMENT_GATEWAYS
from mappings.code_tables import CodeTables
from mappings.dossier import VN_TZ
from mappings.national_portal import parse_portal_date


@dataclass(frozen=True)
class DossierFacts:
    """``digitised``: at least one submitted component (``TaiLieuNop``) was digitised.

    The fields after ``return_by_post`` are what the Decision 766 KPIs count by
    (docs/interfaces.md 2.5); they default to "absent" because versions staged before a source
    carried them, and sources that never do (civil-status registrations), have none:
    ``submitted_via_portal`` filed on the national portal (``NoiNopHoSo``); ``vneid_verified`` the
    account was authenticated with VNeID; ``fee_payable`` a fee row with an amount above 0 (the
    online-payment KPI's denominator, F766 3.6); ``identified`` the applicant carries an identifier
    (``DinhDanhCHS``); ``consulted_databases`` how many national databases were consulted
    (``DSKetNoiCSDL``); ``result_coded`` an electronic result with a result-document code and a
    link (``MaGiayToKetQua``, F766 4.1).
    """

    procedure_code: str | None
    status: int | None
    channel: int | None
    received_at: datetime | None
    due_at: datetime | None
    finished_at: datetime | None
    digitised: bool
    paid_online: bool
    return_by_post: bool
    submitted_via_portal: bool = False
    vneid_verified: bool = False
    fee_payable: bool = False
    identified: bool = False
    consulted_databases: int = 0
    result_coded: bool = False
    # What the reconciliation matches a ministry's dossier to a city dossier by (docs/architecture.md,
    # "Matching ministry records"): the handling agency, the one-stop number a ministry holds, the
    # other number a city dossier records (the ministry's), and the applicant's ID as a SHA-256
    # digest (:func:`applicant_key`), so the match needs no personal number in the facts.
    agency: str | None = None
    one_stop_no: str | None = None
    other_no: str | None = None
    applicant_key: str | None = None
    # What the online-payment reconciliation matches the payment platform's transactions by (issue 20):
    # where the dossier says it paid (``national_portal`` or ``city``, None when not paid online) and
    # the sum of its fee rows in VND (the amount a transaction for it should carry).
    payment_gateway: str | None = None
    fee_total: int = 0


def _iso(value: Any) -> datetime | None:
    """An ISO 8601 time with an offset, in Hanoi time; anything else (incl. a naive time) -> None."""
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return parsed.astimezone(VN_TZ) if parsed is not None and parsed.utcoffset() is not None else None


def _portal(value: Any) -> datetime | None:
    try:
        return parse_portal_date(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _int(value: Any) -> int | None:
    """An integer code, sent as a number or (as public portal clients do) a string of digits."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _flag(value: Any, *true: str | int) -> bool:
    """A portal flag: ``"1"`` (or one of ``true``) as public clients send it, or the 1/true older senders did."""
    return value in (1, "1", *true)  # True == 1


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _documents(value: Any) -> list[Mapping[str, Any]]:
    return [doc for doc in value if isinstance(doc, Mapping)] if isinstance(value, list) else []


def _positive(value: Any) -> bool:
    """An amount above 0, as a number or a string of digits (the portal's ``Gia``)."""
    amount = _int(value)
    return amount is not None and amount > 0


def _distinct_texts(items: list[Mapping[str, Any]], key: str) -> int:
    return len({item[key] for item in items if _text(item.get(key))})


def _has_coded_result(results: list[Mapping[str, Any]], code: str, link: str) -> bool:
    """F766 4.1 counts an electronic result only with both a result-document code and a link."""
    return any(_text(r.get(code)) and _text(r.get(link)) for r in results)


# City record values (docs/interfaces.md section 1).
CITY_PORTAL_SUBMISSION = "CONG_DVCQG"  # ``noi_nop``: filed on the national portal


def city_facts(record: Mapping[str, Any], tables: CodeTables) -> DossierFacts:
    """Codes are looked up in the tables valid on the record's update day, as the mapping does."""
    updated = _iso(record.get("cap_nhat_luc"))
    on: date = (updated or datetime.now(VN_TZ)).date()
    state = record.get("trang_thai")
    state_row = tables.local_states.get(state, on) if isinstance(state, str) else None
    channel = record.get("kenh_nop")
    channel_row = tables.channels.get(channel, on, by="local_code") if isinstance(channel, str) else None
    applicant = record.get("chu_ho_so") if isinstance(record.get("chu_ho_so"), Mapping) else {}
    databases = record.get("csdl_khai_thac")
    paid_online = record.get("thanh_toan_truc_tuyen") is True
    return DossierFacts(
        procedure_code=_text(record.get("ma_tthc")),
        status=state_row.status_code if state_row else None,
        channel=int(channel_row.code) if channel_row else None,
        received_at=_iso(record.get("ngay_tiep_nhan")),
        due_at=_iso(record.get("ngay_hen_tra")),
        finished_at=_iso(record.get("ngay_ket_thuc_xu_ly")),
        digitised=any(doc.get("da_so_hoa") is True for doc in _documents(record.get("tai_lieu"))),
        paid_online=paid_online,
        return_by_post=record.get("tra_ket_qua_qua_buu_chinh") is True,
        submitted_via_portal=record.get("noi_nop") == CITY_PORTAL_SUBMISSION,
        vneid_verified=record.get("tai_khoan_xac_thuc_vneid") is True,
        fee_payable=any(_positive(fee.get("so_tien")) for fee in _documents(record.get("le_phi"))),
        identified=any(_text(i.get("so")) for i in _documents(applicant.get("dinh_danh"))),
        consulted_databases=len({c for c in databases if _text(c)}) if isinstance(databases, list) else 0,
        result_coded=_has_coded_result(_documents(record.get("ket_qua")), "ma_giay_to_ket_qua", "url"),
        agency=_text(record.get("don_vi_xu_ly")),
        # ASSUMPTION: the city system keeps a dossier's number at another system -- the ministry's,
        # for a dossier a ministry processed -- as ``so_ho_so_khac`` (one-stop systems do: T-KS's
        # ``MaHoSoKhac``, docs/interfaces.md 7.2); its API (section 1) does not list it yet.
        other_no=_text(record.get("so_ho_so_khac")),
        applicant_key=applicant_key(applicant.get("so_giay_to")),
        payment_gateway=PAYMENT_GATEWAYS.get(record.get("cong_thanh_toan")) if paid_online else None,
        fee_total=sum(_int(fee.get("so_tien")) or 0 for fee in _documents(record.get("le_phi"))),
    )


# ``NoiNopHoSo`` value of a dossier filed on the national portal: ASSUMPTION (ledger 2.5: the value
# list is unpublished; T-S, a province's own system, always sends "2" for its own dossiers).
PORTAL_SUBMISSION = "1"


def applicant_key(id_no: Any) -> str | None:
    """The SHA-256 hex digest of an applicant's ID number (spaces removed, upper-cased), or None
    without one: equal IDs give equal keys, and the facts never hold the number itself."""
    text = _text(id_no)
    if text is None:
        return None
    return hashlib.sha256("".join(text.split()).upper().encode()).hexdigest()


def portal_facts(item: Mapping[str, Any]) -> DossierFacts:
    """A dossier in the portal's field names (ministry pull-backs, docs/interfaces.md 2.5-2.6).

    Codes and flags are strings as public clients send them (``"1"``), or numbers as older
    senders did; both read. ``DuocThanhToanTrucTuyen`` is paid online at ``"1"`` (the national
    portal's payment platform) or ``"2"`` (the sender's own gateway), F766 3.6. A ministry syncs
    ``HoSoCoThanhPhanSoHoa`` for the dossier as a whole (F766 4.3), so it counts beside the
    components' ``DuocSoHoa``.
    """
    documents = _documents(item.get("TaiLieuNop"))
    return DossierFacts(
        procedure_code=_text(item.get("MaTTHC")),
        status=_int(item.get("TrangThaiHoSo")),
        channel=_int(item.get("KenhThucHien")),
        received_at=_portal(item.get("NgayTiepNhan")),
        due_at=_portal(item.get("NgayHenTra")),
        finished_at=_portal(item.get("NgayKetThucXuLy")),
        digitised=_flag(item.get("HoSoCoThanhPhanSoHoa")) or any(_flag(doc.get("DuocSoHoa")) for doc in documents),
        paid_online=_flag(item.get("DuocThanhToanTrucTuyen"), 2, "2"),
        return_by_post=_flag(item.get("HinhThuc")),
        submitted_via_portal=item.get("NoiNopHoSo") == PORTAL_SUBMISSION,
        vneid_verified=_flag(item.get("TaiKhoanDuocXacThucVoiVNeID")),
        fee_payable=any(_positive(fee.get("Gia", fee.get("SoTien"))) for fee in _documents(item.get("DanhSachLePhi"))),
        identified=any(_text(i.get("SoDinhDanh")) for i in _documents(item.get("DinhDanhCHS"))),
        consulted_databases=_distinct_texts(_documents(item.get("DSKetNoiCSDL")), "MaCSDL"),
        result_coded=_has_coded_result(
            _documents(item.get("DanhSachGiayToKetQua")), "MaGiayToKetQua", "DuongDanTepTinKetQua"
        ),
        agency=_text(item.get("DonViXuLy")),
        one_stop_no=_text(item.get("MaHoSoMotCua")),
        applicant_key=applicant_key(item.get("SoGiayToChuHoSo")),
    )
