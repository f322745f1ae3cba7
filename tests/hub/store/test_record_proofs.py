"""One dossier proven alone: its record, its inclusion proof and the batch signature -- in the store
(SQLite and PostgreSQL) and through ``hub evidence record`` / ``verify-record``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from hub.cli.main import app
from hub.store import HubStore, RecordProofs, SentRecord
from hub.store.proofs import record_proof
from signing.digests import canonical_json, content_hash
from signing.errors import SignatureInvalid
from signing.keys import SigningIdentity
from signing.merkle import MerkleTree, sign_batch, verify_batch_member
from signing.trust import TrustStore

RECORDS = [
    {"MaHoSo": f"000.00.12.H26-261120-{n:04d}", "ChuHoSo": "Nguyễn Văn An", "SoGiayToChuHoSo": "001090012345"}
    for n in range(1, 8)
]


def keep_batch(
    store: HubStore, signer: SigningIdentity, batch_id: str = "b-1", records: Sequence[dict[str, str]] = RECORDS
) -> None:
    """One signed DongBoHoSoMC batch of ``records``, kept as the portal sync keeps it."""
    sent = [SentRecord(r["MaHoSo"], content_hash(r), canonical_json(r)) for r in records]
    tree = MerkleTree([s.leaf for s in sent])
    RecordProofs(store).keep(
        partner="national_portal",
        operation="DongBoHoSoMC",
        batch_id=batch_id,
        tree=tree,
        signature=sign_batch(tree, signer),
        records=sent,
    )


def test_each_record_of_a_signed_batch_verifies_alone_and_a_changed_one_does_not(
    store: HubStore, pki_identity: Callable[[str], SigningIdentity], trust_store: TrustStore
) -> None:
    keep_batch(store, pki_identity("hub"))
    keep_batch(store, pki_identity("hub"))  # kept twice: nothing doubles
    (proven,) = RecordProofs(store).for_dossier("000.00.12.H26-261120-0005")
    assert proven.record == canonical_json(RECORDS[4]) and proven.batch.size == len(RECORDS)
    assert proven.content_hash == content_hash(RECORDS[4])
    verify_batch_member(proven.record, proven.proof, proven.batch, trust_store)

    altered = canonical_json({**RECORDS[4], "ChuHoSo": "Nguyễn Văn Ân"})
    with pytest.raises(SignatureInvalid, match="not leaf 4 of the signed batch"):
        verify_batch_member(altered, proven.proof, proven.batch, trust_store)
    assert RecordProofs(store).for_dossier("000.00.12.H26-261120-9999") == []


@pytest.fixture
def store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubStore]:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    monkeypatch.setenv("HUB_STORE_URL", url)
    store = HubStore(url)
    store.create_schema()
    yield store
    store.db.engine.dispose()


def test_record_export_verifies_with_the_file_alone_and_a_tampered_file_fails(
    store_url: HubStore, pki_identity: Callable[[str], SigningIdentity], tmp_path: Path
) -> None:
    keep_batch(store_url, pki_identity("hub"))
    runner = CliRunner()
    out = tmp_path / "record.json"
    exported = runner.invoke(app, ["evidence", "record", "--dossier", RECORDS[2]["MaHoSo"], "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    (sending,) = json.loads(out.read_text(encoding="utf-8"))
    assert sending["dossier_no"] == RECORDS[2]["MaHoSo"] and "0002" not in sending["record"]  # no other record
    assert (out.stat().st_mode & 0o777) == 0o600

    checked = runner.invoke(app, ["evidence", "verify-record", str(out)])
    assert checked.exit_code == 0 and "is leaf 2 of a signed batch" in checked.output

    sending["record"] = sending["record"].replace("001090012345", "001090012346")
    out.write_text(json.dumps([sending], ensure_ascii=False), encoding="utf-8")
    refused = runner.invoke(app, ["evidence", "verify-record", str(out)])
    assert refused.exit_code == 1 and "does not verify" in " ".join(refused.output.split())


def test_record_export_of_an_unknown_dossier_says_so(store_url: HubStore, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["evidence", "record", "--dossier", "X-1", "--out", str(tmp_path / "r.json")])
    assert result.exit_code == 1 and "no signed sending of dossier X-1" in result.output


def test_a_proof_is_derived_from_the_batch_leaves_and_a_changed_stored_leaf_is_caught(
    store: HubStore, pki_identity: Callable[[str], SigningIdentity], trust_store: TrustStore
) -> None:
    """No audit path is stored per record: it is rebuilt from the batch's leaves when asked for, so
    a leaf changed in the store (even another dossier's) stops the rebuild instead of proving a lie."""
    keep_batch(store, pki_identity("hub"))
    with store.db.engine.connect() as conn:
        stored_paths = {p for (p,) in conn.execute(sa.select(record_proof.c.proof))}
    assert stored_paths == {""}
    for record in RECORDS:
        (proven,) = RecordProofs(store).for_dossier(record["MaHoSo"])
        verify_batch_member(proven.record, proven.proof, proven.batch, trust_store)
    with store.db.engine.begin() as conn:
        changed = canonical_json({**RECORDS[0], "ChuHoSo": "Trần Thị Bình"})
        conn.execute(record_proof.update().where(record_proof.c.leaf_index == 0).values(record=changed))
    with pytest.raises(ValueError, match="do not rebuild its signed root"):
        RecordProofs(store).for_dossier(RECORDS[3]["MaHoSo"])
