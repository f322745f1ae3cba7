"""Run both partner simulators as one background process: ``python -m sandbox up|down|status|serve``.

``up`` starts ``serve`` detached, waits until it wrote ``state.json`` (URLs, pid, credentials) and
returns; ``down`` sends SIGTERM to that pid and waits for it to end. Credentials are random per
``up`` and exist only in the state file (mode 600): nothing secret lives in code or on a command
line. Both servers only ever bind 127.0.0.1.

Data lives in ``var/sandbox/`` under the repository root (or ``$HUB_VAR_DIR/sandbox``, or
``--data-dir``), so a re-``up`` keeps what the portal received unless ``--fresh`` is given.
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

from hub.paths import REPO_ROOT, var_dir

__all__ = [
    "HOST",
    "default_data_dir",
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
PORTAL_USERNAME = "hub-sandbox"
log = logging.getLogger("sandbox")


def default_data_dir() -> Path:
    """``var/sandbox``: beside the hub's other run-time data, wherever ``HUB_VAR_DIR`` puts it."""
    return var_dir() / "sandbox"


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


def _credentials() -> dict[str, str]:
    return {
        "city_token": secrets.token_urlsafe(32),
        "portal_username": PORTAL_USERNAME,
        "portal_password": secrets.token_urlsafe(24),
    }


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
    stop_event: threading.Event | None = None,
) -> int:
    """Run both simulators in this process until SIGTERM/SIGINT (or ``stop_event``); return an exit code."""
    from mappings.code_tables import load_code_tables
    from sandbox.city_system.app import create_app as create_city
    from sandbox.faults import FaultConfig
    from sandbox.national_portal.app import create_app as create_portal
    from sandbox.server import serve_in_thread
    from sandbox.signatures import PartnerSigning
    from signing.pki import init_dev_pki

    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    city_db, portal_db = data_dir / "city.sqlite", data_dir / "portal.sqlite"
    if fresh:
        for path in (city_db, portal_db):
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    Path(f"{path}{suffix}").unlink()
    stop = stop_event or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())

    code_tables = load_code_tables()
    creds = _credentials()
    agencies = sorted({row.code for row in code_tables.agencies.all_rows()})
    city_level = [row.code for row in code_tables.agencies.rows(day) if row.level == "city"]
    fault_config = FaultConfig(**(faults or {})).validated()

    # Partners sign with their own certificates from the development PKI (created if missing);
    # the hub's trust store is that PKI's, so the demo's exchanges verify end to end.
    pki = init_dev_pki()
    city_app = create_city(
        city_db, creds["city_token"], code_tables=code_tables, signing=PartnerSigning(pki, "city_system")
    )
    started = time.monotonic()
    loaded = city_app.state.store.load_day(day, scale, seed)
    log.info("loaded %d new city records for %s (scale %s, seed %s) in %.1fs", loaded, day, scale, seed,
             time.monotonic() - started)  # fmt: skip
    portal_app = create_portal(
        portal_db,
        creds["portal_username"],
        creds["portal_password"],
        agencies,
        fault_config,
        code_tables=code_tables,
        signing=PartnerSigning(pki, "national_portal"),
    )
    with serve_in_thread(city_app, HOST, city_port) as city, serve_in_thread(portal_app, HOST, portal_port) as portal:
        state = {
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
            "city_system": {"url": city.url, "token": creds["city_token"], "db_path": str(city_db)},
            "national_portal": {
                "url": portal.url,
                "username": creds["portal_username"],
                "password": creds["portal_password"],
                "madonvi": city_level[0] if city_level else agencies[0],
                "db_path": str(portal_db),
                "faults": fault_config.to_dict(),
            },
        }
        _write_state(data_dir, state)
        log.info("city system on %s, national portal on %s (pid %d)", city.url, portal.url, os.getpid())
        try:
            while not stop.wait(0.5):
                if not (city.thread.is_alive() and portal.thread.is_alive()):
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
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    log_path = data_dir / LOG_FILE
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
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


def status(data_dir: Path) -> dict[str, Any]:
    """Whether the sandbox runs and answers; never includes credentials."""
    state = read_state(data_dir)
    if state is None:
        return {"running": False, "data_dir": str(data_dir)}
    pid = int(state.get("pid", 0))
    running = pid > 0 and _alive(pid)
    city, portal = state["city_system"], state["national_portal"]
    health = {"city_system": False, "national_portal": False}
    if running:
        with contextlib.suppress(requests.RequestException):
            reply = requests.get(
                f"{city['url']}/api/v1/health", headers={"Authorization": f"Bearer {city['token']}"}, timeout=3
            )
            health["city_system"] = reply.ok
        with contextlib.suppress(requests.RequestException):
            health["national_portal"] = requests.get(f"{portal['url']}/sandbox/health", timeout=3).ok
    return {
        "running": running,
        "healthy": running and all(health.values()),
        "pid": pid,
        "started_at": state.get("started_at"),
        "data_dir": state.get("data_dir"),
        "state_file": str(data_dir / STATE_FILE),
        "data": state.get("data"),
        "city_system": {"url": city["url"], "up": health["city_system"]},
        "national_portal": {"url": portal["url"], "madonvi": portal.get("madonvi"), "up": health["national_portal"]},
    }


# -- command line ------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def data_dir_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", type=Path, default=None, help="default: var/sandbox under the repo")

    for name, helptext in (("up", "start in the background"), ("serve", "run in the foreground")):
        p = sub.add_parser(name, help=helptext)
        data_dir_option(p)
        p.add_argument("--day", type=date.fromisoformat, default=datetime.now(VN).date(), help="YYYY-MM-DD")
        p.add_argument("--scale", type=float, default=1.0, help="share of a full day (~11,000 dossiers at 1.0)")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--city-port", type=int, default=0, help="0 = any free port")
        p.add_argument("--portal-port", type=int, default=0, help="0 = any free port")
        p.add_argument("--fresh", action="store_true", help="delete both simulators' data first")
        p.add_argument(
            "--faults", type=json.loads, default=None, help="portal faults as JSON, e.g. '{\"latency_ms\": 50}'"
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
    data_dir = (args.data_dir or default_data_dir()).resolve()
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
        print(f"  city system     {state['city_system']['url']}")
        print(f"  national portal {state['national_portal']['url']}")
        print(f"  credentials in  {data_dir / STATE_FILE} (mode 600)")
        return 0
    if args.command == "down":
        print("sandbox stopped" if down(data_dir, timeout=args.timeout) else "sandbox was not running")
        return 0
    report = status(data_dir)
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0 if report.get("healthy") else 1
