"""Read the national portal's public Decision 766 scoreboard (REST/JSON, no credentials).

The portal publishes how it scores each province under Decision 766 through a public JSON API
that its own dashboard calls: ``POST /api/v1/reporting/evaluation/<endpoint>`` with
``{timeType, year, quarter|month, rootDepartmentId, currentPage, pageSize}``, answered HTTP 201
(200 accepted too) with ``{"code": "OK", "data": {...}}``. ``service-results`` carries the
overall evaluation (``data.evaluation[]``: one row per province with its total and group scores);
the ``*-tree`` endpoints carry one indicator group per unit under the root (``data.children[]``).
The only public evidence is a crawler (duynghiaqn/Crawler-766, docs/interfaces.md 2.8, "C766").

The API is public and rate-limited: it answers 403 or 429 when called too fast. The client is
polite: it waits ``pause_s`` between its calls, the transport backs off and retries 403/429/5xx
(a 403 here is "slow down", never a credential problem: there are none), and what a period
returned is kept in memory, so asking twice costs one call (``refresh=True`` asks again). The
hub store keeps what was fetched per period (``hub.store.portal_scores``) and the job does not
refetch a stored period unless asked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from adapters.errors import ContractViolation
from adapters.transport import HttpTransport

PARTNER = "portal_scoreboard"
PATH = "/api/v1/reporting/evaluation"
# Hanoi's department id in the portal's province list (C766 data/discovery/.../response.json:
# "UBND Thành phố Hà Nội", departmentCode H26).
HANOI_ROOT = "019d2be3-6a86-70a8-a0af-76e986804225"
HANOI_CODE = "H26"
DEFAULT_PAUSE_S = 1.0  # the crawler waits 1-2.5 s between calls
PAGE_SIZE = 100
MAX_PAGES = 50
RATE_LIMITED = frozenset({403})  # beside 429 and 5xx, which every transport retries
# Indicator groups: the tree endpoint that details each, and its maximum score (C766).
GROUPS: dict[str, tuple[str, float]] = {
    "CKMB": ("transparency", 18.0),
    "TDGQ": ("dvc-progress-tree", 20.0),
    "CLGQ": ("provide-online-tree", 12.0),
    "TTTT": ("formality-online-payment-tree", 10.0),
    "MDSH": ("dossier-digitized", 22.0),
    "MDHL": ("handling-satisfaction", 18.0),
}
TREES = ("formality-online-payment-tree", "dossier-digitized")  # what the hub reads beside service-results
TimeType = Literal["year", "quarter", "month"]
_REPLY = ConfigDict(extra="allow", frozen=True)


@dataclass(frozen=True)
class ScorePeriod:
    """A scoreboard period: a year, a quarter (1..4) or a month (1..12)."""

    time_type: TimeType
    year: int
    number: int | None = None

    @property
    def label(self) -> str:
        if self.time_type == "year":
            return str(self.year)
        if self.time_type == "quarter":
            return f"{self.year}-Q{self.number}"
        return f"{self.year}-{self.number:02d}"

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"timeType": self.time_type, "year": self.year}
        if self.time_type != "year":
            body[self.time_type] = self.number
        return body


class Evaluation(BaseModel):
    """One province in ``service-results``' ``data.evaluation[]``."""

    model_config = _REPLY

    department_id: str = Field(alias="departmentId")
    department_name: str = Field(alias="departmentName")
    department_code: str | None = Field(default=None, alias="departmentCode")
    total_score: float = Field(alias="totalScore")
    group_scores: dict[str, float] = Field(alias="groupScores")


class TreeNode(BaseModel):
    """One unit in a ``*-tree`` endpoint's ``data.children[]`` (its score in the endpoint's group)."""

    model_config = _REPLY

    department_id: str = Field(alias="departmentId")
    department_name: str = Field(alias="departmentName")
    department_code: str | None = Field(default=None, alias="departmentCode")
    score: float | None = None
    max_score: float | None = Field(default=None, alias="maxScore")
    ratio: float | None = None


class _Evaluations(BaseModel):
    model_config = _REPLY
    evaluation: list[Evaluation]
    total: int | None = None


class _Children(BaseModel):
    model_config = _REPLY
    children: list[TreeNode]
    total: int | None = None


class _Reply(BaseModel):
    model_config = _REPLY
    code: str
    data: dict[str, Any]


def _data(document: Any, operation: str) -> dict[str, Any]:
    reply = _Reply.model_validate(document)
    if reply.code != "OK":
        raise ContractViolation(PARTNER, operation, f"the scoreboard answered code {reply.code!r}, not 'OK'")
    return reply.data


class ScoreboardClient:
    """Polite read access to the public scoreboard below one root department. Thread-safe."""

    def __init__(
        self,
        transport: HttpTransport,
        root_department_id: str = HANOI_ROOT,
        *,
        pause_s: float = DEFAULT_PAUSE_S,
        page_size: int = PAGE_SIZE,
    ) -> None:
        if not root_department_id:
            raise ValueError("the scoreboard needs a root_department_id (the province's id in the portal's list)")
        if pause_s < 0 or not 1 <= page_size <= 1000:
            raise ValueError("pause_s must be >= 0 and page_size within 1..1000")
        self.transport = transport
        self.root_department_id = root_department_id
        self.pause_s = pause_s
        self.page_size = page_size
        self._lock = threading.Lock()
        self._last_call = 0.0
        self._cache: dict[tuple[str, str], list[Any]] = {}

    def service_results(self, period: ScorePeriod, *, refresh: bool = False) -> list[Evaluation]:
        """Every province's overall evaluation for ``period`` (all pages)."""
        return self._cached("service-results", period, refresh, "evaluation", _Evaluations)

    def tree(self, endpoint: str, period: ScorePeriod, *, refresh: bool = False) -> list[TreeNode]:
        """The units below the root in one ``*-tree`` (or list) endpoint for ``period`` (all pages)."""
        if endpoint not in {tree for tree, _ in GROUPS.values()}:
            raise ValueError(f"unknown scoreboard endpoint {endpoint!r}")
        return self._cached(endpoint, period, refresh, "children", _Children)

    def _cached(self, endpoint: str, period: ScorePeriod, refresh: bool, key: str, model: type[BaseModel]) -> Any:
        cache_key = (endpoint, period.label)
        if not refresh and cache_key in self._cache:
            return list(self._cache[cache_key])
        items: list[Any] = []
        for page_no in range(1, MAX_PAGES + 1):
            page = self._page(endpoint, period, page_no, key, model)
            items += page
            if len(page) < self.page_size:
                break
        else:
            raise ContractViolation(PARTNER, endpoint, f"more than {MAX_PAGES} pages of {self.page_size}")
        self._cache[cache_key] = items
        return list(items)

    def _page(self, endpoint: str, period: ScorePeriod, page_no: int, key: str, model: type[BaseModel]) -> list[Any]:
        body = {
            **period.body(),
            "rootDepartmentId": self.root_department_id,
            "currentPage": page_no,
            "pageSize": self.page_size,
        }
        self._wait_turn()
        return self.transport.post_json(
            f"{PATH}/{endpoint}",
            body,
            operation=endpoint,
            parse=lambda document: getattr(model.model_validate(_data(document, endpoint)), key),
            rate_limited=RATE_LIMITED,
        )

    def _wait_turn(self) -> None:
        """At least ``pause_s`` between two calls of this client (what a polite crawler does)."""
        with self._lock:
            wait = self._last_call + self.pause_s - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._last_call = time.monotonic()

    def close(self) -> None:
        self.transport.close()


def from_connection(transport: HttpTransport, login: str, password: str, extras: Mapping[str, Any]) -> ScoreboardClient:
    """``portal_scoreboard`` Connection -> client: a public API, so no login or password; optional
    extras ``root_department_id`` (default Hanoi's) and ``pause_s`` (seconds between calls)."""
    del login, password  # a public API: whatever the Connection carries is not sent
    return ScoreboardClient(
        transport,
        str(extras.get("root_department_id") or HANOI_ROOT),
        pause_s=float(extras.get("pause_s", DEFAULT_PAUSE_S)),
    )


def probe(client: ScoreboardClient) -> str:
    """This year's service results (one public page of every province's score)."""
    year = datetime.now(UTC).year
    return f"service-results listed {len(client.service_results(ScorePeriod('year', year))):,} provinces for {year}"
