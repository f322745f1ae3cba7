"""``hub pki ...``, ``hub sign`` and ``hub verify``: the signing tools an operator or a partner's
engineer reaches for when an exchange is disputed or a certificate is being rolled out.

Mounted by ``hub/cli/main.py``. Keys and trust come from ``signing.config`` (``HUB_SIGNING_KEY``,
``HUB_TRUST_STORE``; the development PKI under ``var/pki`` by default), so these commands sign
and verify exactly as the DAGs do. Heavy imports stay inside the commands.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from cryptography import x509

    from signing.keys import SigningIdentity
    from signing.trust import TrustStore

pki_app = typer.Typer(
    help="The development PKI (DEV ONLY): root CA, issuing CA, hub and partner signing certificates, TLS.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()

KeyOption = Annotated[
    str | None,
    typer.Option(
        "--key",
        help="Key source (file:, pkcs12:, env:, pkcs11:). Default: $HUB_SIGNING_KEY, else the dev PKI's hub key.",
    ),
]
TrustOption = Annotated[
    Path | None,
    typer.Option("--trust", help="Folder of trusted PEM certificates. Default: $HUB_TRUST_STORE, else var/pki/trust."),
]


def _fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(1)


def _identity(key: str | None) -> SigningIdentity:
    from signing.config import hub_identity
    from signing.errors import SigningError
    from signing.keys import load_identity

    try:
        return load_identity(key) if key else hub_identity()
    except SigningError as exc:
        _fail(f"cannot load the signing key: {exc.reason}")
        raise  # unreachable: _fail exits


def _trust(folder: Path | None) -> TrustStore:
    from signing.config import trust_store
    from signing.errors import SigningError
    from signing.trust import TrustStore

    try:
        return TrustStore.from_folder(folder) if folder else trust_store()
    except (SigningError, ValueError, OSError) as exc:
        _fail(f"cannot load the trust store: {getattr(exc, 'reason', exc)}")
        raise  # unreachable: _fail exits


def _is_xml(path: Path, data: bytes) -> bool:
    return path.suffix.lower() == ".xml" or data.lstrip()[:1] == b"<"


def _describe(cert: x509.Certificate) -> str:
    return f"{cert.subject.rfc4514_string()} (serial {cert.serial_number:x}, until {cert.not_valid_after_utc:%Y-%m-%d})"


@pki_app.command("init")
def pki_init(
    folder: Annotated[Path | None, typer.Option("--dir", help="Where to write it. Default: var/pki.")] = None,
    partner: Annotated[
        list[str] | None, typer.Option("--partner", help="Partner name to issue a certificate for (repeatable).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Throw the existing PKI away and start again.")] = False,
) -> None:
    """Create (or complete) the development PKI; an existing, valid one is kept.

    Every certificate says DEV ONLY: real certificates replace it by configuration
    (HUB_SIGNING_KEY, HUB_TRUST_STORE), never by editing these files.

    Example: hub pki init --partner ministry_justice
    """
    from adapters.partners import partner_ids
    from signing.pki import init_dev_pki

    partners = tuple(dict.fromkeys((*partner_ids(), *(partner or ()))))
    try:
        pki = init_dev_pki(folder, partners=partners, force=force)
    except ValueError as exc:
        _fail(str(exc))
        return
    console.print(f"Development PKI in {pki.folder} [bold yellow](DEV ONLY - not for production)[/]")
    _show(pki.folder)


@pki_app.command("show")
def pki_show(
    folder: Annotated[Path | None, typer.Option("--dir", help="The PKI folder. Default: var/pki.")] = None,
) -> None:
    """List the PKI's certificates with their validity, and whether each still verifies.

    Example: hub pki show
    """
    from signing.pki import default_pki_dir

    folder = folder or default_pki_dir()
    if not (folder / "root-ca.cert.pem").is_file():
        _fail(f"no PKI in {folder}: run `hub pki init`")
    _show(folder)


def _show(folder: Path) -> None:
    from cryptography.x509.oid import NameOID

    from signing.errors import SigningError
    from signing.pki import TLS_SERVER, DevPki

    pki = DevPki.existing(folder)
    trust = pki.trust_store()
    table = Table("name", "common name", "valid until", "signing status")
    for name in pki.names:
        identity = pki.identity(name)
        cert = identity.certificate
        common_name = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        if name == TLS_SERVER:
            status = "TLS server only (127.0.0.1, localhost)"
        else:
            try:
                trust.verify_signer(cert, identity.chain)
                status = "[green]valid signer[/]"
            except SigningError as exc:
                status = f"[red]{exc.reason}[/]"
        table.add_row(name, str(common_name), f"{cert.not_valid_after_utc:%Y-%m-%d}", status)
    console.print(table)
    console.print(f"Trust anchors for partners: {pki.trust_dir}", highlight=False)


def sign(
    document: Annotated[Path, typer.Argument(help="The file to sign (XML or any bytes).", exists=True, dir_okay=False)],
    out: Annotated[Path | None, typer.Option("--out", help="Where to write the result.")] = None,
    key: KeyOption = None,
) -> None:
    """Sign a file: XML gets an enveloped XMLDSig (RSA-SHA256, exclusive C14N, X.509 chain in
    KeyInfo), written to FILE.signed.xml; anything else gets a detached JWS (RS256, x5c) over its
    exact bytes, written to FILE.jws.

    Example: hub sign payload.json    |    hub sign envelope.xml --out signed.xml
    """
    from lxml import etree

    from signing.errors import SigningError
    from signing.jws import sign_detached
    from signing.safe_xml import parse_xml
    from signing.xmldsig import sign_enveloped

    data = document.read_bytes()
    identity = _identity(key)
    try:
        if _is_xml(document, data):
            signed = sign_enveloped(parse_xml(data), identity)
            target = out or document.with_suffix(".signed.xml")
            target.write_bytes(etree.tostring(signed, xml_declaration=True, encoding="UTF-8"))
        else:
            target = out or document.with_name(document.name + ".jws")
            target.write_text(sign_detached(data, identity) + "\n")
    except (SigningError, ValueError) as exc:
        _fail(f"cannot sign {document}: {getattr(exc, 'reason', exc)}")
        return
    console.print(f"Signed {document} as {_describe(identity.certificate)} -> {target}", highlight=False)


def verify(
    document: Annotated[
        Path, typer.Argument(help="The signed XML, a signed report PDF, or the bytes a JWS covers.", exists=True)
    ],
    signature: Annotated[
        Path | None, typer.Option("--signature", help="The detached JWS (default: FILE.jws when FILE is not XML).")
    ] = None,
    trust: TrustOption = None,
    allow_sha1: Annotated[bool, typer.Option(help="Accept SHA-1 XML signatures (named legacy partners only).")] = False,
    at: Annotated[
        datetime | None, typer.Option(help="Judge certificate validity at this moment (UTC) instead of now.")
    ] = None,
) -> None:
    """Verify a signature against the trust store: exit 0 and name the signer, or exit 1 saying why.

    Examples:
      hub verify reply.json --signature reply.json.jws
      hub verify signed.xml
      hub verify var/reports/2026-11-20/reconciliation.pdf   # the PAdES signature of a report
    """
    from signing.errors import SigningError
    from signing.jws import verify_detached
    from signing.xmldsig import signer_certificate, verify_enveloped

    data = document.read_bytes()
    store = _trust(trust)
    when = at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at
    try:
        if signature is None and data.startswith(b"%PDF"):
            from quality.report import verify_report_pdf

            console.print(f"{document}: signature valid, signed by {verify_report_pdf(document, store)}")
            return
        if signature is None and _is_xml(document, data):
            verify_enveloped(data, store, allow_sha1=allow_sha1, at=when)
            signer = signer_certificate(data)
        else:
            token_file = signature or document.with_name(document.name + ".jws")
            if not token_file.is_file():
                _fail(f"no detached signature: {token_file} does not exist (pass --signature)")
            signer = verify_detached(data, token_file.read_text().strip(), store, at=when)
    except SigningError as exc:
        _fail(f"{document}: signature refused: {exc.reason}")
        return
    console.print(f"{document}: signature valid, signed by {_describe(signer)}", highlight=False)
