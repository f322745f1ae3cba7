"""Benchmark: a backfill of generated city dossiers through the hub's DAG tasks, against the floor.

    uv run python -m bench.backfill [--dossiers 50000 200000] [--stores sqlite postgresql] [--workers 2]

For each load (``--dossiers``, one fresh set of sandbox partners per load, generated as in
``bench.portal_sync``):

* **floor** -- ``bench.floor`` on the same city listing: only the irreducible work (parse, canonical
  JSON + SHA-256, one serialisation per portal payload, one SQLite transaction, one RSA-2048
  signature per 500 records), in a process of its own;
* **hub** -- per store (``--stores``: a fresh SQLite file, and/or a fresh PostgreSQL database on the
  server of ``--pg-url`` / ``HUB_TEST_PG_URL``), the code the DAG tasks call, in ``--workers``
  worker processes (``bench.workers``) as an executor runs task instances: ``extract`` once per
  generated day, one after the other (``city_dossiers_extract`` has ``max_active_runs=1``), then
  ``plan`` mapped over its partitions (``HUB_PLAN_PARTITIONS``, set to ``--workers``), ``batch``
  (one task), ``deliver_dossiers`` mapped over its batches, ``plan_progress`` and
  ``deliver_progress`` mapped over its batches, the mapped tasks ``--workers`` at a time (default:
  the ``national_portal`` pool's slots). Partners answer over loopback from their own process;
  every request is signed and every reply verified; the message log is written and sealed.

It prints per stage wall and CPU seconds (the workers' own CPU, without the partners'), dossiers/s
and progress entries/s, the ratio hub/floor in records per CPU-second measured in the same run,
the peak RSS of the hub's process tree (this process and its workers, sampled with psutil; the
partners' process apart), and the time a 4.06 M-dossier year (2023's volume) with its progress
entries would take at the measured wall rate. Exit 1 if a dossier or progress entry is not
accounted for: staged = delivered + quarantined + out of scope (nothing pending), the portal holds
what the hub says it delivered, every progress entry queued was delivered.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import pstats
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import psutil
import sqlalchemy as sa

from adapters.partners import partner_ids, pools
from bench.common import (
    VN,
    Partners,
    PortalEndpoint,
    load_average,
    machine,
    portal_stats,
    rate,
    sandbox_partners,
    verdict,
)
from bench.floor import FloorResult, floor_of
from bench.workers import TASKS, TaskRun, WorkerSetup, run_task, start_worker
from signing.pki import init_dev_pki

YEAR_DOSSIERS = 4_060_000  # 2023's dossiers (issue 19), each with its progress entries
GOAL_RATIO = 0.5  # hub >= 50 % of the floor, in records per CPU-second
GOAL_YEAR_S = 15 * 60
GOAL_RSS_GROWTH = 0.10  # peak RSS at the largest load within 10 % of the smallest
PORTAL_POOL = "national_portal"  # dags.common.NATIONAL_PORTAL_POOL (importing dags pulls in Airflow)


@dataclass
class Stage:
    """One stage of the backfill: its task instances' wall span and their summed CPU."""

    name: str
    items: int
    unit: str
    seconds: float
    cpu_seconds: float
    tasks: int


@dataclass
class HubRun:
    """What the hub did on one store for one load."""

    store: str
    dossiers: int = 0
    progress_entries: int = 0
    stages: list[Stage] = field(default_factory=list)
    peak_rss_mib: float = 0.0
    dispositions: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(stage.seconds for stage in self.stages)

    @property
    def cpu_seconds(self) -> float:
        return sum(stage.cpu_seconds for stage in self.stages)

    def cpu_bound_year_seconds(self, workers: int) -> float:
        """The year on ``workers`` cores of its own: serial tasks' CPU plus mapped tasks' CPU shared by the workers.

        What this machine would do without neighbours and with the partners elsewhere; the
        serial stages (one extract run at a time, the single tasks: batching the plan, planning
        progress) do not spread over workers; the plan's partitions are mapped tasks and do.
        """
        serial = sum(stage.cpu_seconds for stage in self.stages if stage.tasks == 1 or stage.name == "extract")
        mapped = self.cpu_seconds - serial
        return (serial + mapped / workers) * YEAR_DOSSIERS / self.dossiers if self.dossiers else float("inf")

    @property
    def year_seconds(self) -> float:
        """A 4.06 M-dossier year at this run's wall rate (its progress entries scale with its dossiers)."""
        return self.seconds * YEAR_DOSSIERS / self.dossiers if self.dossiers else float("inf")


class TreeMemory:
    """Peak resident memory of this process and its descendants, sampled every ``every`` seconds.

    ``ru_maxrss`` is per process; the hub's cost is the whole tree (the benchmark and its worker
    processes), summed at each instant. The partners' process is excluded: it is not the hub.
    """

    def __init__(self, exclude: int, every: float = 0.2) -> None:
        self.exclude, self.every = exclude, every
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)

    def _tree_rss(self) -> int:
        me = psutil.Process()
        total = 0
        for process in [me, *me.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                if process.pid != self.exclude and self.exclude not in {p.pid for p in process.parents()}:
                    total += process.memory_info().rss
        return total

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._tree_rss())
            self._stop.wait(self.every)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._tree_rss())

    @property
    def peak_mib(self) -> float:
        return self.peak / (1024 * 1024)


# -- stores -----------------------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_store(kind: str, work: Path, pg_url: str | None, label: str) -> Iterator[str]:
    """A new, empty hub store for one run: a SQLite file, or a PostgreSQL database dropped after."""
    if kind == "sqlite":
        yield f"sqlite:///{work / f'{label}.db'}"
        return
    if not pg_url:
        raise SystemExit("--stores postgresql needs --pg-url or HUB_TEST_PG_URL (scripts/test-postgres.sh start)")
    server = sa.make_url(pg_url)
    name = f"bench_{label}_{secrets.token_hex(4)}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# -- the hub path -----------------------------------------------------------------------------------


def _day_windows(days: tuple[date, ...]) -> list[tuple[datetime, datetime]]:
    """One data interval per generated day, back to back so that no record falls between two."""
    starts = [datetime.combine(day, clock_time(0), VN) for day in days]
    ends = [*starts[1:], starts[-1] + timedelta(days=1)]
    return list(zip(starts, ends, strict=True))


def _stage(name: str, unit: str, runs: list[TaskRun], seconds: float, count: Any) -> Stage:
    return Stage(
        name, sum(count(run.result) for run in runs), unit, seconds, sum(r.cpu_seconds for r in runs), len(runs)
    )


def _say_stage(stage: Stage, extra: str = "") -> None:
    _say(
        f"    {stage.name:<17} {stage.items:>9,} {stage.unit:<16} {stage.tasks:>4} tasks  {stage.seconds:7.1f} s wall "
        f"{stage.cpu_seconds:7.1f} s CPU  {rate(stage.items, stage.seconds):7,.0f}/s{extra} ({load_average()})"
    )


def _mapped(pool: ProcessPoolExecutor, task: str, batch_ids: list[str]) -> tuple[list[TaskRun], float]:
    """A mapped task over its batches, as many at a time as the pool has workers."""
    began = time.perf_counter()
    runs = list(pool.map(run_task, [task] * len(batch_ids), batch_ids))
    return runs, time.perf_counter() - began


def _single(pool: ProcessPoolExecutor, task: str, *args: Any) -> tuple[TaskRun, float]:
    began = time.perf_counter()
    run = pool.submit(run_task, task, *args).result()
    return run, time.perf_counter() - began


def _records(result: dict[str, Any]) -> int:
    """What a delivery carried to the portal: dossiers, or progress entries (a history is one message)."""
    return int(result["records"])


def run_hub(
    kind: str,
    url: str,
    partners: Partners,
    portal: PortalEndpoint,
    workers: int,
    var_dir: Path,
    profile_dir: Path | None = None,
) -> HubRun:
    """The DAG tasks, stage after stage, in ``workers`` processes; the counts checked at the end."""
    run = HubRun(kind)
    profiles = str(profile_dir) if profile_dir else None
    setup = WorkerSetup(url, str(var_dir), partners.city_url, partners.city_token, portal, profiles)
    pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=start_worker, initargs=(setup,))
    with pool, TreeMemory(exclude=partners.pid) as memory:
        list(pool.map(time.sleep, [0.5] * workers))  # every worker started before the first stage is timed

        began, extracted = time.perf_counter(), []
        for start, end in _day_windows(partners.days):  # one run at a time: max_active_runs=1
            extracted.append(pool.submit(run_task, "extract", start, end).result())
        extract = _stage("extract", "dossiers", extracted, time.perf_counter() - began, lambda r: r["records"])
        _say_stage(extract)

        began = time.perf_counter()
        partitions = pool.submit(run_task, "partitions").result()
        plans, _ = _mapped(pool, "plan", partitions.result)
        plan = _stage("plan (incl. GX)", "dossiers", plans, time.perf_counter() - began, lambda r: r["considered"])
        _say_stage(plan, f", {len(plans)} partitions")

        planned, seconds = _single(pool, "batch", [run.result for run in plans])
        batch = _stage("plan batches", "batches", [planned], seconds, len)
        _say_stage(batch, " (incl. Data Docs)")

        runs, seconds = _mapped(pool, "deliver_dossiers", planned.result)
        deliver = _stage("deliver dossiers", "dossiers", runs, seconds, _records)
        _say_stage(deliver)

        progress_planned, seconds = _single(pool, "plan_progress")
        plan_progress = _stage("plan progress", "batches", [progress_planned], seconds, len)
        _say_stage(plan_progress)

        runs, seconds = _mapped(pool, "deliver_progress", progress_planned.result)
        progress = _stage("deliver progress", "progress entries", runs, seconds, _records)
        _say_stage(progress)
    run.stages = [extract, plan, batch, deliver, plan_progress, progress]
    run.dossiers, run.progress_entries, run.peak_rss_mib = extract.items, progress.items, memory.peak_mib
    run.problems += _accounting(url, partners, portal, run)
    return run


def _accounting(url: str, partners: Partners, portal: PortalEndpoint, run: HubRun) -> list[str]:
    """Nothing lost: staged = settled dispositions, nothing pending, the portal holds what was delivered."""
    from hub.pipeline.summary import sync_summary
    from hub.store import HubStore
    from mappings.sources import CITY_SOURCE, PORTAL

    store = HubStore(url)
    try:
        summary = sync_summary(store, source=CITY_SOURCE, partner=PORTAL)
    finally:
        store.db.engine.dispose()
    counts = summary["counts"]
    run.dispositions = Counter({k: counts[k] for k in ("delivered", "pending", "quarantined", "out_of_scope")})
    held = portal_stats(portal)["held"]
    problems = []
    if not summary["identity_holds"] or counts["extracted"] != partners.records:
        problems.append(f"{run.store}: {partners.records:,} generated, counts {counts}")
    if counts["pending"]:
        problems.append(f"{run.store}: {counts['pending']:,} dossiers still pending after delivery")
    if held["dossiers"] != counts["delivered"]:
        problems.append(
            f"{run.store}: portal holds {held['dossiers']:,} dossiers, hub delivered {counts['delivered']:,}"
        )
    unsent = {state: n for state, n in _outbox_states(summary["outbox"]).items() if state != "acknowledged" and n}
    if unsent:
        problems.append(f"{run.store}: outbox messages not acknowledged: {unsent}")
    return problems


def _outbox_states(outbox: Any) -> Counter[str]:
    """The outbox counts by state, whatever nesting ``store.outbox.counts`` gives them (per operation or not)."""
    states: Counter[str] = Counter()
    for key, value in outbox.items():
        if isinstance(value, dict):
            states.update(_outbox_states(value))
        else:
            states[str(key)] += int(value)
    return states


# -- report -----------------------------------------------------------------------------------------


def _say(text: str = "") -> None:
    print(text, flush=True)


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def report(load: int, floor: FloorResult, runs: list[HubRun], workers: int) -> None:
    _say(f"  {floor.line()}")
    _say(f"  {floor.contract_line()}")
    for run in runs:
        hub_per_cpu = rate(run.dossiers, run.cpu_seconds)
        ratio = hub_per_cpu / floor.per_cpu_second
        per_dossier = run.progress_entries / run.dossiers if run.dossiers else 0.0
        _say(
            f"  hub on {run.store}: {run.dossiers:,} dossiers + {run.progress_entries:,} progress entries "
            f"({per_dossier:.1f} per dossier) in {run.seconds:,.1f} s wall, {run.cpu_seconds:,.1f} s CPU in "
            f"{workers} worker processes -> {run.dispositions}"
        )
        _say(
            f"    {rate(run.dossiers, run.seconds):,.1f} dossiers/s and "
            f"{rate(run.progress_entries, run.seconds):,.1f} progress entries/s end to end (wall); "
            f"{hub_per_cpu:,.1f} dossiers/CPU-s"
        )
        _say(
            f"    ratio hub/floor (records per CPU-second) = {hub_per_cpu:,.1f} / {floor.per_cpu_second:,.1f} = "
            f"{ratio:.1%} (goal >= {GOAL_RATIO:.0%}: {_verdict(ratio >= GOAL_RATIO)}); wall: "
            f"{rate(run.dossiers, run.seconds):,.1f} / {rate(floor.records, floor.seconds):,.1f} one process"
        )
        _say(
            f"    for information, hub/contract floor = {hub_per_cpu:,.1f} / {floor.contract_per_cpu_second:,.1f} = "
            f"{hub_per_cpu / floor.contract_per_cpu_second:.1%} (the floor plus the mapping and the portal's signed "
            "calls of 10, which the issue's floor leaves out)"
        )
        _say(
            f"    a {YEAR_DOSSIERS / 1e6:.2f} M-dossier year with its progress entries: "
            f"{run.year_seconds / 3600:,.2f} h "
            f"at this wall rate (goal <= {GOAL_YEAR_S // 60} min: {_verdict(run.year_seconds <= GOAL_YEAR_S)}); "
            f"{run.cpu_bound_year_seconds(workers) / 3600:,.2f} h CPU-bound on {workers} cores of its own"
        )
        _say(f"    peak RSS of the hub's process tree at {load:,} dossiers: {run.peak_rss_mib:,.0f} MiB")


def report_memory(peaks: dict[str, dict[int, float]]) -> None:
    for store, by_load in peaks.items():
        if len(by_load) < 2:
            continue
        small, large = min(by_load), max(by_load)
        growth = by_load[large] / by_load[small] - 1
        _say(
            f"peak RSS on {store}: {by_load[small]:,.0f} MiB at {small:,}, {by_load[large]:,.0f} MiB at {large:,} "
            f"(+{growth:.0%}; goal within {GOAL_RSS_GROWTH:.0%}: {_verdict(growth <= GOAL_RSS_GROWTH)})"
        )


def report_profile(folder: Path, top: int) -> None:
    """The ``top`` functions by own time, per task, over every task instance's cProfile stats."""
    for task in TASKS:
        files = sorted(str(path) for path in folder.glob(f"{task}-*.prof"))
        if not files:
            continue
        out = io.StringIO()
        stats = pstats.Stats(*files, stream=out)
        stats.strip_dirs().sort_stats("tottime").print_stats(top)
        _say(f"  profile of {task} ({len(files)} task instances), top {top} by own time:")
        lines = out.getvalue().splitlines()
        start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
        for line in lines[start:]:
            if line.strip():
                _say(f"    {line.rstrip()}")


def _commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    return done.stdout.strip() or "unknown"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.backfill", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dossiers", type=int, nargs="+", default=[50_000, 200_000], help="loads, one run each")
    parser.add_argument("--stores", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite", "postgresql"])
    parser.add_argument("--pg-url", default=os.environ.get("HUB_TEST_PG_URL"), help="PostgreSQL server to create on")
    parser.add_argument(
        "--workers", type=int, default=pools()[PORTAL_POOL].slots, help="worker processes (default: the pool's slots)"
    )
    parser.add_argument(
        "--profile", type=int, default=0, metavar="TOP", help="profile every task (cProfile), print the TOP functions"
    )
    parser.add_argument("--seed", type=int, default=7, help="generator seed")
    parser.add_argument("--start-day", type=date.fromisoformat, default=date(2026, 11, 2), help="first working day")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if min(args.dossiers) < 1 or args.workers < 1:
        _parser().error("--dossiers and --workers must be positive")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    _say(
        f"bench.backfill: loads {args.dossiers}, stores {args.stores}, {args.workers} worker processes, "
        f"seed {args.seed}; commit {_commit()}; {machine()}"
    )
    problems: list[str] = []
    peaks: dict[str, dict[int, float]] = {store: {} for store in args.stores}
    with tempfile.TemporaryDirectory(prefix="bench-backfill-") as tmp:
        work = Path(tmp)
        var_dir = work / "var"
        os.environ["HUB_VAR_DIR"] = str(var_dir)  # the workers' too: GX Data Docs and the dev PKI live there
        os.environ["HUB_PLAN_PARTITIONS"] = str(args.workers)  # one plan partition per worker
        pki = init_dev_pki(var_dir / "pki", partners=partner_ids())
        for load in args.dossiers:
            began = time.perf_counter()
            generated = {"dossiers": load, "seed": args.seed, "start": args.start_day}
            with sandbox_partners(
                work / f"sandbox-{load}", **generated, pki_dir=pki.folder, portals=len(args.stores)
            ) as partners:
                _say(
                    f"load {load:,}: {partners.records:,} city records over {len(partners.days)} working days "
                    f"{partners.days[0]}..{partners.days[-1]}, generated in {time.perf_counter() - began:.1f} s"
                )
                with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as alone:
                    floor = alone.submit(floor_of, partners, pki.folder).result()
                _say(f"  {floor.line()} ({load_average()})")
                runs = []
                for kind, portal in zip(args.stores, partners.portals, strict=True):
                    _say(f"  hub on {kind}")
                    profile_dir = work / "profile" / f"{kind}_{load}" if args.profile else None
                    if profile_dir:
                        profile_dir.mkdir(parents=True)
                    with fresh_store(kind, work, args.pg_url, f"{kind}_{load}") as url:
                        run = run_hub(kind, url, partners, portal, args.workers, var_dir, profile_dir)
                    if profile_dir:
                        report_profile(profile_dir, args.profile)
                    runs.append(run)
                    peaks[kind][load] = run.peak_rss_mib
                    problems += run.problems
            _say(f"load {load:,}, summary ({load_average()})")
            report(load, floor, runs, args.workers)
    report_memory(peaks)
    return verdict(problems, "OK: every dossier and progress entry accounted for")


if __name__ == "__main__":
    sys.exit(main())
