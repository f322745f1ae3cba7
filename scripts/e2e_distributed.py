"""The hub on Airflow's distributed shape, end to end on this machine: ``make e2e-distributed``.

Starts, all on 127.0.0.1 and free ports, under one temporary folder:
PostgreSQL (Debian package, ``scripts/test-postgres.sh``) holding the Airflow metadata DB *and* the
hub store; Redis (Debian ``redis-server``) as the Celery broker; ``airflow api-server``,
``scheduler``, ``dag-processor``, ``triggerer`` and two ``airflow celery worker`` processes
(CeleryExecutor); the sandbox partners. Then it runs one sync day the way an operator would --
every DAG run triggered, re-run (cleared) and watched through Airflow's REST API (``/api/v2``,
token from ``/auth/token``) -- and holds the result to the demo's acceptance test
(:mod:`hub.day_checks`): counts add up, the re-run sends nothing twice, the message log verifies.

On top of that it proves the distribution: task instances report which worker ran them (both must
appear), and one worker is SIGKILLed, with every process it started, while it runs a task. Its
tasks must be retried on the other worker and the day must still add up. Cron schedules are off
(``use_job_schedule``) so that only the triggered day runs; the retry delay is shortened and the
worker names are set by ``scripts/e2e_airflow/airflow_local_settings.py``.

Every process is stopped on exit (normal, error, Ctrl-C or SIGTERM); on failure the folder with
every process's log is kept and printed, with the last lines of the process that failed.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any

import psycopg2
import redis
import requests
import typer
from rich.console import Console
from rich.table import Table

from hub.processes import Processes, ProcessExited, free_port, tail

REPO_ROOT = Path(__file__).resolve().parent.parent
AIRFLOW_SETTINGS_DIR = Path(__file__).resolve().parent / "e2e_airflow"
HOST = "127.0.0.1"
VN = timezone(timedelta(hours=7))
EXTRACT_DAG = "city_dossiers_extract"
# What the extract's asset (and the ministries' own daily schedule) starts once the day is staged.
DOWNSTREAM_DAGS = ("national_portal_sync", "population_verify", "ministry_exchange")
WORKERS = ("hub-worker-a", "hub-worker-b")
VICTIM, SURVIVOR = WORKERS[1], WORKERS[0]
API_USER = "hub-e2e"
# Seconds without a heartbeat before the scheduler declares a task instance lost (default 300).
HEARTBEAT_TIMEOUT = 30
console = Console(highlight=False, width=120)  # CI logs are not a terminal: keep task names whole


class E2EFailure(RuntimeError):
    """The run failed; the message says what and where to look."""


def wait_until(what: str, check: Callable[[], Any], timeout: float, interval: float = 1.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException, redis.RedisError, psycopg2.OperationalError):
            if result := check():
                return result
        time.sleep(interval)
    raise E2EFailure(f"timed out after {timeout:.0f}s waiting for {what}")


# -- PostgreSQL and Redis ----------------------------------------------------------------------------


@contextlib.contextmanager
def postgres(data_dir: Path) -> Iterator[str]:
    """A throw-away cluster (``scripts/test-postgres.sh``) with an ``airflow`` and a ``hub`` database;
    yields the server URL without a database."""
    env = {**os.environ, "HUB_PG_DATA_DIR": str(data_dir)}
    script = [str(REPO_ROOT / "scripts" / "test-postgres.sh")]
    started = subprocess.run(["bash", *script, "start"], env=env, capture_output=True, text=True, check=False)
    try:
        if started.returncode != 0:
            raise E2EFailure(f"PostgreSQL did not start:\n{started.stderr[-2000:]}\n{tail(data_dir / 'server.log')}")
        server = started.stdout.strip().removeprefix("export HUB_TEST_PG_URL=").rsplit("/", 1)[0]
        connection = psycopg2.connect(server.replace("+psycopg2", "") + "/hub_test")
        connection.autocommit = True
        with connection.cursor() as cursor:
            for database in ("airflow", "hub"):
                cursor.execute(f"CREATE DATABASE {database}")
        connection.close()
        yield server
    finally:
        subprocess.run(["bash", *script, "stop"], env=env, capture_output=True, check=False)


def start_redis(processes: Processes, data_dir: Path) -> str:
    server = shutil.which("redis-server")
    if server is None:
        raise E2EFailure("redis-server not found: install the Debian package redis-server")
    port = free_port()
    data_dir.mkdir()
    processes.start(
        "redis",
        [server, "--bind", HOST, "--port", str(port), "--dir", str(data_dir), "--save", "", "--appendonly", "no"],
        dict(os.environ),
    )
    wait_until("Redis to answer PING", lambda: redis.Redis(host=HOST, port=port).ping(), timeout=30, interval=0.2)
    return f"redis://{HOST}:{port}/0"


# -- Airflow -----------------------------------------------------------------------------------------


def airflow_env(base: dict[str, str], home: Path, pg: str, broker: str, api_port: int) -> dict[str, str]:
    """The environment all Airflow processes share: CeleryExecutor, PostgreSQL, Redis, one API server."""
    from hub.airflow_env import airflow_environment

    home.mkdir()
    passwords = home / "simple_auth_manager_passwords.json"
    fd = os.open(passwords, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({API_USER: secrets.token_urlsafe(24)}, f)
    overrides = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"{pg}/airflow",
        "AIRFLOW__CELERY__BROKER_URL": broker,
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://{HOST}:{api_port}/execution/",
        "AIRFLOW__API__HOST": HOST,
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{API_USER}:admin",
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "airflow_local_settings.worker_hostname",
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT),
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",  # the DAG files do not change during the run
        "PYTHONPATH": os.pathsep.join(p for p in (str(AIRFLOW_SETTINGS_DIR), base.get("PYTHONPATH")) if p),
    }
    return airflow_environment({**base, **overrides})


def start_airflow(processes: Processes, env: dict[str, str]) -> None:
    """The services of one machine (``hub up``'s), plus two Celery workers."""
    from hub.local_deployment import airflow_services

    airflow = [sys.executable, "-m", "airflow"]
    for name, command in airflow_services(sys.executable).items():
        processes.start(name, command, env)
    for worker in WORKERS:
        processes.start(
            worker,
            [*airflow, "celery", "worker", "--celery-hostname", f"{worker}@%h", "--skip-serve-logs"],
            {**env, "HUB_E2E_HOSTNAME": worker},
        )


@dataclass
class Api:
    """Airflow's public REST API as an operator uses it: a token, then ``/api/v2``."""

    base: str
    session: requests.Session = field(default_factory=requests.Session)

    def login(self, username: str, password: str) -> None:
        reply = self.session.post(
            f"{self.base}/auth/token", json={"username": username, "password": password}, timeout=30
        )
        reply.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {reply.json()['access_token']}"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request; a read (GET) that times out or loses its connection is asked again, twice."""
        for attempt in range(3 if method == "GET" else 1):
            try:
                reply = self.session.request(method, f"{self.base}/api/v2{path}", timeout=60, **kwargs)
                break
            except (requests.Timeout, requests.ConnectionError) as exc:
                if attempt == 2 or method != "GET":
                    raise E2EFailure(f"{method} /api/v2{path}: the API server did not answer ({exc})") from exc
        if not reply.ok:
            raise E2EFailure(f"{method} /api/v2{path} answered {reply.status_code}: {reply.text[:500]}")
        return reply.json()

    def task_instances(self, run: Run) -> list[dict[str, Any]]:
        page = self.call("GET", f"/dags/{run.dag_id}/dagRuns/{run.run_id}/taskInstances", params={"limit": 100})
        if page["total_entries"] > len(page["task_instances"]):
            raise E2EFailure(f"{run} has more than 100 task instances: use a smaller --scale")
        return page["task_instances"]

    def tries(self, run: Run, ti: dict[str, Any]) -> list[dict[str, Any]]:
        path = f"/dags/{run.dag_id}/dagRuns/{run.run_id}/taskInstances/{ti['task_id']}/{ti['map_index']}/tries"
        return self.call("GET", path)["task_instances"]


@dataclass(frozen=True)
class Run:
    dag_id: str
    run_id: str

    def __str__(self) -> str:
        return f"{self.dag_id} run {self.run_id}"


def trigger(api: Api, dag_id: str, day: date) -> Run:
    """One DAG run for ``day`` (its data interval: the day in Hanoi), as ``POST .../dagRuns``."""
    start = datetime(day.year, day.month, day.day, tzinfo=VN)
    body = {
        "dag_run_id": f"e2e__{day}",
        "logical_date": start.isoformat(),
        "data_interval_start": start.isoformat(),
        "data_interval_end": (start + timedelta(days=1)).isoformat(),
    }
    return Run(dag_id, api.call("POST", f"/dags/{dag_id}/dagRuns", json=body)["dag_run_id"])


def clear(api: Api, run: Run) -> Run:
    """Re-run every task of ``run``, as an operator re-runs a day."""
    api.call("POST", f"/dags/{run.dag_id}/dagRuns/{run.run_id}/clear", json={"dry_run": False})
    return run


def await_runs(
    api: Api, processes: Processes, runs: list[Run], timeout: float, on_poll: Callable[[], None] | None = None
) -> None:
    """Wait until every run succeeded; fail on a failed run, a dead process or the timeout."""
    deadline = time.monotonic() + timeout
    pending = set(runs)
    while pending:
        processes.check_alive()
        if on_poll is not None:
            on_poll()
        for run in list(pending):
            state = api.call("GET", f"/dags/{run.dag_id}/dagRuns/{run.run_id}")["state"]
            if state == "success":
                pending.discard(run)
            elif state == "failed":
                failed = [t["task_id"] for t in api.task_instances(run) if t["state"] in ("failed", "upstream_failed")]
                raise E2EFailure(f"{run} failed (tasks: {', '.join(failed)}); task logs under the Airflow home")
        if time.monotonic() > deadline:
            raise E2EFailure(
                f"timed out after {timeout:.0f}s waiting for {', '.join(map(str, sorted(pending, key=str)))}"
            )
        time.sleep(3)


# -- the worker kill ---------------------------------------------------------------------------------


@dataclass
class WorkerKill:
    """Kills the victim worker the first time it is running a task after it already finished one."""

    api: Api
    processes: Processes
    runs: list[Run]
    killed_at: datetime | None = None
    pids: list[int] = field(default_factory=list)
    interrupted: list[tuple[Run, dict[str, Any]]] = field(default_factory=list)

    def __call__(self) -> None:
        if self.killed_at is not None:
            return
        instances = [(run, ti) for run in self.runs for ti in self.api.task_instances(run)]
        on_victim = [(run, ti) for run, ti in instances if ti["hostname"] == VICTIM]
        running = [(run, ti) for run, ti in on_victim if ti["state"] == "running"]
        if running and any(ti["state"] == "success" for _, ti in on_victim):
            self.pids = self.processes.kill(VICTIM)
            self.killed_at = datetime.now(UTC)
            self.interrupted = running


def recovery_rows(api: Api, kill: WorkerKill) -> list[tuple[str, list[dict[str, Any]]]]:
    """Each task the kill interrupted, with all its tries; fails unless it ended well on the survivor."""
    rows = []
    for run, ti in kill.interrupted:
        tries = api.tries(run, ti)
        name = _ti_name(run, ti)
        last = max(tries, key=lambda t: t["try_number"])
        if last["state"] != "success" or last["hostname"] != SURVIVOR or last["try_number"] < 2:
            raise E2EFailure(f"{name} was not recovered on {SURVIVOR}: {tries}")
        rows.append((name, sorted(tries, key=lambda t: t["try_number"])))
    return rows


def _ti_name(run: Run, ti: dict[str, Any]) -> str:
    mapped = f"[{ti['map_index']}]" if ti["map_index"] >= 0 else ""
    return f"{run.dag_id}.{ti['task_id']}{mapped}"


def placement(api: Api, runs: list[Run]) -> dict[str, Counter]:
    """task -> how many of its instances (the tries that succeeded) each worker ran."""
    where: dict[str, Counter] = defaultdict(Counter)
    for run in runs:
        for ti in api.task_instances(run):
            where[f"{run.dag_id}.{ti['task_id']}"][ti["hostname"]] += 1
    return where


def print_placement(where: dict[str, Counter]) -> None:
    table = Table("task", *WORKERS, title="First run: task -> worker that ran it (successful try)")
    for task, hosts in where.items():
        table.add_row(task, *(str(hosts.get(worker, 0)) for worker in WORKERS))
    console.print(table)


def print_recovery(kill: WorkerKill, rows: list[tuple[str, list[dict[str, Any]]]]) -> None:
    console.print(
        f"SIGKILL {VICTIM} at {kill.killed_at:%H:%M:%S} UTC ({len(kill.pids)} processes: the Celery worker, its pool, "
        f"the task supervisors) while it ran {len(rows)} task(s):"
    )
    for name, tries in rows:
        history = "; ".join(f"try {t['try_number']} on {t['hostname']}: {t['state']}" for t in tries)
        console.print(f"  {name}: {history}")


# -- the run -----------------------------------------------------------------------------------------


def run_day(
    work: Path, summary_path: Path, day: date, scale: float, seed: int, portal_latency_ms: int, timeout: float
) -> dict[str, Any]:
    """Everything between start-up and shutdown; writes and returns the summary, raises :class:`E2EFailure`."""
    os.environ["HUB_VAR_DIR"] = str(work / "var")  # sandbox, PKI, reports: the workers' and ours
    from hub import day_checks as checks
    from hub import paths
    from hub.cli.main import prepare_airflow
    from hub.connections import sandbox_connections
    from sandbox import runner

    started = time.monotonic()
    processes = Processes(work / "logs")
    processes.log_dir.mkdir()
    sandbox_dir = paths.sandbox_dir()
    with contextlib.ExitStack() as stack:
        pg = stack.enter_context(postgres(work / "postgres"))
        stack.callback(lambda: _report_stopped(processes.stop_all()))  # before PostgreSQL stops
        broker = start_redis(processes, work / "redis")
        console.print(f"PostgreSQL {pg.rsplit('@', 1)[1]} (airflow + hub databases), Redis {broker}")
        state = runner.up(sandbox_dir, day=day, scale=scale, seed=seed, fresh=True,
                          faults={"latency_ms": portal_latency_ms})  # fmt: skip
        stack.callback(runner.down, sandbox_dir)
        console.print(f"Sandbox: {state['data']['records_loaded']:,} city dossiers for {day}")
        api_port = free_port()
        env = airflow_env(dict(os.environ), work / "airflow", pg, broker, api_port)
        env.update(sandbox_connections(state))
        env["HUB_STORE_URL"] = store_url = f"{pg}/hub"
        try:
            prepare_airflow(env)
        except typer.Exit as exc:
            raise E2EFailure("Airflow's metadata DB could not be migrated (see above)") from exc
        start_airflow(processes, env)
        api = Api(f"http://{HOST}:{api_port}")
        wait_until("the API server", lambda: processes.check_alive() or api.session.get(
            f"{api.base}/api/v2/monitor/health", timeout=5).ok, timeout=180)  # fmt: skip
        password = json.loads(Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).read_text())[API_USER]
        api.login(API_USER, password)
        dag_ids = {EXTRACT_DAG, *DOWNSTREAM_DAGS}
        wait_until("the dag-processor to parse the hub's DAGs", lambda: processes.check_alive() or dag_ids <= {
            d["dag_id"] for d in api.call("GET", "/dags", params={"limit": 100})["dags"]}, timeout=180)  # fmt: skip
        for worker in WORKERS:
            wait_until(f"Celery worker {worker}", lambda w=worker: processes.check_alive() or " ready." in
                       processes.log(w).read_text(errors="replace"), timeout=120)  # fmt: skip
        console.print(f"Airflow up in {time.monotonic() - started:.0f}s: api-server, scheduler, dag-processor, "
                      f"triggerer, Celery workers {' and '.join(WORKERS)}")  # fmt: skip

        portal = state["national_portal"]["url"]
        calls_before = checks.portal_send_calls(portal)
        extract = trigger(api, EXTRACT_DAG, day)
        await_runs(api, processes, [extract], timeout)
        downstream = [trigger(api, dag_id, day) for dag_id in DOWNSTREAM_DAGS]
        kill = WorkerKill(api, processes, downstream)
        await_runs(api, processes, downstream, timeout, on_poll=kill)
        first_runs = [extract, *downstream]
        where = placement(api, first_runs)
        first_calls = checks.portal_send_calls(portal) - calls_before
        console.print(f"First run: DAGs succeeded, {first_calls:,} calls sent to the portal.")
        if kill.killed_at is None:
            raise E2EFailure(f"{VICTIM} never ran a task after finishing one, so it could not be killed mid-run")
        if not all(any(hosts[w] for hosts in where.values()) for w in WORKERS):
            raise E2EFailure(f"tasks did not run on both workers: {dict(where)}")
        recovered = recovery_rows(api, kill)
        first = checks.latest_report("sync")
        population, ministries = checks.latest_report("population"), checks.latest_report("ministry")

        calls_before = checks.portal_send_calls(portal)
        await_runs(api, processes, [clear(api, extract)], timeout)
        await_runs(api, processes, [clear(api, run) for run in downstream], timeout)
        rerun_calls = checks.portal_send_calls(portal) - calls_before
        console.print(f"Re-run (cleared through the API): DAGs succeeded, {rerun_calls:,} calls sent to the portal.")
        rerun = checks.latest_report("sync")
        evidence = checks.evidence_status(store_url)

        print_placement(where)
        print_recovery(kill, recovered)
        checks.print_sync_summary(console, first, rerun_calls, summary_path)
        checks.print_partner_summaries(console, population, ministries)
        checks.print_evidence(console, evidence, store_url)
        summary = {
            "day": day.isoformat(), "scale": scale, "seed": seed, "workers": list(WORKERS),
            "placement": {task: dict(hosts) for task, hosts in where.items()},
            "killed": {"worker": VICTIM, "at": kill.killed_at.isoformat(), "pids": kill.pids,
                       "recovered": {name: tries for name, tries in recovered}},
            "first_run": first, "re_run": rerun, "re_run_portal_calls": rerun_calls,
            "population_verify": population, "ministry_exchange": ministries, "message_log": evidence,
        }  # fmt: skip
        summary_path.parent.mkdir(parents=True, exist_ok=True)
        summary_path.write_text(json.dumps(summary, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
        if problems := checks.day_problems(first, rerun_calls, evidence, population, ministries):
            raise E2EFailure("; ".join(problems))
    console.print(f"Distributed run passed in {time.monotonic() - started:.0f}s.")
    return summary


def _report_stopped(forced: list[str]) -> None:
    if forced:
        console.print(f"[yellow]had to SIGKILL after 30s: {', '.join(forced)}[/]")


def _raise_on_sigterm(signum: int, _frame: Any) -> None:
    """CI cancelling the job: unwind like Ctrl-C so every process is stopped."""
    raise KeyboardInterrupt(f"interrupted by signal {signum}; every process was stopped")


app = typer.Typer(add_completion=False)


@app.command()
def main(
    day: Annotated[date, typer.Option(formats=["%Y-%m-%d"], help="Sample day the city system generates.")] = date(
        2026, 11, 20
    ),
    scale: Annotated[float, typer.Option(help="Share of a full day (~11,000 dossiers at 1.0).")] = 0.05,
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 7,
    portal_latency_ms: Annotated[
        int, typer.Option(help="Latency the sandbox portal adds per call, so deliveries last long enough to be killed.")
    ] = 300,
    timeout: Annotated[float, typer.Option(help="Seconds each group of DAG runs may take.")] = 900,
    keep: Annotated[bool, typer.Option(help="Keep the temporary folder (logs, summary) after a passing run.")] = False,
) -> None:
    """Run one sync day on PostgreSQL, Redis, the Airflow services and two Celery workers; kill one mid-run.

    Example: uv run python scripts/e2e_distributed.py --scale 0.05
    """
    from hub.paths import var_dir

    summary_path = var_dir() / "e2e-distributed" / "summary.json"  # outlives the temporary folder
    work = Path(tempfile.mkdtemp(prefix="hub-e2e-distributed-"))
    work.chmod(0o711)  # PostgreSQL runs as its own user and must reach its data folder inside
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    console.print(f"Working folder (logs, data): {work}")
    try:
        run_day(work, summary_path, day, scale, seed, portal_latency_ms, timeout)
    except (E2EFailure, ProcessExited, KeyboardInterrupt) as exc:
        console.print(f"[bold red]e2e-distributed FAILED:[/] {exc}")
        console.print(f"Logs of every process: {work / 'logs'}; Airflow task logs: {work / 'airflow' / 'logs'}")
        raise typer.Exit(1) from exc
    except Exception:
        console.print(f"[bold red]e2e-distributed crashed;[/] logs of every process: {work / 'logs'}")
        raise
    if not keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    app()
