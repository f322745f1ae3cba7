"""Benchmark: signing records one by one against signing them in Merkle batches.

    uv run python -m bench.signing [--records 20000] [--batch-size 1000] [--sample 500] [--seed 7]

Both paths run in the same process, one after the other, over the same records: real
``DongBoHoSoMC`` payloads (the generator's city records for consecutive working days, mapped with
``mappings.city_system.to_canonical`` and ``mappings.national_portal.to_dong_bo_ho_so``, serialised
as canonical JSON -- exactly the bytes a signature would cover), with the hub's RSA-2048 identity
from a fresh development PKI.

* **per record** -- one detached RS256 JWS (:func:`signing.jws.sign_detached`) per record: what
  a straightforward integration does, and already "proof-ready" (each record carries its own
  signature).
* **batch** -- per ``--batch-size`` records: build the RFC 6962 tree, sign its head once
  (:func:`signing.merkle.sign_batch`), then compute *every* record's inclusion proof and
  serialise it to the JSON that would be stored beside the record. A record is counted only once
  its proof is kept, so both rates mean the same thing: records signed and proof-ready per second.

Payload building is timed apart and in neither rate. After timing, a random sample of records is
verified on both paths (:func:`signing.merkle.verify_batch_member` from the stored JSON alone, and
:func:`signing.jws.verify_detached`), and one altered record per path must be refused -- so the
batch path cannot be fast by producing proofs that do not prove anything.

Exit status 1 if a sampled verification fails, an altered record is accepted, or the ratio is
below ``--min-ratio`` (default 50, the goal).
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from statistics import mean

import cryptography
from cryptography.hazmat.backends.openssl.backend import backend as openssl_backend

from bench.common import peak_rss_mib, rate, working_days
from signing.errors import SigningError
from signing.jws import sign_detached, verify_detached
from signing.keys import SigningIdentity
from signing.merkle import BatchSignature, InclusionProof, MerkleTree, sign_batch, verify_batch_member
from signing.pki import init_dev_pki
from signing.trust import TrustStore

GOAL_RATIO = 50.0
START_DAY = date(2026, 11, 16)


@dataclass
class PathTiming:
    """One path's totals: wall-clock seconds (the figure reported) and CPU seconds (a cross-check
    that is blind to other processes on the machine)."""

    name: str
    records: int
    seconds: float
    signatures: int
    cpu_seconds: float

    def add(self, records: int, signatures: int, seconds: float, cpu_seconds: float) -> None:
        self.records += records
        self.signatures += signatures
        self.seconds += seconds
        self.cpu_seconds += cpu_seconds

    @property
    def per_second(self) -> float:
        return rate(self.records, self.seconds)

    @property
    def per_cpu_second(self) -> float:
        return rate(self.records, self.cpu_seconds)


def build_payloads(count: int, seed: int) -> list[bytes]:
    """Canonical-JSON ``DongBoHoSoMC`` records from generated working days (defect records skipped)."""
    from mappings.city_system import to_canonical
    from mappings.code_tables import load_code_tables
    from mappings.errors import MappingError
    from mappings.national_portal import to_dong_bo_ho_so
    from sandbox.city_system.generator import generate_day
    from signing.digests import canonical_json

    tables = load_code_tables()
    payloads: list[bytes] = []
    for day in working_days(START_DAY):
        for record in generate_day(day, 1.0, seed):
            try:
                payloads.append(canonical_json(to_dong_bo_ho_so(to_canonical(record, tables), tables)))
            except MappingError:
                continue  # a named defect the quality gate would quarantine; not signed by either path
            if len(payloads) == count:
                return payloads
    raise AssertionError("unreachable: working_days is endless")


@dataclass
class Results:
    per_record: PathTiming
    batch: PathTiming
    tokens: list[str]
    signatures: list[BatchSignature]
    proofs: list[str]


def sign_per_record(chunk: Sequence[bytes], identity: SigningIdentity) -> list[str]:
    """The per-record path: one detached RS256 JWS per record."""
    return [sign_detached(payload, identity) for payload in chunk]


def sign_as_batch(chunk: Sequence[bytes], identity: SigningIdentity) -> tuple[BatchSignature, list[str]]:
    """The batch path: tree, one signature over its head, every record's proof as stored JSON."""
    tree = MerkleTree(chunk)
    signature = sign_batch(tree, identity)
    return signature, [proof.to_json() for proof in tree.proofs()]


def run_both(payloads: Sequence[bytes], identity: SigningIdentity, batch_size: int) -> Results:
    """Run both paths chunk by chunk, alternating which goes first.

    Interleaving keeps a burst of load from other processes from landing on one path only (the
    per-record path alone takes tens of seconds); alternating the order cancels the advantage of
    touching a chunk's bytes second, when they are already in the CPU cache.
    """
    per_record = PathTiming("per-record JWS", 0, 0.0, 0, 0.0)
    batch = PathTiming(f"batch of {batch_size}", 0, 0.0, 0, 0.0)
    tokens: list[str] = []
    signatures: list[BatchSignature] = []
    proofs: list[str] = []
    for number, offset in enumerate(range(0, len(payloads), batch_size)):
        chunk = payloads[offset : offset + batch_size]
        order = ("per-record", "batch") if number % 2 == 0 else ("batch", "per-record")
        for path in order:
            wall, cpu = time.perf_counter(), time.process_time()
            if path == "per-record":
                tokens.extend(sign_per_record(chunk, identity))
                per_record.add(len(chunk), len(chunk), time.perf_counter() - wall, time.process_time() - cpu)
            else:
                signature, chunk_proofs = sign_as_batch(chunk, identity)
                signatures.append(signature)
                proofs.extend(chunk_proofs)
                batch.add(len(chunk), 1, time.perf_counter() - wall, time.process_time() - cpu)
    return Results(per_record, batch, tokens, signatures, proofs)


def check_sample(
    payloads: Sequence[bytes],
    tokens: Sequence[str],
    signatures: Sequence[BatchSignature],
    proofs: Sequence[str],
    trust: TrustStore,
    batch_size: int,
    sample: int,
    seed: int,
) -> tuple[list[str], dict[str, float]]:
    """Verify a random sample on both paths from what is stored; altered records must fail."""
    problems: list[str] = []
    picks = random.Random(seed).sample(range(len(payloads)), min(sample, len(payloads)))
    started = time.perf_counter()
    for i in picks:
        stored_batch = BatchSignature.from_dict(json.loads(json.dumps(signatures[i // batch_size].to_dict())))
        proof = InclusionProof.from_json(proofs[i])
        if proof.index != i % batch_size:
            problems.append(f"record {i}: proof index {proof.index}, expected {i % batch_size}")
        try:
            verify_batch_member(payloads[i], proof, stored_batch, trust)
        except SigningError as exc:
            problems.append(f"record {i}: batch proof refused: {exc.reason}")
    batch_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for i in picks:
        try:
            verify_detached(payloads[i], tokens[i], trust)
        except SigningError as exc:
            problems.append(f"record {i}: per-record JWS refused: {exc.reason}")
    record_seconds = time.perf_counter() - started

    victim = picks[0]
    altered = payloads[victim].replace(b'"TrangThaiHoSo":', b'"TrangThaiHoSo":1', 1)
    if altered == payloads[victim]:
        altered = payloads[victim] + b" "
    try:
        verify_batch_member(altered, InclusionProof.from_json(proofs[victim]), signatures[victim // batch_size], trust)
        problems.append(f"batch path accepted an altered record {victim}")
    except SigningError:
        pass
    try:
        verify_detached(altered, tokens[victim], trust)
        problems.append(f"per-record path accepted an altered record {victim}")
    except SigningError:
        pass
    return problems, {"batch": rate(len(picks), batch_seconds), "per-record": rate(len(picks), record_seconds)}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.signing", description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=20_000, help="records signed by each path")
    parser.add_argument("--batch-size", type=int, default=1000, help="records per Merkle batch")
    parser.add_argument("--sample", type=int, default=500, help="records verified on each path afterwards")
    parser.add_argument("--seed", type=int, default=7, help="generator and sample seed")
    parser.add_argument("--min-ratio", type=float, default=GOAL_RATIO, help="exit 1 if batch/per-record is below this")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.records < 1 or args.batch_size < 1:
        raise SystemExit("--records and --batch-size must be positive")

    started = time.perf_counter()
    payloads = build_payloads(args.records, args.seed)
    build_seconds = time.perf_counter() - started
    sizes = [len(p) for p in payloads]

    with tempfile.TemporaryDirectory(prefix="bench-signing-") as folder:
        pki = init_dev_pki(Path(folder), partners=())
        identity = pki.identity("hub")
        trust = pki.trust_store()
        # Untimed warm-up of both paths (key loaded into OpenSSL, code paths and allocator warm),
        # then freeze what payload generation left behind so the cyclic GC does not walk it again
        # and again during either path.
        sign_per_record(payloads[:10], identity)
        sign_as_batch(payloads[:10], identity)
        gc.collect()
        gc.freeze()

        results = run_both(payloads, identity, args.batch_size)
        per_record, batch = results.per_record, results.batch
        tokens, signatures, proofs = results.tokens, results.signatures, results.proofs
        problems, verify_rates = check_sample(
            payloads, tokens, signatures, proofs, trust, args.batch_size, args.sample, args.seed
        )

    ratio = batch.per_second / per_record.per_second
    cpu_ratio = batch.per_cpu_second / per_record.per_cpu_second
    proof_bytes = mean(len(p) for p in proofs)
    lines = [
        f"bench.signing  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  {platform.python_implementation()} "
        f"{platform.python_version()}  cryptography {cryptography.__version__} "
        f"({openssl_backend.openssl_version_text()})  {platform.machine()}",
        f"records: {len(payloads)} DongBoHoSoMC payloads, {mean(sizes):.0f} B mean ({min(sizes)}-{max(sizes)} B), "
        f"built in {build_seconds:.1f} s (not timed)",
        "key: RSA-2048, RS256 (PKCS#1 v1.5, SHA-256), dev PKI hub identity",
        "",
        f"{'path':<22}{'records':>9}{'RSA signatures':>16}{'seconds':>10}{'records/s':>12}{'records/CPU-s':>15}",
    ]
    for timing in (per_record, batch):
        lines.append(
            f"{timing.name:<22}{timing.records:>9}{timing.signatures:>16}{timing.seconds:>10.2f}"
            f"{timing.per_second:>12,.0f}{timing.per_cpu_second:>15,.0f}"
        )
    lines += [
        "",
        f"ratio batch / per-record: {ratio:,.1f}x wall clock, {cpu_ratio:,.1f}x CPU time (goal >= {args.min_ratio:g}x)",
        f"stored per record: JWS {mean(len(t) for t in tokens):.0f} B vs proof {proof_bytes:.0f} B "
        f"+ one {len(signatures[0].jws)} B JWS per batch",
        f"verified sample: {min(args.sample, len(payloads))} records per path from stored JSON "
        f"(batch member {verify_rates['batch']:,.0f}/s, per-record JWS {verify_rates['per-record']:,.0f}/s): "
        + ("all verified, altered records refused on both paths" if not problems else f"{len(problems)} PROBLEMS"),
        f"peak RSS: {peak_rss_mib():.0f} MiB",
    ]
    print("\n".join(lines), flush=True)
    for problem in problems[:20]:
        print(f"  - {problem}", file=sys.stderr)
    if problems:
        return 1
    if ratio < args.min_ratio:
        print(f"ratio {ratio:.1f}x is below --min-ratio {args.min_ratio:g}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
