"""The portal's catalogue against the city's versioned code tables, row by row.

Why: the hub fills ``TenTTHC``, ``MaLinhVuc`` / ``TenLinhVuc`` and ``DonViXuLy`` (the agency's
*name*, ledger 2.5) from its own code tables, as public clients fill them from the portal's
``LayThuTuc`` reply (ledger 2.8). When the portal's catalogue moves -- a procedure withdrawn from
integration, an agency renamed in a reorganisation, a procedure moved to another field -- the
portal refuses the dossiers or files them under names it does not know, and nobody sees it until
the counts diverge. Comparing the two catalogues names every such row before it costs a dossier.

Only the city's side is walked: the portal lists every province's and ministry's procedures, so
"only at the portal" is not a difference the city has to act on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from adapters.national_portal.models import Agency, Procedure
from mappings.code_tables import CodeTables

# kind -> what it means for the city's dossiers (the report's and the CLI's explanation).
KINDS: dict[str, str] = {
    "procedure_not_on_portal": "the code tables say the portal integrates it; the portal's list lacks it, "
    "so its dossiers will be refused",
    "procedure_name_differs": "TenTTHC is sent with the city's name; the portal knows the procedure by another",
    "procedure_field_differs": "MaLinhVuc / TenLinhVuc are sent from fields.csv; the portal's LayThuTuc "
    "names another field",
    "agency_not_on_portal": "DonViXuLy names an agency the portal's list lacks",
    "agency_name_differs": "DonViXuLy is the agency's name; the portal knows the agency by another",
}


@dataclass(frozen=True, slots=True)
class CatalogueDifference:
    kind: str
    code: str
    city: str
    portal: str

    @property
    def meaning(self) -> str:
        return KINDS[self.kind]


def compare_catalogue(
    tables: CodeTables,
    on: date,
    procedures: list[Procedure],
    agencies: list[Agency],
    details: Mapping[str, Procedure | None],
) -> list[CatalogueDifference]:
    """Every row of the city's tables valid on ``on`` that the portal's catalogue contradicts.

    ``details`` holds the ``LayThuTuc`` answer per procedure code the caller asked about (None when
    the portal answered an empty result); procedures missing from it are not field-checked.
    """
    differences: list[CatalogueDifference] = []
    listed = {procedure.code: procedure for procedure in procedures}
    for row in tables.procedures.rows(on):
        if not row.integrated_on_portal:
            continue
        portal = listed.get(row.code) or details.get(row.code)
        if portal is None:
            differences.append(CatalogueDifference("procedure_not_on_portal", row.code, row.name, ""))
            continue
        if portal.name.strip() != row.name.strip():
            differences.append(CatalogueDifference("procedure_name_differs", row.code, row.name, portal.name))
        detail = details.get(row.code)
        if detail is not None and detail.fields:
            field = tables.fields.get(row.field_code, on)
            city_field = f"{row.field_code} {field.name if field else ''}".strip()
            if not any(
                f.code == row.field_code and (not f.name or field is None or f.name.strip() == field.name.strip())
                for f in detail.fields
            ):
                portal_fields = "; ".join(f"{f.code} {f.name}".strip() for f in detail.fields)
                differences.append(CatalogueDifference("procedure_field_differs", row.code, city_field, portal_fields))
    known = {agency.code: agency for agency in agencies}
    for row in tables.agencies.rows(on):
        agency = known.get(row.code)
        if agency is None:
            differences.append(CatalogueDifference("agency_not_on_portal", row.code, row.name, ""))
        elif agency.name.strip() != row.name.strip():
            differences.append(CatalogueDifference("agency_name_differs", row.code, row.name, agency.name))
    return differences
