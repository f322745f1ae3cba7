"""The ``hub`` command line: what a data engineer types to run, watch and inspect the hub."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console

from adapters import partners
from hub.airflow_env import airflow_environment
from hub.cli.analytics import app as analytics_app
from hub.cli.analytics import warehouse_check
from hub.cli.catalogue import app as catalogue_app
from hub.cli.connections import app as connections_app
from hub.cli.evidence import app as evidence_app
from hub.cli.open_data import open_data_app
from hub.cli.outbox import app as outbox_app
from hub.cli.quarantine import app as quarantine_app
from hub.cli.reconcile import reconcile_command
from hub.cli.signing import pki_app, sign, verify
from hub.cli.webhooks import app as webhooks_app
from hub.cli.webhooks import callback_receiver, land_callbacks, payment_confirmations
from hub.connections import sandbox_connections
from hub.day_checks import (
    advance_carriers,
    day_problems,
    evidence_status,
    latest_report,
    lose_one_portal_dossier,
    ministry_syncs,
    notification_problems,
    notifications_seen,
    portal_count_problems,
    portal_send_calls,
    postal_problems,
    print_evidence,
    print_notifications,
    print_partner_summaries,
    print_postal,
    print_reconciliation,
    print_sync_summary,
    reconciliation_document,
    reconciliation_problems,
)
from hub.local_deployment import TIMEZONE, airflow_services, connections_document, up_dir, up_environment, user_names
from hub.observability.logging import configure_json_logging, route_library_logs
from hub.paths import keep_private, log_file, reports_dir, sandbox_dir, store_url, var_dir
from hub.payment_checks import payment_problems, print_payments
from hub.processes import Processes, ProcessExited
from quality.reconcile.model import DEFAULT_EXPECTED, DifferenceClass

app = typer.Typer(help="Hanoi dossier integration hub.", no_args_is_help=True, add_completion=False)
sandbox_app = typer.Typer(
    help="Sandbox partners (city system, portal, population register, ministries, postal carriers) on 127.0.0.1.",
    no_args_is_help=True,
)
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(outbox_app, name="outbox")
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(evidence_app, name="evidence")
app.add_typer(catalogue_app, name="catalogue")
app.add_typer(pki_app, name="pki")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(connections_app, name="connections")
app.add_typer(analytics_app, name="analytics")
app.add_typer(open_data_app, name="open-data")
app.command("sign")(sign)
app.command("verify")(verify)
app.command("reconcile")(reconcile_command)
console = Console()
HANOI = ZoneInfo(TIMEZONE)
DEMO_DAGS = (
    "city_dossiers_extract",
    "national_portal_sync",
    "population_verify",
    "ministry_exchange",
    "postal_dispatch",
)
# Run once the carriers' simulated clocks have moved on: parcels tracked to their end, citizens told on
# iHaNoi, then the day reconciled. The warehouse export runs after the reconciliation, in both rounds:
# the re-run must replace the day.
DEMO_FOLLOW_UP_DAGS = ("postal_tracking", "citizen_notifications", "reconcile_daily", "analytics_export")
CALLBACK_CARRIERS = ("viettel_post",)  # carriers whose tracking needs the callback receiver running
# Days the sandbox carriers live through between dispatch and tracking (most parcels arrive in 1-3).
CARRIER_DAYS = 5
# The differences the demo day carries on purpose, which its reconciliation must find and explain:
# a dossier the portal loses after acknowledging it, records the city generator breaks
# (quarantined), dossiers processed only on ministry software -- which the ministries also synced to
# the portal themselves (extra at the portal, each explained by its ministry's pull-back: a flag on
# the ministry-only dossier, which is counted once).
DEMO_DIFFERENCES = ("missing_at_portal", "quarantined", "ministry_only", "extra_at_portal")
# The payment platform's day carries one discrepancy of each payment class on purpose
# (sandbox.payment_platform.ledger): the reconciliation must find them, and they are expected.
DEMO_PAYMENT_CLASSES = (
    DifferenceClass.PAYMENT_NOT_PAID,
    DifferenceClass.PAYMENT_AMOUNT_DIFFERS,
    DifferenceClass.PAYMENT_UNCLAIMED,
)

DayOption = Annotated[date, typer.Option(formats=["%Y-%m-%d"], help="Sample day the city system generates.")]
ScaleOption = Annotated[float, typer.Option(help="Share of a full day (~11,000 dossiers at 1.0).")]
SeedOption = Annotated[int, typer.Option(help="Generator seed: same seed, same dossiers.")]


def _fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(1)


def run_airflow(*args: str, env: dict[str, str], quiet: bool = False, log: Path | None = None) -> None:
    """Run the Airflow CLI of this environment; its failure is ours, with its last lines shown.

    ``log``: keep everything it printed in that file (0600, the folder 0700), kept whether it
    succeeds or fails -- ``airflow dags test`` runs its tasks in its own process and prints their
    logs instead of writing Airflow's task-log files, so this file is where its task logs are."""
    command = [sys.executable, "-m", "airflow", *args]
    result = subprocess.run(command, env=env, capture_output=quiet or log is not None, text=True, check=False)
    output = (result.stdout or "") + (result.stderr or "")
    if log is not None:
        log.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as kept:
            kept.write(output)
        if not quiet:
            console.out(output, end="", highlight=False)
    if result.returncode != 0:
        tail = "\n".join(output.splitlines()[-30:])
        where = f"\nthe whole output: {log}" if log is not None else ""
        _fail(f"`airflow {' '.join(args)}` exited {result.returncode}\n{tail}{where}")


def dags_test_log(env: dict[str, str], dag_id: str, day: date, round_name: str) -> Path:
    """Where a ``dags test`` run of the demo keeps its task logs: beside Airflow's own task logs,
    ``<base_log_folder>/dags_test/dag_id=<dag>/<day>-<round>.log``."""
    folder = Path(env["AIRFLOW__LOGGING__BASE_LOG_FOLDER"]) / "dags_test" / f"dag_id={dag_id}"
    return folder / f"{day}-{round_name.replace(' ', '-')}.log"


def airflow_pools() -> dict[str, dict[str, object]]:
    """The partner pools of adapters/partners.py in the JSON ``airflow pools import`` reads: written
    from the registry at each start, so no pools file can fall out of step with it."""
    return {
        name: {"slots": pool.slots, "description": pool.description, "include_deferred": False}
        for name, pool in partners.pools().items()
    }


def prepare_airflow(env: dict[str, str]) -> None:
    """Migrate the metadata DB and create the partner pools; both are idempotent."""
    run_airflow("db", "migrate", env=env, quiet=True)
    with tempfile.TemporaryDirectory(prefix="hub-pools-") as folder:
        pools_file = Path(folder) / "pools.json"
        pools_file.write_text(json.dumps(airflow_pools(), indent=2), encoding="utf-8")
        run_airflow("pools", "import", str(pools_file), env=env, quiet=True)


@app.command("airflow-init")
def airflow_init() -> None:
    """Migrate Airflow's metadata DB under var/, create the partner pools and the hub store's tables.

    The tables are created as ``HUB_STORE_OWNER_URL`` when it is set: in a deployment the roles the
    services log in as may read and write rows but not create tables (docs/operations.md).

    Example: hub airflow-init
    """
    import os

    from hub.store.default import store_for

    prepare_airflow(airflow_environment())
    owner = store_for(os.environ.get("HUB_STORE_OWNER_URL") or store_url())  # creates the schema
    owner.db.engine.dispose()
    console.print("Airflow metadata DB migrated, pools and hub store tables created.")


@sandbox_app.command("up")
def sandbox_up(
    day: DayOption,
    scale: ScaleOption = 0.1,
    seed: SeedOption = 7,
    fresh: bool = False,
    webhook_url: Annotated[
        str | None, typer.Option(help="The hub's receiver (hub webhooks serve); carriers post status callbacks there.")
    ] = None,
) -> None:
    """Start the sandbox partners in the background and load a generated day.

    Without --webhook-url the carriers send no callbacks and the hub learns parcel states by polling.

    Examples:
      hub sandbox up --day 2026-11-20 --scale 0.1
      hub sandbox up --day 2026-11-20 --webhook-url http://127.0.0.1:8088
    """
    from adapters.partners import partner_ids
    from sandbox import runner

    try:
        state = runner.up(sandbox_dir(), day=day, scale=scale, seed=seed, fresh=fresh, webhook_url=webhook_url)
    except RuntimeError as exc:
        _fail(str(exc))
    for name in partner_ids():
        console.print(f"{name.replace('_', ' '):<22} {state[name]['url']}", highlight=False)
    console.print(f"{state['data']['records_loaded']:,} dossiers loaded for {day}; credentials in the state file.")


@sandbox_app.command("down")
def sandbox_down() -> None:
    """Stop the sandbox partners.

    Example: hub sandbox down
    """
    from sandbox import runner

    console.print("Sandbox stopped." if runner.down(sandbox_dir()) else "Sandbox was not running.")


@sandbox_app.command("status")
def sandbox_status() -> None:
    """Whether the sandbox partners run and answer (no credentials shown); exits 1 when not healthy.

    Example: hub sandbox status
    """
    from sandbox import runner

    status = runner.status(sandbox_dir())
    console.print_json(json.dumps(status))
    if not status.get("healthy"):
        raise typer.Exit(1)


def _day_end(day: date) -> str:
    """The logical date whose daily data interval is ``day`` (intervals end at the next midnight, Hanoi)."""
    return f"{day + timedelta(days=1)}T00:00:00+07:00"


def _dags_test(dag_id: str, day: date, round_name: str, env: dict[str, str]) -> None:
    """One ``airflow dags test`` of the demo, as a step, its task logs kept (:func:`dags_test_log`)."""
    with _step(f"{round_name}: airflow dags test {dag_id}"):
        log = dags_test_log(env, dag_id, day, round_name)
        run_airflow("dags", "test", dag_id, _day_end(day), env=env, quiet=True, log=log)


LOG_LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")  # a timestamped log record, not a line for people


def _publish_open_data(day: date, env: dict[str, str]) -> None:
    """Publish the demo day's month on the sandbox city data portal with ``hub open-data publish``
    (the step the ``open_data_publish`` DAG runs), and show what was published."""
    month = f"{day.year}-{day.month:02d}"
    command = [sys.executable, "-m", "hub.cli", "open-data", "publish", "--month", month]
    with _step(f"Publishing {month}'s open data on the sandbox city data portal"):
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        _fail(f"`hub open-data publish --month {month}` exited {result.returncode}\n{result.stdout}{result.stderr}")
    # Airflow's log lines (the hook imports it) are for whoever debugs the call: kept in var/logs/hub.log.
    lines = result.stdout.splitlines(keepends=True)
    logged = [line for line in lines if LOG_LINE.match(line)]
    log_file().parent.mkdir(parents=True, exist_ok=True)
    with log_file().open("a", encoding="utf-8") as kept:
        kept.writelines(logged)
    console.out("".join(line for line in lines if not LOG_LINE.match(line)), end="", highlight=False)


@contextmanager
def _step(label: str) -> Iterator[None]:
    """A long step as two plain lines, when it starts and how long it took: readable when piped or
    logged, where a spinner shows nothing for minutes."""
    started = time.monotonic()
    console.print(f"[{datetime.now(HANOI):%H:%M:%S}] {label} ...", highlight=False, markup=False)
    console.file.flush()  # a pipe or a log file is block-buffered: the line must show now, not at the end
    yield
    console.print(f"[{datetime.now(HANOI):%H:%M:%S}]   done in {time.monotonic() - started:.0f} s", highlight=False)
    console.file.flush()


def fresh_demo_store(store: Path, marker: Path) -> None:
    """Empty ``store`` (the default store, var/hub.db) for a demo that starts from nothing.

    A store the previous demo made (``marker`` names it) is simply removed; any other -- a day
    ``hub up`` ran, data an engineer loaded -- is moved aside beside it, and the demo says where.
    """
    if store.exists() and not (marker.is_file() and marker.read_text(encoding="utf-8").strip() == str(store)):
        kept = store.with_name(f"{store.name}.{datetime.now(HANOI):%Y%m%d-%H%M%S}.bak")
        store.rename(kept)
        console.print(f"The hub store {store} was not made by a demo: moved to {kept}.", highlight=False)
    for part in (store, store.with_name(store.name + "-wal"), store.with_name(store.name + "-shm")):
        part.unlink(missing_ok=True)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(str(store), encoding="utf-8")


@app.command()
def demo(day: DayOption = date(2026, 11, 20), scale: ScaleOption = 0.1, seed: SeedOption = 7) -> None:
    """Start the sandbox, run the day's DAGs through Airflow twice, print the counts and the reconciliation.

    The demo writes the default hub store (var/hub.db), emptied first so it always starts from
    nothing (a store it did not make is moved aside, not deleted), so every `hub` command shows
    the demo's data afterwards; the sandbox is stopped at the end whatever happens.

    Example: hub demo --day 2026-11-20 --scale 0.1
    """
    from sandbox import runner

    demo_dir = var_dir() / "demo"
    store = var_dir() / "hub.db"
    fresh_demo_store(store, demo_dir / "store")
    for old in demo_dir.iterdir():
        if old.name != "store":
            shutil.rmtree(old) if old.is_dir() else old.unlink()
    env = airflow_environment()
    env["HUB_STORE_URL"] = f"sqlite:///{store}"
    if os.environ.get("HUB_STORE_URL", env["HUB_STORE_URL"]) != env["HUB_STORE_URL"]:
        console.print(
            f"Note: HUB_STORE_URL is set, so `hub` commands read it, not the demo's store {store}.", highlight=False
        )
    # The demo makes the portal lose one acknowledged dossier on purpose, so its reconciliation
    # expects that class too (beside the hub's usual ones) and checks it found exactly that dossier;
    # likewise the payment discrepancies its payment platform's day carries.
    expected = (*DEFAULT_EXPECTED, DifferenceClass.MISSING_AT_PORTAL, *DEMO_PAYMENT_CLASSES)
    env["HUB_RECONCILE_EXPECTED"] = ",".join(k.value for k in expected)
    with _step("Starting the sandbox partners"):
        try:
            state = runner.up(sandbox_dir(), day=day, scale=scale, seed=seed, fresh=True)
        except RuntimeError as exc:
            _fail(str(exc))
    try:
        env.update(sandbox_connections(state))
        console.print(f"Sandbox up: {state['data']['records_loaded']:,} city dossiers for {day}.")
        with _step("Migrating Airflow's metadata DB, creating pools"):
            prepare_airflow(env)
        # Viettel Post's tracking is its callbacks, and VBDLIS calls back the land dossiers it
        # received and ended: the receiver runs beside the DAGs, as in production.
        with callback_receiver(env, state, CALLBACK_CARRIERS, vbdlis=True, payments=True) as receiver:
            for round_name in ("first run", "re-run"):
                land = land_callbacks(receiver, state["land_registration"], day, day)
                console.print(f"{round_name}: VBDLIS called back {land}.", highlight=False)
                calls_before = portal_send_calls(state["national_portal"]["url"])
                for dag_id in DEMO_DAGS:
                    _dags_test(dag_id, day, round_name, env)
                advance_carriers(state, days=CARRIER_DAYS)
                if round_name == "first run":
                    lost = lose_one_portal_dossier(state["national_portal"]["url"], day)
                    console.print(f"Injected: the portal loses dossier {lost} it had acknowledged.", highlight=False)
                    confirmed = payment_confirmations(receiver, state["payment_platform"])
                    console.print(
                        f"Payment platform: confirmations sent to the receiver {confirmed} "
                        "(a replayed and a forged one must be refused: 409, 401).",
                        highlight=False,
                    )
                for dag_id in DEMO_FOLLOW_UP_DAGS:
                    _dags_test(dag_id, day, round_name, env)
                sent = portal_send_calls(state["national_portal"]["url"]) - calls_before
                summary = latest_report("sync")
                summary["portal_calls_this_run"] = sent
                console.print(
                    f"{round_name}: DAGs succeeded, {sent:,} calls sent to the portal; task logs in "
                    f"{dags_test_log(env, '<dag>', day, round_name).parent.parent}.",
                    highlight=False,
                    soft_wrap=True,
                )
                if round_name == "first run":
                    first = summary
                    synced = ministry_syncs(state["national_portal"]["url"], day)
                    population, ministries = latest_report("population"), latest_report("ministry")
                    postal = {
                        "dispatch": latest_report("postal_dispatch"),
                        "tracking": latest_report("postal_tracking"),
                    }
        notifications = notifications_seen(state["ihanoi"]["url"])  # after the re-run: nothing told twice
        _publish_open_data(day, env)
    finally:
        runner.down(sandbox_dir())
    evidence = evidence_status(env["HUB_STORE_URL"])
    result = {
        "day": day.isoformat(),
        "scale": scale,
        "seed": seed,
        "first_run": first,
        "re_run": summary,
        "message_log": evidence,
    }
    result["population_verify"], result["ministry_exchange"] = population, ministries
    result["postal"], result["injected"] = postal, {"lost_at_portal": lost}
    result["payment_confirmations"] = confirmed
    result["ministry_syncs_to_portal"] = synced["by_partner"]
    result["notifications"] = notifications
    reconciliation = reconciliation_document(day)
    result["reconciliation"] = {
        k: reconciliation[k]
        for k in ("verdict", "compared", "counts", "flags", "identities", "portal_side", "payments")
    }
    path = demo_dir / "summary.json"
    path.write_text(json.dumps(result, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
    print_sync_summary(console, first, summary["portal_calls_this_run"], path)
    print_partner_summaries(console, population, ministries)
    print_postal(console, postal)
    print_notifications(console, notifications, reconciliation)
    print_evidence(console, evidence)
    print_reconciliation(console, reconciliation, reports_dir(reconciliation["period"]["label"]))
    print_payments(console, reconciliation)
    problems = day_problems(first, summary["portal_calls_this_run"], evidence, population, ministries)
    problems += postal_problems(postal) + payment_problems(reconciliation, confirmed)
    problems += notification_problems(notifications)
    problems += reconciliation_problems(reconciliation, (*DEMO_DIFFERENCES, *DEMO_PAYMENT_CLASSES), lost)
    problems += portal_count_problems(reconciliation, synced)
    problems += _warehouse_problems(day, reconciliation)
    if problems:
        _fail("; ".join(problems))


def _warehouse_problems(day: date, reconciliation: dict) -> list[str]:
    """The warehouse read back with DuckDB after both rounds' exports: the day's facts once, as many as the hub's."""
    from hub.analytics.export import hub_counts

    line, agrees = warehouse_check(day, hub_counts(reconciliation))
    console.print(line, highlight=False)
    return [] if agrees else [f"the warehouse's counts differ from the hub's ({line})"]


@app.command()
def up(
    day: Annotated[date | None, typer.Option(formats=["%Y-%m-%d"], help="Default: yesterday in Hanoi.")] = None,
    scale: ScaleOption = 0.1,
    seed: SeedOption = 7,
    port: Annotated[int, typer.Option(help="UI and REST API port (127.0.0.1 unless AIRFLOW__API__HOST).")] = 8080,
) -> None:
    """Run Airflow's services with the hub's DAGs against the sandbox: a locked local deployment.

    The UI and REST API are on http://127.0.0.1:8080, behind a login: users `admin` (admin) and
    `ministry` (read-only viewer), passwords in var/up/passwords.json. The sandbox loads yesterday
    by default, the interval the scheduler runs first; its Connections appear under Admin >
    Connections. Ctrl-C (or SIGTERM) stops every process this command started.

    Example: hub up --scale 0.05
    """
    from sandbox import runner

    day = day or (datetime.now(ZoneInfo(TIMEZONE)).date() - timedelta(days=1))
    env = up_environment(port)
    host = env["AIRFLOW__API__HOST"]
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        _fail(f"cannot listen on {host}:{port} ({exc.strerror}); stop what uses it or pass --port")
    processes = Processes(up_dir() / "logs")
    for signum in (signal.SIGINT, signal.SIGTERM):  # SIGINT too: a shell may start us with it ignored
        signal.signal(signum, _interrupt)
    failure = None
    try:
        with console.status("Starting the sandbox partners..."):
            state = runner.up(sandbox_dir(), day=day, scale=scale, seed=seed)
        with console.status("Migrating Airflow's metadata DB, creating pools and Connections..."):
            prepare_airflow(env)
            import_connections(env, sandbox_connections(state))
        for name, command in airflow_services(sys.executable).items():
            processes.start(name, command, env)
        base_url = env["AIRFLOW__API__BASE_URL"]
        with console.status(f"Starting Airflow ({', '.join(processes.running)}); logs in {processes.log_dir} ..."):
            _wait_healthy(base_url, processes)
        users = env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"]
        console.print(
            f"Sandbox loaded {day}. Airflow is up: {base_url}\n"
            f"Log in as {' or '.join(user_names(users))} ({users}); passwords in "
            f"{env['AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE']}. Ctrl-C stops everything.",
            highlight=False,
            soft_wrap=True,
        )
        while True:
            processes.check_alive()
            time.sleep(2)
    except KeyboardInterrupt:
        console.print("Stopping Airflow and the sandbox...")
    except RuntimeError as exc:  # the sandbox or a service failed to start, or a service died
        failure = str(exc)
    finally:
        _ignore_interrupts()  # a second Ctrl-C (uv run forwards the first one too) must not cut this short
        forced = processes.stop_all()
        runner.down(sandbox_dir())
    if failure:
        _fail(failure)
    console.print("Stopped." + (f" Had to kill {', '.join(forced)} after 30 s." if forced else ""))


def import_connections(env: dict[str, str], variables: dict[str, str]) -> None:
    """Store the partners' Connections in the metadata DB (encrypted), replacing those of an earlier start."""
    with tempfile.TemporaryDirectory(prefix="hub-connections-") as folder:  # mode 700: it holds passwords
        path = Path(folder) / "connections.json"
        path.write_text(json.dumps(connections_document(variables)), encoding="utf-8")
        run_airflow("connections", "import", "--overwrite", str(path), env=env, quiet=True)


def _wait_healthy(base_url: str, processes: Processes, timeout_s: float = 600) -> None:
    """Until the API server answers its health check (every service started alive meanwhile)."""
    import requests

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        processes.check_alive()
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{base_url}/api/v2/monitor/health", timeout=5).ok:
                return
        time.sleep(2)
    raise ProcessExited(f"the API server did not answer {base_url} within {timeout_s:.0f}s; see {processes.log_dir}")


def _interrupt(signum: int, _frame: object) -> None:
    """Ctrl-C or SIGTERM (a supervisor, CI) unwinds the command, so every process is stopped."""
    _ignore_interrupts()
    raise KeyboardInterrupt(f"signal {signum}")


def _ignore_interrupts() -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)


def main() -> None:
    # Warnings from the hub's modules (retries, refusals) as masked JSON lines on stderr; the
    # console output above stays for people. Libraries' notes (fonts, SVG) go to var/logs/hub.log.
    configure_json_logging(level=logging.WARNING)
    keep_private()  # before anything -- Airflow, the sandbox, the receiver, the log file -- is started from here
    route_library_logs(log_file())
    app()
