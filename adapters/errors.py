"""The error taxonomy every adapter raises, so callers decide by type, never by parsing text.

The hub turns each class into an outbox decision: ``RetryableError`` -> pending with a retry
time; ``PermanentError`` -> the batch fails with a reason a human can act on;
``ContractViolation`` -> one side no longer speaks the agreed contract, an incident rather
than a data problem. Messages are scrubbed here (secrets passed by the raiser, personal
numbers always) so no raise site can leak them by forgetting to.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from adapters.redaction import scrub


class AdapterError(Exception):
    """Base of every adapter failure: which partner, which operation, and what went wrong."""

    retryable: bool = False

    def __init__(
        self,
        partner: str,
        operation: str,
        message: str,
        *,
        status: int | None = None,
        secrets: Iterable[str | None] = (),
    ) -> None:
        self.partner = partner
        self.operation = operation
        self.status = status
        self.detail = scrub(message, secrets)
        super().__init__(f"{partner} {operation}: {self.detail}")


class RetryableError(AdapterError):
    """The same call may succeed later: timeout, connection failure, 429/502/503/504, overload."""

    retryable = True


class CircuitOpenError(RetryableError):
    """The partner failed too often lately; the call was refused without reaching it.

    ``retry_after_s`` is when the breaker lets a probe through, a natural retry time for the outbox.
    """

    def __init__(self, partner: str, operation: str, message: str, *, retry_after_s: float) -> None:
        super().__init__(partner, operation, message)
        self.retry_after_s = retry_after_s


class PermanentError(AdapterError):
    """Repeating the same call cannot succeed: a 4xx, refused credentials, a business refusal."""


class AuthenticationError(PermanentError):
    """The partner refused our credentials (HTTP 401/403, or a login/session refusal).

    Distinct from other permanent errors because the fix is in the Airflow Connection, not
    in the data.
    """


class UntrustedReply(PermanentError):
    """The reply's signature is missing, does not match its bytes, or comes from a certificate the
    trust store refuses. Nothing in it is used: the records it answered stay undelivered."""


class ContractViolation(PermanentError):
    """A message did not match the agreed contract.

    ``side="partner"``: the reply was not JSON, lacked keys or had wrong types.
    ``side="hub"``: the partner says our request was malformed (the portal's error 300); a bug in
    the hub or a contract change, never fixed by retrying.
    """

    def __init__(
        self,
        partner: str,
        operation: str,
        message: str,
        *,
        side: Literal["partner", "hub"] = "partner",
        status: int | None = None,
        secrets: Iterable[str | None] = (),
    ) -> None:
        super().__init__(partner, operation, message, status=status, secrets=secrets)
        self.side = side
