"""The chaos suite: ``make chaos`` -- a sync day run under SIGKILLs and faulty partners, then checked
against the partners' own stores.

One generated day goes through the hub's DAG task code (:mod:`hub.jobs`, the functions the DAGs
call) in the order the DAGs run it -- extract, the portal sync (dossiers, then progress), the
population register checks, every ministry's push, status and pull-back, the postal dispatch and
tracking -- each task instance in a child process of its own, as an executor runs it. Every
partner's fault injector (:mod:`sandbox.faults`) answers 20 % of calls HTTP 503, holds 5 % past the
client's read timeout after doing the work, and cuts 2 % of replies in half; children are SIGKILLed
at seeded random moments (``--kills``, default 100 over the runs) and, like Airflow, a killed or
failed task is run again (up to ``--attempts`` times; then its flow waits for the next run). Chaos
runs go on until every kill has been used; then one completion run without faults or kills.

Then the day is held to what the partners themselves hold (their ``/sandbox`` stores, never the
hub's word): every dossier the city has is accounted for by the hub's identity and nothing the hub
calls delivered is missing at the portal (0 lost); the portal, each ministry and each carrier hold
each dossier, progress entry or order once (0 duplicated); the message log verifies with no open
intents (0 evidence gaps); and every flow's counts add up. A short table is printed; exit 1 on any
failure. ``tests/scripts/test_chaos.py`` runs a short version in ``make test``.

    uv run python scripts/chaos.py [--kills 100] [--seed 1] [--scale 0.02]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as `python scripts/chaos.py` (and as the children it starts)
    sys.path.insert(0, str(REPO_ROOT))

from adapters.partners import carriers, ministries, partner  # noqa: E402
from hub.connections import sandbox_connections  # noqa: E402
from hub.day_checks import evidence_status  # noqa: E402
from signing.config import hub_identity, trust_store  # noqa: E402

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = date(2026, 11, 20)
# The fault mix; a "timeout" is held past the client's read timeout after the work is done.
CHAOS_FAULTS = {"error_rate": 0.20, "timeout_rate": 0.05, "malformed_rate": 0.02, "timeout_s": 3.0}
NO_FAULTS = {"error_rate": 0.0, "timeout_rate": 0.0, "malformed_rate": 0.0}
# Short read timeout and backoff so a held reply costs seconds, not the production 30 s.
TRANSPORT = {"read_timeout": 2.0, "backoff_initial": 0.05, "backoff_max": 0.5}
PROGRESS = "CapNhatTienDoHoSoMC"
FORK = get_context("fork")


# -- one task instance, in the child ---------------------------------------------------------------


def _client(partner_id: str) -> Any:
    from adapters.hooks import PartnerHook

    return PartnerHook(partner_id).get_client()


def _window(day: str) -> tuple[datetime, datetime]:
    start = datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=HANOI)
    return start, start + timedelta(days=1)


def run_task(kind: str, args: list[Any]) -> Any:
    """Run one DAG task's code (what the DAG file's task calls) and return its result."""
    from hub.jobs import extract, ministry, population, portal, postal

    tasks: dict[str, Callable[..., Any]] = {
        "extract": lambda day: extract.extract(_client("city_system"), *_window(day)),
        "portal.plan": lambda: portal.plan_portal_sync(),
        "portal.deliver": lambda b: portal.deliver_portal_dossiers(_client("national_portal"), b),
        "portal.plan_progress": lambda: portal.plan_portal_progress(),
        "portal.progress": lambda b: portal.deliver_portal_progress(_client("national_portal"), b),
        "portal.summarize": lambda: portal.summarize_portal_sync(None),
        "population.plan": lambda: population.plan(),
        "population.verify": lambda b: population.verify(_client("population_db"), b),
        "population.summarize": lambda: population.summarize(None),
        "ministry.plan_push": lambda p: ministry.plan_push(p),
        "ministry.push": lambda p, b: ministry.push(_client(p), p, b),
        "ministry.plan_status": lambda p: ministry.plan_status(p),
        "ministry.check_status": lambda p, b: ministry.check_status(_client(p), p, b),
        "ministry.plan_pull": lambda p, day: ministry.plan_pull(p, *_window(day)),
        "ministry.pull": lambda p, w: ministry.pull(_client(p), p, w),
        "ministry.close_pull": lambda p, day, reports: ministry.close_pull(p, _window(day)[1], reports),
        "ministry.summarize": lambda pulls: ministry.summarize(None, pulls),
        "postal.plan": lambda: postal.plan_dispatch(list(carriers())),
        "postal.place": lambda c, b: postal.place(_client(c), b),
        "postal.summarize": lambda: postal.summarize_dispatch(None),
        "postal.track": lambda c: postal.track(_client(c)),
        "postal.summarize_tracking": lambda reports: postal.summarize_tracking(None, reports),
    }
    return tasks[kind](*args)


# -- the parent: task instances in children, killed at random ----------------------------------------


class TaskFailed(RuntimeError):
    """A task failed every attempt of this run; its flow waits for the next run."""


@dataclass
class Executor:
    """Runs task instances in child processes, SIGKILLing some at seeded random moments."""

    folder: Path
    rng: random.Random
    kills_left: int = 0
    kill_share: float = 0.5
    attempts: int = 4
    tally: Counter = field(default_factory=Counter)
    durations: dict[str, float] = field(default_factory=dict)
    seconds: Counter = field(default_factory=Counter)
    given_up: list[tuple[str, list[Any]]] = field(default_factory=list)

    def run(self, kind: str, *args: Any) -> Any:
        for _ in range(self.attempts):
            ok, result = self._attempt(kind, list(args))
            if ok:
                return result
        self.tally["tasks given up (cleared for the completion run)"] += 1
        if (kind, list(args)) not in self.given_up:
            self.given_up.append((kind, list(args)))
        raise TaskFailed(kind)

    def clear_given_up(self) -> None:
        """What an operator does with a day's failed task instances: clear them, so each runs again
        with its own arguments -- the same batch, whose items it still holds claimed."""
        given_up, self.given_up = self.given_up, []
        for kind, args in given_up:
            with contextlib.suppress(TaskFailed):  # the checks then show what it left undone
                self.run(kind, *args)

    def _attempt(self, kind: str, args: list[Any]) -> tuple[bool, Any]:
        out = self.folder / "task-result.json"
        out.unlink(missing_ok=True)
        started = time.monotonic()
        # Forked as a prefork executor's worker starts a task: the parent has imported the hub
        # already, so a task instance starts in milliseconds, not in seconds of imports.
        child = FORK.Process(target=_task_in_child, args=(kind, args, out, self.folder / "tasks.log"))
        child.start()
        self.tally["task instances started"] += 1
        kill_at = None
        if self.kills_left and self.rng.random() < self.kill_share:
            kill_at = started + self.rng.uniform(0.0, self.durations.get(kind, 1.0))
        while child.exitcode is None:
            if kill_at is not None and time.monotonic() >= kill_at:
                os.kill(child.pid, signal.SIGKILL)
                child.join()
                self.kills_left -= 1
                self.tally["SIGKILLs"] += 1
                return False, None
            child.join(0.005)
        if child.exitcode != 0:
            self.tally["task attempts failed (exception)"] += 1
            return False, None
        self.durations[kind] = max(time.monotonic() - started, 0.05)
        self.seconds[kind] += time.monotonic() - started
        return True, json.loads(out.read_text(encoding="utf-8"))


def _task_in_child(kind: str, args: list[Any], out: Path, log_path: Path) -> None:
    """The child's body: run the task, its result to ``out``; its output and, if it fails, its
    traceback to the tasks' log (the table stays readable)."""
    import traceback

    with log_path.open("a", encoding="utf-8") as log:
        os.dup2(log.fileno(), sys.stdout.fileno())
        os.dup2(log.fileno(), sys.stderr.fileno())
        try:
            out.write_text(json.dumps(_jsonable(run_task(kind, args))), encoding="utf-8")
        except Exception:
            print(f"{kind} {args}:\n{traceback.format_exc()}", file=sys.stderr, flush=True)
            os._exit(1)
    os._exit(0)


def _jsonable(value: Any) -> Any:
    """A task's result as JSON can carry it (a report may count by tuple keys: they become text)."""
    if isinstance(value, dict):
        return {k if isinstance(k, str) else str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


def preload() -> None:
    """Import what the task instances use once, in the parent, so each forked child starts warm."""
    for module in (
        "adapters.hooks",
        *(f"hub.jobs.{flow}" for flow in ("extract", "portal", "population", "ministry", "postal")),
    ):
        importlib.import_module(module)


def run_day(executor: Executor, day: str) -> dict[str, Any]:
    """The day's tasks in the DAGs' order; a flow whose task gave up stops there until the next run.
    Returns the summaries that ran (flow -> report)."""
    summaries: dict[str, Any] = {}

    def flow(name: str, body: Callable[[], Any]) -> None:
        with contextlib.suppress(TaskFailed):
            summaries[name] = body()

    def portal_flow() -> Any:
        for batch in executor.run("portal.plan"):
            executor.run("portal.deliver", batch)
        for batch in executor.run("portal.plan_progress"):
            executor.run("portal.progress", batch)
        return executor.run("portal.summarize")

    def population_flow() -> Any:
        for batch in executor.run("population.plan"):
            executor.run("population.verify", batch)
        return executor.run("population.summarize")

    def ministry_flow() -> Any:
        pulls = []
        for ministry in ministries():
            if partner(ministry).pushes:
                for batch in executor.run("ministry.plan_push", ministry):
                    executor.run("ministry.push", ministry, batch)
                for batch in executor.run("ministry.plan_status", ministry):
                    executor.run("ministry.check_status", ministry, batch)
            reports = [
                executor.run("ministry.pull", ministry, w) for w in executor.run("ministry.plan_pull", ministry, day)
            ]
            pulls.append(executor.run("ministry.close_pull", ministry, day, reports))
        return executor.run("ministry.summarize", pulls)

    def postal_flow() -> Any:
        for carrier, batches in executor.run("postal.plan").items():
            for batch in batches:
                executor.run("postal.place", carrier, batch)
        dispatch = executor.run("postal.summarize")
        tracked = [executor.run("postal.track", carrier) for carrier in carriers()]
        return {"dispatch": dispatch, "tracking": executor.run("postal.summarize_tracking", tracked)}

    try:
        executor.run("extract", day)
    except TaskFailed:
        return summaries
    for name, body in (
        ("portal", portal_flow),
        ("population", population_flow),
        ("ministry", ministry_flow),
        ("postal", postal_flow),
    ):
        flow(name, body)
    return summaries


# -- the partners ----------------------------------------------------------------------------------


def day_partners() -> tuple[str, ...]:
    """The partners a sync day calls after the extract: the portal, the population register, the
    ministries and the carriers."""
    return ("national_portal", "population_db", *ministries(), *carriers())


def set_faults(state: dict[str, Any], faults: dict[str, Any], seed: int) -> None:
    """Set the fault injector of every partner of the day (each its own seed)."""
    for index, partner_id in enumerate(day_partners()):
        url = f"{state[partner_id]['url']}/sandbox/faults"
        requests.post(url, json={**faults, "seed": seed + index}, timeout=10).raise_for_status()


def faults_served(state: dict[str, Any]) -> Counter:
    """Faults the partners say they served (those whose ``/sandbox/stats`` counts them)."""
    served: Counter = Counter()
    for partner_id in day_partners():
        reply = requests.get(f"{state[partner_id]['url']}/sandbox/stats", timeout=10)
        if reply.ok:
            served.update(reply.json().get("faults") or {})
    return served


def _get(url: str, **params: str) -> Any:
    reply = requests.get(url, params=params, timeout=60)
    reply.raise_for_status()
    return reply.json()


# -- the checks ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    name: str
    expected: str
    found: str
    ok: bool


def portal_checks(portal_url: str, day: str, summary: dict[str, Any]) -> list[Check]:
    """The portal's own store against the hub's counts: dossiers of the city the hub delivered are
    held once each, progress entries the hub had acknowledged stored once each."""
    held = Counter(
        item["MaHoSo"] for item in _get(f"{portal_url}/sandbox/export/dossiers", **{"from": day, "to": day})["items"]
    )
    by_ministry = {
        item["MaHoSo"] for item in _get(f"{portal_url}/sandbox/ministry-syncs", **{"from": day, "to": day})["items"]
    }
    from_city = {number: n for number, n in held.items() if number not in by_ministry}
    delivered = summary["counts"]["delivered"]
    stored = _get(f"{portal_url}/sandbox/stats")["records"].get(PROGRESS, {}).get("stored", 0)
    states = summary["outbox_records"][PROGRESS]  # entries, not messages: a dossier's history is one message
    acknowledged = states["acknowledged"]
    doubled = sum(n - 1 for n in held.values())
    return [
        Check("portal: delivered dossiers held", f"{delivered:,}", f"{len(from_city):,}", len(from_city) == delivered),
        Check("portal: dossiers held twice", "0", str(doubled), doubled == 0),
        Check(
            "portal: progress entries stored",
            f"{acknowledged:,} (hub: {states})",
            f"{stored:,}",
            stored == acknowledged == sum(states.values()) - states.get("quarantined", 0),
        ),
    ]


def ministry_checks(state: dict[str, Any], summary: dict[str, Any]) -> list[Check]:
    """Each pushing ministry holds as many registrations sent by the hub as the hub has acknowledged."""
    checks = []
    for ministry, report in summary["ministries"].items():
        if not report["pushes"]:
            continue
        sent = _get(f"{state[ministry]['url']}/sandbox/summary")["sent"]
        acknowledged = report["push"]["acknowledged"]
        checks.append(
            Check(f"{ministry}: pushed dossiers held", f"{acknowledged:,}", f"{sent:,}", sent == acknowledged)
        )
    return checks


def postal_checks(state: dict[str, Any], summary: dict[str, Any]) -> list[Check]:
    """The carriers together hold one order per result the hub says it ordered."""
    held = sum(_get(f"{state[c]['url']}/sandbox/stats")["held"]["orders"] for c in carriers())
    ordered = summary["dispatch"]["dispatch"]["ordered"]
    return [Check("carriers: orders held", f"{ordered:,}", f"{held:,}", held == ordered)]


def identity_checks(summaries: dict[str, Any], loaded: int) -> list[Check]:
    """Every flow finished its completion run with counts that add up, nothing left pending."""
    checks = [
        Check(f"{flow}: completion run", "finished", "did not finish", False)
        for flow in ("portal", "population", "ministry", "postal")
        if flow not in summaries
    ]
    if "portal" in summaries:
        counts = summaries["portal"]["counts"]
        holds = summaries["portal"]["identity_holds"] and counts["extracted"] == loaded
        parts = " + ".join(f"{counts[k]:,}" for k in ("delivered", "quarantined", "pending", "out_of_scope"))
        checks += [
            Check("portal: city = delivered + quarantined + pending + out of scope", f"{loaded:,} extracted",
                  f"{counts['extracted']:,} = {parts}", holds),
            Check("portal: pending after the completion run", "0", str(counts["pending"]), counts["pending"] == 0),
        ]  # fmt: skip
    reports = {
        "population: counts add up": summaries.get("population"),
        "ministries: counts add up": summaries.get("ministry"),
        "postal: ready = ordered + pending + quarantined": (summaries.get("postal") or {}).get("dispatch"),
    }
    for name, report in reports.items():
        if report is not None:
            checks.append(Check(name, "yes", "yes" if report["identity_holds"] else "no", report["identity_holds"]))
    return checks


def evidence_checks(store_url: str) -> list[Check]:
    evidence = evidence_status(store_url)
    return [
        Check(
            "message log verifies", "intact", "intact" if evidence["ok"] else str(evidence["problem"]), evidence["ok"]
        ),
        Check("requests with no recorded outcome", "0", str(evidence["open_intents"]), evidence["open_intents"] == 0),
    ]


# -- the run ---------------------------------------------------------------------------------------


@dataclass
class ChaosResult:
    tally: Counter
    faults: Counter
    checks: list[Check]
    chaos_runs: int
    seconds: float

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)


def chaos_day(folder: Path, *, kills: int, seed: int, scale: float, day: date = DAY, max_runs: int = 50) -> ChaosResult:
    """Start the partners in ``folder``, run the day under faults and ``kills`` SIGKILLs, then once
    without either, and check the result against the partners' stores."""
    from sandbox import runner

    started = time.monotonic()
    preload()
    sandbox_dir = folder / "sandbox"
    store_url = f"sqlite:///{folder / 'hub.db'}"
    # Redelivery waits compressed to nothing (as the sync tests do): the completion run stands for
    # the run after every backoff has passed, so whatever a fault delayed is due in it.
    with environment({"HUB_VAR_DIR": str(folder / "var"), "HUB_STORE_URL": store_url, "HUB_RETRY_BASE_S": "0"}):
        state = runner.up(sandbox_dir, day=day, scale=scale, seed=seed, fresh=True)
        _forget_signing_config()  # read from the day's own var/pki from here on
        try:
            with environment(sandbox_connections(state, TRANSPORT)):
                return _day_under_chaos(
                    state, folder, store_url, kills=kills, seed=seed, day=day, max_runs=max_runs, started=started
                )
        finally:
            runner.down(sandbox_dir)
            _forget_signing_config()


def _forget_signing_config() -> None:
    """Drop this process's cached signing identity and trust store (``signing.config`` reads them
    once per process from ``HUB_VAR_DIR``): on entering the day, so it signs with the PKI the
    sandbox was started with; on leaving it, so a caller going on in this process (the test
    session running the short version) does not sign with, and trust only, the day's PKI."""
    hub_identity.cache_clear()
    trust_store.cache_clear()


@contextlib.contextmanager
def environment(changes: dict[str, str]) -> Iterator[None]:
    """Set ``changes`` in this process's environment (which the forked task instances inherit:
    the hooks read Connections and the store from it), restored afterwards."""
    saved = {name: os.environ.get(name) for name in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _day_under_chaos(
    state: dict[str, Any],
    folder: Path,
    store_url: str,
    *,
    kills: int,
    seed: int,
    day: date,
    max_runs: int,
    started: float,
) -> ChaosResult:
    executor = Executor(folder, random.Random(seed), kills_left=kills)
    set_faults(state, CHAOS_FAULTS, seed)
    runs = 0
    while executor.kills_left and runs < max_runs:
        run_day(executor, day.isoformat())
        runs += 1
    faults = faults_served(state)
    set_faults(state, NO_FAULTS, seed)
    executor.kills_left = 0
    executor.clear_given_up()
    summaries = run_day(executor, day.isoformat())
    checks = identity_checks(summaries, state["data"]["records_loaded"])
    if "portal" in summaries:
        checks += portal_checks(state["national_portal"]["url"], day.isoformat(), summaries["portal"])
    if "ministry" in summaries:
        checks += ministry_checks(state, summaries["ministry"])
    if "postal" in summaries:
        checks += postal_checks(state, summaries["postal"])
    checks += evidence_checks(store_url)
    if executor.kills_left:
        checks.append(Check("SIGKILLs used", f"{kills}", f"{kills - executor.kills_left}", False))
    return ChaosResult(executor.tally, faults, checks, runs, time.monotonic() - started)


def print_result(result: ChaosResult, *, kills: int, seed: int, scale: float) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, width=120)
    done = Table("what was done", "", title=f"Chaos day (seed {seed}, scale {scale}, {kills} kills asked)")
    done.add_row("chaos runs (faults + kills), then 1 completion run", str(result.chaos_runs))
    for what, n in sorted(result.tally.items()):
        done.add_row(what, f"{n:,}")
    for fault, n in sorted(result.faults.items()):
        done.add_row(f"faults served by the portal: {fault}", f"{n:,}")
    done.add_row("fault rates at every partner of the day", "20 % HTTP 503, 5 % held past timeout, 2 % cut short")
    done.add_row("wall time", f"{result.seconds:.0f} s (load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    console.print(done)
    checks = Table("check (against the partners' own stores)", "expected", "found", "", title="Checks")
    for check in result.checks:
        checks.add_row(check.name, check.expected, check.found, "[green]ok[/]" if check.ok else "[red]FAIL[/]")
    console.print(checks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    task = sub.add_parser("task", help="(internal) run one task instance and write its result")
    task.add_argument("kind")
    task.add_argument("args")
    task.add_argument("out", type=Path)
    parser.add_argument("--kills", type=int, default=100, help="SIGKILLs over the chaos runs (default 100)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale", type=float, default=0.02, help="share of a full day's city dossiers")
    options = parser.parse_args(argv)
    if options.command == "task":
        result = run_task(options.kind, json.loads(options.args))
        options.out.write_text(json.dumps(result, default=str), encoding="utf-8")
        return 0
    folder = Path(tempfile.mkdtemp(prefix="hub-chaos-"))
    result = chaos_day(folder, kills=options.kills, seed=options.seed, scale=options.scale)
    print_result(result, kills=options.kills, seed=options.seed, scale=options.scale)
    if not result.ok:
        print(f"Kept for a look: {folder} (tasks.log: every failed task's traceback; hub.db: the store)")
        return 1
    shutil.rmtree(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
