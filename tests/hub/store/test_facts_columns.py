"""A store created before the Decision 766 and matching facts existed gains their columns in place, on both databases:
its facts read as absent until a newer version stages, and new facts are written in full."""

from __future__ import annotations

import sqlalchemy as sa

from hub.store import HubStore, StagedRecord
from hub.store.facts import add_missing_columns, dossier_facts
from mappings.facts import DossierFacts
from mappings.sources import CITY_SOURCE

# The columns added after stores existed: those with a server default saying "absent".
NEW_COLUMNS = [c.name for c in dossier_facts.columns if c.server_default is not None]
TEXT_COLUMNS = ("agency", "one_stop_no", "other_no", "applicant_key", "payment_gateway")  # "" is absent
OLD = "000.00.12.H26-261120-0001"
NEW = "000.00.12.H26-261120-0002"


def _facts_row(store: HubStore, dossier_no: str) -> dict[str, object]:
    with store.db.engine.connect() as conn:
        row = conn.execute(sa.select(dossier_facts).where(dossier_facts.c.dossier_no == dossier_no)).mappings().one()
    return {c: row[c] for c in NEW_COLUMNS}


def test_an_older_store_gains_the_kpi_fact_columns(store: HubStore) -> None:
    with store.db.engine.begin() as conn:
        for column in NEW_COLUMNS:  # the table as the hub created it before issue 14
            conn.execute(sa.text(f"ALTER TABLE dossier_facts DROP COLUMN {column}"))
        conn.execute(
            sa.text(
                "INSERT INTO dossier_facts (source, dossier_no, content_hash, digitised, paid_online, return_by_post) "
                "VALUES (:source, :no, 'h', true, false, false)"
            ),
            {"source": CITY_SOURCE, "no": OLD},
        )

    store.create_schema()

    # six Decision 766 facts (issue 14), four matching facts (issue 15), two payment facts (issue 20)
    assert len(NEW_COLUMNS) == 12
    absent = dict.fromkeys(NEW_COLUMNS, False) | dict.fromkeys(TEXT_COLUMNS, "")
    absent |= {"consulted_databases": 0, "fee_total": 0}
    assert _facts_row(store, OLD) == absent
    assert add_missing_columns(store.db.engine) == []  # nothing left to add: a second start is quiet
    facts = DossierFacts(
        None, 10, 2, None, None, None, True, True, False, True, True, True, True, 2, True,
        agency="000.05.60.H26", one_stop_no="000.05.60.H26-261120-0001", other_no=None, applicant_key="k",
        payment_gateway="national_portal", fee_total=70_000,
    )  # fmt: skip
    store.staging.stage(CITY_SOURCE, [StagedRecord(NEW, "v1", {"ma_ho_so": NEW}, None, facts)], "b1")
    matching = {
        "agency": "000.05.60.H26",
        "one_stop_no": "000.05.60.H26-261120-0001",
        "other_no": "",
        "applicant_key": "k",
        "payment_gateway": "national_portal",
        "fee_total": 70_000,
    }
    assert _facts_row(store, NEW) == dict.fromkeys(NEW_COLUMNS, True) | {"consulted_databases": 2} | matching
