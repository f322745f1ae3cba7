"""Adapter conformance: every partner adapter keeps the same promises, tested the same way.

Each property below runs over every case of :mod:`tests.support.conformance` (city system, national portal,
population database, each ministry contract -- business registration, civil status, social
insurance -- the VNPost and Viettel Post carriers, the portal scoreboard, the payment platform,
iHaNoi, the city data portal), each against its real sandbox on loopback with signing on both ways.
What the partner saw is counted from the outside, with the transport's exchange hook (one report
per attempt that reached the network) or the sandbox's own counters, never by trusting the client.
Where an adapter cannot exhibit a property the combination is skipped with the reason, so the
matrix of results is the conformance report.
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.errors import (
    AdapterError,
    AuthenticationError,
    ContractViolation,
    PermanentError,
    RetryableError,
    UntrustedReply,
)
from adapters.exchange import Exchange
from hub.pipeline.message_log import DurableRecorder, recover_orphans, resolve_by_resend
from hub.store import HubStore
from signing.evidence.chain import verify_chain
from signing.pki import DevPki
from tests.support.conformance import (
    CASES,
    SERVER_FAULT_KINDS,
    UNKNOWN_AGENCY,
    XML_REFUSALS,
    AdapterCase,
    Partner,
    connect,
)

pytestmark = pytest.mark.timeout(120)

WRONG_SECRET = "not-the-credential-4d1f"
READ_TIMEOUT = 1.0


@pytest.fixture(scope="module", params=CASES, ids=str)
def case(request: pytest.FixtureRequest) -> AdapterCase:
    return request.param


@pytest.fixture(scope="module")
def running(case: AdapterCase, tmp_path_factory: pytest.TempPathFactory, dev_pki: DevPki) -> Iterator[Partner]:
    """The case's sandbox, started once per module and adapter (loading generated data takes seconds)."""
    partner = case.start(tmp_path_factory.mktemp(case.name), dev_pki, f"pw-{case.name}-7c2e")
    yield partner
    partner.server.stop()


@pytest.fixture
def partner(running: Partner) -> Iterator[Partner]:
    running.reset()
    yield running
    running.reset()


@pytest.fixture
def client_for(case: AdapterCase, partner: Partner, dev_pki: DevPki) -> Callable[..., tuple[Any, list[Exchange]]]:
    """``client_for(**settings)`` -> (client, the exchanges its transport reported)."""

    def build(**options: Any) -> tuple[Any, list[Exchange]]:
        exchanges: list[Exchange] = []
        return connect(case, partner, dev_pki, on_exchange=exchanges.append, **options), exchanges

    return build


def _failed(exchanges: list[Exchange]) -> list[Exchange]:
    """The attempts that failed (the portal's successful login before them is not one)."""
    return [e for e in exchanges if e.outcome != "ok"]


# ------------------------------------------------------------------------------------------ timeouts


def test_a_hanging_partner_fails_retryable_within_the_read_timeout(
    case: AdapterCase, partner: Partner, client_for: Callable[..., tuple[Any, list[Exchange]]]
) -> None:
    client, exchanges = client_for(read_timeout=READ_TIMEOUT, max_attempts=1)
    partner.faults(timeout_rate=1.0, timeout_s=READ_TIMEOUT + 2)
    started = time.monotonic()
    with pytest.raises(RetryableError, match="read timeout"):
        case.read(client, partner)
    elapsed = time.monotonic() - started
    assert READ_TIMEOUT * 0.9 <= elapsed < READ_TIMEOUT + 1.0, f"took {elapsed:.2f} s"
    assert [e.outcome for e in exchanges] == ["retryable"]


# ------------------------------------------------------------------------------------------ retries


@pytest.mark.parametrize("kind", SERVER_FAULT_KINDS)
def test_partner_side_failures_are_retried_up_to_max_attempts(
    case: AdapterCase, partner: Partner, client_for: Callable[..., tuple[Any, list[Exchange]]], kind: str
) -> None:
    if kind not in case.server_faults:
        pytest.skip(f"{case.name} speaks JSON: it has no SOAP faults (its HTTP 5xx are tested as http_503)")
    client, exchanges = client_for(max_attempts=3)
    partner.faults(**case.server_faults[kind])
    with pytest.raises(RetryableError):
        case.read(client, partner)
    assert [e.outcome for e in _failed(exchanges)] == ["retryable"] * 3


def test_a_partner_that_recovers_within_max_attempts_is_not_noticed(
    case: AdapterCase, partner: Partner, client_for: Callable[..., tuple[Any, list[Exchange]]]
) -> None:
    client, exchanges = client_for(max_attempts=3)
    case.read(client, partner)  # logs in where the partner has sessions: fail_next counts business calls
    partner.faults(fail_next=2)
    exchanges.clear()
    case.read(client, partner)
    outcomes = [e.outcome for e in exchanges]  # a read of several calls (a listing and its details):
    assert outcomes[:3] == ["retryable", "retryable", "ok"] and set(outcomes[3:]) <= {"ok"}  # the rest pass


# ------------------------------------------------------------------------------------------ error mapping


def test_bad_credentials_are_an_authentication_error_and_not_retried(
    case: AdapterCase, partner: Partner, client_for: Callable[..., tuple[Any, list[Exchange]]]
) -> None:
    if case.public:
        pytest.skip(f"{case.name}: {case.public}")
    client, exchanges = client_for(secret=WRONG_SECRET)
    with pytest.raises(AuthenticationError) as caught:
        case.read(client, partner)
    assert WRONG_SECRET not in str(caught.value)
    assert [e.outcome for e in exchanges] == ["permanent"]


def test_an_unknown_agency_is_permanent_and_not_retried(
    case: AdapterCase, partner: Partner, client_for: Callable[..., tuple[Any, list[Exchange]]]
) -> None:
    if not case.agency_scoped:
        pytest.skip(
            case.unscoped
            or f"{case.name} has no agency scoping; its only other 4xx (400) answers parameters the client "
            "checks before sending"
        )
    client, exchanges = client_for(agency=UNKNOWN_AGENCY)
    with pytest.raises(PermanentError) as caught:
        case.read(client, partner)
    assert not isinstance(caught.value, AuthenticationError | ContractViolation)
    assert case.unknown_unit_code in str(caught.value)
    assert [e.outcome for e in _failed(exchanges)] == ["permanent"]


def test_a_malformed_reply_is_a_contract_violation_and_not_retried(
    case: AdapterCase, partner: Partner, client_for: Callable[..., tuple[Any, list[Exchange]]]
) -> None:
    client, exchanges = client_for()
    partner.faults(malformed_rate=1.0)
    with pytest.raises(ContractViolation) as caught:
        case.read(client, partner)
    assert caught.value.side == "partner"
    assert [e.outcome for e in exchanges] == ["contract_violation"]


# ------------------------------------------------------------------------------------------ idempotency


def test_the_same_write_sent_twice_is_held_once(
    case: AdapterCase, partner: Partner, client_for: Callable[..., tuple[Any, list[Exchange]]]
) -> None:
    if case.write is None or case.held is None:
        pytest.skip(f"{case.name} does not write: {case.read_only}")
    client, _ = client_for(read_timeout=READ_TIMEOUT, max_attempts=1)
    case.read(client, partner)  # a session, where the partner has them, before the fault
    item = partner.next_write()
    before = case.held(partner)
    # The nasty case first: the partner does the work but the reply never arrives in time.
    partner.faults(timeout_rate=1.0, timeout_s=READ_TIMEOUT + 0.5)
    with pytest.raises(RetryableError):
        case.write(client, item)
    partner.faults(timeout_rate=0.0)
    time.sleep(0.6)  # let the hung reply finish, so the resend is not racing it
    case.write(client, item)
    case.write(client, item)
    assert case.held(partner) - before == 1


def test_calls_whose_sender_died_before_logging_the_reply_are_logged_and_resolved(
    case: AdapterCase, partner: Partner, dev_pki: DevPki, tmp_path: Path
) -> None:
    """The message log has no gap for any partner (docs/reliability.md, section 1): each request is
    committed as an intent before it leaves, so a sender that dies after the partner acted -- here
    its replies are never logged, as after a SIGKILL -- leaves them in the store; the next block
    chains them with outcome "unknown" (a safe read, or any call to a partner the hub only reads
    from, resolved at once), and the retried batch's idempotent resend resolves the rest. A write
    is still held once at the partner."""
    store = HubStore(f"sqlite:///{tmp_path / 'hub.db'}")
    store.create_schema()
    client = connect(case, partner, dev_pki, max_attempts=1)
    case.read(client, partner)  # a session, where the partner has them, before the block
    if case.write is not None and case.held is not None:
        item, before = partner.next_write(), case.held(partner)
        call = lambda: case.write(client, item)  # noqa: E731
    else:
        call = lambda: case.read(client, partner)  # noqa: E731
    dead = DurableRecorder(store.message_log, "batch-1")
    dead.owner = f"{socket.gethostname()}:{_a_pid_that_has_ended()}"
    client.transport.on_sending = dead.sending  # it sends; it dies before ``finished`` runs
    call()
    sent = store.message_log.open_intents(case.name)
    assert sent and {(i.state, i.batch_id) for i in sent} == {("sending", "batch-1")}
    # What may have changed something: a partner the hub only reads from changed nothing, whatever the method.
    unsafe = [] if case.read_only else sorted(i.exchange_id for i in sent if i.method not in ("GET", "HEAD"))

    assert recover_orphans(store.message_log, case.name, store.db.now()) == len(sent)
    assert sorted(u.exchange_id for u in store.message_log.unknown_outcomes(case.name)) == unsafe
    retry = DurableRecorder(store.message_log, "batch-1")
    client.transport.on_sending, client.transport.on_exchange = retry.sending, retry.finished
    call()
    retry.flush()

    assert resolve_by_resend(store.message_log, case.name, retry) == len(unsafe)
    assert store.message_log.open_intents() == []
    if case.write is not None and case.held is not None:
        assert case.held(partner) - before == 1
    logged = [(e.fields["exchange_id"], e.fields["outcome"]) for page in store.message_log.iter_log() for e in page]
    assert sorted(logged[: len(sent)]) == sorted((i.exchange_id, "unknown") for i in sent)
    assert {outcome for _, outcome in logged[len(sent) :]} == {"ok"}
    assert verify_chain(store.message_log).ok


def _a_pid_that_has_ended() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# ------------------------------------------------------------------------------------------ signatures


@pytest.mark.parametrize("mode", list(XML_REFUSALS))
def test_untrustworthy_replies_are_refused_with_the_reason(
    case: AdapterCase, partner: Partner, client_for: Callable[..., tuple[Any, list[Exchange]]], mode: str
) -> None:
    if case.unsigned:
        pytest.skip(f"{case.name} signs nothing: {case.unsigned}")
    if mode not in case.refusals:
        pytest.skip(f"{case.name} speaks JSON: a detached JWS over the body leaves no element to wrap")
    assert partner.signing is not None
    client, exchanges = client_for()
    partner.signing.set_mode(mode)
    with pytest.raises(UntrustedReply) as caught:
        case.read(client, partner)
    assert case.refusals[mode] in str(caught.value)
    if mode in ("other_partner", "hub"):  # a trusted certificate, but not the partner's: both named
        impostor = partner.signing.other_partner if mode == "other_partner" else partner.signing.hub
        assert impostor.certificate.subject.rfc4514_string() in str(caught.value)
        assert f"CN={case.name} DEV signing" in str(caught.value)
    assert [e.outcome for e in exchanges] == ["permanent"]  # refused whole, never retried
    assert exchanges[0].response_body  # ... and kept, byte for byte, for the message log


# ------------------------------------------------------------------------------------------ masking


def test_no_full_citizen_id_or_phone_in_logs_or_errors(
    case: AdapterCase,
    partner: Partner,
    client_for: Callable[..., tuple[Any, list[Exchange]]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    if case.public or case.impersonal:
        pytest.skip(f"{case.name}: {case.public or case.impersonal}")
    caplog.set_level(logging.DEBUG)
    client, exchanges = client_for(max_attempts=2)
    numbers = case.read_numbers(partner, case.read(client, partner))
    if case.write is not None:
        item = partner.next_write()
        numbers += case.write_numbers(item)
        case.write(client, item)
    assert numbers, "the case must carry or read back at least one personal number"
    messages = []
    provoked = [({"malformed_rate": 1.0}, "valid"), ({"fail_next": 2}, "valid")]
    if partner.signing is not None:
        provoked.append(({}, "tampered"))
    for faults, mode in provoked:
        partner.faults(**faults)
        if partner.signing is not None:
            partner.signing.set_mode(mode)
        with pytest.raises(AdapterError) as caught:
            case.read(client, partner) if case.write is None else case.write(client, partner.next_write())
        messages.append(str(caught.value))
        partner.reset()
    shown = "\n".join([caplog.text, *messages, *(e.error or "" for e in exchanges)])
    leaked = sorted({n for n in numbers if n in shown})
    assert not leaked, f"full personal numbers in logs or errors: {[n[:3] + '...' for n in leaked]}"


def test_the_client_exposes_its_transport(
    case: AdapterCase, partner: Partner, client_for: Callable[..., tuple[Any, list[Exchange]]]
) -> None:
    """``adapters.hooks`` closes a client's ``transport`` when its Connection changes (a rotated
    password): a client without one crashed the hook instead of being replaced."""
    client, _ = client_for()
    assert isinstance(client.transport, case.transport_class)


def test_every_adapter_is_covered() -> None:
    """A new adapter package (or postal carrier module) without a case here would silently escape the suite."""
    adapters = Path(__file__).parents[2] / "adapters"
    packages = {p.name for p in adapters.iterdir() if (p / "client.py").exists()}
    carriers = {p.stem for p in (adapters / "postal").glob("*.py") if "\nPARTNER = " in p.read_text(encoding="utf-8")}
    ministries = {p.stem for p in (adapters / "ministry" / "contracts").glob("*.yaml")}  # one generic client
    assert packages - {"soap", "ministry"} | carriers | ministries == {case.name for case in CASES}
