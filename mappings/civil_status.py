"""The canonical dossier in the civil-status system's terms (``HoSo`` of ``dangKyHoTich``). Pure: no I/O.

Apart from the client (``adapters.civil_status``) because the sandbox ministry stores what it
holds in the same shape: both must agree on the record, and neither should need the other's
transport to build it.
"""

from __future__ import annotations

from typing import Any

from mappings.dossier import Dossier


def to_ho_so(d: Dossier) -> dict[str, Any]:
    """The ``HoSo`` of ``dangKyHoTich`` for a canonical dossier (applicant ID only when it is a citizen ID)."""
    applicant: dict[str, Any] = {"HoVaTen": d.applicant_name}
    if d.applicant_id_no and len(d.applicant_id_no) == 12 and d.applicant_id_no.isdigit():
        applicant["SoDinhDanh"] = d.applicant_id_no
    if d.phone:
        applicant["SoDienThoai"] = d.phone
    return {
        "MaHoSo": d.dossier_no,
        "MaTTHC": d.procedure_code,
        "TenTTHC": d.procedure_name,
        "DonViXuLy": d.handling_agency,
        "NgayNopHoSo": d.submitted_at,
        "NgayHenTra": d.due_at,
        "NguoiYeuCau": applicant,
        "TrichYeu": d.abstract,
        "TaiLieu": [{"Ma": doc.code, "Ten": doc.name, "DuongDan": doc.url} for doc in d.documents],
    }
