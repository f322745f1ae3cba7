"""The ministry exchange pipeline against the live ministry simulators over loopback.

City dossiers are staged straight from the city generator (as the extract stages them); what the
ministries received or hold is read from their own state, never from the hub.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from adapters.errors import UntrustedReply
from adapters.exchange import Exchange
from adapters.hooks import PartnerHook
from adapters.periods import windows
from hub.pipeline import ministry_exchange as exchange
from hub.pipeline.extract import staged_record
from hub.pipeline.redelivery import RedeliveryPolicy
from hub.store import HubStore, MinistryPushes, PushState
from hub.store.ministry import ministry_push
from mappings.code_tables import DEFAULT_DIR, load_code_tables
from mappings.dossier import VN_TZ
from mappings.sources import CITY_SOURCE
from mappings.versioned import CodeTableError
from quality.gate import QualityGate
from sandbox.city_system.generator import generate
from signing.pki import DevPki
from tests.support.ministry_sandboxes import Ministries, running_ministries

pytestmark = pytest.mark.timeout(300)

DAY = date(2026, 11, 20)
MONTH = (date(2026, 11, 1), date(2026, 11, 30))
SCALE, SEED = 0.02, 5
NOW_POLICY = RedeliveryPolicy(base=timedelta(0), cap=timedelta(0), max_attempts=5)
CS, BR = exchange.MINISTRIES["civil_status"], exchange.MINISTRIES["business_registration"]


@pytest.fixture(scope="module")
def ministries(tmp_path_factory: pytest.TempPathFactory, dev_pki: DevPki) -> Iterator[Ministries]:
    with running_ministries(tmp_path_factory.mktemp("ministries"), dev_pki, *MONTH, SCALE, SEED) as running:
        yield running


@pytest.fixture
def clients(ministries: Ministries, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    for key, value in ministries.connections().items():
        monkeypatch.setenv(key, value)
    yield PartnerHook("civil_status").get_client(), PartnerHook("business_registration").get_client()
    for server in (ministries.civil, ministries.business):
        ministries.faults(server, error_rate=0.0, fail_next=0)
    ministries.civil_signing.set_mode("valid")


@pytest.fixture
def hub(tmp_path: Path) -> HubStore:
    """A hub store holding the city's dossiers of DAY, staged as the extract stages them."""
    store = HubStore(f"sqlite:///{tmp_path / 'hub.db'}")
    store.create_schema()
    records = generate(DAY, SCALE, SEED).records
    store.staging.stage(CITY_SOURCE, [staged_record(r) for r in records], "city-test")
    return store


def interconnected(store: HubStore) -> tuple[set[str], set[str]]:
    """(civil-status city dossiers that pass the gate, those that do not), as the hub would judge."""
    gate = QualityGate(load_code_tables())
    records = [r for page in store.deliveries.iter_unsettled(CITY_SOURCE, "none", 5000) for r in page]
    civil = [r for r in records if r.payload["ma_tthc"] in exchange.interconnected_codes(gate.tables, CS.partner)]
    outcome = gate.split([r.payload for r in civil])
    passed = {civil[i].dossier_no for i, _ in outcome.passed}
    return passed, {r.dossier_no for r in civil} - passed


def push_all(store: HubStore, client: Any, policy: RedeliveryPolicy = NOW_POLICY) -> list[exchange.PushReport]:
    gate = QualityGate(load_code_tables())
    batches = exchange.plan_push(store, gate, CS.partner, source=CITY_SOURCE, batch_size=25).batches
    return [exchange.push_batch(store, client, CS.partner, b, tables=gate.tables, policy=policy) for b in batches]


def pull_all(store: HubStore, client: Any, ministry: exchange.Ministry, first: date, last: date) -> dict[str, Any]:
    start = datetime.combine(first, datetime.min.time(), tzinfo=VN_TZ)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=VN_TZ)
    gate = QualityGate(load_code_tables())
    reports = [
        exchange.as_dict(exchange.pull_window(store, client, ministry, window, gate))
        for window in exchange.plan_pull(store, ministry, start, end)
    ]
    return exchange.close_pull(store, ministry, end, reports)


# ------------------------------------------------------------------------------------------ push


def test_the_code_tables_decide_which_procedures_are_interconnected() -> None:
    tables = load_code_tables()
    codes = exchange.interconnected_codes(tables, CS.partner)
    civil_status = {r.code for r in tables.procedures.all_rows() if r.field_code == "HT"}
    assert codes == sorted(civil_status)  # every civil-status procedure, in every period
    assert exchange.interconnected_codes(tables, BR.partner) == []


@pytest.mark.parametrize(
    ("row", "error"),
    [
        ("1.001193,Đăng ký khai sinh,HT,commune,true,false,,postal,full,60,1,2020-01-01,", "interconnected_with"),
        ("2.001610,Thành lập,DKKD,department,true,true,Bộ Tài chính,civil_status,full,1,3,2020-01-01,", "no city"),
    ],
)
def test_the_loader_refuses_an_unknown_or_impossible_interconnection(tmp_path: Path, row: str, error: str) -> None:
    for table in DEFAULT_DIR.glob("*.csv"):
        shutil.copy(table, tmp_path / table.name)
    procedures = tmp_path / "procedures.csv"
    header = procedures.read_text(encoding="utf-8").splitlines()[0]
    procedures.write_text(f"{header}\n{row}\n", encoding="utf-8")
    with pytest.raises(CodeTableError, match=error):
        load_code_tables(tmp_path)


def test_interconnected_dossiers_are_pushed_once_and_a_rerun_pushes_nothing(
    hub: HubStore, clients: tuple[Any, Any], ministries: Ministries
) -> None:
    civil, _ = clients
    passed, broken = interconnected(hub)
    held_before = ministries.civil_summary()["sent"]
    calls_before = ministries.civil_calls("dangKyHoTich")

    reports = push_all(hub, civil)
    assert sum(r.dossiers for r in reports) == len(passed) > 0
    held = ministries.civil_summary()["sent"] - held_before
    assert held == len(passed)  # the ministry holds exactly what the hub pushed
    pushes = MinistryPushes(hub)
    states = pushes.state_counts(CS.partner)
    assert states["acknowledged"] == len(passed) and states["quarantined"] == len(broken)
    assert pushes.status_counts(CS.partner) == {1: len(passed)}  # received
    assert ministries.civil_calls("dangKyHoTich") - calls_before == len(passed)

    assert push_all(hub, civil) == []  # a re-run plans nothing and sends nothing
    assert ministries.civil_calls("dangKyHoTich") - calls_before == len(passed)
    summary = exchange.ministry_summary(hub, CS, _no_pull())
    assert summary["identity_holds"] and summary["push"]["to_push"] == len(passed) + len(broken)


def test_statuses_advance_until_registered(hub: HubStore, clients: tuple[Any, Any], ministries: Ministries) -> None:
    civil, _ = clients
    push_all(hub, civil)
    pushes = MinistryPushes(hub)
    total = pushes.state_counts(CS.partner)["acknowledged"]
    seen: set[int] = set()
    for step in range(1, 4):
        ministries.advance_civil(f"2026-11-2{step}T10:00:00+07:00")
        for batch_id in pushes.assign_status_batches(CS.partner, 20):
            exchange.check_statuses(hub, civil, CS, batch_id)
        seen.update(pushes.status_counts(CS.partner))
    assert seen >= {3, 4}
    assert pushes.status_counts(CS.partner) == {4: total}  # every path ends registered within 3 steps
    assert pushes.assign_status_batches(CS.partner, 20) == []  # finished: no more status calls
    row = pushes.get(CS.partner, sorted(interconnected(hub)[0])[0])
    assert row is not None and row["finished"] and row["status_checked_at"] is not None


def test_an_outage_leaves_dossiers_pending_and_a_later_run_completes_them(
    hub: HubStore, clients: tuple[Any, Any], ministries: Ministries
) -> None:
    civil, _ = clients
    passed, _ = interconnected(hub)
    ministries.faults(ministries.civil, error_rate=1.0)
    reports = push_all(hub, civil, RedeliveryPolicy(base=timedelta(hours=1), cap=timedelta(hours=1)))
    pushes = MinistryPushes(hub)
    assert pushes.state_counts(CS.partner)["pending"] == len(passed)  # none lost, none acknowledged
    assert sum(r.outcomes["pending"] for r in reports) == len(passed)
    row = pushes.get(CS.partner, sorted(passed)[0])
    assert row is not None and row["attempts"] == 1 and "503" in row["reason"] and row["next_attempt_at"]
    assert exchange.ministry_summary(hub, CS, _no_pull())["identity_holds"]

    ministries.faults(ministries.civil, error_rate=0.0)
    assert push_all(hub, civil) == []  # not due yet: the backoff holds
    with hub.db.engine.begin() as conn:  # an hour later
        conn.execute(ministry_push.update().values(next_attempt_at=hub.db.now()))
    push_all(hub, civil)
    assert pushes.state_counts(CS.partner)["acknowledged"] == len(passed)


def test_an_untrusted_reply_fails_the_push_and_keeps_the_dossiers(
    hub: HubStore, clients: tuple[Any, Any], ministries: Ministries
) -> None:
    civil, _ = clients
    passed, _ = interconnected(hub)
    ministries.civil_signing.set_mode("tampered")
    with pytest.raises(UntrustedReply, match="reply refused"):
        push_all(hub, civil)
    states = MinistryPushes(hub).state_counts(CS.partner)
    assert states["acknowledged"] == 0 and states["pending"] + states["sent"] == len(passed)
    ministries.civil_signing.set_mode("valid")
    with hub.db.engine.begin() as conn:  # the batches not reached are due already; the claimed ones after their lease
        conn.execute(ministry_push.update().values(state=PushState.PENDING.value))
    push_all(hub, civil)
    assert MinistryPushes(hub).state_counts(CS.partner)["acknowledged"] == len(passed)


# ------------------------------------------------------------------------------------------ pull-back


def test_civil_status_pull_back_stages_each_registration_once_one_day_per_call(
    hub: HubStore, clients: tuple[Any, Any], ministries: Ministries
) -> None:
    civil, _ = clients
    direct = ministries.civil_direct(*MONTH)
    pulled = pull_all(hub, civil, CS, *MONTH)
    assert pulled["complete"] and pulled["windows"] == 30  # dsHoSoDangKy takes one ngayCapNhat day
    staged = {
        r.dossier_no: r.payload
        for page in hub.deliveries.iter_unsettled("ministry:civil_status", "none", 5000)
        for r in page
    }
    assert pulled["pulled"] == pulled["staged_new"] == len(staged) >= len(direct) > 0
    assert set(staged) >= direct  # every direct registration, under the ministry's own id
    assert all(not staged[number]["MaHoSoMotCua"] for number in direct)
    sent_back = set(staged) - direct  # registrations one-stop desks sent come back with their one-stop number
    assert all(staged[number]["MaHoSoMotCua"] for number in sent_back)
    assert hub.staging.watermark("ministry:civil_status") == datetime(2026, 12, 1, tzinfo=VN_TZ)

    again = pull_all(hub, civil, CS, *MONTH)
    assert again["staged_new"] == 0 and again["unchanged"] == len(staged)
    assert hub.staging.count("ministry:civil_status") == len(staged)


def test_a_month_of_business_registration_is_pulled_in_five_day_windows_each_once(
    hub: HubStore, clients: tuple[Any, Any], ministries: Ministries
) -> None:
    _, business = clients
    asked: list[Exchange] = []
    business.transport.on_exchange = asked.append
    try:
        pulled = pull_all(hub, business, BR, *MONTH)
    finally:
        business.transport.on_exchange = None
    expected = ministries.business_dossiers(*MONTH)
    assert pulled["complete"] and pulled["pulled"] == pulled["staged_new"] == len(expected) > 0
    first_pages = [
        (query["from_date"], query["to_date"])
        for query in (dict(parse_qsl(urlsplit(e.url).query)) for e in asked if e.operation == "danhSachHoSo")
        if query.get("offset") == "0"
    ]
    assert first_pages == [(f"{a:%d/%m/%Y}", f"{b:%d/%m/%Y}") for a, b in windows(*MONTH, 5)]  # each window once
    assert hub.staging.count("ministry:business_registration") == len(expected)
    assert pull_all(hub, business, BR, *MONTH)["staged_new"] == 0


def test_a_pull_back_outage_keeps_the_watermark_so_the_next_run_reads_the_day_again(
    hub: HubStore, clients: tuple[Any, Any], ministries: Ministries
) -> None:
    _, business = clients
    ministries.faults(ministries.business, error_rate=1.0)
    down = pull_all(hub, business, BR, DAY, DAY)
    assert not down["complete"] and down["incomplete_windows"] == [f"{DAY}..{DAY}"]
    assert hub.staging.watermark("ministry:business_registration") is None

    ministries.faults(ministries.business, error_rate=0.0)
    up = pull_all(hub, business, BR, DAY, DAY)
    assert up["complete"] and up["pulled"] == len(ministries.business_dossiers(DAY, DAY))


def _no_pull() -> dict[str, Any]:
    return {
        "windows": 0,
        "incomplete_windows": [],
        **dict.fromkeys(("listed", "pulled", "staged_new", "unchanged", "quarantined"), 0),
    }


@contextmanager
def ministry_sends(ministries: Ministries, day: date, change: str, *, first_only: bool) -> Iterator[list[str]]:
    """The business register answers ``day``'s dossiers changed by the SQLite JSON expression
    ``change`` (of ``body``, applied to its listing and its detail) -- one dossier or all of them --
    until the block ends, when the register corrects them. Yields the changed receipt numbers."""
    db = ministries.business.server.config.app.state.store.db
    first = " AND in_journal_no = (SELECT MIN(in_journal_no) FROM dossiers WHERE receipt_day = ?)"
    where = "receipt_day = ?" + first * first_only
    params = (day.isoformat(),) * (1 + first_only)
    with db.transaction() as conn:
        before = conn.execute(f"SELECT in_journal_no, listed, detail FROM dossiers WHERE {where}", params).fetchall()
        listed, detail = change.replace("body", "listed"), change.replace("body", "detail")
        conn.execute(f"UPDATE dossiers SET listed = {listed}, detail = {detail} WHERE {where}", params)
    try:
        yield [str(number) for number, _, _ in before]
    finally:
        with db.transaction() as conn:
            conn.executemany(
                "UPDATE dossiers SET listed = ?, detail = ? WHERE in_journal_no = ?", [(a, b, n) for n, a, b in before]
            )


def test_a_pull_back_breaking_the_suite_is_quarantined_with_its_rule_while_the_rest_is_staged(
    store: HubStore, clients: tuple[Any, Any], ministries: Ministries
) -> None:
    _, business = clients
    listed = ministries.business_dossiers(DAY, DAY)
    with ministry_sends(ministries, DAY, "json_set(body, '$.DOCUMENT_TYPE', 'KHONG_RO')", first_only=True) as (bad,):
        pulled = pull_all(store, business, BR, DAY, DAY)
    assert pulled["complete"] and pulled["quarantined"] == 1
    assert pulled["pulled"] == len(listed) == pulled["staged_new"] + pulled["unchanged"] + pulled["quarantined"]
    staged = {r.dossier_no for page in store.deliveries.iter_unsettled(BR.source, "none", 5000) for r in page}
    assert staged == listed - {bad}
    [entry] = store.quarantine.open_entries(BR.source)
    assert (entry["dossier_no"], entry["rule"]) == (bad, "procedure.known_on_date")
    assert "không ánh xạ được" in entry["reason"]  # the register's code the contract does not map
    summary = exchange.ministry_summary(store, BR, pulled)
    assert summary["identity_holds"] and summary["pull_back"]["quarantine_by_rule"] == {"procedure.known_on_date": 1}

    # The register corrects the dossier: the next pull of the day stages it and closes the entry.
    again = exchange.pull_window(store, business, BR, f"{DAY}..{DAY}", QualityGate(load_code_tables()))
    assert (again.staged_new, again.quarantined) == (1, 0)
    assert store.quarantine.open_entries(BR.source) == [] and store.staging.count(BR.source) == len(listed)


def test_a_ministry_renaming_a_field_quarantines_its_records_with_nothing_lost(
    store: HubStore, clients: tuple[Any, Any], ministries: Ministries
) -> None:
    """A field the contract maps that the ministry stops sending leaves every record without it:
    each is quarantined under the rule that reads it (counted, nothing lost), and once the contract
    file or the ministry is corrected the next pull stages them and closes the entries."""
    _, business = clients
    listed = ministries.business_dossiers(DAY, DAY)
    with ministry_sends(ministries, DAY, "json_remove(body, '$.SITE_ID')", first_only=False):
        pulled = pull_all(store, business, BR, DAY, DAY)
    assert pulled["quarantined"] == pulled["pulled"] == len(listed) > 0 and store.staging.count(BR.source) == 0
    assert {e["rule"] for e in store.quarantine.open_entries(BR.source)} == {"agency.known_on_date"}

    again = exchange.pull_window(store, business, BR, f"{DAY}..{DAY}", QualityGate(load_code_tables()))
    assert again.staged_new == len(listed) and store.quarantine.open_entries(BR.source) == []
