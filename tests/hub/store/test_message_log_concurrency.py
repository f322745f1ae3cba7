"""Mapped Airflow tasks append to the message log from several processes at once.

Two (then four) real processes, started together, each append batches to the same store: the
chain must come out gapless, unforked and verifiable, and each batch contiguous (one lock per
batch). SQLite runs always; PostgreSQL when the ``store`` fixture has a server.
"""

from __future__ import annotations

import itertools
import multiprocessing
import uuid
from typing import Any

import pytest

from hub.store import HubStore
from signing import evidence, pki
from tests.signing.test_evidence_chain import make_entry

pytestmark = pytest.mark.timeout(180)
BATCHES = 30
SIZE = 4


def append_batches(url: str, worker: str, rounds: Any, key_source: str | None) -> None:
    """One process: its own engine; each round, every worker appends one batch at the same moment.

    The barrier forces the workers to race for the log head every round -- without it one
    process can win SQLite's file lock for all its batches and nothing concurrent is tested.
    """
    from signing.keys import load_identity

    store = HubStore(url)
    identity = load_identity(key_source) if key_source else None
    for b in range(BATCHES):
        rounds.wait(30)
        batch_id = f"{worker}-{b}"
        entries = [make_entry(i, batch_id=batch_id) for i in range(SIZE)]
        entries = [type(e)(**{**vars(e), "exchange_id": str(uuid.uuid4())}) for e in entries]
        store.message_log.append(entries, seal=identity)
    store.db.engine.dispose()


def run_workers(store: HubStore, workers: int, key_source: str | None = None) -> None:
    # fork where there is one: the workers inherit the imports instead of paying seconds each for
    # them (they build their own engine and never touch the parent's pooled connections).
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    rounds = context.Barrier(workers)
    processes = [
        context.Process(target=append_batches, args=(store.db.url, f"w{n}", rounds, key_source)) for n in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
        assert process.exitcode == 0, f"worker exited {process.exitcode}"


def assert_batches_contiguous(store: HubStore, total: int) -> None:
    entries = [e for page in store.message_log.iter_log() for e in page]
    assert [e.seq for e in entries] == list(range(1, total + 1))
    runs: dict[str, list[int]] = {}
    for e in entries:
        runs.setdefault(e.fields["batch_id"], []).append(e.seq)
    for batch_id, seqs in runs.items():
        assert len(seqs) == SIZE and seqs == list(range(seqs[0], seqs[0] + SIZE)), f"batch {batch_id} interleaved"
    # The workers really ran at the same time: their batches alternate along the chain.
    owners = [e.fields["batch_id"].split("-")[0] for e in entries[::SIZE]]
    switches = sum(a != b for a, b in itertools.pairwise(owners))
    assert switches > len(set(owners)), f"the workers did not overlap: {owners}"


@pytest.mark.parametrize("workers", [2, 4])
def test_concurrent_appends_keep_one_gapless_chain(store: HubStore, workers: int) -> None:
    run_workers(store, workers)
    total = workers * BATCHES * SIZE
    report = evidence.verify_chain(store.message_log)
    assert report.ok, report
    assert report.entries == total and report.head_seq == total
    assert_batches_contiguous(store, total)
    assert store.message_log.count_exchanges("national_portal") == {"DongBoHoSoMC": total}


def test_concurrent_sealed_appends_keep_contiguous_seals(store: HubStore, tmp_path: Any) -> None:
    dev = pki.init_dev_pki(tmp_path / "pki", partners=())
    run_workers(store, 2, key_source=dev.source(pki.HUB))
    total = 2 * BATCHES * SIZE
    report = evidence.verify_chain(store.message_log, trust=dev.trust_store())
    assert report.ok, report
    assert report.seals == 2 * BATCHES and report.sealed_seq == total
    assert all(s.last_seq - s.first_seq + 1 == SIZE for s in store.message_log.log_seals())
