"""The message log as a hash chain: appends, and tampering done directly in the database.

Every tamper test edits the tables with SQL, as someone with database access would, and checks
that ``verify_chain`` names the first entry that can no longer be trusted. Runs on SQLite and,
when a server is available, PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa

from adapters.exchange import Exchange
from hub.pipeline.message_log import log_entry
from hub.store import HubStore, MessageLogEntry, OutboxMessage
from hub.store import schema as t
from signing import evidence, jws, pki
from signing.evidence.chain import ChainWalker, body_problem
from signing.keys import SigningIdentity

PARTNER = "national_portal"
# Within the validity of the session PKI, so exchanges signed "at" T0 verify at their own time.
T0 = datetime.now(UTC).replace(microsecond=456789) + timedelta(minutes=1)


@pytest.fixture(scope="module")
def hub_identity(dev_pki: pki.DevPki) -> SigningIdentity:
    return dev_pki.identity(pki.HUB)


@pytest.fixture(scope="module")
def portal_identity(dev_pki: pki.DevPki) -> SigningIdentity:
    return dev_pki.identity(PARTNER)


def make_entry(
    n: int,
    *,
    batch_id: str | None = "b1",
    signer: SigningIdentity | None = None,
    partner_signer: SigningIdentity | None = None,
    response: bool = True,
) -> MessageLogEntry:
    """An exchange as the recorder builds it: distinct bodies holding personal data, as real ones do."""
    request = json.dumps(
        {
            "service": "DongBoHoSoMC",
            "data": [{"MaHoSo": f"000.00.12.H26-261120-{n:04d}", "SoGiayToChuHoSo": "001090012345"}],
        },
        ensure_ascii=False,
    ).encode()
    reply = json.dumps({"error_code": 0, "message": f"đã nhận {n}"}, ensure_ascii=False).encode() if response else None
    return MessageLogEntry(
        exchange_id=str(uuid.uuid4()),
        partner=PARTNER,
        operation="DongBoHoSoMC",
        direction="out",
        batch_id=batch_id,
        record_count=1,
        request_digest=hashlib.sha256(request).hexdigest(),
        response_digest=None if reply is None else hashlib.sha256(reply).hexdigest(),
        request_bytes=len(request),
        response_bytes=None if reply is None else len(reply),
        http_status=200 if response else None,
        outcome="ok" if response else "retryable",
        error=None if response else "no reply within the 5 s read timeout",
        started_at=T0 + timedelta(seconds=n),
        duration_ms=12.3456789 + n,
        method="POST",
        url="https://portal.example/lgsp/service",
        attempt=1,
        request_body=request,
        response_body=reply,
        request_signature=None if signer is None else jws.sign_detached(request, signer),
        response_signature=None
        if partner_signer is None or reply is None
        else jws.sign_detached(reply, partner_signer),
    )


def fill(store: HubStore, batches: int = 3, size: int = 3, **kwargs: Any) -> list[int]:
    seqs: list[int] = []
    for b in range(batches):
        seal = kwargs.get("seal")
        entries = [
            make_entry(b * size + i, signer=kwargs.get("signer"), partner_signer=kwargs.get("partner_signer"))
            for i in range(size)
        ]
        seqs += store.message_log.append(entries, seal=seal)
    return seqs


def execute(store: HubStore, sql: str, **params: Any) -> None:
    with store.db.engine.begin() as conn:
        conn.execute(sa.text(sql), params)


def row(store: HubStore, seq: int) -> dict[str, Any]:
    with store.db.engine.connect() as conn:
        return dict(conn.execute(sa.select(t.message_log).where(t.message_log.c.seq == seq)).one()._mapping)


def assert_broken(store: HubStore, seq: int, *words: str, **kwargs: Any) -> evidence.ChainReport:
    report = evidence.verify_chain(store.message_log, **kwargs)
    assert not report.ok
    assert report.first_broken_seq == seq, report
    for word in words:
        assert word in (report.reason or ""), report.reason
    return report


# -- appending ---------------------------------------------------------------------------------


def test_appends_are_gapless_linked_and_verify(store: HubStore) -> None:
    assert evidence.verify_chain(store.message_log).ok  # an empty log is intact
    assert fill(store) == list(range(1, 10))
    report = evidence.verify_chain(store.message_log)
    assert report.ok and report.entries == 9 and report.head_seq == 9
    first, second = row(store, 1), row(store, 2)
    assert first["prev_hash"] == evidence.GENESIS_HASH
    assert second["prev_hash"] == first["entry_hash"]
    assert store.message_log.count_exchanges(PARTNER) == {"DongBoHoSoMC": 9}


def test_entry_hash_is_recomputable_from_the_documented_rule(store: HubStore) -> None:
    """A third party needs only sha256 and JSON: no hub code."""
    fill(store, batches=1, size=2)
    (entry,) = next(store.message_log.iter_log(after_seq=1))
    canonical = json.dumps(entry.fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert hashlib.sha256(bytes.fromhex(entry.prev_hash) + canonical).hexdigest() == entry.entry_hash
    assert set(entry.fields) == set(evidence.ENTRY_FIELDS)
    assert entry.fields["started_at"] == (T0 + timedelta(seconds=1)).isoformat(timespec="microseconds")
    assert entry.fields["duration_us"] == 13346


def test_bodies_are_kept_exactly_and_once(store: HubStore) -> None:
    entry = make_entry(1)
    again = MessageLogEntry(**{**vars(entry), "exchange_id": str(uuid.uuid4()), "attempt": 2})
    store.message_log.append([entry, again])
    assert store.message_log.message_bodies([entry.request_digest]) == {entry.request_digest: entry.request_body}
    with store.db.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(t.message_body)).scalar_one() == 2


def test_appending_the_same_exchange_twice_adds_nothing(store: HubStore) -> None:
    entries = [make_entry(i) for i in range(3)]
    assert store.message_log.append(entries) == [1, 2, 3]
    assert store.message_log.append(entries) == []
    assert store.message_log.append([*entries, make_entry(9)]) == [4]
    assert evidence.verify_chain(store.message_log).ok


def test_a_body_that_does_not_match_its_digest_is_refused(store: HubStore) -> None:
    entry = make_entry(1)
    with pytest.raises(ValueError, match="does not match its digest"):
        store.message_log.append([MessageLogEntry(**{**vars(entry), "request_digest": "0" * 64})])
    assert store.message_log.log_head() is None


def test_digest_only_entries_need_no_body(store: HubStore) -> None:
    entry = make_entry(1)
    store.message_log.append([MessageLogEntry(**{**vars(entry), "request_body": None, "response_body": None})])
    assert store.message_log.message_bodies([entry.request_digest]) == {}
    assert evidence.verify_chain(store.message_log).ok


def test_signatures_and_signer_certificates_are_kept(
    store: HubStore, hub_identity: SigningIdentity, portal_identity: SigningIdentity
) -> None:
    fill(store, batches=1, size=2, signer=hub_identity, partner_signer=portal_identity)
    (entry, _) = next(store.message_log.iter_log())
    assert entry.request_signature and entry.response_signature
    hub_fp = evidence.fingerprint(jws_certificate_der(hub_identity))
    assert entry.fields["request_signer"] == hub_fp
    assert entry.fields["response_signer"] == evidence.fingerprint(jws_certificate_der(portal_identity))
    with store.db.engine.connect() as conn:
        stored = dict(conn.execute(sa.select(t.certificate.c.fingerprint, t.certificate.c.subject)).all())
    assert hub_fp in stored and "hub" in stored[hub_fp]
    assert len(stored) == 3  # hub, portal, and the issuing CA both chains share


def jws_certificate_der(identity: SigningIdentity) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return identity.certificate.public_bytes(Encoding.DER)


def test_log_entry_keeps_bodies_signatures_and_call_details(store: HubStore) -> None:
    entry = log_entry(
        Exchange(
            exchange_id=str(uuid.uuid4()),
            partner=PARTNER,
            operation="DongBoHoSoMC",
            method="POST",
            url="https://portal.example/service",
            attempt=2,
            record_count=1,
            request_body=b'{"session":"***","data":[]}',
            response_body=None,
            status=None,
            outcome="retryable",
            error="no reply",
            started_at=T0,
            duration_ms=5000.0,
            redacted=True,
            request_signature="eyJhbGciOiJSUzI1NiJ9..c2ln",
        ),
        "batch-7",
    )
    assert entry.request_body == b'{"session":"***","data":[]}' and entry.response_body is None
    assert entry.request_signature == "eyJhbGciOiJSUzI1NiJ9..c2ln" and entry.redacted and entry.attempt == 2
    store.message_log.append([entry])
    (logged,) = next(store.message_log.iter_log())
    assert logged.fields["bodies_kept"] and logged.fields["response_digest"] is None
    assert logged.fields["request_signer"] is None  # no x5c in that token: kept, signer unknown
    assert evidence.verify_chain(store.message_log).ok


def test_a_dossiers_batches_are_remembered_after_the_outbox_moves_on(store: HubStore) -> None:
    key = "k1"
    store.outbox.enqueue([OutboxMessage(key, PARTNER, "DongBoHoSoMC", "D-1", "h1", {})])
    (first_batch,) = store.outbox.assign_batches(PARTNER, "DongBoHoSoMC", 10)
    store.message_log.append([make_entry(1, batch_id=first_batch)])
    store.message_log.append([make_entry(2, batch_id="other-batch")])
    # The message is retried in a new batch: the outbox now points there only.
    execute(store, "UPDATE outbox SET state = 'pending', batch_id = NULL")
    (second_batch,) = store.outbox.assign_batches(PARTNER, "DongBoHoSoMC", 10)
    store.message_log.append([make_entry(3, batch_id=second_batch)])
    assert store.message_log.log_seqs(dossier_no="D-1") == [1, 3]
    assert store.message_log.log_seqs(dossier_no="D-404") == []


# -- tampering ---------------------------------------------------------------------------------


def test_an_altered_field_is_found(store: HubStore) -> None:
    fill(store)
    execute(store, "UPDATE message_log SET outcome = 'permanent' WHERE seq = 5")
    assert_broken(store, 5, "altered")


def test_an_altered_timestamp_is_found(store: HubStore) -> None:
    fill(store)
    execute(store, "UPDATE message_log SET started_at = :t WHERE seq = 2", t=T0 - timedelta(days=1))
    assert_broken(store, 2, "altered")


def test_altered_body_bytes_are_found(store: HubStore) -> None:
    fill(store)
    digest = row(store, 4)["response_digest"]
    execute(store, "UPDATE message_body SET body = :b WHERE digest = :d", b=b'{"error_code":3}', d=digest)
    assert_broken(store, 4, "response body was altered")


def test_a_deleted_body_is_found(store: HubStore) -> None:
    fill(store)
    execute(store, "DELETE FROM message_body WHERE digest = :d", d=row(store, 6)["request_digest"])
    assert_broken(store, 6, "request body", "missing")


def test_a_deleted_entry_is_found(store: HubStore) -> None:
    fill(store)
    execute(store, "DELETE FROM message_log WHERE seq = 4")
    assert_broken(store, 4, "entry 4 missing: the sequence jumps from 3 to 5")


def test_several_deleted_entries_are_found_and_counted(store: HubStore) -> None:
    fill(store)
    execute(store, "DELETE FROM message_log WHERE seq IN (4, 5, 6)")
    assert_broken(store, 4, "entries 4..6 missing: the sequence jumps from 3 to 7")


def test_the_first_entry_deleted_is_found(store: HubStore) -> None:
    fill(store)
    execute(store, "DELETE FROM message_log WHERE seq = 1")
    assert_broken(store, 1, "entry 1 missing")


def test_deleted_newest_entries_are_found(store: HubStore) -> None:
    fill(store)
    execute(store, "DELETE FROM message_log WHERE seq >= 8")
    assert_broken(store, 8, "entries 8..9 missing at the end")


def test_a_deleted_entry_renumbered_away_is_found(store: HubStore) -> None:
    """Closing the gap after a delete leaves the next entry pointing at the deleted one."""
    fill(store)
    execute(store, "DELETE FROM message_log WHERE seq = 4")
    execute(store, "UPDATE message_log SET seq = -seq WHERE seq > 4")
    execute(store, "UPDATE message_log SET seq = -seq - 1 WHERE seq < 0")
    assert_broken(store, 4)


def test_reordered_entries_are_found(store: HubStore) -> None:
    fill(store)
    execute(store, "UPDATE message_log SET seq = -1 WHERE seq = 3")
    execute(store, "UPDATE message_log SET seq = 3 WHERE seq = 4")
    execute(store, "UPDATE message_log SET seq = 4 WHERE seq = -1")
    assert_broken(store, 3)


def test_an_inserted_entry_is_found_even_with_a_correct_hash(store: HubStore) -> None:
    """A forged entry hashed by the published rule still breaks the link to the entry after it."""
    fill(store)
    forged = {**row(store, 3), "seq": 4, "exchange_id": str(uuid.uuid4()), "outcome": "ok"}
    forged["prev_hash"] = row(store, 3)["entry_hash"]
    forged["entry_hash"] = evidence.entry_hash(forged["prev_hash"], evidence.entry_fields(forged))
    execute(store, "UPDATE message_log SET seq = -seq WHERE seq >= 4")
    execute(store, "UPDATE message_log SET seq = -seq + 1 WHERE seq < 0")
    with store.db.engine.begin() as conn:
        conn.execute(sa.insert(t.message_log), forged)
    assert_broken(store, 5)


def test_an_entry_appended_behind_the_heads_back_is_found(store: HubStore) -> None:
    fill(store, batches=1)
    forged = {**row(store, 3), "seq": 4, "exchange_id": str(uuid.uuid4())}
    forged["prev_hash"] = row(store, 3)["entry_hash"]
    forged["entry_hash"] = evidence.entry_hash(forged["prev_hash"], evidence.entry_fields(forged))
    with store.db.engine.begin() as conn:
        conn.execute(sa.insert(t.message_log), forged)
    assert_broken(store, 4, "head")


def test_a_swapped_signature_is_found(
    store: HubStore, hub_identity: SigningIdentity, portal_identity: SigningIdentity
) -> None:
    fill(store, batches=1, signer=hub_identity, partner_signer=portal_identity)
    other = row(store, 1)["response_signature"]
    execute(store, "UPDATE message_log SET response_signature = :s WHERE seq = 2", s=other)
    assert_broken(store, 2, "response signature")


# -- seals -------------------------------------------------------------------------------------


def test_each_appended_batch_is_sealed_once(
    store: HubStore, hub_identity: SigningIdentity, dev_pki: pki.DevPki
) -> None:
    fill(store, batches=3, size=4, seal=hub_identity)
    seals = store.message_log.log_seals()
    assert [(s.first_seq, s.last_seq) for s in seals] == [(1, 4), (5, 8), (9, 12)]
    report = evidence.verify_chain(store.message_log, trust=dev_pki.trust_store())
    assert report.ok and report.seals == 3 and report.sealed_seq == 12 and report.seal_signatures_checked


def test_seal_log_closes_an_unsealed_tail(store: HubStore, hub_identity: SigningIdentity) -> None:
    fill(store, batches=2, size=3)
    assert evidence.verify_chain(store.message_log).sealed_seq == 0
    seal = store.message_log.seal(hub_identity)
    assert seal is not None and (seal.first_seq, seal.last_seq) == (1, 6)
    assert store.message_log.seal(hub_identity) is None
    assert evidence.verify_chain(store.message_log).sealed_seq == 6


def test_a_rewritten_and_rehashed_chain_is_caught_by_the_seal(store: HubStore, hub_identity: SigningIdentity) -> None:
    """Someone who knows the hash rule edits entry 6 and re-hashes everything after it: the
    chain is self-consistent again, but no longer matches the Merkle root the hub signed."""
    fill(store, batches=3, size=3, seal=hub_identity)
    entries = [e for page in store.message_log.iter_log() for e in page]
    prev = entries[4].entry_hash
    with store.db.engine.begin() as conn:
        for entry in entries[5:]:
            columns = row(store, entry.seq)
            if entry.seq == 6:
                columns["outcome"] = "permanent"
            columns["prev_hash"] = prev
            prev = evidence.entry_hash(prev, evidence.entry_fields(columns))
            conn.execute(
                t.message_log.update()
                .where(t.message_log.c.seq == entry.seq)
                .values(outcome=columns["outcome"], prev_hash=columns["prev_hash"], entry_hash=prev)
            )
        conn.execute(t.message_log_head.update().values(entry_hash=prev))
    assert_broken(store, 4, "signed Merkle root", check_bodies=False)


def test_a_deleted_seal_is_found(store: HubStore, hub_identity: SigningIdentity) -> None:
    fill(store, batches=3, size=2, seal=hub_identity)
    execute(store, "DELETE FROM log_seal WHERE first_seq = 3")
    assert_broken(store, 3, "not contiguous")


def test_the_newest_seal_deleted_is_found(store: HubStore, hub_identity: SigningIdentity) -> None:
    fill(store, batches=3, size=2, seal=hub_identity)
    execute(store, "DELETE FROM log_seal WHERE first_seq = 5")
    assert_broken(store, 5, "seal", "missing")


def test_a_seal_signed_by_a_foreign_key_is_refused(
    store: HubStore, hub_identity: SigningIdentity, dev_pki: pki.DevPki
) -> None:
    fill(store, batches=2, size=2, seal=hub_identity)
    hashes = store.message_log.log_entry_hashes(3, 4)
    forged = evidence.sign_seal(
        hashes, pki.mint_foreign_identity("hub", root_cn=pki.ROOT_CN, issuing_cn=pki.ISSUING_CN)
    )
    execute(store, "UPDATE log_seal SET signature = :s WHERE first_seq = 3", s=forged.jws)
    assert evidence.verify_chain(store.message_log).ok  # without a trust store only the roots are compared...
    assert_broken(store, 3, "seal signature is not valid", trust=dev_pki.trust_store())  # ...with one, refused


def test_an_old_unchained_message_log_is_refused_with_instructions(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE message_log (id INTEGER PRIMARY KEY, exchange_id TEXT)"))
    with pytest.raises(RuntimeError, match="message_log_v0"):
        HubStore(url).create_schema()


# -- body checks, one entry at a time -------------------------------------------------------------------

REQUEST, RESPONSE = b'{"MaHoSo":"000.00.12.H26-261120-0001"}', b'{"error_code":0}'


def body_fields(**changes: Any) -> dict[str, Any]:
    fields = {
        "seq": 7,
        "bodies_kept": True,
        "request_digest": hashlib.sha256(REQUEST).hexdigest(),
        "request_size": len(REQUEST),
        "response_digest": hashlib.sha256(RESPONSE).hexdigest(),
        "response_size": len(RESPONSE),
    }
    return {**fields, **changes}


def bodies(*kept: bytes) -> dict[str, bytes]:
    return {hashlib.sha256(b).hexdigest(): b for b in kept}


def test_kept_bodies_that_match_their_digests_and_sizes_pass() -> None:
    assert body_problem(body_fields(), bodies(REQUEST, RESPONSE)) is None
    assert body_problem(body_fields(bodies_kept=False), {}) is None


def test_a_missing_response_body_is_found_after_a_request_with_none() -> None:
    """A request sent with no body (a GET) has no digest: the response is still checked."""
    fields = body_fields(request_digest=None, request_size=None)
    digest = fields["response_digest"]
    assert body_problem(fields, {}) == f"entry 7: the response body ({digest[:12]}...) is missing"


def test_a_body_altered_to_the_same_length_is_found() -> None:
    altered = RESPONSE.replace(b"0", b"5")
    kept = {**bodies(REQUEST), body_fields()["response_digest"]: altered}
    assert len(altered) == len(RESPONSE)
    digest = body_fields()["response_digest"]
    assert body_problem(body_fields(), kept) == (
        f"entry 7: the response body was altered (its bytes no longer hash to {digest[:12]}...)"
    )


def test_a_body_whose_recorded_size_was_changed_is_found() -> None:
    problem = body_problem(body_fields(request_size=len(REQUEST) + 1), bodies(REQUEST, RESPONSE))
    assert problem is not None and problem.startswith("entry 7: the request body was altered")


def test_an_entry_before_the_walks_position_is_out_of_order() -> None:
    """What a bundle's chain segment shows when an entry is repeated or moved back."""
    walker = ChainWalker(expected_seq=5)
    assert walker.check(SimpleNamespace(seq=3, fields={"seq": 3})) == "entry 3 out of order after 4"
    assert walker.check(SimpleNamespace(seq=4, fields={"seq": 4})) == "entry 4 out of order after 4"


def test_an_entry_whose_hashed_seq_disagrees_with_its_row_is_named() -> None:
    assert (
        ChainWalker().check(SimpleNamespace(seq=1, fields={"seq": 9})) == "entry 1 carries seq 9 in its hashed fields"
    )


def test_an_entry_that_does_not_follow_its_predecessor_names_both_hashes() -> None:
    walker = ChainWalker(expected_seq=3, prev_hash="ab" * 32)
    entry = SimpleNamespace(seq=3, fields={"seq": 3}, prev_hash="cd" * 32)
    assert walker.check(entry) == (
        "entry 3 does not follow entry 2: prev_hash cdcdcdcdcdcd... but the previous entry hashes to "
        "abababababab... (an entry was deleted, inserted or reordered)"
    )


def test_an_altered_entry_is_named_with_the_hash_its_fields_give(store: HubStore) -> None:
    fill(store, batches=1, size=1)
    [logged] = [e for page in store.message_log.iter_log() for e in page]
    altered = dataclasses.replace(logged, fields={**logged.fields, "http_status": 500})
    recomputed = evidence.entry_hash(logged.prev_hash, altered.fields)
    assert ChainWalker().check(altered) == (
        f"entry 1 was altered: its fields hash to {recomputed[:12]}..., not the recorded hash"
    )
    assert ChainWalker().check(logged) is None
