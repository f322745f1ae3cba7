"""When to try an undelivered message again, and when to stop and ask a person.

A partner outage must delay delivery, never drop it: failed messages wait with exponential
backoff (full jitter, so a recovering partner is not hit by every message at once). Only after
``max_attempts`` does a message become dead -- and a dead message is quarantined with its
last error, so it is still counted and can be replayed.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from adapters.errors import AdapterError, RetryableError
from hub.store import ClaimedMessage, OutboxState, Settlement

RETRIES_EXHAUSTED = "delivery.retries_exhausted"


def exhausted_reason(last_error: str) -> str:
    """The quarantine reason of a message that ran out of attempts: in Vietnamese, as every reason,
    with the partner's last error quoted as it came (the part an engineer searches for)."""
    return f"đã hết số lần gửi lại, đối tác vẫn không nhận; lỗi cuối: {last_error}"


@dataclass
class DeliveryReport:
    """What one delivered batch came to: its messages and their outcomes by name."""

    batch_id: str
    messages: int = 0  # outbox messages claimed (one per dossier version, or per dossier history)
    records: int = 0  # records they carried to the partner (dossiers, progress entries, notifications)
    outcomes: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class RedeliveryPolicy:
    base: timedelta = timedelta(minutes=1)
    cap: timedelta = timedelta(hours=6)
    max_attempts: int = 48

    @classmethod
    def from_env(cls) -> RedeliveryPolicy:
        """Operators tune it per deployment: ``HUB_RETRY_BASE_S``, ``HUB_RETRY_CAP_S``, ``HUB_RETRY_MAX_ATTEMPTS``."""
        default = cls()
        return cls(
            base=timedelta(seconds=float(os.environ.get("HUB_RETRY_BASE_S", default.base.total_seconds()))),
            cap=timedelta(seconds=float(os.environ.get("HUB_RETRY_CAP_S", default.cap.total_seconds()))),
            max_attempts=int(os.environ.get("HUB_RETRY_MAX_ATTEMPTS", default.max_attempts)),
        )

    def next_attempt(self, attempts: int, now: datetime) -> datetime | None:
        """When to try again after the ``attempts`` already made failed; None: give up (dead)."""
        attempt = attempts + 1
        if attempt >= self.max_attempts:
            return None
        ceiling = min(self.cap, self.base * (2 ** (attempt - 1)))
        return now + timedelta(seconds=random.uniform(0, ceiling.total_seconds()))

    def failed(self, message: ClaimedMessage, error: str, now: datetime) -> Settlement:
        due = self.next_attempt(message.attempts, now)
        if due is None:
            return Settlement(message.id, OutboxState.DEAD, error=error)
        return Settlement(message.id, OutboxState.FAILED, error=error, next_attempt_at=due)


def raise_unless_retryable(failure: AdapterError | None) -> None:
    """Outages are settled as "retry later" and the task succeeds; anything else must turn the task red."""
    if failure is not None and not isinstance(failure, RetryableError):
        raise failure
