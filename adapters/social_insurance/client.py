"""Look up social-insurance data (SOAP; social_insurance.wsdl/.xsd here), on the SOAP template
(``adapters.soap``: contract parsed once per process, signed and XSD-checked requests, replies
verified before they are read, faults mapped onto the taxonomy).

Both operations read personal data, so every call names why: the dossier it serves (``MaHoSo``)
and the officer (``MaCanBo``) travel in the request, and the message log keeps each exchange. The
client itself never logs a name, an ID or a social-insurance number. Names are sent in Unicode NFC:
city records arrive in NFC and NFD, and the insurer compares NFC.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from adapters.ministry import MinistryClient
from adapters.soap.connection import lgsp_soap
from adapters.transport import HttpTransport

PARTNER = "social_insurance"  # the name transports for this partner are built with
WSDL = Path(__file__).with_name("social_insurance.wsdl")


@dataclass(frozen=True, slots=True)
class Insured:
    """A person the insurer knows: number, name (NFC), birth date, sex (1 male, 2 female), citizen ID."""

    number: str
    name: str
    birth_date: date
    sex: int
    citizen_id: str | None
    relation: str | None = None  # to the head of household, in a household reply


@dataclass(frozen=True, slots=True)
class Household:
    code: str
    head: str
    address: str
    province: str
    members: tuple[Insured, ...]


def _insured(values: dict[str, Any]) -> Insured:
    return Insured(
        number=values["MaSoBhxh"],
        name=values["HoVaTen"],
        birth_date=values["NgaySinh"],
        sex=values["GioiTinh"],
        citizen_id=values.get("SoDinhDanh"),
        relation=values.get("QuanHeVoiChuHo"),
    )


class SocialInsuranceClient(MinistryClient):
    """One agency's (``MaDVC``) lookups at the social-insurance system. Thread-safe."""

    def household(self, number: str, *, dossier_no: str) -> Household | None:
        """The household of social-insurance ``number`` (``getTraCuuTtHgdByMaSoBhxh``), asked for
        ``dossier_no``; None when the insurer knows no such number."""
        reply = self.call_or_none("getTraCuuTtHgdByMaSoBhxh", {"MaHoSo": dossier_no, "MaSoBhxh": number})
        if reply is None:
            return None
        found = reply["HoGiaDinh"]
        return Household(
            code=found["MaHoGiaDinh"],
            head=found["TenChuHo"],
            address=found["DiaChi"],
            province=found["MaTinh"],
            members=tuple(_insured(member) for member in found["ThanhVien"]),
        )

    def find(
        self,
        name: str,
        *,
        dossier_no: str,
        birth_date: date | None = None,
        citizen_id: str | None = None,
        province: str | None = None,
    ) -> list[Insured]:
        """People matching the criteria (``getMaSoBhxhTheoTieuChi``); empty when nobody matches.
        Give ``birth_date`` or ``citizen_id`` (the insurer refuses a name alone)."""
        if birth_date is None and citizen_id is None:
            raise ValueError("give birth_date or citizen_id: a name alone is refused (fault 300)")
        criteria = {
            "HoVaTen": unicodedata.normalize("NFC", name),
            "NgaySinh": birth_date,
            "SoDinhDanh": citizen_id,
            "MaTinh": province,
        }
        reply = self.call_or_none("getMaSoBhxhTheoTieuChi", {"MaHoSo": dossier_no, **criteria})
        return [_insured(person) for person in reply["NguoiThamGia"]] if reply is not None else []


def from_connection(
    transport: HttpTransport, login: str, password: str, extras: Mapping[str, Any]
) -> SocialInsuranceClient:
    """The client of the Viet Nam Social Security's Airflow Connection, read as every LGSP SOAP partner's is
    (:func:`adapters.soap.connection.lgsp_soap`)."""
    return SocialInsuranceClient(*lgsp_soap(transport, WSDL, login, password, extras))
