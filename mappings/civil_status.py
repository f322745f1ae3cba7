"""The canonical dossier in the civil-status system's terms. Pure: no I/O.

``dangKyHoTich`` carries the registration as an XML string in its ``data`` key (public guide QB,
docs/interfaces.md 7.2: "Thông điệp dữ liệu dưới dạng XML", its section 3.2.1, which is not in the
public copy). The element names below are therefore an ASSUMPTION, kept to what any registration
has: who asks (name, identity paper, phone), what is asked (procedure, abstract) and the documents
as links. The sandbox ministry reads the same names with the project's safe parser; when the
ministry's schema is known, this function and the double change together.

The ministry numbers its units with the statistics office's administrative codes (5 digits for a
commune, 3 for a district: T-KS in docs/interfaces.md 7.2); :func:`commune_unit` finds the code of
the commune People's Committee that handles a dossier, through the commune's name on the day.
"""

from __future__ import annotations

from datetime import date

from lxml import etree

from mappings.code_tables import CodeTables
from mappings.dossier import Dossier

__all__ = ["REGISTRATION_ROOT", "commune_unit", "registration_xml"]

REGISTRATION_ROOT = "HoSoDangKy"


def _child(parent: etree._Element, name: str, text: str | None) -> None:
    if text:
        etree.SubElement(parent, name).text = text


def registration_xml(d: Dossier) -> str:
    """The ``data`` of ``dangKyHoTich`` for a canonical dossier (applicant ID only when it is a citizen ID)."""
    root = etree.Element(REGISTRATION_ROOT)
    _child(root, "MaTTHC", d.procedure_code)
    _child(root, "TrichYeu", d.abstract)
    applicant = etree.SubElement(root, "NguoiYeuCau")
    _child(applicant, "HoTen", d.applicant_name)
    if d.applicant_id_no and len(d.applicant_id_no) == 12 and d.applicant_id_no.isdigit():
        _child(applicant, "SoGiayToTuyThan", d.applicant_id_no)
    _child(applicant, "SoDienThoai", d.phone)
    documents = etree.SubElement(root, "GiayToKemTheo")
    for document in d.documents:
        item = etree.SubElement(documents, "GiayTo")
        _child(item, "Ten", document.name)
        _child(item, "DuongDan", document.url)
    return etree.tostring(root, encoding="unicode")


def commune_unit(agency: str, on: date, tables: CodeTables) -> str | None:
    """The ministry's numeric unit code of the commune People's Committee ``agency`` on ``on``
    (None for an agency that is not a commune then, or whose commune has no code that day)."""
    row = tables.agencies.get(agency, on)
    if row is None or row.level != "commune":
        return None
    codes = [c.code for c in tables.communes.rows(on) if c.name == row.name]
    return codes[0] if len(codes) == 1 else None
