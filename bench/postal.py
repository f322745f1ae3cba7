"""Benchmark: carrier callbacks ingested per second, and postal orders created per second.

    uv run python -m bench.postal [--events 4000] [--senders 4] [--orders-scale 1.0] [--slots 2] [--naive-sample 150]

Callbacks (``webhooks``): the receiver (``hub.webhooks.app``, uvicorn) runs in its own process
over a SQLite hub store (the embedded default; ``--store-url`` for PostgreSQL). ``--senders``
threads post distinct callbacks, half VNPost (``{Data, SendDate, SignData}``) and half Viettel Post
(TOKEN), one status change per call as the carriers send them; every one is authenticated, validated and
stored on both paths.

* **hub** -- the receiver as ``hub webhooks serve`` runs it: the store's connection pool, one
  insert-or-ignore per callback; senders keep their connections alive (carriers do).
* **naive** -- the same checks, but a new database connection and transaction per callback, and a
  new TCP connection per callback.

Orders (``orders``): the city days' results marked for postal return are staged with their facts;
both sandbox carriers run in another process, fresh for each path (VNPost signs and verifies JWS,
as through the LGSP, and takes the hub's S10 codes: the paths order the same dossiers, and one
dossier number under two codes would be refused).

* **hub** -- ``postal_dispatch.plan_dispatch`` (one read of the staging facts, decisions written a
  page at a time) and ``place_batch`` over batches of 100 (VNPost: the batch's item codes allocated
  in one transaction), ``--slots`` batches at a time (the carrier pools), each carrier's client
  built once per process (pooled session, one login or OAuth token).
* **naive** -- one order at a time: a new client (and a login or token), a new database
  connection, one transaction to allocate its code and one to record it (batches of one, sequential).

Exit status 1 if a path stores a different number of events than were sent, or leaves a result
not ordered.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from bench.common import peak_rss_mib, rate, verdict
from mappings.dossier import VN_TZ
from mappings.postal.carrier_time import format_carrier_time

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=VN_TZ)
WEBHOOK_SECRET = "bench-callback-secret"
VNPOST_KEY, VNPOST_SECRET, VNPOST_CUSTOMER = "hub-bench-lgsp", "bench-lgsp-secret", "HNI-TTHC-01"
VNPOST_BLOCK = "RH10000000-RH10999999"  # the block the sandbox issues to the city
VIETTEL_USER, VIETTEL_PASSWORD = "hub-bench@viettelpost", "bench-viettel-password"
CODES = {"vnpost": ("70", "91", "100", "170"), "viettel_post": ("100", "105", "200", "300", "500", "501")}


# ------------------------------------------------------------------------------------------ callbacks


def viettel_callback(order_id: str, code: str, at: datetime, token: str) -> tuple[bytes, dict[str, str]]:
    """A Viettel Post callback as it sends one (``{DATA, TOKEN}``)."""
    data = {"ORDER_NUMBER": order_id, "ORDER_REFERENCE": f"{order_id}/KQ", "ORDER_STATUSDATE": format_carrier_time(at),
            "ORDER_STATUS": int(code), "STATUS_NAME": f"trạng thái {code}"}  # fmt: skip
    return json.dumps({"DATA": data, "TOKEN": token}).encode(), {}


def vnpost_callback(order_number: str, code: str, at: datetime, secret: str) -> tuple[bytes, dict[str, str]]:
    """A VNPost callback as it sends one (``{Data, SendDate, SignData}``, ``Data`` a JSON string)."""
    from adapters.postal.vnpost_signdata import sign_data

    data = json.dumps({"OrderNumber": order_number, "StatusCode": code, "StatusName": f"trạng thái {code}",
                       "StatusDate": format_carrier_time(at)}, ensure_ascii=False)  # fmt: skip
    send_date = format_carrier_time(at)
    return json.dumps(
        {"Data": data, "SendDate": send_date, "SignData": sign_data(data, send_date, secret)}
    ).encode(), {}


def _callbacks(count: int) -> list[tuple[str, bytes, dict[str, str]]]:
    """``count`` distinct status changes, alternating carriers."""
    made = []
    for i in range(count):
        carrier = ("vnpost", "viettel_post")[i % 2]
        codes = CODES[carrier]
        order_id, code, at = f"B{i // len(codes):07d}", codes[i % len(codes)], T0 + timedelta(minutes=i)
        if carrier == "viettel_post":  # Viettel's own order numbers are digits
            order_id = f"1{i // len(codes):010d}"
        encode = vnpost_callback if carrier == "vnpost" else viettel_callback
        made.append((carrier, *encode(order_id, code, at, WEBHOOK_SECRET)))
    return made


def _receiver_clients() -> dict[str, Any]:
    """Carrier clients as the receiver holds them (only ``parse_webhook`` is used: no calls out)."""
    from adapters.postal.viettel_post import ViettelPostClient
    from adapters.settings import TransportSettings
    from adapters.transport import HttpTransport

    def transport(partner: str) -> HttpTransport:
        return HttpTransport(partner, TransportSettings(base_url="http://127.0.0.1:9", sign_requests=False))

    return {
        "vnpost": _vnpost_client(transport("vnpost"), VNPOST_BLOCK),
        "viettel_post": ViettelPostClient(transport("viettel_post"), VIETTEL_USER, VIETTEL_PASSWORD, WEBHOOK_SECRET),
    }


def _vnpost_client(transport: Any, block: str) -> Any:
    from adapters.oauth import ClientCredentials
    from adapters.postal.vnpost import VNPostClient
    from mappings.postal.s10 import ItemCodeRange

    token = ClientCredentials(transport, VNPOST_KEY, VNPOST_SECRET)
    return VNPostClient(transport, token, VNPOST_CUSTOMER, ItemCodeRange.parse(block), WEBHOOK_SECRET)


def _naive_receiver(url: str, carriers: dict[str, Any]) -> Any:
    """The same checks and the same store write, with a database connection opened per callback."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from adapters.postal.carrier import WebhookRejected
    from hub.store import HubStore
    from hub.store.postal import PostalOrders

    def store_once(events: list[Any]) -> int:
        store = HubStore(url)
        try:
            return PostalOrders(store).add_events(events, "webhook")
        finally:
            store.db.engine.dispose()

    async def receive(request: Request) -> JSONResponse:
        try:
            events = carriers[request.path_params["carrier"]].parse_webhook(request.headers, await request.body())
        except WebhookRejected as rejection:
            return JSONResponse({"error": rejection.reason}, status_code=rejection.status)
        return JSONResponse({"accepted": len(events), "new": await run_in_threadpool(store_once, events)})

    return Starlette(routes=[Route("/webhooks/{carrier}", receive, methods=["POST"])])


def _serve_receiver(url: str, naive: bool, ready: Any, stop: Any) -> None:
    """Child process: a receiver on 127.0.0.1 until told to stop."""
    from hub.store import HubStore
    from hub.webhooks.app import create_app
    from sandbox.server import serve_in_thread

    store = HubStore(url)
    store.create_schema()
    carriers = _receiver_clients()
    app = _naive_receiver(url, carriers) if naive else create_app(store, carriers)
    with serve_in_thread(app, log_level="error") as server:
        ready.send(server.url)
        stop.wait(3600)


@contextmanager
def _in_process(target: Callable[..., None], *args: Any) -> Iterator[Any]:
    """Run ``target(*args, ready, stop)`` in a forked process; yield what it sends when ready."""
    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe()
    stop = context.Event()
    process = context.Process(target=target, args=(*args, theirs, stop), daemon=True)
    process.start()
    try:
        if not ours.poll(300):
            raise RuntimeError(f"{target.__name__} did not start")
        yield ours.recv()
    finally:
        stop.set()
        process.join(20)
        if process.is_alive():
            process.terminate()


def run_callbacks(store_url: str, count: int, senders: int, *, naive: bool) -> tuple[float, int]:
    """Post ``count`` callbacks from ``senders`` threads; return the seconds taken and the events stored."""
    from hub.store import HubStore
    from hub.store.postal import PostalOrders

    callbacks = _callbacks(count)
    with _in_process(_serve_receiver, store_url, naive) as base:
        local = threading.local()

        def post(item: tuple[str, bytes, dict[str, str]]) -> int:
            carrier, body, headers = item
            if naive:
                sender: Any = requests  # a new connection per call
            else:
                sender = local.__dict__.setdefault("session", requests.Session())
            reply = sender.post(f"{base}/webhooks/{carrier}", data=body, headers=headers, timeout=30)
            return reply.status_code

        began = time.perf_counter()
        with ThreadPoolExecutor(max_workers=senders) as pool:
            statuses = list(pool.map(post, callbacks))
        seconds = time.perf_counter() - began
    if set(statuses) != {200}:
        raise RuntimeError(f"callbacks refused: {sorted(set(statuses))}")
    store = HubStore(store_url)
    try:
        return seconds, PostalOrders(store).count_events()
    finally:
        store.db.engine.dispose()


# ------------------------------------------------------------------------------------------ orders


def _serve_carriers(folder: str, pki_dir: str, ready: Any, stop: Any) -> None:
    """Child process: both sandbox carriers (no callbacks, no faults) until told to stop."""
    from mappings.postal.s10 import ItemCodeRange
    from sandbox.postal import viettel_post, vnpost
    from sandbox.server import serve_in_thread
    from sandbox.signatures import PartnerSigning
    from signing.pki import DevPki

    signing = PartnerSigning(DevPki.existing(Path(pki_dir)), "vnpost")
    apps = {
        "vnpost": vnpost.create_app(Path(folder) / "vnpost.db", VNPOST_KEY, VNPOST_SECRET, VNPOST_CUSTOMER,
                                    callback_secret=WEBHOOK_SECRET, item_codes=ItemCodeRange.parse(VNPOST_BLOCK),
                                    start=T0, signing=signing),
        "viettel_post": viettel_post.create_app(Path(folder) / "viettel.db", VIETTEL_USER, VIETTEL_PASSWORD,
                                                webhook_token=WEBHOOK_SECRET, start=T0),
    }  # fmt: skip
    servers = {name: serve_in_thread(app, log_level="error") for name, app in apps.items()}
    try:
        ready.send({name: server.url for name, server in servers.items()})
        stop.wait(3600)
    finally:
        for server in servers.values():
            server.stop()


def carrier_client(name: str, url: str, pki: Any, pool: int = 10) -> Any:
    """A carrier client as a DAG task's hook builds it (VNPost signs, Viettel Post does not)."""
    from adapters.postal.viettel_post import ViettelPostClient
    from adapters.settings import TransportSettings
    from adapters.signatures import MessageSignatures
    from adapters.transport import HttpTransport

    if name == "vnpost":
        signatures = MessageSignatures(pki.identity("hub"), pki.trust_store())
        transport = HttpTransport(name, TransportSettings(base_url=url, pool_size=pool), signatures=signatures)
        return _vnpost_client(transport, VNPOST_BLOCK)
    settings = TransportSettings(base_url=url, pool_size=pool, sign_requests=False, verify_replies=False)
    return ViettelPostClient(HttpTransport(name, settings), VIETTEL_USER, VIETTEL_PASSWORD, WEBHOOK_SECRET)


def _ready_results(start: date, scale: float, seed: int) -> list[dict[str, Any]]:
    """City records of a generated day whose result goes home by post and is ready."""
    from mappings.code_tables import load_code_tables
    from mappings.facts import city_facts
    from mappings.postal.dispatch import READY_STATUSES
    from sandbox.city_system.generator import generate_day

    tables = load_code_tables()
    records = generate_day(start, scale, seed)
    return [r for r in records if r.get("tra_ket_qua_qua_buu_chinh") and city_facts(r, tables).status in READY_STATUSES]


def run_orders(store_url: str, records: list[dict[str, Any]], urls: dict[str, str], pki: Any, *,
               slots: int, naive: bool) -> tuple[float, dict[str, Any]]:  # fmt: skip
    """Stage ``records``, then plan and place their orders; return the seconds of plan + place and the counts
    (with ``by_carrier``: the results each carrier holds an order for)."""
    from hub.pipeline import postal_dispatch
    from hub.pipeline.extract import staged_record
    from hub.pipeline.redelivery import RedeliveryPolicy
    from hub.store import HubStore
    from mappings.code_tables import load_code_tables
    from mappings.sources import CITY_SOURCE
    from quality.gate import QualityGate

    gate, policy = QualityGate(load_code_tables()), RedeliveryPolicy()
    store = HubStore(store_url)
    store.create_schema()
    store.staging.stage(CITY_SOURCE, [staged_record(r) for r in records], "bench")
    began = time.perf_counter()
    plan = postal_dispatch.plan_dispatch(store, gate, source=CITY_SOURCE, batch_size=1 if naive else 100)
    batches = [(carrier, batch_id) for carrier, ids in plan.batches.items() for batch_id in ids]
    if naive:
        for carrier, batch_id in batches:
            once = HubStore(store_url)
            client = carrier_client(carrier, urls[carrier], pki, pool=1)
            postal_dispatch.place_batch(once, client, batch_id, gate=gate, policy=policy)
            client.close()
            once.db.engine.dispose()
    else:
        clients = {name: carrier_client(name, url, pki) for name, url in urls.items()}
        with ThreadPoolExecutor(max_workers=slots) as pool:
            list(pool.map(lambda b: postal_dispatch.place_batch(store, clients[b[0]], b[1], gate=gate,
                                                                policy=policy), batches))  # fmt: skip
        for client in clients.values():
            client.close()
    seconds = time.perf_counter() - began
    counts = postal_dispatch.dispatch_summary(store)["dispatch"]
    from hub.store.postal import PostalOrders

    delivery = PostalOrders(store).delivery_counts()  # ordered results per carrier
    counts["by_carrier"] = {name: per["orders"] for name, per in delivery.items()}
    store.db.engine.dispose()
    return seconds, counts


# ------------------------------------------------------------------------------------------ main


def _store_url(base: str | None, folder: Path, name: str) -> str:
    """A fresh store per path: a SQLite file, or ``--store-url`` emptied first."""
    if base is None:
        return f"sqlite:///{folder / f'{name}.db'}"
    from hub.store import HubStore
    from hub.store.schema import metadata

    store = HubStore(base)
    metadata.drop_all(store.db.engine)
    store.db.engine.dispose()
    return base


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=4000, help="callbacks posted on each path")
    parser.add_argument("--senders", type=int, default=4, help="concurrent callback senders")
    parser.add_argument("--day", type=date.fromisoformat, default=date(2026, 11, 20))
    parser.add_argument(
        "--orders-scale", type=float, default=1.0, help="share of a city day whose postal results are ordered"
    )
    parser.add_argument("--naive-sample", type=int, default=150, help="results ordered on the naive path")
    parser.add_argument("--slots", type=int, default=2, help="order batches placed at a time on the hub path")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--store-url", help="PostgreSQL URL to use instead of SQLite files (emptied!)")
    args = parser.parse_args(argv)
    print(f"bench.postal: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, store {'PostgreSQL' if args.store_url else 'SQLite'}")  # fmt: skip
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-postal-") as tmp:
        folder = Path(tmp)
        figures = {}
        for path in ("naive", "hub"):
            url = _store_url(args.store_url, folder, f"webhooks-{path}")
            seconds, stored = run_callbacks(url, args.events, args.senders, naive=path == "naive")
            figures[path] = rate(args.events, seconds)
            line = f"{args.events:>6,} in {seconds:7.2f} s = {figures[path]:8.1f}/s ({stored:,} stored)"
            print(f"  callbacks {path:<5} {line}")
            if stored != args.events:
                problems.append(f"{path}: {stored} events stored of {args.events} sent")
        print(f"callbacks ratio = hub/naive = {figures['hub'] / figures['naive']:.1f}x")

        from adapters.partners import partner_ids
        from signing.pki import init_dev_pki

        pki = init_dev_pki(folder / "pki", partners=partner_ids())
        records = _ready_results(args.day, args.orders_scale, args.seed)
        samples = {"naive": records[: args.naive_sample], "hub": records}
        for path in ("naive", "hub"):
            (folder / f"carriers-{path}").mkdir()
            with _in_process(_serve_carriers, str(folder / f"carriers-{path}"), str(pki.folder)) as urls:
                url = _store_url(args.store_url, folder, f"orders-{path}")
                seconds, counts = run_orders(url, samples[path], urls, pki, slots=args.slots, naive=path == "naive")
                figures[f"orders-{path}"] = rate(counts["ordered"], seconds)
                print(f"  orders    {path:<5} {counts['ordered']:>6,} in {seconds:7.2f} s = "
                      f"{figures[f'orders-{path}']:8.1f}/s {counts}")  # fmt: skip
                if counts["ordered"] + counts["quarantined"] != len(samples[path]) or counts["pending"]:
                    problems.append(f"orders {path}: {counts} for {len(samples[path])} ready results")
        print(f"orders ratio = hub/naive = {figures['orders-hub'] / figures['orders-naive']:.1f}x")
    print(f"peak RSS {peak_rss_mib():.0f} MiB")
    return verdict(problems, "OK: every callback stored once, every ready result ordered or quarantined")


if __name__ == "__main__":
    sys.exit(main())
