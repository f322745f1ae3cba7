"""Run every partner simulator as one background process: ``python -m sandbox up|down|status|serve``.

The partners are those of ``adapters.partners``, each built by the ``double`` its entry names
(``--webhook-url`` is the hub's callback receiver the carriers call back). All load the same
generated day (``--day``, ``--scale``, ``--seed``): the population register and the insurer
hold the city's own applicants, the ministries the dossiers processed on their software that the
city system never sees (``sandbox.ministry_dossiers``), so what the hub pulls, verifies and pushes
fits together.

``up`` starts ``serve`` detached, waits until it wrote ``state.json`` (URLs, pid, credentials) and
returns; ``down`` sends SIGTERM to that pid and waits for it to end. Credentials are random per
``up`` and exist only in the state file (mode 600): nothing secret lives in code or on a command
line. Every server only ever binds 127.0.0.1.

Data lives in the folder the caller names (``hub sandbox up``: ``var/sandbox/``, see
``hub.paths.sandbox_dir``), so a re-``up`` keeps what the partners received unless ``--fresh`` is given.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import requests

from adapters.partners import PARTNERS, partner_ids

__all__ = [
    "HOST",
    "down",
    "main",
    "read_state",
    "serve",
    "status",
    "up",
]

HOST = "127.0.0.1"
STATE_FILE = "state.json"
LOG_FILE = "sandbox.log"
STATE_VERSION = 1
VN = timezone(timedelta(hours=7))
OFFICER = "hub-airflow"  # MaCanBo: the officer id the SOAP partners log for every call
# Where each partner answers "I am up" (the city system's API wants its bearer token even there).
HEALTH_PATHS = {"city_system": "/api/v1/health"}
log = logging.getLogger("sandbox")
# The subprocess runs from the checkout, so it imports the same code even without an installed package.
_REPO_ROOT = Path(__file__).resolve().parents[1]


def read_state(data_dir: Path) -> dict[str, Any] | None:
    """The state file's content, or ``None`` if there is none (or it is unreadable)."""
    try:
        return json.loads((data_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_state(data_dir: Path, state: dict[str, Any]) -> None:
    """Write atomically with mode 600 from the start (no window in which others can read it)."""
    target = data_dir / STATE_FILE
    tmp = data_dir / f".{STATE_FILE}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(state, f, ensure_ascii=False, indent=2)
    os.replace(tmp, target)


def _alive(pid: int) -> bool:
    """True if ``pid`` runs (a zombie waiting for its parent to reap it counts as ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"


def _is_our_server(pid: int) -> bool:
    """Guard against a recycled pid: only signal a process running ``sandbox ... serve``."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return _alive(pid)  # no /proc (not Linux): trust the state file
    return b"sandbox" in cmdline and b"serve" in cmdline


# -- serve (foreground) ------------------------------------------------------------------------------

# Where each double keeps its data (the sync pair's files predate the registry; the rest are named
# after the partner).
DB_FILES = {"city_system": "city.sqlite", "national_portal": "portal.sqlite"}


def _vnpost_item_codes() -> str:
    from sandbox.postal.vnpost import ITEM_CODE_RANGE

    return ITEM_CODE_RANGE


def _credentials(agency: str) -> dict[str, dict[str, str]]:
    """Fresh random credentials per partner, in the shape its hook reads them (``hub.connections``):
    a bearer token or an account, and the Connection extras its client reads that the sandbox sets."""
    extras = {
        "madonvi": lambda: agency,
        # the portal's LGSP adapter paths and routing code (docs/interfaces.md 2.2)
        "auth_endpoint": lambda: "/auth",
        "integration_endpoint": lambda: "/service",
        "share_endpoint": lambda: "/share",
        "dstcode": lambda: "HUB-SANDBOX",
        "macanbo": lambda: OFFICER,
        # VNPost: the city's customer code and S10 block, and its callbacks' SignData key
        "customer_code": lambda: "HNI-TTHC",
        "item_code_range": _vnpost_item_codes,
        "callback_secret": lambda: secrets.token_urlsafe(32),
        "officer_secret": lambda: secrets.token_urlsafe(24),  # the officer's AuthHash key (population_db)
        "ma_tinh": lambda: "01",  # Hà Nội's province code at the civil-status and unemployment systems
        "don_vi_xu_ly": lambda: "01",  # Hanoi's unit at the driving-licence system (ASSUMPTION)
        "webhook_token": lambda: secrets.token_urlsafe(32),
        "callback_security_code": lambda: secrets.token_urlsafe(24),  # VBDLIS's callbacks to the hub
        "ma_doi_tac": lambda: "HNI-TTHC",  # the hub's partner code at the payment platform
        "checksum_secret": lambda: secrets.token_urlsafe(32),  # its MaXacThuc key
        "owner_org": lambda: "ubnd-thanh-pho-ha-noi",  # the city data portal's organization (CKAN)
    }
    credentials = {}
    for spec in PARTNERS:
        if spec.login == "none":  # a public API
            login: dict[str, str] = {}
        elif spec.login == "token":
            login = {"token": secrets.token_urlsafe(32)}
        else:
            login = {"username": spec.sandbox_account, "password": secrets.token_urlsafe(24)}
        credentials[spec.id] = login | {key: extras[key]() for key in spec.extras if key in extras}
    return credentials


def serve(
    data_dir: Path,
    *,
    day: date,
    scale: float,
    seed: int,
    city_port: int = 0,
    portal_port: int = 0,
    fresh: bool = False,
    faults: dict[str, Any] | None = None,
    webhook_url: str | None = None,
    stop_event: threading.Event | None = None,
) -> int:
    """Run every simulator in this process until SIGTERM/SIGINT (or ``stop_event``); return an exit code.

    ``faults`` is the national portal's initial fault injection (the others start without faults;
    ``POST /sandbox/faults`` changes any of them at run time). ``webhook_url`` is the base URL of the
    hub's callback receiver (``hub webhooks serve``); without it the carriers call nobody back.
    """
    from mappings.code_tables import load_code_tables
    from sandbox.doubles import DoubleContext
    from sandbox.faults import FaultConfig
    from sandbox.server import serve_in_thread
    from signing.pki import init_dev_pki

    # The doubles' databases hold (generated) citizens' records: 0600 files, as hub.paths.keep_private
    # makes the hub's own (the sandbox sits below hub, so it sets the same umask itself).
    os.umask(0o077)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if fresh:
        for path in data_dir.glob("*.sqlite*"):  # every simulator's database, WAL and message log
            path.unlink(missing_ok=True)
    stop = stop_event or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())

    code_tables = load_code_tables()
    agencies = sorted({row.code for row in code_tables.agencies.all_rows()})
    city_level = [row.code for row in code_tables.agencies.rows(day) if row.level == "city"]
    creds = _credentials(city_level[0] if city_level else agencies[0])
    fault_config = FaultConfig(**(faults or {})).validated()
    db_paths = {spec.id: data_dir / DB_FILES.get(spec.id, f"{spec.id}.sqlite") for spec in PARTNERS}

    # Partners sign with their own certificates from the development PKI (created if missing);
    # the hub's trust store is that PKI's, so the demo's exchanges verify end to end.
    pki = init_dev_pki(partners=partner_ids())
    started = time.monotonic()
    apps = {
        spec.id: spec.sandbox_double()(
            DoubleContext(
                partner=spec.id,
                db_path=db_paths[spec.id],
                credentials=creds[spec.id],
                agencies=agencies,
                pki=pki,
                code_tables=code_tables,
                day=day,
                scale=scale,
                seed=seed,
                portal_faults=fault_config,
                webhook_url=webhook_url,
            )
        )
        for spec in PARTNERS
    }
    city_app = apps["city_system"]
    loaded = city_app.state.records_loaded
    log.info("loaded %d new city records for %s (scale %s, seed %s) and the partners' data in %.1fs", loaded, day,
             scale, seed, time.monotonic() - started)  # fmt: skip
    ports = {"city_system": city_port, "national_portal": portal_port}
    with contextlib.ExitStack() as running:
        servers = {
            name: running.enter_context(serve_in_thread(app, HOST, ports.get(name, 0))) for name, app in apps.items()
        }
        state: dict[str, Any] = {
            "version": STATE_VERSION,
            "pid": os.getpid(),
            "started_at": datetime.now(VN).isoformat(timespec="seconds"),
            "host": HOST,
            "data_dir": str(data_dir),
            "log_file": str(data_dir / LOG_FILE),
            "data": {
                "day": day.isoformat(),
                "scale": scale,
                "seed": seed,
                "records_loaded": loaded,
                "records_total": city_app.state.store.count(),
            },
            **{name: {"url": servers[name].url, **creds[name]} for name in partner_ids()},
        }
        state["city_system"]["db_path"] = str(db_paths["city_system"])
        state["national_portal"].update(db_path=str(db_paths["national_portal"]), faults=fault_config.to_dict())
        _write_state(data_dir, state)
        log.info("partners up (pid %d): %s", os.getpid(), ", ".join(f"{n} {servers[n].url}" for n in partner_ids()))
        try:
            while not stop.wait(0.5):
                if not all(server.thread.is_alive() for server in servers.values()):
                    log.error("a server thread died; shutting down")
                    break
        finally:
            current = read_state(data_dir)
            if current is not None and current.get("pid") == os.getpid():
                with contextlib.suppress(FileNotFoundError):
                    (data_dir / STATE_FILE).unlink()
    log.info("stopped")
    return 0


# -- up / down / status ------------------------------------------------------------------------------


def up(
    data_dir: Path,
    *,
    day: date,
    scale: float,
    seed: int,
    city_port: int = 0,
    portal_port: int = 0,
    fresh: bool = False,
    faults: dict[str, Any] | None = None,
    webhook_url: str | None = None,
    timeout: float = 120.0,
) -> dict[str, Any]:
    """Start ``serve`` detached and return its state once it is listening; raise on failure."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    existing = read_state(data_dir)
    if existing is not None:
        if _alive(int(existing.get("pid", 0))) and _is_our_server(int(existing["pid"])):
            raise RuntimeError(f"sandbox already running (pid {existing['pid']}); run `python -m sandbox down` first")
        (data_dir / STATE_FILE).unlink(missing_ok=True)  # stale: its process is gone
    command = [
        sys.executable, "-m", "sandbox", "serve",
        "--data-dir", str(data_dir), "--day", day.isoformat(), "--scale", repr(scale), "--seed", str(seed),
        "--city-port", str(city_port), "--portal-port", str(portal_port),
    ]  # fmt: skip
    if fresh:
        command.append("--fresh")
    if faults:
        command += ["--faults", json.dumps(faults)]
    if webhook_url:
        command += ["--webhook-url", webhook_url]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_REPO_ROOT), env.get("PYTHONPATH")) if p)
    log_path = data_dir / LOG_FILE
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=_REPO_ROOT,
            env=env,
            start_new_session=True,  # survives the terminal; down/SIGTERM is the way to stop it
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = read_state(data_dir)
        if state is not None and state.get("pid") == process.pid:
            return state
        if process.poll() is not None:
            tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-20:]
            raise RuntimeError(f"sandbox exited with {process.returncode} during start-up:\n" + "\n".join(tail))
        time.sleep(0.1)
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
    raise RuntimeError(f"sandbox did not come up within {timeout}s (see {log_path})")


def down(data_dir: Path, *, timeout: float = 20.0) -> bool:
    """Stop the sandbox recorded in ``data_dir``; True if a process was stopped."""
    state = read_state(data_dir)
    if state is None:
        return False
    pid = int(state.get("pid", 0))
    stopped = False
    if pid > 0 and _alive(pid) and _is_our_server(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            log.warning("pid %d ignored SIGTERM for %.0fs; killing it", pid, timeout)
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
        stopped = True
    (data_dir / STATE_FILE).unlink(missing_ok=True)
    return stopped


def _answers(name: str, partner: dict[str, Any]) -> bool:
    """Whether one partner answers its health check (with its bearer token where it wants one)."""
    headers = {"Authorization": f"Bearer {partner['token']}"} if name == "city_system" else {}
    try:
        return requests.get(
            f"{partner['url']}{HEALTH_PATHS.get(name, '/sandbox/health')}", headers=headers, timeout=3
        ).ok
    except requests.RequestException:
        return False


def status(data_dir: Path) -> dict[str, Any]:
    """Whether the sandbox runs and every partner answers; never includes credentials."""
    state = read_state(data_dir)
    if state is None:
        return {"running": False, "data_dir": str(data_dir)}
    pid = int(state.get("pid", 0))
    running = pid > 0 and _alive(pid)
    partners = {name: state[name] for name in partner_ids() if name in state}
    health = {name: running and _answers(name, partner) for name, partner in partners.items()}
    return {
        "running": running,
        "healthy": running and set(partners) == set(partner_ids()) and all(health.values()),
        "pid": pid,
        "started_at": state.get("started_at"),
        "data_dir": state.get("data_dir"),
        "state_file": str(data_dir / STATE_FILE),
        "data": state.get("data"),
        **{
            name: {"url": partner["url"], "up": health[name]}
            | ({"madonvi": partner["madonvi"]} if "madonvi" in partner else {})
            for name, partner in partners.items()
        },
    }


# -- command line ------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def data_dir_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", type=Path, required=True, help="where the doubles keep their data and state")

    for name, helptext in (("up", "start in the background"), ("serve", "run in the foreground")):
        p = sub.add_parser(name, help=helptext)
        data_dir_option(p)
        p.add_argument("--day", type=date.fromisoformat, default=datetime.now(VN).date(), help="YYYY-MM-DD")
        p.add_argument("--scale", type=float, default=1.0, help="share of a full day (~11,000 dossiers at 1.0)")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--city-port", type=int, default=0, help="0 = any free port")
        p.add_argument("--portal-port", type=int, default=0, help="0 = any free port")
        p.add_argument("--fresh", action="store_true", help="delete every simulator's data first")
        p.add_argument(
            "--faults", type=json.loads, default=None, help="portal faults as JSON, e.g. '{\"latency_ms\": 50}'"
        )
        p.add_argument(
            "--webhook-url", default=None, help="the hub's carrier callback receiver, e.g. http://127.0.0.1:8088"
        )
        if name == "up":
            p.add_argument("--timeout", type=float, default=120.0)
    p = sub.add_parser("down", help="stop the background sandbox")
    data_dir_option(p)
    p.add_argument("--timeout", type=float, default=20.0)
    p = sub.add_parser("status", help="show whether it runs (no credentials shown)")
    data_dir_option(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    data_dir = args.data_dir.resolve()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command in ("up", "serve"):
        if not 0 <= args.scale <= 100:
            print("error: --scale must be between 0 and 100", file=sys.stderr)
            return 2
        options = {
            "day": args.day,
            "scale": args.scale,
            "seed": args.seed,
            "city_port": args.city_port,
            "portal_port": args.portal_port,
            "fresh": args.fresh,
            "faults": args.faults,
            "webhook_url": args.webhook_url,
        }
        if args.command == "serve":
            try:
                return serve(data_dir, **options)
            except (ValueError, TypeError) as exc:  # bad --faults, a day loaded with another seed, ...
                log.error("cannot serve: %s", exc)
                return 2
        try:
            state = up(data_dir, timeout=args.timeout, **options)
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"sandbox up (pid {state['pid']})")
        for name in partner_ids():
            print(f"  {name.replace('_', ' '):22} {state[name]['url']}")
        print(f"  credentials in  {data_dir / STATE_FILE} (mode 600)")
        return 0
    if args.command == "down":
        print("sandbox stopped" if down(data_dir, timeout=args.timeout) else "sandbox was not running")
        return 0
    report = status(data_dir)
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0 if report.get("healthy") else 1
