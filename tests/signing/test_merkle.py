"""RFC 6962 Merkle tree and batch signatures.

The tree is checked three independent ways: against the Certificate Transparency reference
vectors (published roots and audit paths for the eight standard leaves), against roots written
out by hand with ``hashlib`` for small trees, and against a straight recursive transcription of
RFC 6962 §2.1 on random inputs (hypothesis). Batch signatures are checked record by record, with
nothing but the record, its proof and the batch signature, all passed through JSON.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from signing.errors import SignatureInvalid, UntrustedSigner
from signing.merkle import (
    BatchSignature,
    InclusionProof,
    MerkleTree,
    batch_statement,
    leaf_hash,
    sign_batch,
    verify_batch_member,
    verify_inclusion,
)
from signing.pki import DevPki, mint_expired_identity, mint_foreign_identity
from signing.trust import TrustStore


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# -- an independent transcription of RFC 6962 §2.1 --------------------------------------------------


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def reference_root(leaves: Sequence[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return sha(b"")
    if n == 1:
        return sha(b"\x00" + leaves[0])
    k = _split(n)
    return sha(b"\x01" + reference_root(leaves[:k]) + reference_root(leaves[k:]))


def reference_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*reference_path(m, leaves[:k]), reference_root(leaves[k:])]
    return [*reference_path(m - k, leaves[k:]), reference_root(leaves[:k])]


# -- Certificate Transparency reference vectors -----------------------------------------------------

CT_LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                        "606162636465666768696a6b6c6d6e6f")]  # fmt: skip
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_PATHS = [  # (leaf index, tree size, audit path)
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip


@pytest.mark.parametrize("size", range(len(CT_ROOTS)))
def test_roots_match_the_certificate_transparency_vectors(size: int) -> None:
    assert MerkleTree(CT_LEAVES[:size]).root.hex() == CT_ROOTS[size]


@pytest.mark.parametrize(("index", "size", "path"), CT_PATHS)
def test_audit_paths_match_the_certificate_transparency_vectors(index: int, size: int, path: list[str]) -> None:
    proof = MerkleTree(CT_LEAVES[:size]).proof(index)
    assert [node.hex() for node in proof.path] == path
    assert verify_inclusion(CT_LEAVES[index], proof, bytes.fromhex(CT_ROOTS[size]))


def test_small_roots_computed_by_hand() -> None:
    """RFC 6962 §2.1 written out for 1 to 5 leaves: prefixes, split rule, promotion, no duplication."""
    a, b, c, d, e = (b"a", b"b", b"c", b"d", b"e")
    la, lb, lc, ld, le = (sha(b"\x00" + x) for x in (a, b, c, d, e))

    def node(left: bytes, right: bytes) -> bytes:
        return sha(b"\x01" + left + right)

    assert MerkleTree([]).root == sha(b"")
    assert MerkleTree([a]).root == la
    assert MerkleTree([a, b]).root == node(la, lb)
    assert MerkleTree([a, b, c]).root == node(node(la, lb), lc)  # k = 2; c is promoted, not paired with itself
    assert MerkleTree([a, b, c, d]).root == node(node(la, lb), node(lc, ld))
    assert MerkleTree([a, b, c, d, e]).root == node(node(node(la, lb), node(lc, ld)), le)  # k = 4
    # Domain separation: a leaf whose bytes are an inner node's preimage does not hash like that node.
    assert leaf_hash(b"\x01" + la + lb) != node(la, lb)
    # No duplication of the last node (Bitcoin-style trees give [a, b, c] and [a, b, c, c] one root).
    assert MerkleTree([a, b, c]).root != MerkleTree([a, b, c, c]).root


def test_every_proof_verifies_for_every_size_up_to_200() -> None:
    leaves = [f"record-{i}".encode() for i in range(200)]
    for size in range(1, 201):
        tree = MerkleTree(leaves[:size])
        assert tree.root == reference_root(leaves[:size])
        for index in range(size):
            proof = tree.proof(index)
            assert list(proof.path) == reference_path(index, leaves[:size])
            assert verify_inclusion(leaves[index], proof, tree.root), (size, index)


# -- properties -------------------------------------------------------------------------------------

leaf_lists = st.lists(st.binary(max_size=48), min_size=1, max_size=200)
unique_leaf_lists = st.lists(st.binary(max_size=48), min_size=1, max_size=200, unique=True)


@settings(max_examples=150, deadline=None)
@given(leaves=leaf_lists)
def test_root_and_every_proof_agree_with_the_rfc_definition(leaves: list[bytes]) -> None:
    tree = MerkleTree(leaves)
    assert tree.root == reference_root(leaves)
    assert tree.proofs() == [tree.proof(i) for i in range(len(leaves))]
    for index, leaf in enumerate(leaves):
        proof = tree.proof(index)
        assert proof.size == len(leaves) and proof.index == index
        assert verify_inclusion(leaf, proof, tree.root)
        assert proof.to_json() == json.dumps(proof.to_dict(), separators=(",", ":"))
        assert InclusionProof.from_json(proof.to_json()) == proof


@settings(max_examples=150, deadline=None)
@given(leaves=leaf_lists, data=st.data())
def test_an_altered_leaf_does_not_verify(leaves: list[bytes], data: st.DataObject) -> None:
    tree = MerkleTree(leaves)
    index = data.draw(st.integers(0, len(leaves) - 1))
    other = data.draw(st.binary(max_size=48).filter(lambda value: value != leaves[index]))
    assert not verify_inclusion(other, tree.proof(index), tree.root)


@settings(max_examples=150, deadline=None)
@given(leaves=leaf_lists, data=st.data())
def test_an_altered_root_does_not_verify(leaves: list[bytes], data: st.DataObject) -> None:
    tree = MerkleTree(leaves)
    index = data.draw(st.integers(0, len(leaves) - 1))
    byte = data.draw(st.integers(0, 31))
    bit = data.draw(st.integers(0, 7))
    root = bytearray(tree.root)
    root[byte] ^= 1 << bit
    assert not verify_inclusion(leaves[index], tree.proof(index), bytes(root))
    assert not verify_inclusion(leaves[index], tree.proof(index), tree.root[:31])


@settings(max_examples=150, deadline=None)
@given(leaves=unique_leaf_lists, data=st.data())
def test_an_altered_proof_does_not_verify(leaves: list[bytes], data: st.DataObject) -> None:
    tree = MerkleTree(leaves)
    index = data.draw(st.integers(0, len(leaves) - 1))
    proof = tree.proof(index)
    leaf = leaves[index]

    if proof.path:  # flip one bit of one path node
        position = data.draw(st.integers(0, len(proof.path) - 1))
        byte = data.draw(st.integers(0, 31))
        node = bytearray(proof.path[position])
        node[byte] ^= 1 << data.draw(st.integers(0, 7))
        path = list(proof.path)
        path[position] = bytes(node)
        assert not verify_inclusion(leaf, InclusionProof(index, proof.size, tuple(path)), tree.root)
        # a node dropped
        assert not verify_inclusion(leaf, InclusionProof(index, proof.size, proof.path[:-1]), tree.root)
    # a node added
    assert not verify_inclusion(leaf, InclusionProof(index, proof.size, (*proof.path, tree.root)), tree.root)
    # another position (unique leaves: the record is not also there)
    other = data.draw(st.integers(0, len(leaves) - 1).filter(lambda i: i != index) if len(leaves) > 1 else st.just(-1))
    if other >= 0:
        assert not verify_inclusion(leaf, InclusionProof(other, proof.size, proof.path), tree.root)
    # impossible positions
    assert not verify_inclusion(leaf, InclusionProof(proof.size, proof.size, proof.path), tree.root)
    assert not verify_inclusion(leaf, InclusionProof(-1, proof.size, proof.path), tree.root)


@settings(max_examples=100, deadline=None)
@given(first=leaf_lists, second=leaf_lists)
def test_proofs_from_one_tree_fail_on_another(first: list[bytes], second: list[bytes]) -> None:
    assume(first != second)
    one, two = MerkleTree(first), MerkleTree(second)
    assert one.root != two.root
    for index, leaf in enumerate(first):
        assert not verify_inclusion(leaf, one.proof(index), two.root)


def test_proof_json_is_hex_and_refuses_garbage() -> None:
    tree = MerkleTree([b"a", b"b", b"c"])
    left = sha(b"\x01" + sha(b"\x00a") + sha(b"\x00b"))
    assert json.loads(tree.proof(2).to_json()) == {"index": 2, "size": 3, "path": [left.hex()]}
    garbage = [
        '{"index": 0, "size": 3}',
        '{"index": "0", "size": 3, "path": []}',
        '{"index": 0, "size": 3, "path": ["zz"]}',
        '{"index": 0, "size": 3, "path": ["00"]}',
        "[]",
        "not json",
    ]
    for bad in garbage:
        with pytest.raises(SignatureInvalid):
            InclusionProof.from_json(bad)


def test_proof_index_outside_the_tree_is_an_error() -> None:
    with pytest.raises(IndexError):
        MerkleTree([b"a"]).proof(1)


# -- batch signatures -------------------------------------------------------------------------------


RECORDS = [json.dumps({"MaHoSo": f"000.00.12.H26-261120-{i:04d}", "TrangThaiHoSo": i % 10 + 1}).encode()
           for i in range(1, 38)]  # fmt: skip


def test_one_record_verifies_alone_with_its_proof_and_the_batch_signature(
    dev_pki: DevPki, trust_store: TrustStore
) -> None:
    tree = MerkleTree(RECORDS)
    batch = sign_batch(tree, dev_pki.identity("hub"))
    assert (batch.root, batch.size) == (tree.root, len(RECORDS))
    # What a third party holds: one record, its proof and the batch signature, as stored (JSON).
    stored_batch = json.dumps(batch.to_dict())
    for index in (0, 17, 36):
        stored_proof = tree.proof(index).to_json()
        verify_batch_member(
            RECORDS[index],
            InclusionProof.from_json(stored_proof),
            BatchSignature.from_dict(json.loads(stored_batch)),
            trust_store,
        )


def test_sign_batch_accepts_leaves_and_refuses_an_empty_batch(dev_pki: DevPki) -> None:
    assert sign_batch(RECORDS, dev_pki.identity("hub")).root == MerkleTree(RECORDS).root
    with pytest.raises(ValueError):
        sign_batch([], dev_pki.identity("hub"))


def test_the_batch_jws_signs_the_canonical_statement(dev_pki: DevPki) -> None:
    batch = sign_batch(RECORDS, dev_pki.identity("hub"))
    statement = json.loads(batch_statement(batch.root, batch.size))
    assert statement == {"alg": "rfc6962-sha256", "root": batch.root.hex(), "size": 37, "type": "hub.merkle-batch/1"}
    assert batch.jws.split(".")[1] == ""  # detached


def test_a_tampered_record_or_a_proof_from_elsewhere_is_refused(dev_pki: DevPki, trust_store: TrustStore) -> None:
    tree = MerkleTree(RECORDS)
    batch = sign_batch(tree, dev_pki.identity("hub"))
    tampered = RECORDS[3].replace(b'"TrangThaiHoSo": 5', b'"TrangThaiHoSo": 9')
    assert tampered != RECORDS[3]
    with pytest.raises(SignatureInvalid, match="not leaf 3"):
        verify_batch_member(tampered, tree.proof(3), batch, trust_store)
    with pytest.raises(SignatureInvalid, match="not leaf"):
        verify_batch_member(RECORDS[3], tree.proof(4), batch, trust_store)
    other = MerkleTree(RECORDS[:-1])
    with pytest.raises(SignatureInvalid, match="tree of 36 leaves"):
        verify_batch_member(RECORDS[3], other.proof(3), batch, trust_store)


def test_a_batch_signature_moved_to_another_root_or_size_is_refused(dev_pki: DevPki, trust_store: TrustStore) -> None:
    tree = MerkleTree(RECORDS)
    batch = sign_batch(tree, dev_pki.identity("hub"))
    forged_tree = MerkleTree([*RECORDS[:-1], b'{"forged": true}'])
    forged = BatchSignature(root=forged_tree.root, size=batch.size, jws=batch.jws)
    with pytest.raises(SignatureInvalid, match="JWS signature does not match"):
        verify_batch_member(b'{"forged": true}', forged_tree.proof(36), forged, trust_store)
    resized = BatchSignature(root=batch.root, size=batch.size + 1, jws=batch.jws)
    with pytest.raises(SignatureInvalid):
        verify_batch_member(RECORDS[0], InclusionProof(0, batch.size + 1, tree.proof(0).path), resized, trust_store)


def test_a_batch_signed_by_an_untrusted_or_expired_signer_is_refused(dev_pki: DevPki, trust_store: TrustStore) -> None:
    tree = MerkleTree(RECORDS)
    for identity in (mint_foreign_identity("hub"), mint_expired_identity(dev_pki, "hub-expired")):
        batch = sign_batch(tree, identity)
        with pytest.raises(UntrustedSigner):
            verify_batch_member(RECORDS[0], tree.proof(0), batch, trust_store)


def test_a_batch_is_checked_at_the_time_asked_not_now(dev_pki: DevPki, trust_store: TrustStore) -> None:
    """An auditor checks a record as of its sending; a signer not valid then is refused."""
    tree = MerkleTree(RECORDS)
    batch = sign_batch(tree, dev_pki.identity("hub"))
    verify_batch_member(RECORDS[0], tree.proof(0), batch, trust_store)
    with pytest.raises(UntrustedSigner):
        verify_batch_member(RECORDS[0], tree.proof(0), batch, trust_store, at=datetime(2300, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize("root_size, size", [(31, 37), (32, 0), (33, 37)])
def test_a_malformed_batch_head_is_refused_before_its_signature_is_read(
    dev_pki: DevPki, trust_store: TrustStore, root_size: int, size: int
) -> None:
    tree = MerkleTree(RECORDS)
    batch = sign_batch(tree, dev_pki.identity("hub"))
    malformed = BatchSignature(root=(batch.root * 2)[:root_size], size=size, jws=batch.jws)
    with pytest.raises(SignatureInvalid, match=r"^malformed batch signature: root must be 32 bytes and size positive$"):
        verify_batch_member(RECORDS[0], tree.proof(0), malformed, trust_store)
