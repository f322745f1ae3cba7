"""The DAG tasks' code in worker processes, as an executor runs them: one process per slot.

An Airflow worker runs each task instance in a process of its own, so two mapped delivery tasks
use two cores, not two threads behind one interpreter lock. ``bench.backfill`` reproduces that
with a ``spawn`` process pool: every worker points ``HUB_STORE_URL`` and ``HUB_VAR_DIR`` at the
run's store and development PKI, builds its partner clients once (as ``dags.common.partner_client``
caches them per worker process) and calls the very functions the DAG tasks call
(``hub.jobs.extract.extract``, ``hub.jobs.portal.*``). Each call returns the CPU time its process
spent in it, so the benchmark can count the hub's CPU apart from the partners'.
"""

from __future__ import annotations

import cProfile
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from bench.common import PortalEndpoint, portal_client, transport


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker process needs to act as an Airflow worker of this run (picklable)."""

    store_url: str
    var_dir: str
    city_url: str
    city_token: str
    portal: PortalEndpoint
    profile_dir: str | None = None  # set: every task instance writes its cProfile stats there


@dataclass(frozen=True)
class TaskRun:
    """One task instance: what it returned, and the wall and CPU seconds its process spent in it."""

    task: str
    result: Any
    seconds: float
    cpu_seconds: float
    pid: int


_setup: WorkerSetup | None = None


def start_worker(setup: WorkerSetup) -> None:
    """Pool initialiser: the environment a worker of this deployment would have."""
    global _setup
    os.environ["HUB_STORE_URL"] = setup.store_url
    os.environ["HUB_VAR_DIR"] = setup.var_dir
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    _setup = setup


def _configured() -> WorkerSetup:
    if _setup is None:
        raise RuntimeError("start_worker() has not run in this process")
    return _setup


@cache
def _signatures() -> Any:
    """Sign requests with the hub's identity and verify replies against the trust store, as the hooks do."""
    from adapters.signatures import MessageSignatures
    from signing.config import hub_identity, trust_store

    return MessageSignatures(identity=hub_identity(), trust=trust_store())


@cache
def _city() -> Any:
    from adapters.city_system.client import PARTNER, CitySystemClient

    setup = _configured()
    return CitySystemClient(transport(PARTNER, setup.city_url, _signatures()), setup.city_token)


@cache
def _portal() -> Any:
    return portal_client(_configured().portal, _signatures())


def _extract(start: Any, end: Any) -> dict[str, Any]:
    from hub.jobs.extract import extract

    return extract(_city(), start, end)


def _partitions() -> list[list[int]]:
    from hub.jobs.portal import plan_partitions

    return plan_partitions()


def _plan(partition: list[int]) -> dict[str, Any]:
    from hub.jobs.portal import plan_portal_partition

    return plan_portal_partition(partition)


def _batch(reports: list[dict[str, Any]]) -> list[str]:
    from hub.jobs.portal import batch_portal_sync

    return batch_portal_sync(reports)


def _deliver(batch_id: str) -> dict[str, Any]:
    from hub.jobs.portal import deliver_portal_dossiers

    return deliver_portal_dossiers(_portal(), batch_id)


def _plan_progress() -> list[str]:
    from hub.jobs.portal import plan_portal_progress

    return plan_portal_progress()


def _deliver_progress(batch_id: str) -> dict[str, Any]:
    from hub.jobs.portal import deliver_portal_progress

    return deliver_portal_progress(_portal(), batch_id)


# The tasks of city_dossiers_extract and national_portal_sync, by name, as the DAGs call them.
TASKS: dict[str, Callable[..., Any]] = {
    "extract": _extract,
    "partitions": _partitions,
    "plan": _plan,
    "batch": _batch,
    "deliver_dossiers": _deliver,
    "plan_progress": _plan_progress,
    "deliver_progress": _deliver_progress,
}


def run_task(task: str, *args: Any) -> TaskRun:
    """Run one task instance in this worker process and time it."""
    profile_dir = _configured().profile_dir
    profiler = cProfile.Profile() if profile_dir else None
    wall, cpu = time.perf_counter(), time.process_time()
    if profiler is not None:
        profiler.enable()
    try:
        result = TASKS[task](*args)
    finally:
        if profiler is not None:
            profiler.disable()
    seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
    if profiler is not None and profile_dir:
        profiler.dump_stats(os.path.join(profile_dir, f"{task}-{os.getpid()}-{uuid.uuid4().hex[:8]}.prof"))
    return TaskRun(task, result, seconds, cpu_seconds, os.getpid())
