"""The catalogue comparison names each drifted row of the code tables, and only those."""

from __future__ import annotations

from datetime import date

from adapters.national_portal.models import Agency, Procedure, ProcedureField
from mappings.code_tables import CodeTables, load_code_tables
from quality.reconcile.catalogue import compare_catalogue

DAY = date(2026, 11, 20)


def portal_as_the_tables_say(tables: CodeTables) -> tuple[list[Procedure], list[Agency], dict[str, Procedure | None]]:
    """The catalogue a portal in step with the code tables answers."""
    procedures, details = [], {}
    for row in tables.procedures.rows(DAY):
        if row.integrated_on_portal:
            field = tables.fields.get(row.field_code, DAY)
            detail = Procedure(
                MATTHC=row.code,
                TENTTHC=row.name,
                LINHVUCTHUCHIEN=[{"MALINHVUC": row.field_code, "TENLINHVUC": field.name}],
            )
            procedures.append(Procedure(MATTHC=row.code, TENTTHC=row.name))
            details[row.code] = detail
    agencies = [Agency(MADONVI=row.code, TENDONVI=row.name, CAPDONVI=row.level) for row in tables.agencies.rows(DAY)]
    return procedures, agencies, details


def test_a_portal_in_step_with_the_tables_differs_in_nothing() -> None:
    tables = load_code_tables()
    procedures, agencies, details = portal_as_the_tables_say(tables)
    extra = Procedure(MATTHC="1.999999", TENTTHC="Thủ tục của tỉnh khác")  # only at the portal: not the city's concern
    assert compare_catalogue(tables, DAY, [*procedures, extra], agencies, details) == []


def test_each_kind_of_drift_is_named_with_both_values() -> None:
    tables = load_code_tables()
    procedures, agencies, details = portal_as_the_tables_say(tables)
    withdrawn, renamed, moved = procedures[0].code, procedures[1].code, procedures[2].code
    procedures = [p for p in procedures if p.code != withdrawn]
    details[withdrawn] = None
    procedures = [p.model_copy(update={"name": "Tên mới"}) if p.code == renamed else p for p in procedures]
    details[moved] = details[moved].model_copy(
        update={"fields": [ProcedureField(MALINHVUC="ZZ", TENLINHVUC="Lĩnh vực khác")]}
    )
    gone, relabelled = agencies[0].code, agencies[1].code
    agencies = [
        a.model_copy(update={"name": "Sở mới"}) if a.code == relabelled else a for a in agencies if a.code != gone
    ]

    found = {(d.kind, d.code): d for d in compare_catalogue(tables, DAY, procedures, agencies, details)}

    assert set(found) == {
        ("procedure_not_on_portal", withdrawn),
        ("procedure_name_differs", renamed),
        ("procedure_field_differs", moved),
        ("agency_not_on_portal", gone),
        ("agency_name_differs", relabelled),
    }
    assert found[("procedure_name_differs", renamed)].portal == "Tên mới"
    assert found[("procedure_field_differs", moved)].portal == "ZZ Lĩnh vực khác"
    assert found[("agency_name_differs", relabelled)].city == tables.agencies.get(relabelled, DAY).name
    assert "refused" in found[("procedure_not_on_portal", withdrawn)].meaning
