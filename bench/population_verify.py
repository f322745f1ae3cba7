"""Benchmark: identity verifications per second against the population database, with the real envelope.

    uv run python -m bench.population_verify [--scale 0.2] [--naive-sample 150] [--slots 4] [--seed 0]

Both paths verify real applicants of a generated city day (the same ones the population sandbox
holds, with their seeded fates) against the sandbox LGSP, served by a separate process so client
and server do not share an interpreter lock. A verification is what the pipeline does: one
``TraCuuThongTinCongDan`` look-up -- the SOAP envelope rendered by zeep inside the LGSP's JSON
envelope with the token, LGSP key and officer AuthHash -- then the hub's own comparison
(:func:`mappings.identity.compare`). Both verify every reply's XMLDSig against the trust store
before reading it (the Connection's ``verify_replies=true``: the costlier setting; the partner is not
shown to sign) and write an audit record per call; the result cache is off on both, so every
verification is a real call.

* **hub** -- what the adapter gives a DAG task: one :class:`PopulationDbClient` per process (the
  WSDL parsed once, one pooled ``requests.Session``, one LGSP token reused), with ``--slots``
  verifications in flight at a time -- the ``population_db`` pool's concurrency.
* **naive** -- a client built per call, as a per-request integration does it: the WSDL parsed
  again (zeep ``Client`` construction), a new session and connection, a new token, one
  verification, thrown away; sequential.

Exit status 1 if the two paths disagree on any sampled applicant's verdict, or a verdict does not
match the fate the sandbox gave that applicant.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from adapters.partners import partner_ids
from adapters.population_db.client import (
    WSDL,
    AuditRecord,
    IdentityQuery,
    LgspAccount,
    LookupPurpose,
    Officer,
    PopulationDbClient,
    ResultCache,
)
from adapters.settings import TransportSettings
from adapters.signatures import MessageSignatures
from adapters.soap import SoapTransport, load_contract
from bench.common import peak_rss_mib, rate
from mappings.code_tables import load_code_tables
from mappings.identity import BirthDate, StatedIdentity, Verdict, compare
from sandbox.population_db.registry import Applicant, applicants_of
from signing.pki import DevPki, init_dev_pki

ACCESS_KEY, SECRET_KEY, UNIT = "hub-bench", "bench-dan-cu-password", "000.00.00.H26"
OFFICER, OFFICER_SECRET = "canbo.bench", "bench-officer-key"
PURPOSE = "xác thực người nộp hồ sơ"
# The fate the sandbox gives an applicant -> the verdict a correct client reports.
EXPECTED = {"match": Verdict.MATCH, "not_found": Verdict.NOT_FOUND}


class _CountingAudit:
    """An audit writer that only counts: the benchmark measures calls, not a database."""

    def __init__(self) -> None:
        self.records = 0

    def write(self, record: AuditRecord) -> None:
        self.records += 1


def _serve(pki_dir: str, db: str, day: date, scale: float, seed: int, ready: Any, stop: Any) -> None:
    """Child process: the population sandbox on 127.0.0.1 until told to stop."""
    from sandbox.population_db.app import LgspGate, create_app, licensed_procedures
    from sandbox.server import serve_in_thread
    from sandbox.signatures import PartnerSigning

    pki = DevPki.existing(Path(pki_dir))
    gate = LgspGate(ACCESS_KEY, SECRET_KEY, {OFFICER: OFFICER_SECRET}, licensed_procedures())
    app = create_app(db, gate=gate, signing=PartnerSigning(pki, "population_db", xml=True), days=[(day, scale, seed)])
    with serve_in_thread(app) as server:
        ready.send(server.url)
        stop.wait(3600)


def _client(url: str, signatures: MessageSignatures, contract: Any, pool: int) -> PopulationDbClient:
    settings = TransportSettings(base_url=url, read_timeout=30, pool_size=pool)
    return PopulationDbClient(
        SoapTransport("population_db", settings, signatures=signatures),
        LgspAccount(ACCESS_KEY, SECRET_KEY, UNIT),
        Officer(OFFICER, OFFICER_SECRET, UNIT),
        cache=ResultCache(0),
        contract=contract,
    )


def _verify(client: PopulationDbClient, applicant: Applicant, procedure: str, audit: _CountingAudit) -> Verdict:
    """One look-up and the hub's comparison: what the pipeline does per applicant."""
    query = IdentityQuery(applicant.citizen_id, applicant.name_as_sent, BirthDate.of(applicant.birth_date))
    answer = client.lookup(query, LookupPurpose(applicant.dossier_no, PURPOSE, procedure), audit)
    return compare(StatedIdentity(query.citizen_id, query.full_name, query.birth), answer.person).verdict


def run_hub(
    url: str, signatures: MessageSignatures, applicants: Sequence[Applicant], slots: int, procedure: str
) -> tuple[float, dict[str, Verdict]]:
    client = _client(url, signatures, load_contract(WSDL), slots)
    audit = _CountingAudit()

    def one(applicant: Applicant) -> tuple[str, Verdict]:
        return applicant.citizen_id, _verify(client, applicant, procedure, audit)

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=slots) as pool:
        verdicts = dict(pool.map(one, applicants))
    seconds = time.perf_counter() - began
    client.close()
    return seconds, verdicts


def run_naive(
    url: str, signatures: MessageSignatures, applicants: Sequence[Applicant], procedure: str
) -> tuple[float, dict[str, Verdict]]:
    parse_wsdl: Callable[[Path], Any] = load_contract.__wrapped__  # no per-process cache: parsed every call
    audit = _CountingAudit()
    verdicts: dict[str, Verdict] = {}
    began = time.perf_counter()
    for applicant in applicants:
        client = _client(url, signatures, parse_wsdl(WSDL), 1)
        verdicts[applicant.citizen_id] = _verify(client, applicant, procedure, audit)
        client.close()
    return time.perf_counter() - began, verdicts


def _problems(applicants: Sequence[Applicant], hub: dict[str, Verdict], naive: dict[str, Verdict]) -> list[str]:
    problems = []
    for applicant in applicants:
        got = hub[applicant.citizen_id]
        if applicant.citizen_id in naive and naive[applicant.citizen_id] is not got:
            problems.append(
                f"paths disagree on dossier {applicant.dossier_no}: hub {got}, naive {naive[applicant.citizen_id]}"
            )
        expected = EXPECTED.get(str(applicant.fate), Verdict.MISMATCH)
        if got is not expected:
            problems.append(f"dossier {applicant.dossier_no}: fate {applicant.fate} but verdict {got}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", type=date.fromisoformat, default=date(2026, 11, 20))
    parser.add_argument("--scale", type=float, default=0.2, help="share of a full city day (its citizen applicants)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--naive-sample", type=int, default=150)
    parser.add_argument("--slots", type=int, default=4, help="verifications in flight on the hub path (pool slots)")
    args = parser.parse_args(argv)

    applicants = list(applicants_of(args.day, args.scale, args.seed))
    print(
        f"bench.population_verify: {len(applicants):,} applicants ({dict(Counter(str(a.fate) for a in applicants))}), "
        f"naive sample {args.naive_sample}, {args.slots} slots; {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    with tempfile.TemporaryDirectory(prefix="bench-population-") as tmp:
        pki = init_dev_pki(Path(tmp) / "pki", partners=partner_ids())
        signatures = MessageSignatures(trust=pki.trust_store())  # requests are never signed (ledger 5.1)
        context = multiprocessing.get_context("fork")
        ours, theirs = context.Pipe()
        stop = context.Event()
        server = context.Process(
            target=_serve, args=(str(pki.folder), f"{tmp}/population.db", args.day, args.scale, args.seed, theirs, stop)
        )
        server.start()
        try:
            if not ours.poll(300):
                raise RuntimeError("the population sandbox did not start")
            url = ours.recv()
            sample = applicants[: args.naive_sample]
            procedure = sorted(row.code for row in load_code_tables().procedures.all_rows())[0]
            naive_s, naive = run_naive(url, signatures, sample, procedure)
            hub_s, hub = run_hub(url, signatures, applicants, args.slots, procedure)
        finally:
            stop.set()
            server.join(20)
    hub_rate, naive_rate = rate(len(hub), hub_s), rate(len(naive), naive_s)
    print(f"  hub    {len(hub):>6,} verifications in {hub_s:7.2f} s = {hub_rate:8.1f}/s")
    print(f"  naive  {len(naive):>6,} verifications in {naive_s:7.2f} s = {naive_rate:8.1f}/s")
    print(f"ratio = hub/naive = {hub_rate:.1f} / {naive_rate:.1f} = {hub_rate / naive_rate:.1f}x")
    print(f"peak RSS {peak_rss_mib():.0f} MiB")
    problems = _problems(applicants, hub, naive)
    for problem in problems[:10]:
        print(f"PROBLEM: {problem}")
    print("OK: every verdict matches the applicant's fate on both paths" if not problems else "FAILED")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
