"""The canonical delivery state machine: carrier codes mapped by date, histories folded by carrier
time whatever order they arrived in, illegal transitions flagged and not applied."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.postal.carrier import CarrierEvent
from mappings.dossier import VN_TZ
from mappings.postal.states import PostalState, fold, load_status_table
from mappings.versioned import CodeTableError

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=VN_TZ)


def _events(carrier: str, codes: list[str], order_id: str = "O1") -> list[CarrierEvent]:
    return [
        CarrierEvent(carrier, order_id, "D/KQ", code, f"status {code}", T0 + timedelta(hours=5 * i))
        for i, code in enumerate(codes)
    ]


# Realistic histories as the carriers emit them, with the state each must end in.
HISTORIES = [
    ("vnpost", ["1", "50", "60", "70", "90"], PostalState.DELIVERED),
    ("vnpost", ["1", "50", "60", "70", "80", "60", "70", "80", "70", "90"], PostalState.DELIVERED),
    ("vnpost", ["1", "50", "60", "70", "80", "70", "80", "100"], PostalState.RETURNED),
    ("vnpost", ["1", "0"], PostalState.CANCELLED),
    ("viettel_post", ["100", "102", "105", "200", "300", "400", "500", "501"], PostalState.DELIVERED),
    ("viettel_post", ["100", "105", "300", "500", "506", "500", "506", "502", "300", "504"], PostalState.RETURNED),
    ("viettel_post", ["100", "102", "107"], PostalState.CANCELLED),
    ("viettel_post", ["100", "105", "300"], PostalState.IN_TRANSIT),
]


@pytest.mark.parametrize(("carrier", "codes", "final"), HISTORIES)
def test_realistic_histories_end_in_their_state_without_anomalies(carrier, codes, final) -> None:
    track = fold(_events(carrier, codes))
    assert track.state is final
    assert track.anomalies == ()
    assert track.status_code == codes[-1]


@settings(max_examples=200, deadline=None)
@given(data=st.data(), history=st.sampled_from(HISTORIES))
def test_any_arrival_order_with_duplicates_and_losses_converges(data: st.DataObject, history) -> None:
    """Webhooks arrive shuffled, twice, or not at all (polling brings the full history later):
    the state of whatever was received is that of the same events in carrier order, and once the
    full history is in, the final state is the true one."""
    carrier, codes, final = history
    events = _events(carrier, codes)
    received = data.draw(st.lists(st.sampled_from(events), max_size=2 * len(events)))
    assert fold(received) == fold(sorted(set(received), key=lambda e: e.occurred_at))
    arrival = data.draw(st.permutations(events + received))
    track = fold(arrival)
    assert track.state is final and track.anomalies == ()


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_random_event_sets_fold_to_the_same_state_in_any_order(data: st.DataObject) -> None:
    """Even nonsense (random codes at random times, illegal moves included) is folded deterministically:
    the same set of events gives the same state and the same anomalies, whatever the order."""
    carrier = data.draw(st.sampled_from(["vnpost", "viettel_post"]))
    codes = sorted({row.code.split(":")[1] for row in load_status_table().all_rows() if row.code.startswith(carrier)})
    picked = data.draw(
        st.lists(st.tuples(st.sampled_from([*codes, "999"]), st.integers(0, 20)), min_size=1, max_size=12)
    )
    events = [CarrierEvent(carrier, "O1", None, code, code, T0 + timedelta(hours=h)) for code, h in picked]
    once = fold(events)
    again = fold(data.draw(st.permutations(events)))
    assert once == again
    assert len(once.anomalies) + (once.state_at is not None) <= len({e.event_key for e in events})


def test_delivered_then_in_transit_is_flagged_and_not_applied() -> None:
    events = _events("viettel_post", ["100", "105", "500", "501", "300"])
    track = fold(events)
    assert track.state is PostalState.DELIVERED and track.status_code == "501"
    (anomaly,) = track.anomalies
    assert anomaly.status_code == "300" and anomaly.from_state is PostalState.DELIVERED
    assert "delivered" in anomaly.reason and "in_transit" in anomaly.reason
    assert anomaly.event_key == events[-1].event_key


@pytest.mark.parametrize(
    ("carrier", "codes", "state", "bad_code", "reason"),
    [
        ("vnpost", ["1", "50", "0"], PostalState.PICKED_UP, "0", "hủy"),
        ("vnpost", ["1", "50", "60", "1"], PostalState.IN_TRANSIT, "1", "chuyển ngược"),
        ("vnpost", ["1", "50", "60", "70", "90", "100"], PostalState.DELIVERED, "100", "trạng thái cuối"),
        ("viettel_post", ["100", "105", "300", "502", "500"], PostalState.IN_TRANSIT, "500", "chuyển hoàn"),
        ("viettel_post", ["100", "105", "300", "502", "501"], PostalState.IN_TRANSIT, "501", "chuyển hoàn"),
        ("viettel_post", ["100", "105", "42"], PostalState.PICKED_UP, "42", "không có trong bảng"),
    ],
)
def test_illegal_transitions_are_flagged_with_the_reason(carrier, codes, state, bad_code, reason) -> None:
    track = fold(_events(carrier, codes))
    assert track.state is state
    assert [(a.status_code, reason in a.reason) for a in track.anomalies] == [(bad_code, True)]


def test_returning_order_keeps_its_flag_until_returned() -> None:
    on_way_back = fold(_events("viettel_post", ["100", "105", "506", "502", "300"]))
    assert on_way_back.state is PostalState.IN_TRANSIT and on_way_back.returning
    back = fold(_events("viettel_post", ["100", "105", "506", "502", "300", "504"]))
    assert back.state is PostalState.RETURNED and not back.returning


def test_same_timestamp_is_ordered_by_progress() -> None:
    """Two statuses stamped the same second (a carrier's batch scan) still fold the same way."""
    events = [CarrierEvent("vnpost", "O1", None, code, code, T0) for code in ("90", "70", "50", "1")]
    assert fold(events).state is PostalState.DELIVERED
    assert fold(reversed(events)).anomalies == ()


def test_status_codes_are_versioned(tmp_path: Path) -> None:
    """A code renumbered by the carrier is read with the meaning valid on the event's day."""
    table = tmp_path / "statuses.csv"
    table.write_text(
        "code,name_vi,state,returning,valid_from,valid_to\n"
        "vnpost:1,Chờ lấy hàng,created,false,2024-01-01,\n"
        "vnpost:95,Phát thành công,delivered,false,2024-01-01,2026-11-20\n"
        "vnpost:95,Đang phát,delivering,false,2026-11-21,\n",
        encoding="utf-8",
    )
    rows = load_status_table(table)
    before = [CarrierEvent("vnpost", "O1", None, "95", "", T0)]
    after = [CarrierEvent("vnpost", "O1", None, "95", "", T0 + timedelta(days=2))]
    assert fold(before, rows).state is PostalState.DELIVERED
    assert fold(after, rows).state is PostalState.DELIVERING


def test_a_typo_in_the_table_is_refused_at_load(tmp_path: Path) -> None:
    table = tmp_path / "statuses.csv"
    table.write_text("code,name_vi,state,returning,valid_from,valid_to\nvnpost:90,x,deliverd,false,,\n")
    with pytest.raises(CodeTableError, match="deliverd"):
        load_status_table(table)


# Viettel Post's public status table (docs/interfaces.md, Viettel Post ledger) -> canonical state.
VIETTEL_PUBLIC = {
    "created": ["-100", "100", "102", "103", "104"],
    "picked_up": ["-108", "-109", "-110", "105", "106", "200", "202"],
    "in_transit": ["300", "301", "302", "303", "310", "320", "400", "401", "402", "403", "502", "509", "510", "515"],
    "delivering": ["500", "508", "550"],
    "failed_attempt": ["505", "506", "507"],
    "delivered": ["501"],
    "returned": ["504"],
    "cancelled": ["101", "107", "201", "503"],
}
VIETTEL_HISTORIES = [
    (["-108", "200", "300", "400", "500", "505", "550", "507", "501"], PostalState.DELIVERED),
    (["100", "103", "104", "105", "200", "301", "401", "500", "506", "508", "501"], PostalState.DELIVERED),
    (["100", "105", "200", "300", "500", "505", "515", "502", "504"], PostalState.RETURNED),
    (["-100", "100", "101"], PostalState.CANCELLED),
]


def test_every_public_viettel_code_maps_to_a_canonical_state() -> None:
    table = load_status_table()
    mapped = {r.code.removeprefix("viettel_post:"): r.state for r in table.all_rows() if r.code.startswith("viettel")}
    assert mapped == {code: state for state, codes in VIETTEL_PUBLIC.items() for code in codes}
    returning = {r.code for r in table.all_rows() if r.returning}
    assert {"viettel_post:502", "viettel_post:515"} <= returning and "viettel_post:505" not in returning


@pytest.mark.parametrize(("codes", "final"), VIETTEL_HISTORIES)
def test_viettel_histories_with_the_frequent_codes_end_in_their_state(codes: list[str], final: PostalState) -> None:
    track = fold(_events("viettel_post", codes))
    assert (track.state, track.anomalies, track.status_code) == (final, (), codes[-1])


@pytest.mark.parametrize("unknown", ["551", "570"])
def test_a_code_without_public_meaning_is_an_anomaly_and_the_order_goes_on(unknown: str) -> None:
    track = fold(_events("viettel_post", ["100", "105", "500", unknown, "501"]))
    assert track.state is PostalState.DELIVERED and track.status_code == "501"
    (anomaly,) = track.anomalies
    assert anomaly.status_code == unknown and "không có trong bảng" in anomaly.reason
