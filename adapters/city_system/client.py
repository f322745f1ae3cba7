"""Read the city dossier system's change feed (docs/interfaces.md section 1, openapi.yaml here).

The client checks the envelope only (an ``items`` list of objects and a ``next_cursor``) and hands
the records over untouched: judging a record's content is the quality gate's job, where a bad
record becomes a quarantine entry with a rule name instead of a failed extraction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from adapters.errors import ContractViolation, RetryableError
from adapters.transport import HttpTransport

log = logging.getLogger(__name__)

PARTNER = "city_system"  # the name transports for this partner are built with
MAX_PAGE_SIZE = 2000  # the API answers HTTP 400 above this


class ChangesPage(BaseModel):
    """One page of ``GET /api/v1/dossiers/changes``; ``next_cursor`` is required but may be null."""

    model_config = ConfigDict(strict=True, extra="allow")

    items: list[dict[str, Any]]
    next_cursor: str | None


class Health(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")

    status: str


class CitySystemClient:
    """The city system as the hub sees it: a change feed and a health check."""

    def __init__(self, transport: HttpTransport, token: str) -> None:
        if not token:
            raise ValueError("the city system needs a bearer token (the Connection password)")
        self.transport = transport
        self._headers = {"Authorization": f"Bearer {token}"}

    def iter_changes(
        self, updated_from: datetime, updated_to: datetime, page_size: int = 500
    ) -> Iterator[list[dict[str, Any]]]:
        """Iterate over pages of raw city records changed in ``[updated_from, updated_to)``.

        Pages are yielded as they arrive so the caller stages one page at a time (bounded memory).
        Arguments are checked at the call, not at the first ``next()``. Both bounds must be
        timezone-aware: a naive time would be read in the server's zone and silently shift the
        window. A cursor that repeats is a ContractViolation rather than an endless loop.
        """
        if updated_from.tzinfo is None or updated_to.tzinfo is None:
            raise ValueError("updated_from and updated_to must be timezone-aware")
        if updated_from > updated_to:
            raise ValueError("updated_from is after updated_to")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        params: dict[str, str | int] = {
            "updated_from": updated_from.isoformat(),
            "updated_to": updated_to.isoformat(),
            "limit": page_size,
        }
        return self._pages(params)

    def _pages(self, params: dict[str, str | int]) -> Iterator[list[dict[str, Any]]]:
        seen_cursors: set[str] = set()
        pages = records = 0
        while True:
            page = self.transport.get_json(
                "/api/v1/dossiers/changes",
                operation="list_changes",
                parse=ChangesPage.model_validate,
                params=params,
                headers=self._headers,
            )
            pages += 1
            records += len(page.items)
            if page.items:
                yield page.items
            if page.next_cursor is None:
                break
            if page.next_cursor in seen_cursors:
                raise ContractViolation(
                    self.transport.partner,
                    "list_changes",
                    f"next_cursor repeated on page {pages}: paging would never end",
                )
            seen_cursors.add(page.next_cursor)
            params["cursor"] = page.next_cursor
        log.info(
            "%s: %d records in %d pages changed in [%s, %s)",
            self.transport.partner,
            records,
            pages,
            params["updated_from"],
            params["updated_to"],
        )

    def health(self) -> None:
        """Return if the city system reports ``ok``; raise RetryableError if it reports otherwise."""
        reply = self.transport.get_json(
            "/api/v1/health", operation="health", parse=Health.model_validate, headers=self._headers
        )
        if reply.status != "ok":
            raise RetryableError(self.transport.partner, "health", f"city system reports status {reply.status!r}")


def from_connection(transport: HttpTransport, login: str, password: str, extras: Mapping[str, Any]) -> CitySystemClient:
    """The client of the city system's Airflow Connection: its password is the bearer token (no login)."""
    return CitySystemClient(transport, password)


def probe(client: CitySystemClient) -> str:
    """The change feed of the last minute, one record a page: authenticated, cheap, nothing personal kept."""
    now = datetime.now(UTC)
    first = next(iter(client.iter_changes(now - timedelta(minutes=1), now, page_size=1)), [])
    return f"change feed answered ({'changes' if first else 'no change'} in the last minute)"
