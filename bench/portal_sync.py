"""Benchmark: city dossiers -> national portal, the hub path against a naive per-dossier path.

    uv run python -m bench.portal_sync [--dossiers 100000] [--naive-sample 5000] [--seed 7]

Both paths run in the same process, against the same sandbox partners (city system plus two
fresh national portals, served by a separate process), one after the other:

* **hub** -- exactly what the DAG tasks run (``hub.jobs.extract``, ``hub.jobs.portal``): ``extract``
  (keyset pages of 1000 into the store, one bulk write per page), ``plan_portal_sync`` (quality
  gate, outbox, dispositions),
  then ``deliver_portal_dossiers`` over every batch id, with the adapters' clients (one pooled
  ``requests.Session`` per partner) and a fresh SQLite hub store. Message log included. As the
  DAG's mapped delivery tasks do, batches are delivered ``--deliver-slots`` at a time (default:
  the ``national_portal`` pool's slots in adapters/partners.py), each slot with a client of its own.
* **naive** -- what a straightforward integration does: read the same listing, run the same
  quality gate, scope rule and mapping over its sample as ONE batch (the gate is a batch tool on
  both paths: a GX validation costs ~0.75 s fixed plus ~0.4 ms per row, so calling it per record
  would measure GX, not delivery), then per dossier send it alone in one ``DongBoHoSoMC`` call
  with ``requests.post`` (a new connection each time) and commit its rows (staged version,
  current pointer, delivery state, outbox or quarantine row) in one transaction of its own, in the
  same schema. It runs on a sample (``--naive-sample``) of the same records because it is slow;
  its rate is per dossier, so the sample size does not favour either side.

The ratio is about the delivery path: the time spent inside the quality gate (``QualityGate.split``
and ``.check``, i.e. mapping to the canonical dossier and the GX suites, plus the Data Docs the
plan task builds) is measured the same way on both paths, reported apart and left out of the
ratio; the ratio with the gate included is printed too. GX's start-up (once per process) is paid
before either path and counted in neither.

Both paths sign what they send and verify the portal's signed replies (detached JWS, a
development PKI made for the run), as production does; the naive path skips verifying the city
listing's signatures, which only favours it.

Progress entries (``CapNhatTienDoHoSoMC``) go in calls of at most 10 by the portal's contract,
whatever the sender does, so they are out of the ratio: the naive path does not send them and
the hub's delivery of them is timed on its own (``--progress-batches``) and reported apart. The
hub's plan still maps and queues them (that is the production plan), which only makes the hub
path's figure conservative.

Exit status 1 if a path lost a record (the dispositions must add up to the input and the portal
must hold exactly what the path says it delivered), if the two paths disagree on a sampled
dossier's disposition, or if the delivery-path ratio is below ``--min-ratio``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import queue
import resource
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

from adapters.city_system.client import PARTNER as CITY_PARTNER
from adapters.city_system.client import CitySystemClient
from adapters.national_portal.client import PARTNER as PORTAL_PARTNER
from adapters.national_portal.client import NationalPortalClient
from adapters.national_portal.models import Classification, classify, is_success, refusal_of
from adapters.partners import partner_ids, pools
from adapters.signatures import SIGNATURE_HEADER, MessageSignatures
from bench.common import (
    HTTP_TIMEOUT_S,
    Partners,
    PortalEndpoint,
    city_page_bodies,
    load_average,
    machine,
    peak_rss_mib,
    portal_client,
    portal_stats,
    rate,
    sandbox_partners,
    transport,
    verdict,
)
from hub.pipeline.extract import record_key
from hub.pipeline.portal_sync import PARTNER, SYNC_OPERATION, _integrated
from hub.pipeline.summary import sync_summary
from hub.store import HubStore, OutboxState
from hub.store import schema as t
from hub.store.database import utc
from mappings.code_tables import load_code_tables
from mappings.delivery import DeliveryState
from mappings.errors import MappingError
from mappings.national_portal import to_dong_bo_ho_so
from mappings.sources import CITY_SOURCE
from quality.expectations.datasets import PORTAL_PAYLOADS
from quality.gate import QualityGate
from signing.digests import content_hash, idempotency_key
from signing.pki import HUB, init_dev_pki

PAGE_SIZE = 1000  # the hub's extraction page; the naive path reads the same pages
GOAL_RATIO = 20.0
# dags.common.NATIONAL_PORTAL_POOL, not imported from there: importing Airflow reconfigures logging.
PORTAL_POOL = "national_portal"


@dataclass
class Stage:
    name: str
    items: int
    seconds: float
    unit: str = "dossiers"

    @property
    def per_second(self) -> float:
        return rate(self.items, self.seconds)


@dataclass
class PathResult:
    """What one path did: its stages, where each dossier ended, and whether the counts add up."""

    name: str
    dossiers: int
    stages: list[Stage]
    dispositions: Counter[str]
    portal_held: int
    problems: list[str] = field(default_factory=list)
    rss_mib: float | None = None
    gate_seconds: float = 0.0  # inside the quality gate, whichever stage it ran in

    @property
    def seconds(self) -> float:
        return sum(stage.seconds for stage in self.stages)

    @property
    def delivery_seconds(self) -> float:
        """The path without its quality gate: what the ratio compares."""
        return self.seconds - self.gate_seconds

    @property
    def settled(self) -> int:
        """Dossiers with a final disposition (delivered, quarantined or out of scope); pending is not settled."""
        return sum(n for state, n in self.dispositions.items() if state != DeliveryState.PENDING)

    @property
    def per_second(self) -> float:
        return rate(self.settled, self.seconds)

    @property
    def delivery_per_second(self) -> float:
        return rate(self.settled, self.delivery_seconds)


class GateClock:
    """Wall time spent inside the quality gate, on whichever path calls it.

    The gate is the same batch tool on both paths, so the ratio is taken without it: both paths'
    gate time is measured here the same way -- around ``QualityGate.split`` (mapping to the
    canonical dossier, GX city suite) and ``QualityGate.check`` (GX portal-payload suite), plus
    the Data Docs the plan task builds -- and reported apart. Only the plan (one thread) calls them.
    """

    def __init__(self) -> None:
        self.seconds = 0.0

    @contextmanager
    def timing(self, owner: Any, *names: str) -> Iterator[None]:
        """Time every call of ``owner.<name>`` while the block runs; the originals come back after."""
        originals = {name: getattr(owner, name) for name in names}

        def timed(original: Callable[..., Any]) -> Callable[..., Any]:
            def call(*args: Any, **kwargs: Any) -> Any:
                began = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    self.seconds += time.perf_counter() - began

            return call

        for name, original in originals.items():
            setattr(owner, name, timed(original))
        try:
            yield
        finally:
            for name, original in originals.items():
                setattr(owner, name, original)


# -- the hub path ---------------------------------------------------------------------------------


def _deliver_batches(jobs: Any, clients: list[NationalPortalClient], batch_ids: list[str]) -> list[dict[str, Any]]:
    """Deliver every batch, ``len(clients)`` at a time, as the pool-limited mapped tasks do.

    A slot takes the next batch when it is free; each slot has its own client (an Airflow task
    builds its own from the hook). Threads, not processes: a slot mostly waits for the portal,
    and the one interpreter lock then makes the figure conservative, not flattering.
    """
    idle: queue.SimpleQueue[NationalPortalClient] = queue.SimpleQueue()
    for client in clients:
        idle.put(client)

    def deliver(batch_id: str) -> dict[str, Any]:
        client = idle.get()
        try:
            return jobs.deliver_portal_dossiers(client, batch_id)
        finally:
            idle.put(client)

    with ThreadPoolExecutor(max_workers=len(clients), thread_name_prefix="deliver") as slots:
        return list(slots.map(deliver, batch_ids))


def run_hub(
    partners: Partners,
    work: Path,
    signatures: MessageSignatures,
    progress_batches: int,
    deliver_slots: int,
    clock: GateClock,
) -> tuple[PathResult, Stage | None, HubStore]:
    """The production path, stage by stage, through ``hub.jobs`` (what the DAG tasks call)."""
    os.environ["HUB_STORE_URL"] = f"sqlite:///{work / 'hub.db'}"
    # Both read HUB_STORE_URL at call time; imported here to make that visible.
    from hub.jobs import portal as jobs
    from hub.jobs.extract import extract

    portal = partners.portals[0]
    city = CitySystemClient(transport(CITY_PARTNER, partners.city_url, signatures), partners.city_token)
    clients = [portal_client(portal, signatures) for _ in range(deliver_slots)]
    store = jobs.hub_store()  # creates the schema: not part of any stage
    start, end = partners.window

    began = time.perf_counter()
    extracted = extract(city, start, end)
    extract_s = time.perf_counter() - began
    _say(f"  extract  {extracted['records']:>7,} records in {extract_s:6.1f} s ({load_average()})")

    began, gate_began = time.perf_counter(), clock.seconds
    with clock.timing(jobs, "build_data_docs"):
        batch_ids = jobs.plan_portal_sync()
    plan_s, gate_s = time.perf_counter() - began, clock.seconds - gate_began
    planned = store.deliveries.counts(PARTNER, CITY_SOURCE)
    _say(
        f"  plan     {sum(planned.values()):>7,} dossiers in {plan_s:6.1f} s, of which gate {gate_s:5.1f} s -> "
        f"{planned}, {len(batch_ids)} batches ({load_average()})"
    )

    began = time.perf_counter()
    outcomes: Counter[str] = Counter()
    messages = 0
    for report in _deliver_batches(jobs, clients, batch_ids):
        messages += report["messages"]
        outcomes.update(report["outcomes"])
    deliver_s = time.perf_counter() - began
    _say(
        f"  deliver  {messages:>7,} messages in {deliver_s:6.1f} s, {deliver_slots} at a time -> "
        f"{dict(outcomes)} ({load_average()})"
    )
    rss = peak_rss_mib()

    summary = sync_summary(store, source=CITY_SOURCE, partner=PARTNER)
    counts = summary["counts"]
    dispositions = Counter({state.value: counts[state.value] for state in DeliveryState})
    held = portal_stats(portal)["held"]["dossiers"]
    result = PathResult(
        "hub",
        counts["extracted"],
        [
            Stage("extract", extracted["records"], extract_s),
            Stage("plan", sum(planned.values()), plan_s),
            Stage("deliver", messages, deliver_s, "messages"),
        ],
        dispositions,
        held,
        gate_seconds=gate_s,
    )
    result.problems += _accounting_problems("hub", partners.records, counts["extracted"], dispositions, held)
    if not summary["identity_holds"]:
        result.problems.append(f"hub: summary identity does not hold: {counts}")
    result.rss_mib = rss

    progress = _hub_progress(jobs, clients[0], progress_batches) if progress_batches else None
    city.transport.close()
    for client in clients:
        client.transport.close()
    return result, progress, store


def _hub_progress(jobs: Any, client: NationalPortalClient, batches: int) -> Stage:
    """Batch the progress entries and deliver the first ``batches`` batches: timed apart, never in the ratio."""
    began = time.perf_counter()
    batch_ids = jobs.plan_portal_progress()
    entries = 0
    for batch_id in batch_ids[:batches]:
        entries += jobs.deliver_portal_progress(client, batch_id)["messages"]
    seconds = time.perf_counter() - began
    _say(
        f"  progress {entries:>7,} entries ({min(batches, len(batch_ids))} of {len(batch_ids)} batches) "
        f"in {seconds:6.1f} s"
    )
    return Stage("progress (apart)", entries, seconds, "entries")


# -- the naive path -------------------------------------------------------------------------------


class NaivePortal:
    """The portal as a naive client talks to it: ``requests.post`` per call, no pooled session.

    It signs each request and verifies each reply, as any client of a signing partner must.
    """

    def __init__(self, endpoint: PortalEndpoint, signatures: MessageSignatures) -> None:
        self.endpoint = endpoint
        # Bound to the portal as the adapters' transport binds it: its replies must carry its certificate.
        self.signatures = signatures.bound_to(PORTAL_PARTNER)
        self.session = self._login()

    def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        # Same bytes as the adapters' transport sends (UTF-8 JSON, not \\u escapes): only the
        # connection handling differs.
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        reply = requests.post(
            f"{self.endpoint.url}{path}",
            data=body,
            headers={"Content-Type": "application/json; charset=utf-8", **self.signatures.request_headers(body)},
            timeout=HTTP_TIMEOUT_S,
        )
        reply.raise_for_status()
        refusal = self.signatures.refusal(reply.content, reply.headers.get(SIGNATURE_HEADER))
        if refusal is not None:
            raise RuntimeError(f"naive: reply refused: {refusal}")
        return reply.json()

    def _login(self) -> str:
        reply = self._post("/auth", {"username": self.endpoint.username, "password": self.endpoint.password})
        if not is_success(reply.get("error_code", "")):
            raise RuntimeError(f"naive login refused: {reply.get('message')}")
        return str(reply["session"])

    def sync_one(self, record: dict[str, Any], updating: bool) -> tuple[Classification, str]:
        """One dossier, one call (public clients' practice); the reply read as the hub reads it."""
        for _ in range(2):
            payload = {
                "session": self.session,
                "madonvi": self.endpoint.madonvi,
                "service": SYNC_OPERATION,
                "isUpdating": "True" if updating else "False",
                "data": [record],
            }
            reply = self._post("/service", payload)
            code, message = reply.get("error_code", ""), str(reply.get("message", ""))
            if str(code) == "100":  # session expired: log in again, once
                self.session = self._login()
                continue
            return classify(code, message) or refusal_of(record["MaHoSo"], message), message
        raise RuntimeError("naive: session refused right after a fresh login")


def _city_pages(partners: Partners, limit: int) -> Iterator[dict[str, Any]]:
    """The city listing read with plain ``requests.get`` in pages of 1000, as many records as asked."""
    served = 0
    for body in city_page_bodies(partners, PAGE_SIZE):
        for record in json.loads(body)["items"][: limit - served]:
            served += 1
            yield record
        if served >= limit:
            return


def _source_updated_at(record: dict[str, Any]) -> datetime | None:
    try:
        return utc(datetime.fromisoformat(record["cap_nhat_luc"]))
    except (KeyError, TypeError, ValueError):
        return None


class NaiveStore:
    """One transaction, with single-row statements, per dossier -- in the hub store's own schema."""

    def __init__(self, store: HubStore) -> None:
        self.engine = store.db.engine
        insert = store.db.insert  # the dialect's INSERT (ON CONFLICT support), as HubStore uses it
        current = insert(t.dossier_current)
        self.stage_row = insert(t.staged_dossier).on_conflict_do_nothing()
        self.current_row = current.on_conflict_do_update(
            index_elements=["source", "dossier_no"],
            set_={c: current.excluded[c] for c in ("content_hash", "source_updated_at", "batch_id", "staged_at")},
        )
        delivery = insert(t.delivery)
        self.delivery_row = delivery.on_conflict_do_update(
            index_elements=["partner", "dossier_no"],
            set_={
                c: delivery.excluded[c]
                for c in ("content_hash", "state", "acked_hash", "acked_at", "reason", "updated_at")
            },
        )
        self.outbox_row = insert(t.outbox).on_conflict_do_nothing(index_elements=["idempotency_key"])
        self.quarantine_row = insert(t.quarantine).on_conflict_do_nothing()

    def commit(
        self,
        record: dict[str, Any],
        key: str,
        digest: str,
        state: DeliveryState,
        reason: str | None,
        sent: dict[str, Any] | None,
        violations: Sequence[tuple[str, str]],
    ) -> None:
        now = datetime.now(UTC)
        delivered = state is DeliveryState.DELIVERED
        with self.engine.begin() as conn:
            conn.execute(
                self.stage_row,
                {
                    "source": CITY_SOURCE,
                    "dossier_no": key,
                    "content_hash": digest,
                    "payload": record,
                    "source_updated_at": _source_updated_at(record),
                    "batch_id": "naive",
                    "staged_at": now,
                },
            )
            conn.execute(
                self.current_row,
                {
                    "source": CITY_SOURCE,
                    "dossier_no": key,
                    "content_hash": digest,
                    "source_updated_at": _source_updated_at(record),
                    "batch_id": "naive",
                    "staged_at": now,
                },
            )
            conn.execute(
                self.delivery_row,
                {
                    "partner": PARTNER,
                    "dossier_no": key,
                    "source": CITY_SOURCE,
                    "content_hash": digest,
                    "state": state.value,
                    "acked_hash": digest if delivered else None,
                    "acked_at": now if delivered else None,
                    "reason": reason,
                    "updated_at": now,
                },
            )
            if sent is not None:
                conn.execute(
                    self.outbox_row,
                    {
                        "idempotency_key": idempotency_key(PARTNER, SYNC_OPERATION, key, digest),
                        "partner": PARTNER,
                        "operation": SYNC_OPERATION,
                        "dossier_no": key,
                        "content_hash": digest,
                        "payload": sent,
                        "state": (OutboxState.ACKNOWLEDGED if delivered else OutboxState.DEAD).value,
                        "attempts": 1,
                        "last_error": None if delivered else reason,
                        "created_at": now,
                        "updated_at": now,
                    },
                )
            for rule, why in violations:
                conn.execute(
                    self.quarantine_row,
                    {
                        "source": CITY_SOURCE,
                        "dossier_no": key,
                        "rule": rule,
                        "reason": why,
                        "content_hash": digest,
                        "payload": record,
                        "first_seen": now,
                        "last_seen": now,
                        "occurrences": 1,
                    },
                )


@dataclass
class NaiveDossier:
    """What the naive path decided for one record before sending: the plan's disposition rules."""

    record: dict[str, Any]
    key: str
    digest: str
    state: DeliveryState = DeliveryState.PENDING
    reason: str | None = None
    sent: dict[str, Any] | None = None
    violations: list[tuple[str, str]] = field(default_factory=list)

    def quarantine(self, violations: list[tuple[str, str]]) -> None:
        self.violations = violations
        self.state = DeliveryState.QUARANTINED
        self.reason = "quality gate: " + ", ".join(rule for rule, _ in violations)


def _naive_decisions(records: list[dict[str, Any]], gate: QualityGate) -> list[NaiveDossier]:
    """The same gate, scope rule, mapping and portal-payload suite as ``plan``, over the sample as one batch.

    The gate is a batch tool on both paths (one GX validation per suite and batch); a naive
    integration is naive in how it delivers, not in how it checks quality.
    """
    dossiers = [NaiveDossier(record, record_key(record), content_hash(record)) for record in records]
    outcome = gate.split(records)
    for position, violations in outcome.failed.items():
        dossiers[position].quarantine([(v.rule, v.reason) for v in violations])
    to_send: list[tuple[NaiveDossier, dict[str, Any]]] = []
    for position, dossier in outcome.passed:
        decided = dossiers[position]
        if not _integrated(dossier, gate.tables):
            decided.state = DeliveryState.OUT_OF_SCOPE
            decided.reason = f"thủ tục {dossier.procedure_code} chưa tích hợp trên Cổng DVCQG"
            continue
        try:
            to_send.append((decided, to_dong_bo_ho_so(dossier, gate.tables)))
        except MappingError as exc:
            decided.quarantine([(exc.rule, exc.message)])
    checked = gate.check(PORTAL_PAYLOADS, [payload for _, payload in to_send])
    for position, violations in checked.failed.items():
        to_send[position][0].quarantine([(v.rule, v.reason) for v in violations])
    for position in checked.passed:
        decided, payload = to_send[position]
        decided.sent = payload
    return dossiers


def _naive_one(decided: NaiveDossier, portal: NaivePortal, store: NaiveStore) -> DeliveryState:
    """One dossier: send it alone (if it passed), then commit its rows in a transaction of its own."""
    if decided.sent is not None:
        outcome, message = portal.sync_one(decided.sent, updating=False)
        if outcome in (Classification.ALREADY_EXISTS, Classification.NOT_FOUND):  # once more the other way
            outcome, message = portal.sync_one(decided.sent, updating=outcome is Classification.ALREADY_EXISTS)
        if outcome is Classification.STORED:
            decided.state, decided.reason = DeliveryState.DELIVERED, None
        else:
            decided.violations = [("portal.rejected", message)]
            decided.state, decided.reason = DeliveryState.QUARANTINED, f"portal.rejected: {message}"
    store.commit(
        decided.record, decided.key, decided.digest, decided.state, decided.reason, decided.sent, decided.violations
    )
    return decided.state


def _warm_up_gate(partners: Partners) -> float:
    """Start GX (import, context, suites, a first validation of each) before either path is timed.

    A process pays this once, whichever path comes first; it is reported apart so that it
    weighs on neither figure.
    """
    began = time.perf_counter()
    _naive_decisions(list(_city_pages(partners, 20)), QualityGate(load_code_tables()))
    return time.perf_counter() - began


class NaivePath:
    """The per-dossier baseline on the first ``sample`` records of the listing, against the second portal.

    Its first call reads the sample and runs the quality gate over it as one batch (timed apart,
    on ``clock``); then it sends and commits one dossier at a time. It runs in two halves, one
    before and one after the hub path, so that a change in the load of the machine during the run
    (other work on the 2 cores) weighs on both paths alike.
    """

    def __init__(
        self, partners: Partners, work: Path, sample: int, signatures: MessageSignatures, clock: GateClock
    ) -> None:
        self.partners, self.sample = partners, min(sample, partners.records)
        self.signatures, self.clock = signatures, clock
        self.endpoint = partners.portals[1]
        self.hub_store = HubStore(f"sqlite:///{work / 'naive.db'}")
        self.hub_store.create_schema()  # like the hub's store: created before any timing
        self.store = NaiveStore(self.hub_store)
        self.portal: NaivePortal | None = None
        self.decided: Iterator[NaiveDossier] = iter(())
        self.states: dict[str, DeliveryState] = {}
        self.seconds = 0.0
        self.gate_seconds = 0.0

    def run(self, count: int) -> None:
        """Sync the next ``count`` records of the sample, one at a time; the time adds up across calls."""
        began, gate_began = time.perf_counter(), self.clock.seconds
        if self.portal is None:
            gate = QualityGate(load_code_tables())  # the hub's plan loads them too, inside its timing
            self.portal = NaivePortal(self.endpoint, self.signatures)
            self.decided = iter(_naive_decisions(list(_city_pages(self.partners, self.sample)), gate))
        done = 0
        for decided in self.decided:
            self.states[decided.key] = _naive_one(decided, self.portal, self.store)
            done += 1
            if done == count:
                break
        seconds, gate_seconds = time.perf_counter() - began, self.clock.seconds - gate_began
        self.seconds += seconds
        self.gate_seconds += gate_seconds
        _say(
            f"  naive    {done:>7,} dossiers in {seconds:6.1f} s, of which gate {gate_seconds:5.1f} s "
            f"({load_average()})"
        )

    def result(self) -> PathResult:
        dispositions = Counter(state.value for state in self.states.values())
        held = portal_stats(self.endpoint)["held"]["dossiers"]
        with self.hub_store.db.engine.connect() as conn:
            staged = conn.execute(sa.select(sa.func.count()).select_from(t.dossier_current)).scalar_one()
        stages = [
            Stage("quality gate (one batch)", len(self.states), self.gate_seconds),
            Stage("per dossier", len(self.states), self.seconds - self.gate_seconds),
        ]
        result = PathResult("naive", staged, stages, dispositions, held, gate_seconds=self.gate_seconds)
        result.problems += _accounting_problems("naive", self.sample, staged, dispositions, held)
        self.hub_store.db.engine.dispose()
        return result


# -- checks and report ----------------------------------------------------------------------------


def _accounting_problems(
    path: str, expected: int, staged: int, dispositions: Counter[str], portal_held: int
) -> list[str]:
    """Nothing lost: input = staged = delivered + pending + quarantined + out of scope; portal = delivered."""
    problems = []
    accounted = sum(dispositions.values())
    if not expected == staged == accounted:
        problems.append(f"{path}: {expected:,} records in, {staged:,} staged, {accounted:,} with a disposition")
    if portal_held != dispositions[DeliveryState.DELIVERED]:
        problems.append(
            f"{path}: the portal holds {portal_held:,} dossiers, the path says it delivered "
            f"{dispositions[DeliveryState.DELIVERED]:,}"
        )
    return problems


def _disagreements(store: HubStore, naive: dict[str, DeliveryState]) -> list[str]:
    """Sampled dossiers whose disposition differs between the paths: the baseline must do the same work."""
    found: dict[str, str] = {}
    keys = list(naive)
    with store.db.engine.connect() as conn:
        for start in range(0, len(keys), 500):
            query = sa.select(t.delivery.c.dossier_no, t.delivery.c.state).where(
                t.delivery.c.partner == PARTNER, t.delivery.c.dossier_no.in_(keys[start : start + 500])
            )
            found.update(dict(conn.execute(query).all()))
    return [
        f"{key}: hub {found.get(key)}, naive {state.value}" for key, state in naive.items() if found.get(key) != state
    ]


def _say(text: str = "") -> None:
    print(text, flush=True)


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        _say(
            "  "
            + "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            _say("  " + "  ".join("-" * w for w in widths))


def _set_latency(partners: Partners, latency_ms: int) -> None:
    """Make every portal call wait ``latency_ms`` (the simulator's fault injection), as a WAN would."""
    for portal in partners.portals:
        reply = requests.post(f"{portal.url}/sandbox/faults", json={"latency_ms": latency_ms}, timeout=HTTP_TIMEOUT_S)
        reply.raise_for_status()
    _say(f"portals: {latency_ms} ms latency added to every call, on both paths")


def report(hub: PathResult, naive: PathResult, progress: Stage | None, warm_up_s: float) -> float:
    """Print the figures; returns the ratio of the delivery paths (quality gate excluded on both)."""
    ratio = hub.delivery_per_second / naive.delivery_per_second
    _say()
    _say("per stage (the hub's plan includes its quality gate, see the gate column below)")
    rows = [("path", "stage", "items", "seconds", "items/s")]
    for path, stages in (("hub", hub.stages + ([progress] if progress else [])), ("naive", naive.stages)):
        for stage in stages:
            rows.append(
                (path, stage.name, f"{stage.items:,} {stage.unit}", f"{stage.seconds:.2f}", f"{stage.per_second:,.0f}")
            )
    _table(rows)
    _say()
    _say("paths (dossiers = settled: delivered + quarantined + out of scope; progress entries excluded)")
    header = ("path", "dossiers", "seconds", "gate s", "delivery s", "delivery/s")
    rows = [(*header, "delivered", "quarantined", "out of scope", "pending")]
    for path in (hub, naive):
        d = path.dispositions
        rows.append(
            (
                path.name,
                f"{path.settled:,}",
                f"{path.seconds:.2f}",
                f"{path.gate_seconds:.2f}",
                f"{path.delivery_seconds:.2f}",
                f"{path.delivery_per_second:,.1f}",
                f"{d['delivered']:,}",
                f"{d['quarantined']:,}",
                f"{d['out_of_scope']:,}",
                f"{d['pending']:,}",
            )
        )
    _table(rows)
    _say()
    _say(
        f"ratio (delivery path, quality gate excluded on both) = hub/naive = {hub.delivery_per_second:,.1f} / "
        f"{naive.delivery_per_second:,.1f} = {ratio:.1f}x (goal >= {GOAL_RATIO:.0f}x: "
        f"{'met' if ratio >= GOAL_RATIO else 'NOT met'})"
    )
    _say(
        f"with the gate (hub per page, naive over its sample as one batch): {hub.per_second:,.1f} / "
        f"{naive.per_second:,.1f} = {hub.per_second / naive.per_second:.1f}x; GX start-up {warm_up_s:.1f} s "
        "once per process, before both paths, in neither"
    )
    _say(f"naive path measured on a sample of {naive.dossiers:,} of the {hub.dossiers:,} dossiers")
    _say(
        f"peak RSS: benchmark process after the hub path {hub.rss_mib or 0:,.0f} MiB "
        f"(whole run {peak_rss_mib():,.0f} MiB); partner process {peak_rss_mib(resource.RUSAGE_CHILDREN):,.0f} MiB"
    )
    return ratio


def _pool_slots(pool: str) -> int:
    """Slots of an Airflow pool as the hub creates it (adapters/partners.py): the DAG's concurrency."""
    return pools()[pool].slots


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.portal_sync", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dossiers", type=int, default=100_000, help="city dossiers to sync on the hub path")
    parser.add_argument("--naive-sample", type=int, default=5_000, help="dossiers the naive path syncs")
    parser.add_argument("--seed", type=int, default=7, help="generator seed")
    parser.add_argument(
        "--start-day",
        type=date.fromisoformat,
        default=date(2026, 11, 2),
        help="first generated working day (YYYY-MM-DD)",
    )
    parser.add_argument(
        "--progress-batches",
        type=int,
        default=10,
        help="progress batches (500 entries each) to deliver and time apart; 0 = skip",
    )
    parser.add_argument(
        "--portal-latency-ms",
        type=int,
        default=0,
        help="latency the portals add to every call (both paths alike); 0 = loopback as is",
    )
    parser.add_argument(
        "--deliver-slots",
        type=int,
        default=_pool_slots(PORTAL_POOL),
        help="dossier batches delivered at a time on the hub path (default: the national_portal pool's slots)",
    )
    parser.add_argument(
        "--min-ratio", type=float, default=0.0, help="exit 1 if the delivery-path ratio hub/naive is below this"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.dossiers < 1 or args.naive_sample < 1 or args.deliver_slots < 1:
        _parser().error("--dossiers, --naive-sample and --deliver-slots must be positive")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    _say(
        f"bench.portal_sync: {args.dossiers:,} dossiers, naive sample {args.naive_sample:,}, seed {args.seed}; "
        f"{machine()}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-portal-sync-") as tmp:
        work = Path(tmp)
        # Before anything starts GX: its context keeps the Data Docs under the var folder it first sees.
        os.environ["HUB_VAR_DIR"] = str(work / "var")
        began = time.perf_counter()
        pki = init_dev_pki(work / "var" / "pki", partners=partner_ids())
        signatures = MessageSignatures(identity=pki.identity(HUB), trust=pki.trust_store())
        with sandbox_partners(
            work / "sandbox", dossiers=args.dossiers, seed=args.seed, start=args.start_day, pki_dir=pki.folder
        ) as partners:
            _say(
                f"partners: pid {partners.pid}, {partners.records:,} city records ({partners.defects:,} with a "
                f"named defect) over {len(partners.days)} working days {partners.days[0]}..{partners.days[-1]}, "
                f"generated and loaded in {time.perf_counter() - began:.1f} s"
            )
            if args.portal_latency_ms:
                _set_latency(partners, args.portal_latency_ms)
            warm_up_s = _warm_up_gate(partners)
            _say(f"GX start-up (once per process, in neither path): {warm_up_s:.1f} s ({load_average()})")
            clock = GateClock()
            with clock.timing(QualityGate, "split", "check"):
                naive_path = NaivePath(partners, work, args.naive_sample, signatures, clock)
                _say("naive path, first half")
                naive_path.run(naive_path.sample // 2)
                _say("hub path")
                hub, progress, hub_store = run_hub(
                    partners, work, signatures, args.progress_batches, args.deliver_slots, clock
                )
                _say("naive path, second half")
                naive_path.run(naive_path.sample - naive_path.sample // 2)
            naive = naive_path.result()
            disagreements = _disagreements(hub_store, naive_path.states)
            hub_store.db.engine.dispose()
    ratio = report(hub, naive, progress, warm_up_s)
    problems = hub.problems + naive.problems
    if disagreements:
        problems.append(f"{len(disagreements)} sampled dossiers differ between the paths, e.g. {disagreements[:3]}")
    if ratio < args.min_ratio:
        problems.append(f"ratio {ratio:.1f} is below --min-ratio {args.min_ratio}")
    return verdict(problems, "OK: every record accounted for on both paths")


if __name__ == "__main__":
    sys.exit(main())
