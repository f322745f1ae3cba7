"""Benchmark: extract's peak memory against the size of its window.

    uv run python -m bench.extract_memory [--dossiers 40000] [--seed 7]

The city system (a sandbox in its own process, ``bench.common``) holds ``--dossiers`` generated
dossiers over consecutive working days (about 11,000 a day). Extract -- exactly what the
``city_dossiers_extract`` task runs, ``hub.jobs.extract.extract``, message log included -- then
reads a one-day window and the whole span, each in a fresh process with a fresh hub store, and
each process reports its own peak RSS. The baseline is the one-day window: a store that writes
page by page keeps the ratio near 1 whatever the window; one that holds the city's page bodies
until the run ends (the message log did, issue 17) grows with it.

Exit status 1 if the whole-span window's peak is more than ``--max-ratio`` times the one-day one.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bench.common import VN, peak_rss_mib, sandbox_partners


def _child(city_url: str, token: str, start: str, end: str, pki_dir: str) -> None:
    """In a fresh process: one extraction of ``start..end``; prints records, seconds and peak RSS."""
    from adapters.city_system.client import PARTNER, CitySystemClient
    from adapters.settings import TransportSettings
    from adapters.signatures import MessageSignatures
    from adapters.transport import HttpTransport
    from hub.jobs.extract import extract
    from signing.pki import HUB, DevPki

    pki = DevPki.existing(Path(pki_dir))
    signatures = MessageSignatures(identity=pki.identity(HUB), trust=pki.trust_store())
    transport = HttpTransport(PARTNER, TransportSettings(base_url=city_url, read_timeout=120), signatures=signatures)
    before = peak_rss_mib()
    began = time.perf_counter()
    result = extract(CitySystemClient(transport, token), datetime.fromisoformat(start), datetime.fromisoformat(end))
    print(
        json.dumps(
            {
                "records": result["records"],
                "seconds": time.perf_counter() - began,
                "peak_rss_mib": peak_rss_mib(),
                "start_rss_mib": before,
            }
        )
    )


CHILD_TOKEN = "HUB_BENCH_CITY_TOKEN"  # the city double's token, handed to each window's process


def _run_window(work: Path, name: str, city_url: str, token: str, start: datetime, end: datetime) -> dict:
    env = {
        **os.environ,
        "HUB_STORE_URL": f"sqlite:///{work / f'hub-{name}.db'}",
        "HUB_VAR_DIR": str(work / "var"),
        # The token by environment, not argv: argv is readable by anyone with `ps`, and a token
        # starting with "-" would be taken for an option.
        CHILD_TOKEN: token,
    }
    args = [city_url, start.isoformat(), end.isoformat(), str(work / "var" / "pki")]
    done = subprocess.run(
        [sys.executable, "-m", "bench.extract_memory", "--child", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dossiers", type=int, default=40_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start-day", type=date.fromisoformat, default=date(2026, 11, 2))
    parser.add_argument("--max-ratio", type=float, default=1.25)
    parser.add_argument("--child", nargs=4, metavar=("CITY_URL", "START", "END", "PKI_DIR"))
    args = parser.parse_args(argv)
    if args.child:
        city_url, start, end, pki_dir = args.child
        _child(city_url, os.environ[CHILD_TOKEN], start, end, pki_dir)
        return 0
    from adapters.partners import partner_ids
    from signing.pki import init_dev_pki

    print(
        f"bench.extract_memory: {args.dossiers:,} dossiers, seed {args.seed}; {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-extract-memory-") as tmp:
        work = Path(tmp)
        pki = init_dev_pki(work / "var" / "pki", partners=partner_ids())
        with sandbox_partners(
            work / "sandbox",
            dossiers=args.dossiers,
            seed=args.seed,
            start=args.start_day,
            pki_dir=pki.folder,
            portals=0,
        ) as partners:
            first = datetime.combine(partners.days[0], datetime.min.time(), VN)
            windows = {
                "one day": (first, first + timedelta(days=1)),
                f"{len(partners.days)} working days": partners.window,
            }
            results = {name: _run_window(work, str(i), partners.city_url, partners.city_token, *w)
                       for i, (name, w) in enumerate(windows.items())}  # fmt: skip
    print(f"{'window':<20} {'records':>8} {'seconds':>8} {'peak RSS MiB':>13} {'RSS at start':>13}")
    for name, r in results.items():
        print(
            f"{name:<20} {r['records']:>8,} {r['seconds']:>8.1f} {r['peak_rss_mib']:>13.0f} {r['start_rss_mib']:>13.0f}"
        )
    small, large = results.values()
    ratio = large["peak_rss_mib"] / small["peak_rss_mib"]
    growth = (large["peak_rss_mib"] - large["start_rss_mib"]) - (small["peak_rss_mib"] - small["start_rss_mib"])
    print(
        f"ratio of peaks (whole span / one day, {large['records'] / small['records']:.1f}x the records): "
        f"{ratio:.2f}; extra growth {growth:.0f} MiB"
    )
    if ratio > args.max_ratio:
        print(f"FAILED: the peak grows with the window (ratio {ratio:.2f} > {args.max_ratio})")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
