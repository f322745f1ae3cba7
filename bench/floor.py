"""Benchmark baseline: the irreducible work of a backfill on the city's records, and nothing else.

    uv run python -m bench.floor [--dossiers 20000] [--seed 7]

(``python -m bench.backfill`` runs it together with the hub's own path on the same data and
prints the ratio; run alone, it prints the floor only.)

Per record, exactly what no implementation of the hub's guarantees can skip:

* parse the city page it came in, once (the raw bytes the city system served);
* canonical JSON (sorted keys, UTF-8 kept) and its SHA-256: the content hash staging keys on;
* serialise its portal payload once (``DongBoHoSoMC``) and its progress history once
  (``CapNhatTienDoHoSoMC`` entries), each with its idempotency key;
* write the staged row and the outbox rows: ONE SQLite transaction for the whole run, one
  ``executemany`` per page and table;
* one RSA-2048 signature per 500-record batch (``signing.merkle.sign_batch`` over the canonical
  bytes: a Merkle root, signed once).

Not in it: fetching the pages (read before timing), and the mapping to the portal's record
(``mappings``: done per page outside the timed sections, since a faster hub still maps) -- the
floor is the cost of the guarantees, not of the mapping. With ``orjson`` installed it parses and
serialises with orjson (sorted keys), else with the standard ``json`` module; it says which.
CPU time is the process's own (``time.process_time``), timed sections only.

Beside the floor it times, separately and for information (issue 19's ratio stays against the
floor alone), the two costs the floor leaves out that no hub can skip either: the **mapping**
(city record -> canonical dossier -> portal record and progress entries) and the **portal
contract's calls** -- records and entries go in calls of 10 (the portal's batch), each call body
serialised and signed with the detached JWS the hub puts on every request (``sign_requests``,
default on). Floor + mapping + calls is the *contract floor*: what a hub doing nothing but its
contract would spend, network and partner apart. Calls are counted over the page's stream, which
is what the hub's batches of 500 dossiers and 80 histories come to within a call per batch.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from adapters.partners import partner_ids
from bench.common import Partners, city_page_bodies, load_average, sandbox_partners
from hub.pipeline.extract import record_key
from mappings.city_system import to_canonical
from mappings.code_tables import CodeTables, load_code_tables
from mappings.errors import MappingError
from mappings.national_portal import to_dong_bo_ho_so, to_progress_entries
from signing.digests import canonical_json, idempotency_key
from signing.jws import sign_detached
from signing.keys import SigningIdentity
from signing.merkle import sign_batch
from signing.pki import HUB, init_dev_pki

PAGE_SIZE = 1000  # the city listing's page, as the hub's extraction reads it
SIGNED_BATCH = 500  # records per signed batch, as the hub's delivery batches
CALL_SIZE = 10  # records or progress entries per portal call (the portal's contract)
SYNC, PROGRESS = "DongBoHoSoMC", "CapNhatTienDoHoSoMC"

try:  # optional: the floor is the floor with the fastest serialiser at hand
    import orjson
except ImportError:  # pragma: no cover - depends on the environment
    orjson = None

SCHEMA = (
    "CREATE TABLE staged (dossier_no TEXT PRIMARY KEY, content_hash TEXT NOT NULL, payload BLOB NOT NULL)",
    "CREATE TABLE outbox (idempotency_key TEXT PRIMARY KEY, operation TEXT NOT NULL, dossier_no TEXT NOT NULL, "
    "payload BLOB NOT NULL)",
)


def serialiser() -> tuple[str, Callable[[bytes], Any], Callable[[Any], bytes]]:
    """(name, parse, canonical dump): orjson when installed, the standard library otherwise."""
    if orjson is not None:
        sort_keys = orjson.OPT_SORT_KEYS
        return f"orjson {orjson.__version__}", orjson.loads, lambda value: orjson.dumps(value, option=sort_keys)
    return "json (standard library; orjson not installed)", json.loads, canonical_json


@dataclass
class FloorResult:
    """What the floor did and what it cost (timed sections only)."""

    serialiser: str
    records: int = 0
    progress_entries: int = 0
    outbox_rows: int = 0
    signatures: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    mapping_cpu_seconds: float = 0.0
    calls: int = 0
    calls_cpu_seconds: float = 0.0

    @property
    def per_cpu_second(self) -> float:
        return self.records / self.cpu_seconds if self.cpu_seconds else float("inf")

    @property
    def contract_cpu_seconds(self) -> float:
        """The floor plus the mapping plus one serialised, signed body per portal call."""
        return self.cpu_seconds + self.mapping_cpu_seconds + self.calls_cpu_seconds

    @property
    def contract_per_cpu_second(self) -> float:
        return self.records / self.contract_cpu_seconds if self.contract_cpu_seconds else float("inf")

    def line(self) -> str:
        return (
            f"floor: {self.records:,} records ({self.progress_entries:,} progress entries, {self.outbox_rows:,} "
            f"outbox rows, {self.signatures} signatures) in {self.seconds:.2f} s wall, {self.cpu_seconds:.2f} s CPU "
            f"= {self.per_cpu_second:,.0f} records/CPU-s with {self.serialiser}"
        )

    def contract_line(self) -> str:
        return (
            f"contract floor: the floor {self.cpu_seconds:.2f} s + mapping {self.mapping_cpu_seconds:.2f} s + "
            f"{self.calls:,} signed calls of {CALL_SIZE} {self.calls_cpu_seconds:.2f} s = "
            f"{self.contract_cpu_seconds:.2f} s CPU = {self.contract_per_cpu_second:,.0f} records/CPU-s"
        )


def _sign_calls(items: list[Any], dump: Callable[[Any], bytes], identity: SigningIdentity) -> int:
    """Serialise and sign ``items`` in the portal's calls of :data:`CALL_SIZE`; the number of calls."""
    for start in range(0, len(items), CALL_SIZE):
        sign_detached(dump(items[start : start + CALL_SIZE]), identity)
    return -(-len(items) // CALL_SIZE)


def _mapped(record: dict[str, Any], tables: CodeTables) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """The record's portal payload and progress entries, or None where the hub would quarantine it."""
    try:
        dossier = to_canonical(record, tables)
        return to_dong_bo_ho_so(dossier, tables), to_progress_entries(dossier)
    except (MappingError, KeyError, TypeError, ValueError):
        return None


class _Clock:
    """Wall and CPU time of the timed sections only."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def __enter__(self) -> _Clock:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall += time.perf_counter() - self._wall
        self.cpu += time.process_time() - self._cpu


def run_floor(bodies: Iterable[bytes], tables: CodeTables, identity: SigningIdentity, work: Path) -> FloorResult:
    """The irreducible work on every record of ``bodies`` (raw city pages); one transaction in ``work``."""
    name, parse, dump = serialiser()
    result = FloorResult(name)
    clock, mapping_clock, calls_clock = _Clock(), _Clock(), _Clock()
    db = sqlite3.connect(work / "floor.sqlite", isolation_level=None)
    for statement in SCHEMA:
        db.execute(statement)
    leaves: list[bytes] = []
    with clock:
        db.execute("BEGIN")
    for body in bodies:
        with clock:
            records = parse(body)["items"]
        with mapping_clock:  # outside the floor: timed for the contract floor only
            mapped = [_mapped(record, tables) for record in records]
        with clock:
            staged, outbox = [], []
            for record, payloads in zip(records, mapped, strict=True):
                key = record_key(record)
                canonical = dump(record)
                digest = hashlib.sha256(canonical).hexdigest()
                staged.append((key, digest, canonical))
                leaves.append(canonical)
                if payloads is not None:
                    sync, progress = payloads
                    outbox.append((idempotency_key("portal", SYNC, key, digest), SYNC, key, dump(sync)))
                    outbox.append((idempotency_key("portal", PROGRESS, key, digest), PROGRESS, key, dump(progress)))
                    result.progress_entries += len(progress)
                if len(leaves) == SIGNED_BATCH:
                    sign_batch(leaves, identity)
                    result.signatures += 1
                    leaves = []
            db.executemany("INSERT INTO staged VALUES (?, ?, ?)", staged)
            db.executemany("INSERT OR IGNORE INTO outbox VALUES (?, ?, ?, ?)", outbox)
            result.records += len(staged)
            result.outbox_rows += len(outbox)
        with calls_clock:
            done = [payloads for payloads in mapped if payloads is not None]
            result.calls += _sign_calls([sync for sync, _ in done], dump, identity)
            result.calls += _sign_calls([entry for _, progress in done for entry in progress], dump, identity)
    with clock:
        if leaves:
            sign_batch(leaves, identity)
            result.signatures += 1
        db.execute("COMMIT")
    db.close()
    result.seconds, result.cpu_seconds = clock.wall, clock.cpu
    result.mapping_cpu_seconds, result.calls_cpu_seconds = mapping_clock.cpu, calls_clock.cpu
    return result


def floor_of(partners: Partners, pki_dir: Path) -> FloorResult:
    """The floor on the partners' whole city listing, in a scratch folder; the hub's dev identity signs."""
    identity = init_dev_pki(pki_dir).identity(HUB)
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
        return run_floor(city_page_bodies(partners, PAGE_SIZE), load_code_tables(), identity, Path(tmp))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dossiers", type=int, default=20_000, help="generated city dossiers")
    parser.add_argument("--seed", type=int, default=7, help="generator seed")
    parser.add_argument("--start-day", type=date.fromisoformat, default=date(2026, 11, 2), help="first working day")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
        work = Path(tmp)
        pki = init_dev_pki(work / "pki", partners=partner_ids())
        generated = {"dossiers": args.dossiers, "seed": args.seed, "start": args.start_day}
        with sandbox_partners(work / "sandbox", **generated, pki_dir=pki.folder, portals=1) as partners:
            floor = floor_of(partners, pki.folder)
            print(floor.line(), f"({load_average()})", flush=True)
            print(floor.contract_line(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
