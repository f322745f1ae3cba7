"""What every benchmark needs: sandbox partners in their own process, and resource figures.

The partners run in a separate process (``multiprocessing`` with the ``spawn`` start method, one
uvicorn server per partner in threads of that process), not in threads of the benchmark: the
client and the servers then do not share a GIL, so the benchmark measures the hub's work rather
than the two sides taking turns on one interpreter lock. The child binds 127.0.0.1 on free ports
(``sandbox.server.serve_in_thread``), and it stops by itself when the benchmark tells it to, when
the pipe to the benchmark closes, or when its parent process is gone -- a crashed benchmark
leaves no server behind.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import resource
import secrets
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from datetime import time as clock_time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the clients import the adapters; the partner child process does not need them here
    from adapters.national_portal.client import NationalPortalClient
    from adapters.signatures import MessageSignatures
    from adapters.transport import HttpTransport

VN = timezone(timedelta(hours=7))
PORTAL_USERNAME = "hub-bench"
STARTUP_TIMEOUT_S = 900.0
HTTP_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class PortalEndpoint:
    """One national-portal simulator: where it listens and how to log in."""

    url: str
    username: str
    password: str
    madonvi: str


@dataclass(frozen=True)
class Partners:
    """The running partner process: a city system holding the generated dossiers, and N fresh portals."""

    pid: int
    city_url: str
    city_token: str
    portals: tuple[PortalEndpoint, ...]
    records: int
    defects: int
    days: tuple[date, ...]
    load_seconds: float

    @property
    def window(self) -> tuple[datetime, datetime]:
        """The extraction window that covers every generated day (Hanoi midnights)."""
        return (
            datetime.combine(self.days[0], clock_time(0), VN),
            datetime.combine(self.days[-1] + timedelta(days=1), clock_time(0), VN),
        )


def working_days(start: date) -> Iterator[date]:
    """Consecutive working days from ``start``: full-volume days of the generator (about 11,000 at scale 1)."""
    from mappings.working_days import is_working_day

    day = start
    while True:
        if is_working_day(day):
            yield day
        day += timedelta(days=1)


def _load_city(store: Any, tables: Any, start: date, dossiers: int, seed: int) -> tuple[list[date], int]:
    """Generate whole working days at scale 1.0 until ``dossiers`` records exist; cut the last day short.

    Whole days at the calibrated scale keep the generator's own guarantees (per-agency daily
    numbering under 9999, Table 01 outcome shares, ~1% named defects); only the tail of the last
    day (latest submissions) is dropped to hit the requested count exactly.
    """
    from sandbox.city_system.generator import generate

    days: list[date] = []
    defects = 0
    remaining = dossiers
    for day in working_days(start):
        if remaining <= 0:
            break
        generated = generate(day, 1.0, seed, code_tables=tables)
        records = generated.records[:remaining]
        kept = {record["id"] for record in records}
        day_defects = {i: name for i, name in generated.defects.items() if i in kept}
        remaining -= store.load(records, day_defects)
        defects += len(day_defects)
        days.append(day)
    return days, defects


def _serve_partners(
    conn: Connection,
    data_dir: str,
    start: date,
    dossiers: int,
    seed: int,
    portal_count: int,
    credentials: dict[str, str],
    parent_pid: int,
    pki_dir: str,
) -> None:
    """Child process: load the city system, start the servers, report, then wait to be told to stop."""
    try:
        from adapters.partners import partner_ids
        from mappings.code_tables import load_code_tables
        from sandbox.city_system.app import create_app as create_city
        from sandbox.national_portal.app import create_app as create_portal
        from sandbox.server import serve_in_thread
        from sandbox.signatures import PartnerSigning
        from signing.pki import init_dev_pki

        folder = Path(data_dir)
        tables = load_code_tables()
        started = time.perf_counter()
        pki = init_dev_pki(Path(pki_dir), partners=partner_ids())  # the parent made it; partners sign as in the demo
        city_app = create_city(
            folder / "city.sqlite",
            credentials["city_token"],
            code_tables=tables,
            signing=PartnerSigning(pki, "city_system"),
        )
        days, defects = _load_city(city_app.state.store, tables, start, dossiers, seed)
        load_seconds = time.perf_counter() - started
        agencies = sorted({row.code for row in tables.agencies.all_rows()})
        city_level = [row.code for row in tables.agencies.rows(days[0]) if row.level == "city"]
        madonvi = city_level[0] if city_level else agencies[0]
        portal_apps = [
            create_portal(
                folder / f"portal-{i}.sqlite",
                PORTAL_USERNAME,
                credentials["portal_password"],
                agencies,
                code_tables=tables,
                signing=PartnerSigning(pki, "national_portal"),
            )
            for i in range(portal_count)
        ]
    except BaseException as exc:
        conn.send({"error": f"{type(exc).__name__}: {exc}"})
        return
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(serve_in_thread(app)) for app in (city_app, *portal_apps)]
        conn.send(
            {
                "city_url": servers[0].url,
                "portal_urls": [server.url for server in servers[1:]],
                "madonvi": madonvi,
                "records": city_app.state.store.count(),
                "defects": defects,
                "days": [day.isoformat() for day in days],
                "load_seconds": load_seconds,
            }
        )
        while True:
            if conn.poll(0.5):  # "stop", or EOF because the benchmark is gone
                break
            if os.getppid() != parent_pid or not all(server.thread.is_alive() for server in servers):
                break


@contextlib.contextmanager
def sandbox_partners(
    data_dir: Path, *, dossiers: int, seed: int, start: date, pki_dir: Path, portals: int = 2
) -> Iterator[Partners]:
    """Start the partner process, wait until it serves, yield its endpoints; always stop it on exit.

    The partners sign their replies (and the portal refuses unsigned requests) with certificates of
    the development PKI in ``pki_dir``, as in the demo: both benchmarked paths pay for signatures.
    """
    credentials = {"city_token": secrets.token_urlsafe(24), "portal_password": secrets.token_urlsafe(24)}
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(
        target=_serve_partners,
        args=(theirs, str(data_dir), start, dossiers, seed, portals, credentials, os.getpid(), str(pki_dir)),
        name="bench-partners",
        daemon=True,
    )
    process.start()
    theirs.close()  # so that recv() sees EOF if the child dies
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not ours.poll(1.0):
            if not process.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"partner process did not start (exit code {process.exitcode})")
        try:
            info = ours.recv()
        except EOFError:
            raise RuntimeError(f"partner process died during start-up (exit code {process.exitcode})") from None
        if "error" in info:
            raise RuntimeError(f"partner process failed: {info['error']}")
        yield Partners(
            pid=process.pid or 0,
            city_url=info["city_url"],
            city_token=credentials["city_token"],
            portals=tuple(
                PortalEndpoint(url, PORTAL_USERNAME, credentials["portal_password"], info["madonvi"])
                for url in info["portal_urls"]
            ),
            records=info["records"],
            defects=info["defects"],
            days=tuple(date.fromisoformat(day) for day in info["days"]),
            load_seconds=info["load_seconds"],
        )
    finally:
        with contextlib.suppress(OSError):
            ours.send("stop")
        ours.close()
        process.join(20)
        if process.is_alive():
            process.terminate()
            process.join(5)
        if process.is_alive():
            process.kill()
            process.join(5)


def peak_rss_mib(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident set size in MiB (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(who).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def verdict(problems: list[str], ok: str) -> int:
    """Print every problem and the closing line (``ok``, or FAILED); the benchmark's exit status."""
    for problem in problems:
        print(f"PROBLEM: {problem}", flush=True)
    print(ok if not problems else "FAILED", flush=True)
    return 1 if problems else 0


def machine() -> str:
    """Where and when the figures were taken: CPUs, Python, the UTC time and the load average."""
    import platform

    return (
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {load_average()}"
    )


def load_average() -> str:
    """The 1-minute load average: on a shared 2-core machine it says how much other work ran meanwhile."""
    return f"load {os.getloadavg()[0]:.2f}"


def transport(partner: str, url: str, signatures: MessageSignatures) -> HttpTransport:
    """The adapters' transport as a Connection would configure it, with room for 1000-record calls."""
    from adapters.settings import TransportSettings
    from adapters.transport import HttpTransport

    settings = TransportSettings(base_url=url, read_timeout=HTTP_TIMEOUT_S)
    return HttpTransport(partner, settings, signatures=signatures)


def portal_client(portal: PortalEndpoint, signatures: MessageSignatures) -> NationalPortalClient:
    """The adapter's portal client on its own pooled transport, as a delivery task builds one from the hook."""
    from adapters.national_portal.client import PARTNER, NationalPortalClient

    return NationalPortalClient(
        transport(PARTNER, portal.url, signatures), portal.username, portal.password, portal.madonvi
    )


def portal_stats(portal: PortalEndpoint) -> dict[str, Any]:
    """What a portal simulator holds and counted (its ``/sandbox/stats``)."""
    import requests

    reply = requests.get(f"{portal.url}/sandbox/stats", timeout=HTTP_TIMEOUT_S)
    reply.raise_for_status()
    return reply.json()


def city_page_bodies(partners: Partners, page_size: int) -> Iterator[bytes]:
    """The city listing of the whole generated span, page by page, as the raw bytes the system serves.

    Plain ``requests.get`` with a fresh connection per page: callers that time their parsing
    (bench.floor) get the bytes untouched; callers that want records parse them.
    """
    import requests

    start, end = partners.window
    params: dict[str, Any] = {"updated_from": start.isoformat(), "updated_to": end.isoformat(), "limit": page_size}
    headers = {"Authorization": f"Bearer {partners.city_token}"}
    while True:
        reply = requests.get(
            f"{partners.city_url}/api/v1/dossiers/changes", params=params, headers=headers, timeout=HTTP_TIMEOUT_S
        )
        reply.raise_for_status()
        yield reply.content
        cursor = reply.json()["next_cursor"]
        if cursor is None:
            return
        params["cursor"] = cursor
