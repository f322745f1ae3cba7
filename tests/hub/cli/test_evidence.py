"""``hub evidence export --dossier`` discloses one dossier and nobody else, and ``verify-bundle``
passes only a bundle that verifies without a single warning."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hub.store import HubStore
from signing.evidence.entry import sha256_hex
from signing.keys import SigningIdentity
from tests.hub.cli.test_signing import hub
from tests.hub.store.test_record_proofs import keep_batch
from tests.signing.test_evidence_chain import fill

ASKED = "000.00.12.H26-261120-0002"


def _record(n: int, version: int = 1) -> dict[str, str]:
    return {
        "MaHoSo": f"000.00.12.H26-261120-{n:04d}",
        "SoGiayToChuHoSo": f"0010900{n:05d}",
        "SoDienThoai": f"09123{n:05d}",
        "ChuHoSo": f"Công dân số {n}",
        "TrangThaiHoSo": str(version),
    }


@pytest.fixture
def proven_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pki_identity: Callable[[str], SigningIdentity]
) -> Iterator[HubStore]:
    """Two signed DongBoHoSoMC batches: dossiers 1-6, then an update of 2 beside 7-9."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    monkeypatch.setenv("HUB_STORE_URL", url)
    store = HubStore(url)
    store.create_schema()
    keep_batch(store, pki_identity("hub"), "batch-1", [_record(n) for n in range(1, 7)])
    keep_batch(store, pki_identity("hub"), "batch-2", [_record(2, version=4), *(_record(n) for n in range(7, 10))])
    yield store
    store.db.engine.dispose()


def _contents(bundle: Path) -> str:
    with zipfile.ZipFile(bundle) as archive:
        return "\n".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())


def test_a_dossier_bundle_holds_its_records_proofs_and_signed_roots_and_no_one_else(
    proven_store: HubStore, tmp_path: Path
) -> None:
    bundle = tmp_path / "dossier.zip"
    code, out = hub("evidence", "export", "--dossier", ASKED, "--out", str(bundle))
    assert code == 0, out
    assert (bundle.stat().st_mode & 0o777) == 0o600
    text = _contents(bundle)
    assert _record(2)["SoGiayToChuHoSo"] in text and _record(2)["ChuHoSo"] in text
    for other in (1, *range(3, 10)):  # the eight others in its two batches
        for field in ("MaHoSo", "SoGiayToChuHoSo", "SoDienThoai", "ChuHoSo"):
            assert _record(other)[field] not in text, (other, field)
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
    assert sum(n.endswith("record.json") for n in names) == 2  # both sendings of the dossier
    assert sum(n.startswith("batches/") for n in names) == 2  # and the two signed batch roots

    code, out = hub("evidence", "verify-bundle", str(bundle))
    assert code == 0, out
    assert "2 record(s) proven" in out and "warning" not in out


def test_a_record_altered_in_a_dossier_bundle_is_refused(proven_store: HubStore, tmp_path: Path) -> None:
    bundle, forged = tmp_path / "dossier.zip", tmp_path / "forged.zip"
    assert hub("evidence", "export", "--dossier", ASKED, "--out", str(bundle))[0] == 0
    with zipfile.ZipFile(bundle) as source, zipfile.ZipFile(forged, "w") as target:
        manifest = json.loads(source.read("manifest.json"))
        for name in source.namelist():
            data = source.read(name)
            if name == "records/0001/record.json":  # another status, the manifest's digest fixed to match
                data = data.replace(b'"TrangThaiHoSo":"1"', b'"TrangThaiHoSo":"9"')
                manifest["files"][name] = sha256_hex(data)
            if name != "manifest.json":
                target.writestr(name, data)
        target.writestr("manifest.json", json.dumps(manifest))
    code, out = hub("evidence", "verify-bundle", str(forged))
    assert code == 1 and "not proven by batch" in out, out


def test_a_bundle_with_a_warning_does_not_verify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    monkeypatch.setenv("HUB_STORE_URL", url)
    store = HubStore(url)
    store.create_schema()
    fill(store, batches=1, size=2)  # nothing signed, nothing sealed: consistent, but proves nothing
    exchange_id = next(store.message_log.iter_log())[0].fields["exchange_id"]
    bundle = tmp_path / "exchange.zip"
    assert hub("evidence", "export", "--exchange", exchange_id, "--out", str(bundle))[0] == 0
    code, out = hub("evidence", "verify-bundle", str(bundle))
    assert code == 1 and "nothing in this bundle is signed" in out and "1 warning(s)" in out, out
    store.db.engine.dispose()
