"""The work queue the outbox, ministry pushes, postal orders and population checks share, on its own.

A table of its own (a composite key, a group column, every kind of due state) on the store's real
database, SQLite and PostgreSQL: what a flow relies on is tested once, here, not through one flow.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from hub.store import HubStore
from hub.store.schema import Timestamp
from hub.store.work_queue import QueueSpec, WorkQueue

_metadata = sa.MetaData()
work_item = sa.Table(
    "test_work_item",
    _metadata,
    sa.Column("lane", sa.String(10), primary_key=True),
    sa.Column("no", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("state", sa.String(10), nullable=False),
    sa.Column("note", sa.String(40)),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", Timestamp),
    sa.Column("batch_id", sa.String(64)),
    sa.Column("updated_at", Timestamp, nullable=False),
)

SPEC = QueueSpec(table=work_item, key=("lane", "no"), ready=("new",), retrying=("retry",), claimed="busy")


@pytest.fixture
def queue(store: HubStore) -> Iterator[WorkQueue]:
    _metadata.drop_all(store.db.engine)
    _metadata.create_all(store.db.engine)
    yield WorkQueue(store.db, SPEC)
    _metadata.drop_all(store.db.engine)


def _add(queue: WorkQueue, lane: str, numbers: range, state: str = "new", retry_in: timedelta = timedelta(0)) -> None:
    now = queue.db.now()
    rows = [
        {"lane": lane, "no": n, "state": state, "next_attempt_at": now + retry_in, "updated_at": now} for n in numbers
    ]
    with queue.db.engine.begin() as conn:
        conn.execute(work_item.insert(), rows)


def _claim(queue: WorkQueue, batch_id: str) -> list[tuple[str, int]]:
    return [(row.lane, row.no) for row in queue.claim(batch_id, sa.select(work_item.c.lane, work_item.c.no))]


def _row(queue: WorkQueue, lane: str, no: int) -> sa.Row:
    with queue.db.engine.connect() as conn:
        return conn.execute(sa.select(work_item).where(work_item.c.lane == lane, work_item.c.no == no)).one()


def test_assign_cuts_the_due_items_into_batches_in_key_order(queue: WorkQueue) -> None:
    _add(queue, "a", range(1, 26))
    _add(queue, "b", range(1, 4))
    batches = queue.assign(10, "a", work_item.c.lane == "a")
    assert len(batches) == 3 and all(b.startswith("a-") for b in batches)
    claimed = [_claim(queue, b) for b in batches]
    assert [len(c) for c in claimed] == [10, 10, 5]
    assert [no for c in claimed for _, no in c] == list(range(1, 26))  # each once, in order
    assert queue.assign(10, "b", work_item.c.lane == "b") != []  # the other lane was left alone


def test_assign_per_group_keeps_each_batch_within_one_group(queue: WorkQueue) -> None:
    _add(queue, "a", range(1, 4))
    _add(queue, "b", range(1, 6))
    batches = queue.assign_per("lane", 4, "lanes")
    assert sorted(batches) == ["a", "b"] and [len(batches["a"]), len(batches["b"])] == [1, 2]
    assert all(b.startswith("lanes-b-") for b in batches["b"])
    assert {lane for b in batches["b"] for lane, _ in _claim(queue, b)} == {"b"}


def test_a_claimed_item_is_not_assigned_again_until_its_lease_runs_out(queue: WorkQueue) -> None:
    _add(queue, "a", range(1, 6))
    (first,) = queue.assign(10, "a")
    assert len(_claim(queue, first)) == 5
    assert _row(queue, "a", 1).state == "busy"
    assert queue.assign(10, "a") == []  # held by its claimer
    assert len(_claim(queue, first)) == 5  # the same task retried gets the same items

    (second,) = queue.assign(10, "a", lease=timedelta(0))  # the claimer is presumed dead
    assert len(_claim(queue, second)) == 5
    assert _claim(queue, first) == []  # nothing is claimed through two batches


def test_items_waiting_for_their_retry_time_are_not_due(queue: WorkQueue) -> None:
    _add(queue, "a", range(1, 3), state="retry", retry_in=timedelta(hours=1))
    _add(queue, "a", range(3, 5), state="retry", retry_in=-timedelta(seconds=1))
    _add(queue, "a", range(5, 7), state="done")
    (batch,) = queue.assign(10, "a")
    assert [no for _, no in _claim(queue, batch)] == [3, 4]


def test_assign_with_its_own_due_condition(queue: WorkQueue) -> None:
    _add(queue, "a", range(1, 4), state="done")
    (batch,) = queue.assign(10, "a", due=work_item.c.state == "done")
    with queue.db.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).where(work_item.c.batch_id == batch)).scalar_one() == 3


def test_settle_records_outcomes_and_counts_only_real_attempts(queue: WorkQueue) -> None:
    _add(queue, "a", range(1, 4))
    (batch,) = queue.assign(10, "a")
    _claim(queue, batch)
    later = queue.db.now() + timedelta(minutes=5)
    queue.settle(
        [
            {"k_lane": "a", "k_no": 1, "b_state": "done", "b_tried": 1, "b_note": "ok", "b_next": None},
            {"k_lane": "a", "k_no": 2, "b_state": "retry", "b_tried": 1, "b_note": "timeout", "b_next": later},
            {"k_lane": "a", "k_no": 3, "b_state": "new", "b_tried": 0, "b_note": "not tried", "b_next": later},
        ],
        note=sa.bindparam("b_note"),
        next_attempt_at=sa.bindparam("b_next"),
    )
    rows = {no: _row(queue, "a", no) for no in (1, 2, 3)}
    assert [(r.state, r.attempts, r.note) for r in rows.values()] == [
        ("done", 1, "ok"),
        ("retry", 1, "timeout"),
        ("new", 0, "not tried"),
    ]
    assert _claim(queue, batch) == [("a", 2), ("a", 3)]  # a finished item is no longer open; the others are
    assert queue.assign(10, "a") == []  # the retry waits for its time


def test_settle_can_keep_the_state_and_be_limited_by_a_condition(queue: WorkQueue) -> None:
    _add(queue, "a", range(1, 3))
    with queue.db.engine.begin() as conn:
        queue.settle_in(
            conn,
            [{"k_lane": "a", "k_no": 1, "b_tried": 1}, {"k_lane": "a", "k_no": 2, "b_tried": 1}],
            work_item.c.no == 1,
            state=work_item.c.state,
        )
    assert [(r.state, r.attempts) for r in (_row(queue, "a", 1), _row(queue, "a", 2))] == [("new", 1), ("new", 0)]


def test_a_queue_without_a_claimed_state_only_reads_on_claim(store: HubStore, queue: WorkQueue) -> None:
    reading = WorkQueue(store.db, QueueSpec(table=work_item, key=("lane", "no"), ready=("new",)))
    _add(queue, "a", range(1, 3))
    (batch,) = reading.assign(10, "a")
    assert _claim(reading, batch) == _claim(reading, batch) == [("a", 1), ("a", 2)]
    assert _row(queue, "a", 1).state == "new"


def test_concurrent_workers_never_claim_an_item_twice(queue: WorkQueue) -> None:
    _add(queue, "a", range(1, 301))
    claimed: Counter[tuple[str, int]] = Counter()
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(10):
                for batch in queue.assign(7, "a"):
                    got = _claim(queue, batch)
                    with lock:
                        claimed.update(got)
        except BaseException as exc:  # surfaced below: a thread's failure must fail the test
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors
    assert len(claimed) == 300 and set(claimed.values()) == {1}
