"""Benchmark: what the write-ahead message log costs per partner call, against the buffered log.

    uv run python -m bench.message_log [--blocks 40] [--calls 50]

The **durable** path is the hub's recorder (``hub.pipeline.message_log.DurableRecorder``): each
request committed as an intent before it is sent, together with the exchanges that returned
since the last request, the block's last exchanges chained and one seal at the end. The
**buffered** baseline is the recorder before issue 17: a block's exchanges held in memory and
appended in one transaction with the seal when the block ends (no gap-free guarantee). Both
write the same exchanges -- a progress call's shape: a signed request of 10 entries, a signed
reply -- to one SQLite hub store, in blocks of ``--calls`` (a progress batch is 50 calls),
alternating block by block so that both see the same load on a shared machine. No network: this
is the log's own cost, to set beside a call's round trip (bench.portal_sync).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from adapters.exchange import Exchange
from adapters.partners import partner_ids
from hub.pipeline.message_log import DurableRecorder, log_entry
from hub.store import HubStore
from signing.jws import sign_detached
from signing.keys import SigningIdentity
from signing.pki import HUB, init_dev_pki

PARTNER = "national_portal"


def _progress_call(hub: SigningIdentity, portal: SigningIdentity, n: int) -> tuple[Exchange, Exchange]:
    """One CapNhatTienDoHoSoMC call as the transport reports it: before sending, and answered."""
    entries = [
        {
            "MaHoSo": f"000.00.12.H26-261120-{n:04d}",
            "NguoiXuLy": "Nguyễn Văn An",
            "ChucDanh": "Chuyên viên",
            "ThoiDiemXuLy": f"20261120{8 + i % 9:02d}0000",
            "PhongBanXuLy": "Bộ phận một cửa",
            "NoiDungXuLy": f"Bước xử lý {i} của hồ sơ {n}",
            "TrangThai": "4",
            "NgayBatDau": "20261120080000",
            "NgayKetThucTheoQuyDinh": "20261127170000",
        }
        for i in range(10)
    ]
    body = json.dumps({"session": "***", "service": "CapNhatTienDoHoSoMC", "data": entries}, ensure_ascii=False)
    request = body.encode()
    reply = '{"error_code":"0","message":"Cập nhật 10 bản ghi tiến độ xử lý thành công"}'.encode()
    sending = Exchange(
        exchange_id=str(uuid.uuid4()),
        partner=PARTNER,
        operation="CapNhatTienDoHoSoMC",
        method="POST",
        url="https://portal.example/service",
        attempt=1,
        record_count=10,
        request_body=request,
        response_body=None,
        status=None,
        outcome="unknown",
        error=None,
        started_at=datetime.now(UTC),
        duration_ms=0.0,
        redacted=True,
        request_signature=sign_detached(request, hub),
    )
    signature = sign_detached(reply, portal)
    answered = replace(
        sending, response_body=reply, status=200, outcome="ok", duration_ms=40.0, response_signature=signature
    )
    return sending, answered


def _buffered(store: HubStore, hub: SigningIdentity, calls: list[tuple[Exchange, Exchange]], batch: str) -> float:
    began = time.perf_counter()
    store.message_log.append([log_entry(answered, batch) for _, answered in calls], seal=hub)
    return time.perf_counter() - began


def _durable(store: HubStore, hub: SigningIdentity, calls: list[tuple[Exchange, Exchange]], batch: str) -> float:
    began = time.perf_counter()
    recorder = DurableRecorder(store.message_log, batch)
    for sending, answered in calls:
        recorder.sending(sending)
        recorder.finished(answered)
    recorder.flush()
    store.message_log.seal(hub)
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=40, help="blocks per path")
    parser.add_argument("--calls", type=int, default=50, help="calls per block (a progress batch: 50)")
    args = parser.parse_args(argv)
    print(
        f"bench.message_log: {args.blocks} blocks of {args.calls} calls per path; {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load {os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-message-log-") as tmp:
        pki = init_dev_pki(Path(tmp) / "pki", partners=partner_ids())
        hub, portal = pki.identity(HUB), pki.identity(PARTNER)
        store = HubStore(f"sqlite:///{Path(tmp) / 'hub.db'}")
        store.create_schema()
        seconds = {"buffered": 0.0, "durable": 0.0}
        paths = {"buffered": _buffered, "durable": _durable}
        for block in range(args.blocks):
            for name, path in paths.items():
                calls = [_progress_call(hub, portal, block * args.calls + i) for i in range(args.calls)]
                seconds[name] += path(store, hub, calls, f"{name}-{block}")
        head = store.message_log.log_head()
        store.db.engine.dispose()
    calls = args.blocks * args.calls
    per_call = {name: s / calls * 1000 for name, s in seconds.items()}
    print(f"{'path':<10} {'calls':>7} {'seconds':>8} {'ms/call':>8}")
    for name, s in seconds.items():
        print(f"{name:<10} {calls:>7,} {s:>8.2f} {per_call[name]:>8.2f}")
    print(
        f"ratio durable/buffered = {per_call['durable']:.2f} / {per_call['buffered']:.2f} ms per call = "
        f"{per_call['durable'] / per_call['buffered']:.1f}x; the log's extra cost per call "
        f"{per_call['durable'] - per_call['buffered']:.2f} ms; {head.seq if head else 0:,} entries, all sealed"
        if head and head.sealed_seq == head.seq
        else "FAILED: the log is not sealed through its head"
    )
    return 0 if head and head.sealed_seq == head.seq else 1


if __name__ == "__main__":
    sys.exit(main())
