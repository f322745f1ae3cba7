"""``hub evidence ...``: check the message log, hand evidence to an auditor, check what one hands back.

Mounted by ``hub/cli/main.py``. Heavy imports (the store, signing) happen inside the commands so
``hub --help`` stays fast. Nothing here prints a message body: bodies hold citizen IDs and phone
numbers, and go only into the bundle file (mode 0600).

Configuration is ``signing.config``'s (``HUB_TRUST_STORE``, ``HUB_SIGNING_KEY``; the dev PKI
under ``var/pki`` by default), so these commands trust and sign exactly as the DAGs do.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from cryptography import x509

    from signing.trust import TrustStore


app = typer.Typer(
    help="The message log as evidence: verify its hash chain, export and verify evidence bundles.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()

TrustOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--trust",
        help="Trusted root(s): PEM file or folder, repeatable. Default: $HUB_TRUST_STORE, else var/pki/trust.",
    ),
]


def _fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(1)


def _pem_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in (".pem", ".crt", ".cer")))
        elif path.is_file():
            files.append(path)
        else:
            _fail(f"trust file or folder {path} does not exist")
    return files


def _trust_store(paths: list[Path] | None) -> TrustStore | None:
    """The --trust paths, else the configured trust store (``signing.config``), else None."""
    from signing.config import trust_store
    from signing.errors import KeySourceError
    from signing.trust import TrustStore

    if not paths:
        try:
            return trust_store()
        except KeySourceError:
            return None
    try:
        return TrustStore.from_pem_files(_pem_files(paths))
    except ValueError as exc:
        _fail(f"cannot build a trust store from {', '.join(map(str, paths))}: {exc}")
    return None  # unreachable: _fail exits


def _certificates(paths: list[Path]) -> list[x509.Certificate]:
    from cryptography import x509

    certs: list[x509.Certificate] = []
    for file in _pem_files(paths):
        try:
            certs.extend(x509.load_pem_x509_certificates(file.read_bytes()))
        except ValueError:
            _fail(f"{file} holds no PEM certificate")
    return certs


@app.command("verify")
def verify(
    trust: TrustOption = None,
    bodies: Annotated[bool, typer.Option(help="Also re-hash every kept body (slower on a large log).")] = True,
) -> None:
    """Walk the whole message log; exit 1 naming the first altered, inserted or deleted entry.

    Seal signatures are checked against the trust store when one is configured. Requests whose
    outcome the log does not hold -- sent by a process that died before logging the reply, or
    logged as "unknown" and not resolved yet -- are listed, and make the exit status 2.

    Example: hub evidence verify
    """
    from hub.cli.outbox import open_store
    from signing.evidence.chain import verify_chain

    roots = _trust_store(trust)
    with open_store() as store, console.status("Verifying the message log..."):
        report = verify_chain(store.message_log, trust=roots, check_bodies=bodies)
    if not report.ok:
        _fail(f"the message log is broken at entry {report.first_broken_seq}: {report.reason}")
    console.print(f"Message log intact: {report.entries:,} entries, hash chain and head verified.")
    if report.seals:
        checked = (
            "signatures checked"
            if report.seal_signatures_checked
            else "roots only: no trust store, signatures NOT checked"
        )
        console.print(f"Sealed through entry {report.sealed_seq:,} by {report.seals:,} signed seals ({checked}).")
    unsealed = report.entries - report.sealed_seq
    if unsealed:
        console.print(f"[yellow]{unsealed:,} newest entries are not sealed yet[/] (hub evidence seal).")
    if _report_unresolved():
        raise typer.Exit(2)


def _report_unresolved() -> int:
    """Print the requests whose outcome the log does not hold; how many are not merely in flight."""
    from hub.pipeline.message_log import is_orphaned
    from hub.store import IntentState, hub_store

    store = hub_store()
    now = store.db.now()
    groups: dict[str, list[str]] = {"unknown": [], "orphaned": [], "in flight": []}
    for intent in store.message_log.open_intents():
        if intent.state is IntentState.UNKNOWN:
            groups["unknown"].append(f"entry {intent.seq} ({intent.partner} {intent.operation})")
        else:
            kind = "orphaned" if is_orphaned(intent, now) else "in flight"
            groups[kind].append(f"{intent.partner} {intent.operation} sent {intent.started_at:%Y-%m-%d %H:%M:%S}Z")
    words = {
        "unknown": "logged with outcome unknown, not resolved yet (the partner's next delivery run resolves them)",
        "orphaned": "sent by a process that died before logging the reply (the next run to that partner logs them "
        "as unknown)",
        "in flight": "in flight now (their process is alive)",
    }
    for kind, items in groups.items():
        if items:
            colour = "cyan" if kind == "in flight" else "yellow"
            shown = "; ".join(items[:5]) + (f"; and {len(items) - 5:,} more" if len(items) > 5 else "")
            console.print(f"[{colour}]{len(items):,} requests {words[kind]}[/]: {shown}", highlight=False)
    return len(groups["unknown"]) + len(groups["orphaned"])


@app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="The zip file to write (mode 0600).")],
    exchange: Annotated[str | None, typer.Option(help="One exchange id (as in the message log).")] = None,
    dossier: Annotated[
        str | None,
        typer.Option(help="One dossier: its records as sent, their proofs and signed batch roots, nobody else's."),
    ] = None,
    trust: TrustOption = None,
) -> None:
    """Write an evidence bundle a third party can verify with the zip alone.

    ``--dossier`` holds only that dossier (minimal disclosure); ``--exchange`` holds a whole
    exchange, which names everyone its messages carry. Either holds personal data: keep it accordingly.

    Example: hub evidence export --dossier 000.00.12.H26-261120-0001 --out evidence.zip
    """
    from hub.cli.outbox import open_store
    from hub.store import RecordProofs
    from signing.evidence.bundle_export import export_bundle, export_record_bundle

    if (exchange is None) == (dossier is None):
        _fail("give exactly one of --exchange and --dossier")
    roots = _trust_store(trust)
    anchors = roots.roots if roots else ()
    try:
        with open_store() as store:
            if dossier is not None:
                proven = RecordProofs(store).for_dossier(dossier)
                summary = export_record_bundle(proven, dossier_no=dossier, out=out, roots=anchors)
                written = f"{summary.exchanges} signed sending(s) of {dossier} with their proofs and batch roots"
            else:
                console.print(
                    "[bold yellow]warning:[/] an exchange bundle holds the exact messages, with every citizen ID and "
                    "phone number they carry; for one dossier use --dossier instead.",
                    highlight=False,
                )
                summary = export_bundle(store.message_log, exchange_id=str(exchange), out=out, roots=anchors)
                written = (
                    f"{summary.exchanges} exchange(s), chain segment of {summary.chain_entries} entries, "
                    f"{summary.seals} seal(s)"
                )
    except LookupError as exc:
        _fail(str(exc))
        return
    console.print(
        f"Wrote {summary.path} (mode 0600, personal data): {written}, {summary.certificates} certificate(s), "
        f"{summary.roots} root(s).",
        highlight=False,
    )
    if not summary.roots:
        console.print("[yellow]no trusted root matched the signatures: the receiver must supply their own.[/]")


@app.command("verify-bundle")
def verify_bundle_command(
    bundle: Annotated[Path, typer.Argument(help="The evidence bundle (zip).", exists=True, dir_okay=False)],
    trust: Annotated[
        list[Path] | None,
        typer.Option(
            "--trust", help="Your own trusted root(s), PEM file or folder. Default: the bundle's (self-asserted)."
        ),
    ] = None,
) -> None:
    """Verify an evidence bundle using only its contents (and your root); exit 1 naming what is wrong.

    Example: hub evidence verify-bundle evidence.zip --trust gov-root.pem
    """
    from signing.evidence.bundle_verify import verify_bundle

    report = verify_bundle(bundle, trusted_roots=_certificates(trust) if trust else None)
    console.print(f"Trust anchor: {report.trust_anchor}", highlight=False)
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    for problem in report.problems:
        console.print(f"[red]problem:[/] {problem}", highlight=False)
    if not report.ok:
        _fail(f"{bundle} does not verify ({len(report.problems)} problem(s); first: {report.problems[0]})")
    if report.warnings:  # evidence that holds only in part is not evidence that verifies
        _fail(f"{bundle} does not verify without reservation: {len(report.warnings)} warning(s) above")
    if report.records:
        checked = f"{report.records_verified} record(s) proven by the hub's signed batch roots"
    else:
        checked = (
            f"{report.exchanges} exchange(s), {report.chain_entries} chain entries, "
            f"{report.signatures_verified} signature(s) and {report.seals_verified} seal proof(s) checked"
        )
    console.print(f"{bundle} verifies: {checked}.", highlight=False)


@app.command("seal")
def seal(
    key: Annotated[
        str | None,
        typer.Option(
            help="Key source (file:, pkcs12:, env:, pkcs11:). Default: $HUB_SIGNING_KEY, else the dev PKI's hub key."
        ),
    ] = None,
) -> None:
    """Seal every not-yet-sealed log entry with one signature over their Merkle root.

    Example: hub evidence seal
    """
    from hub.cli.outbox import open_store
    from signing.config import hub_identity
    from signing.errors import SigningError
    from signing.keys import load_identity

    try:
        identity = load_identity(key) if key else hub_identity()
    except SigningError as exc:
        _fail(f"cannot load the signing key: {exc.reason}")
        return
    with open_store() as store:
        sealed = store.message_log.seal(identity)
    if sealed is None:
        console.print("Nothing to seal: every entry is already sealed.")
    else:
        console.print(f"Sealed entries {sealed.first_seq:,}..{sealed.last_seq:,} (seal {sealed.id}).")


@app.command("record")
def record(
    dossier: Annotated[str, typer.Option(help="The dossier number.")],
    out: Annotated[Path, typer.Option("--out", help="The JSON file to write (mode 0600).")],
) -> None:
    """Export one dossier's signed sendings alone: its exact record, inclusion proof and the batch
    signature -- proof of what the hub sent, without any other citizen's data from the same batch.

    Example: hub evidence record --dossier 000.00.12.H26-261120-0001 --out record.json
    """
    import json

    from hub.cli.outbox import open_store
    from hub.store import RecordProofs

    with open_store() as store:
        proven = RecordProofs(store).for_dossier(dossier)
    if not proven:
        _fail(f"no signed sending of dossier {dossier} in the hub store")
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump([p.to_dict() for p in proven], file, ensure_ascii=False, indent=2)
    console.print(f"Wrote {out}: {len(proven)} signed sending(s) of {dossier} (personal data: keep it accordingly).")


@app.command("verify-record")
def verify_record(
    path: Annotated[Path, typer.Argument(help="A file written by `hub evidence record`.", exists=True)],
    trust: TrustOption = None,
) -> None:
    """Check each sending in a record file alone: the record is leaf N of a batch the hub signed.

    Example: hub evidence verify-record record.json --trust national-root.pem
    """
    import json

    from signing.errors import SigningError
    from signing.merkle import BatchSignature, InclusionProof, verify_batch_member

    store = _trust_store(trust)
    if store is None:
        _fail("no trust store: pass --trust with the root certificate")
        return
    try:
        sendings = json.loads(path.read_text(encoding="utf-8"))
        for n, sending in enumerate(sendings, 1):
            verify_batch_member(
                sending["record"].encode("utf-8"),
                InclusionProof.from_dict(sending["proof"]),
                BatchSignature.from_dict(sending["batch_signature"]),
                store,
                at=datetime.fromisoformat(sending["signed_at"]),
            )
            console.print(f"sending {n}: {sending['dossier_no']} is leaf {sending['proof']['index']} of a signed batch")
    except SigningError as exc:
        _fail(f"{path}: sending {n} does not verify: {exc.reason}")
    except (ValueError, KeyError, TypeError) as exc:
        _fail(f"{path} is not a record file: {exc}")
    console.print(f"{path} verifies: {len(sendings)} sending(s).")
