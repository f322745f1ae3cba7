"""``check_portal_catalogue`` against the sandbox portal over loopback, whose catalogue has drifted
from the city's code tables the way a real portal's does: a procedure withdrawn from integration,
an agency renamed."""

from __future__ import annotations

import json
from datetime import date

from adapters.national_portal.client import NationalPortalClient
from adapters.settings import TransportSettings
from adapters.transport import HttpTransport
from hub.jobs.catalogue import check_portal_catalogue
from hub.paths import var_dir
from hub.store import hub_store
from mappings.code_tables import load_code_tables
from sandbox.server import RunningServer
from tests.support.drifted_portal import AGENCY, PASSWORD, RENAMED, USERNAME, WITHDRAWN, drifted_portal  # noqa: F401

DAY = date(2026, 11, 20)


def test_the_drifted_rows_are_reported_and_every_call_is_in_the_message_log(
    drifted_portal: RunningServer,  # noqa: F811
) -> None:
    transport = HttpTransport("national_portal", TransportSettings(base_url=drifted_portal.url))
    client = NationalPortalClient(transport, USERNAME, PASSWORD, AGENCY)
    before = hub_store().message_log.count_exchanges("national_portal")
    tables = load_code_tables()
    integrated = sum(1 for row in tables.procedures.rows(DAY) if row.integrated_on_portal)

    report = check_portal_catalogue(client, DAY)

    assert report["procedures_checked"] == integrated and report["portal_procedures"] == integrated - 1
    assert {(d["kind"], d["code"]) for d in report["differences"]} == {
        ("procedure_not_on_portal", WITHDRAWN),
        ("agency_name_differs", f"{RENAMED}.H26"),
    }
    written = json.loads((var_dir() / "reports" / "catalogue" / "2026-11-20.json").read_text(encoding="utf-8"))
    assert written["by_kind"] == {"agency_name_differs": 1, "procedure_not_on_portal": 1}
    after = hub_store().message_log.count_exchanges("national_portal")
    grown = {op: after.get(op, 0) - before.get(op, 0) for op in after}
    assert grown["LayThuTuc"] == integrated
    assert grown["LayDanhSachTTHC"] == 1 and grown["LayDanhMucCoQuan"] == 1
