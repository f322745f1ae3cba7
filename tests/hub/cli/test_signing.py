"""The operator's signing commands: ``hub pki``, ``hub sign``/``hub verify`` and ``hub evidence``,
run as a user runs them, checked by what they write and by their exit status."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli.main import app
from hub.store import HubStore
from signing.keys import SigningIdentity
from signing.pki import DevPki
from tests.signing.test_evidence_chain import execute, fill

runner = CliRunner()
DOSSIER_XML = "<HoSo><MaHoSo>000.00.12.H26-261120-0001</MaHoSo><ChuHoSo>Nguyễn Văn An</ChuHoSo></HoSo>"


def hub(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), terminal_width=200)
    return result.exit_code, " ".join(result.output.split())  # rich wraps lines


def test_pki_init_keeps_an_existing_pki_and_adds_a_named_partner(tmp_path: Path) -> None:
    folder = tmp_path / "pki"
    code, out = hub("pki", "init", "--dir", str(folder))
    assert code == 0 and "DEV ONLY" in out
    root = (folder / "root-ca.cert.pem").read_bytes()
    code, out = hub("pki", "init", "--dir", str(folder), "--partner", "ministry_justice")
    assert code == 0
    assert (folder / "root-ca.cert.pem").read_bytes() == root, "an existing root must be kept"
    assert (folder / "ministry_justice.cert.pem").is_file()
    code, out = hub("pki", "show", "--dir", str(folder))
    assert code == 0 and out.count("valid signer") >= 7 and "ministry_justice" in out


def test_pki_show_without_a_pki_says_how_to_make_one(tmp_path: Path) -> None:
    code, out = hub("pki", "show", "--dir", str(tmp_path / "none"))
    assert code == 1 and "hub pki init" in out


def test_sign_and_verify_json_with_a_detached_jws(tmp_path: Path) -> None:
    payload = tmp_path / "payload.json"
    payload.write_text('{"MaHoSo":"000.00.12.H26-261120-0001","TrangThaiHoSo":4}')
    code, out = hub("sign", str(payload))
    assert code == 0 and (tmp_path / "payload.json.jws").is_file()
    code, out = hub("verify", str(payload))
    assert code == 0 and "signature valid" in out and "CN=hub DEV signing" in out

    payload.write_text('{"MaHoSo":"000.00.12.H26-261120-0001","TrangThaiHoSo":10}')
    code, out = hub("verify", str(payload))
    assert code == 1 and "does not match the payload bytes" in out


def test_signed_xml_verifies_here_and_with_xmlsec1_and_a_change_is_refused(tmp_path: Path, dev_pki: DevPki) -> None:
    document = tmp_path / "hoso.xml"
    document.write_text(DOSSIER_XML, encoding="utf-8")
    code, out = hub("sign", str(document))
    signed = tmp_path / "hoso.signed.xml"
    assert code == 0 and signed.is_file()
    code, out = hub("verify", str(signed))
    assert code == 0 and "signature valid" in out

    if shutil.which("xmlsec1"):
        independent = subprocess.run(
            ["xmlsec1", "--verify", "--trusted-pem", str(dev_pki.root_cert), "--untrusted-pem",
             str(dev_pki.issuing_cert), str(signed)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert independent.returncode == 0, independent.stderr

    signed.write_text(signed.read_text(encoding="utf-8").replace("Nguyễn Văn An", "Nguyễn Văn Ân"), encoding="utf-8")
    code, out = hub("verify", str(signed))
    assert code == 1 and "digest mismatch" in out


def test_verify_refuses_a_signature_from_outside_the_trust_store(tmp_path: Path) -> None:
    stranger = tmp_path / "stranger"
    assert hub("pki", "init", "--dir", str(stranger))[0] == 0
    payload = tmp_path / "reply.json"
    payload.write_text('{"error_code":0}')
    key = DevPki.existing(stranger).source("hub")
    assert hub("sign", str(payload), "--key", key)[0] == 0
    code, out = hub("verify", str(payload))
    assert code == 1 and "a CA impersonating a trusted one" in out  # same CA names, other keys


def test_verify_names_the_signer_of_a_report_pdf_and_refuses_one_changed_after_signing(
    tmp_path: Path, pki_identity: Callable[[str], SigningIdentity]
) -> None:
    from quality.report import write_reconciliation_report
    from tests.support.report_documents import reconciled_day

    pdf = write_reconciliation_report(reconciled_day(), tmp_path / "report", signer=pki_identity("hub")).pdf
    code, out = hub("verify", str(pdf))
    assert code == 0 and "signature valid" in out and "CN=hub DEV signing" in out

    pdf.write_bytes(pdf.read_bytes() + b"\n% appended after signing\n")
    code, out = hub("verify", str(pdf))
    assert code == 1 and "signature refused" in out and "added after" in out


@pytest.fixture
def logged_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pki_identity: Callable[[str], SigningIdentity]):
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    monkeypatch.setenv("HUB_STORE_URL", url)
    store = HubStore(url)
    store.create_schema()
    fill(store, batches=3, size=3, signer=pki_identity("hub"), partner_signer=pki_identity("national_portal"))
    yield store
    store.db.engine.dispose()


def test_evidence_seal_verify_export_and_a_tampered_log(logged_store: HubStore, tmp_path: Path) -> None:
    code, out = hub("evidence", "verify")
    assert code == 0, out
    assert "9 entries" in out and "9 newest entries are not sealed yet" in out
    code, out = hub("evidence", "seal")
    assert code == 0 and "Sealed entries 1..9" in out
    code, out = hub("evidence", "verify")
    assert code == 0 and "signatures checked" in out

    bundle = tmp_path / "evidence.zip"
    exchange_id = next(logged_store.message_log.iter_log())[3].fields["exchange_id"]
    code, out = hub("evidence", "export", "--exchange", exchange_id, "--out", str(bundle))
    assert code == 0, out
    assert bundle.is_file() and (bundle.stat().st_mode & 0o777) == 0o600
    code, out = hub("evidence", "verify-bundle", str(bundle))
    assert code == 0 and "verifies" in out, out

    execute(logged_store, "UPDATE message_log SET http_status = 500 WHERE seq = 5")
    code, out = hub("evidence", "verify")
    assert code == 1 and "broken at entry 5" in out
