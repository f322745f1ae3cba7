"""City dossier system record (docs/interfaces.md section 1) -> canonical :class:`Dossier`.

Only what cannot be mapped raises (a missing key, a malformed datetime, a code the tables do not
know on that date, a value of the wrong JSON type). Business-rule violations (number format,
unknown procedure, date order, abstract length) map through untouched so the quality gate can
quarantine them under their own rule names.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError

from mappings.code_tables import CodeTables, LocalCodeRow
from mappings.dossier import VN_TZ, Dossier
from mappings.errors import MappingError
from mappings.versioned import VersionedTable


def _get(obj: Mapping[str, Any], key: str, path: str = "") -> Any:
    if key not in obj:
        raise MappingError("city.missing_key", f"thiếu trường '{path}{key}'")
    return obj[key]


def _pick(obj: Mapping[str, Any], path: str, **keys: str) -> dict[str, Any]:
    """``canonical_name=city_key`` pairs -> values; every key must be present (the first missing
    one, in the order given, is named). One lookup per key: a record has a hundred of them."""
    try:
        return {name: obj[key] for name, key in keys.items()}
    except KeyError:
        missing = next(key for key in keys.values() if key not in obj)
        raise MappingError("city.missing_key", f"thiếu trường '{path}{missing}'") from None


def _is_object(item: Any) -> bool:
    return type(item) is dict or isinstance(item, Mapping)  # decoded JSON: the ABC check only when not a dict


def _objects(value: Any, path: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list) or not all(map(_is_object, value)):
        raise MappingError("city.invalid_record", f"'{path}' phải là một danh sách đối tượng JSON")
    return value


def _datetime(obj: Mapping[str, Any], key: str, path: str = "") -> datetime | None:
    """ISO 8601 with an offset, in Hanoi time (code tables change at Hanoi midnight); a naive
    time is refused because its zone would be a guess."""
    value = _get(obj, key, path)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise MappingError("city.malformed_datetime", f"'{path}{key}' = '{value}' không phải ngày giờ ISO 8601")
    if parsed.utcoffset() is None:
        raise MappingError("city.malformed_datetime", f"'{path}{key}' = '{value}' thiếu múi giờ (+07:00)")
    return parsed.astimezone(VN_TZ)


def _birth_date(applicant: Mapping[str, Any]) -> date | None:
    """``chu_ho_so.ngay_sinh`` (ISO date). A missing key reads as null: records staged before the
    city system carried the field must still map."""
    value = applicant.get("ngay_sinh")
    if value is None:
        return None
    try:
        if isinstance(value, str) and len(value) == 10:
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise MappingError("city.malformed_date", f"'chu_ho_so.ngay_sinh' = '{value}' không phải ngày ISO (YYYY-MM-DD)")


def _required_datetime(obj: Mapping[str, Any], key: str, path: str = "") -> datetime:
    value = _datetime(obj, key, path)
    if value is None:
        raise MappingError("city.missing_value", f"'{path}{key}' bắt buộc nhưng là null")
    return value


def _local_code(table: VersionedTable[LocalCodeRow], value: Any, on: date, rule: str, path: str) -> int:
    row = table.get(value, on, by="local_code") if isinstance(value, str) else None
    if row is None:
        raise MappingError(rule, f"'{path}' = '{value}' không có trong danh mục hiệu lực ngày {on:%d/%m/%Y}")
    return int(row.code)


def _status(tables: CodeTables, state: Any, on: date, path: str) -> int:
    row = tables.local_states.get(state, on) if isinstance(state, str) else None
    if row is None:
        raise MappingError(
            "city.unknown_local_state",
            f"'{path}' = '{state}' không có trong danh mục trạng thái hiệu lực ngày {on:%d/%m/%Y}",
        )
    return row.status_code


def _step(step: Mapping[str, Any], path: str, tables: CodeTables) -> dict[str, Any]:
    """A history step's state is mapped with the table valid when the step happened."""
    handled_at = _required_datetime(step, "thoi_diem", path)
    state = _get(step, "trang_thai", path)
    return {
        **_pick(
            step,
            path,
            seq="stt",
            handler_name="nguoi_xu_ly",
            handler_title="chuc_danh",
            department="phong_ban",
            content="noi_dung",
            local_state="trang_thai",
        ),
        "handled_at": handled_at,
        "status": _status(tables, state, handled_at.date(), f"{path}trang_thai"),
        "started_at": _datetime(step, "ngay_bat_dau", path),
        "due_at": _datetime(step, "han_xu_ly", path),
    }


def _describe(exc: ValidationError) -> str:
    """Field paths and messages only: the inputs may hold ID or phone numbers."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_input=False, include_url=False)
    )


def _delivery_address(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """The postal receiver (``dia_chi_nhan_ket_qua``): absent or null when the result is collected."""
    given = record.get("dia_chi_nhan_ket_qua")
    if given is None:
        return None
    if not isinstance(given, Mapping):
        raise MappingError("city.invalid_record", "'dia_chi_nhan_ket_qua' phải là một đối tượng JSON")
    return _pick(given, "dia_chi_nhan_ket_qua.", name="ho_ten", phone="dien_thoai", street="dia_chi",
                 commune_code="ma_xa", province_code="ma_tinh")  # fmt: skip


# The city's values for the Decision 766 fields (docs/interfaces.md section 1) -> canonical.
_SUBMISSION_PLACES = {"CONG_DVCQG": True, "CONG_DVC_THANH_PHO": False, "BO_PHAN_MOT_CUA": False}
PAYMENT_GATEWAYS = {"CONG_DVCQG": "national_portal", "CONG_THANH_PHO": "city"}  # ``cong_thanh_toan``
_IDENTIFIER_KINDS = {"CAN_CUOC": "citizen_id", "CMND": "id_card", "HO_CHIEU": "passport", "MA_SO_THUE": "tax_code"}


def _coded(table: Mapping[str, Any], value: Any, rule: str, path: str, absent: Any) -> Any:
    """A value of a closed list; null (or a missing key, on records staged before the field) is ``absent``."""
    if value is None:
        return absent
    if not isinstance(value, str) or value not in table:
        raise MappingError(rule, f"'{path}' = '{value}' không có trong danh sách giá trị cho phép")
    return table[value]


def _identifier(item: Mapping[str, Any], path: str) -> dict[str, Any]:
    """The number is never repeated in the error: it is personal data."""
    kind = _get(item, "loai", path)
    if kind not in _IDENTIFIER_KINDS:
        raise MappingError("city.unknown_identifier_kind", f"'{path}loai' = '{kind}' không phải loại định danh đã biết")
    return {"kind": _IDENTIFIER_KINDS[kind], "number": _get(item, "so", path)}


def _kpi_fields(record: Mapping[str, Any], applicant: Mapping[str, Any]) -> dict[str, Any]:
    """What the portal scores the city by under Decision 766 (docs/interfaces.md 2.5).

    Read with ``.get``: records staged before the city system carried these keys must still map,
    with the canonical defaults (not via the portal, not verified, nothing consulted).
    """
    identifiers = applicant.get("dinh_danh") or []
    return {
        "submitted_via_portal": _coded(
            _SUBMISSION_PLACES, record.get("noi_nop"), "city.unknown_submission_place", "noi_nop", False
        ),
        "vneid_verified": record.get("tai_khoan_xac_thuc_vneid") or False,
        "payment_gateway": _coded(
            PAYMENT_GATEWAYS, record.get("cong_thanh_toan"), "city.unknown_payment_gateway", "cong_thanh_toan", None
        ),
        "applicant_identifiers": [
            _identifier(item, f"chu_ho_so.dinh_danh[{i}].")
            for i, item in enumerate(_objects(identifiers, "chu_ho_so.dinh_danh"))
        ],
        "consulted_databases": record.get("csdl_khai_thac") or [],
        "rejected_at": _datetime(record, "ngay_tu_choi") if "ngay_tu_choi" in record else None,
        "portal_account_id": record.get("ma_tai_khoan_dvcqg"),
        "note": record.get("ghi_chu"),
    }


def to_canonical(record: Mapping[str, Any], tables: CodeTables) -> Dossier:
    """Map one city record; codes are looked up in the tables valid on its ``cap_nhat_luc`` day."""
    updated_at = _required_datetime(record, "cap_nhat_luc")
    on = updated_at.date()
    applicant = _get(record, "chu_ho_so")
    if not isinstance(applicant, Mapping):
        raise MappingError("city.invalid_record", "'chu_ho_so' phải là một đối tượng JSON")
    fields = {
        **_pick(
            record,
            "",
            dossier_no="ma_ho_so",
            procedure_code="ma_tthc",
            procedure_name="ten_tthc",
            field_code="ma_linh_vuc",
            local_state="trang_thai",
            abstract="trich_yeu",
            handling_agency="don_vi_xu_ly",
            return_by_post="tra_ket_qua_qua_buu_chinh",
            paid_online="thanh_toan_truc_tuyen",
        ),
        **_pick(
            applicant,
            "chu_ho_so.",
            applicant_name="ho_ten",
            applicant_id_no="so_giay_to",
            phone="dien_thoai",
            email="email",
        ),
        "applicant_birth_date": _birth_date(applicant),
        "delivery_address": _delivery_address(record),
        "channel": _local_code(tables.channels, _get(record, "kenh_nop"), on, "city.unknown_channel", "kenh_nop"),
        "applicant_type": _local_code(
            tables.applicant_types,
            _get(applicant, "loai", "chu_ho_so."),
            on,
            "city.unknown_applicant_type",
            "chu_ho_so.loai",
        ),
        "status": _status(tables, _get(record, "trang_thai"), on, "trang_thai"),
        "submitted_at": _required_datetime(record, "ngay_nop"),
        "received_at": _datetime(record, "ngay_tiep_nhan"),
        "due_at": _datetime(record, "ngay_hen_tra"),
        "finished_at": _datetime(record, "ngay_ket_thuc_xu_ly"),
        "returned_at": _datetime(record, "ngay_tra"),
        "documents": [
            _pick(doc, f"tai_lieu[{i}].", code="ma", name="ten", url="url", digitised="da_so_hoa", reused="tai_su_dung")
            for i, doc in enumerate(_objects(_get(record, "tai_lieu"), "tai_lieu"))
        ],
        "fees": [
            _pick(fee, f"le_phi[{i}].", code="ma", name="ten", amount="so_tien")
            for i, fee in enumerate(_objects(_get(record, "le_phi"), "le_phi"))
        ],
        "results": [
            {
                **_pick(res, f"ket_qua[{i}].", code="ma", name="ten", url="url"),
                "result_code": res.get("ma_giay_to_ket_qua"),
            }
            for i, res in enumerate(_objects(_get(record, "ket_qua"), "ket_qua"))
        ],
        "history": [
            _step(step, f"qua_trinh_xu_ly[{i}].", tables)
            for i, step in enumerate(_objects(_get(record, "qua_trinh_xu_ly"), "qua_trinh_xu_ly"))
        ],
        "updated_at": updated_at,
        **_kpi_fields(record, applicant),
    }
    try:
        # Strict: "yes" is not a boolean and "1" is not an integer in the city's JSON contract.
        return Dossier.model_validate(fields, strict=True)
    except ValidationError as exc:
        raise MappingError("city.invalid_record", f"sai kiểu dữ liệu: {_describe(exc)}") from None
