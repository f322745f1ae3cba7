"""The five datasets the gate validates and how each becomes one pandas DataFrame per batch.

GX validates columns, so each dataset is flattened to the columns its suite reads; ``required``
are the columns a batch must carry (schema drift otherwise, see ``quality/rules.py``). Datetimes
become timezone-aware pandas columns in Hanoi time, the zone the code tables change in; the
frame's index is the record's position in the batch, so GX's ``unexpected_index_list`` points
straight back at the record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from mappings.dossier import VN_TZ, Dossier
from mappings.national_portal import parse_portal_date

CITY_DOSSIERS = "city_dossiers"
PORTAL_PAYLOADS = "portal_payloads"
MINISTRY_PULLBACKS = "ministry_pullbacks"
POSTAL_ORDERS = "postal_orders"  # planned, before the carrier is called
POSTAL_REPLIES = "postal_replies"  # the carriers' acceptances of one placing batch

_HANOI = str(VN_TZ)

# The city system's record keys (docs/interfaces.md section 1) that the canonical mapping reads.
CITY_RECORD_KEYS = (
    "ma_ho_so",
    "ma_tthc",
    "ten_tthc",
    "ma_linh_vuc",
    "kenh_nop",
    "chu_ho_so",
    "ngay_nop",
    "ngay_tiep_nhan",
    "ngay_hen_tra",
    "ngay_ket_thuc_xu_ly",
    "ngay_tra",
    "trang_thai",
    "trich_yeu",
    "don_vi_xu_ly",
    "tra_ket_qua_qua_buu_chinh",
    "thanh_toan_truc_tuyen",
    "tai_lieu",
    "le_phi",
    "ket_qua",
    "qua_trinh_xu_ly",
    "cap_nhat_luc",
)
# What the portal suite reads of a ``DongBoHoSoMC`` record (the rest is built from checked data).
PORTAL_DATE_KEYS = ("NgayNopHoSo", "NgayTiepNhan", "NgayHenTra", "NgayTra", "NgayKetThucXuLy")
PORTAL_TEXT_KEYS = ("TenTTHC", "ChuHoSo", "TrichYeuHoSo")
PORTAL_KEYS = (
    "MaHoSo",
    "TrangThaiHoSo",
    "KenhThucHien",
    "LoaiDoiTuong",
    "HinhThuc",
    *PORTAL_DATE_KEYS,
    *PORTAL_TEXT_KEYS,
)
PULLBACK_KEYS = ("MaHoSo", "MaHoSoMotCua", "MaTTHC", "DonViXuLy", "NgayNopHoSo")
POSTAL_ORDER_KEYS = ("dossier_no", "carrier", "receiver_province_code", "receiver_commune_code")
POSTAL_REPLY_KEYS = ("dossier_no", "carrier", "order_id", "created_at")


def _hanoi_times(values: Sequence[datetime | None]) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values), utc=True)).dt.tz_convert(_HANOI)


def city_frame(dossiers: Sequence[Dossier]) -> pd.DataFrame:
    """Canonical dossiers (already mapped) -> one row each. ``start_at`` is when the agency's clock
    starts: the receipt, or the submission while the dossier is not received yet."""
    frame = pd.DataFrame(
        {
            "dossier_no": [d.dossier_no for d in dossiers],
            "procedure_code": [d.procedure_code for d in dossiers],
            "handling_agency": [d.handling_agency for d in dossiers],
            "applicant_name": [d.applicant_name for d in dossiers],
            "applicant_type": [d.applicant_type for d in dossiers],
            "applicant_id_no": [d.applicant_id_no for d in dossiers],
            "applicant_birth_date": pd.Series([d.applicant_birth_date for d in dossiers], dtype=object),
            "status": [d.status for d in dossiers],
            "abstract": [d.abstract for d in dossiers],
        }
    )
    for column in ("submitted_at", "received_at", "due_at", "finished_at", "returned_at"):
        frame[column] = _hanoi_times([getattr(d, column) for d in dossiers])
    frame["start_at"] = frame["received_at"].fillna(frame["submitted_at"])
    return frame


def portal_frame(payloads: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """``DongBoHoSoMC`` records as the portal will read them (dates stay ``yyyyMMddHHmmss`` text)."""
    return pd.DataFrame([{key: p.get(key) for key in PORTAL_KEYS} for p in payloads], columns=list(PORTAL_KEYS))


def _submitted(value: Any) -> datetime | None:
    """Canonical pull-back records carry ``yyyyMMddHHmmss`` (Hanoi time); ISO text with an offset
    reads too. Anything else is None, which the suite names."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else None
    if not isinstance(value, str):
        return None
    try:
        parsed = parse_portal_date(value) if value.isdigit() else datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed is not None and parsed.tzinfo is not None else None


def pullback_frame(items: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Canonical pull-back records (``mappings.ministry_records``) over the keys the suite reads."""
    frame = pd.DataFrame([{key: item.get(key) for key in PULLBACK_KEYS} for item in items], columns=list(PULLBACK_KEYS))
    frame["submitted_at"] = _hanoi_times([_submitted(v) for v in frame["NgayNopHoSo"]])
    return frame


def postal_order_frame(orders: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(
        [{key: o.get(key) for key in POSTAL_ORDER_KEYS} for o in orders], columns=list(POSTAL_ORDER_KEYS)
    )


def postal_reply_frame(replies: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(
        [{key: r.get(key) for key in POSTAL_REPLY_KEYS} for r in replies], columns=list(POSTAL_REPLY_KEYS)
    )
    frame["created_at"] = _hanoi_times(list(frame["created_at"]))
    return frame


@dataclass(frozen=True)
class Dataset:
    """``required``: the keys a batch's records must carry (checked before GX runs)."""

    name: str
    required: tuple[str, ...]
    frame: Callable[[Sequence[Any]], pd.DataFrame]


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(CITY_DOSSIERS, CITY_RECORD_KEYS, city_frame),
        Dataset(PORTAL_PAYLOADS, PORTAL_KEYS, portal_frame),
        Dataset(MINISTRY_PULLBACKS, PULLBACK_KEYS, pullback_frame),
        Dataset(POSTAL_ORDERS, POSTAL_ORDER_KEYS, postal_order_frame),
        Dataset(POSTAL_REPLIES, POSTAL_REPLY_KEYS, postal_reply_frame),
    )
}
