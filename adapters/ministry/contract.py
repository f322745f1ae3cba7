"""A ministry system's contract as data: one YAML file per ministry (``contracts/<partner>.yaml``),
validated by the pydantic models below and read by the one generic client (``client.py``).

What a contract says, and why each part is data:

- ``operations`` -- each call's method and path, and how its reply reads (``reply``: the success
  flag, the error code, where the records are). Ministries reached through the NGSP/LGSP answer in
  HTTP 200 with a status flag and an error code; the keys differ per ministry.
- ``errors`` -- the ministry's error codes and what each means to the hub (retry, refused
  credentials, unknown unit, not found, ...), mapped onto ``adapters.errors``.
- ``pull`` -- the listing the pull-back walks: its window (days per call, parameter names, date
  format), paging, the parameter it is fanned out over (civil status lists per ``module``), and the
  detail call that completes a listed item (by batch of ids, or one per item).
- ``record`` -- the field map to the canonical pull-back record (``mappings.ministry_records``):
  where the ministry's own number is, the one-stop number when the ministry holds one, procedure,
  unit, dates and applicant.
- ``push`` / ``status`` -- for a ministry the city registers interconnected dossiers with: the
  request body as a template of named values, the status values, which is final.
- ``lookups`` -- read-only look-ups (social insurance): operation and body keys.

When a real specification replaces an assumption, the contract file changes and the code does not;
``docs/interfaces.md`` section 7 names the public source (or "assumption") of every entry.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from mappings.ministry_records import RecordMap

__all__ = [
    "CONTRACTS",
    "ErrorKind",
    "Listing",
    "MinistryContract",
    "Operation",
    "Reply",
    "contract_of",
    "contract_partners",
]

CONTRACTS = Path(__file__).with_name("contracts")

ErrorKind = Literal[
    "authentication", "ip_not_allowed", "unknown_unit", "not_found", "not_ready", "refused", "retryable"
]
"""What a ministry error code means to the hub:

- ``authentication`` / ``ip_not_allowed``: refused credentials, or the hub's address is not on the
  ministry's allow-list (``AuthenticationError``: a person fixes the Connection or asks the ministry);
- ``unknown_unit``: the unit or province code the hub speaks for is unknown (``PermanentError``);
- ``not_found``: a look-up found nothing -- an answer (None / empty), not a failure;
- ``not_ready``: the record exists but is not complete yet (civil status 200): skipped this time,
  listed again when it changes;
- ``refused``: the ministry refused the hub's request as malformed (``ContractViolation``, hub side);
- ``retryable``: the ministry's own failure (``RetryableError``, retried with backoff).

A code the contract does not name is a ``ContractViolation`` on the ministry's side."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Reply(_Strict):
    """How a reply reads. ``status`` is the key of the success flag (absent: success unless
    ``error_code`` holds a code outside ``ok_codes``); ``records`` the key of the records (``""``:
    the reply itself; a single object reads as one record); ``count`` the key of the page's count."""

    status: str | None = None
    ok: tuple[str, ...] = ("1",)
    error_code: str | None = None
    ok_codes: tuple[str, ...] = ("", "0")
    message: str | None = None
    records: str | None = ""
    count: str | None = None


class Operation(_Strict):
    method: Literal["GET", "POST"]
    path: str = Field(pattern=r"^/")
    reply: Reply | None = None
    """Its own reply shape; by default the contract's ``reply``."""
    params: dict[str, str] = Field(default_factory=dict)
    """Values every call of it carries (``{name}`` names a Connection extra): a ministry serving
    several operations on one path tells them apart by one of them (driving licences' ``service``)."""


class Session(_Strict):
    """``auth: session``: the Connection's login and password are sent to ``operation`` (under the
    keys ``user`` and ``password``), whose reply's ``key`` is the session every other call carries
    as ``param``. A session the ministry no longer knows (an ``authentication`` error) is opened
    again once before the call fails."""

    operation: str
    user: str
    password: str
    key: str
    param: str


class Window(_Strict):
    """``days`` per call (1 = one day per call, named by ``from_param`` alone), the parameter names
    and the ``strptime``/``strftime`` format of the dates."""

    days: int = Field(ge=1)
    from_param: str
    to_param: str | None = None
    format: str

    @model_validator(mode="after")
    def _range_has_both_ends(self) -> Window:
        if self.days > 1 and self.to_param is None:
            raise ValueError("a window of several days names its last day (to_param)")
        return self


class Paging(_Strict):
    """Offset paging: ``offset``/``limit`` parameters, at most ``max`` records per call."""

    offset: str
    limit: str
    max: int = Field(ge=1)


class FanOut(_Strict):
    """The listing is asked once per value of ``param`` (civil status: per ``module``)."""

    param: str
    values: tuple[str, ...] = Field(min_length=1)


class Detail(_Strict):
    """The call that completes a listed item. ``key``: the item's key holding its id; ``param``: the
    parameter the ids go in -- a list of at most ``batch`` ids, or one id per call when ``batch``
    is None (the contract forces a call per record). ``params``: constant parameters (``{name}``
    names a Connection extra, ``{fan_out}`` the fanned-out value). The detail's fields are merged
    over the listed item's."""

    operation: str
    key: str
    param: str
    batch: int | None = Field(default=None, ge=1)
    params: dict[str, str] = Field(default_factory=dict)


class Listing(_Strict):
    """What the pull-back walks; ``keep`` says which listed records are staged: ``all`` (the
    reconciliation matches those the city also holds) or ``without_one_stop_number``."""

    operation: str
    window: Window
    paging: Paging | None = None
    fan_out: FanOut | None = None
    params: dict[str, str] = Field(default_factory=dict)
    detail: Detail | None = None
    keep: Literal["all", "without_one_stop_number"] = "all"


class Push(_Strict):
    """Registering an interconnected dossier. ``body`` maps request keys to named values of the
    dossier: ``dossier_no``, ``received`` (formatted with ``date_format``), ``module`` (the
    procedure's, from ``modules``), ``commune_unit`` (the ministry's numeric code of the handling
    commune), ``document`` (the registration as the ministry's XML, ``mappings.civil_status``)."""

    operation: str
    body: dict[str, Literal["dossier_no", "received", "module", "commune_unit", "document"]]
    date_format: str
    modules: dict[str, str] = Field(min_length=1)
    """Procedure code -> the ministry's module (business code)."""


class StatusCheck(_Strict):
    """Asking where a pushed dossier stands: ``body`` as :class:`Push` names values, ``value`` the
    reply key of the status, ``final`` the statuses after which no further change comes."""

    operation: str
    body: dict[str, Literal["dossier_no", "commune_unit"]]
    value: str
    final: tuple[int, ...] = Field(min_length=1)


class LookupSpec(_Strict):
    """A read-only look-up: its operation and the request keys it takes (values given by the caller)."""

    operation: str
    keys: tuple[str, ...] = Field(min_length=1)


class MinistryContract(_Strict):
    partner: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    evidence: str
    """Where the contract comes from (docs/interfaces.md section 7)."""
    auth: Literal["bearer", "session"]
    """``bearer``: the Connection's password is the token, sent as ``Authorization: Bearer``;
    ``session``: the Connection's login and password open a session (:class:`Session`)."""
    session: Session | None = None
    extras: tuple[str, ...] = ()
    """Connection extras the requests name (``{name}`` in params), each required."""
    reply: Reply
    errors: dict[str, ErrorKind]
    operations: dict[str, Operation] = Field(min_length=1)
    pull: Listing | None = None
    record: RecordMap | None = None
    push: Push | None = None
    status: StatusCheck | None = None
    lookups: dict[str, LookupSpec] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> MinistryContract:
        named = [
            *([self.pull.operation] if self.pull else []),
            *([self.pull.detail.operation] if self.pull and self.pull.detail else []),
            *([self.push.operation] if self.push else []),
            *([self.status.operation] if self.status else []),
            *(lookup.operation for lookup in self.lookups.values()),
            *([self.session.operation] if self.session else []),
        ]
        missing = sorted(set(named) - set(self.operations))
        if missing:
            raise ValueError(f"operations {missing} are used but not declared under operations")
        if (self.auth == "session") != (self.session is not None):
            raise ValueError("auth: session names its login (session: ...), and only it does")
        if (self.pull is None) != (self.record is None):
            raise ValueError("a pull-back needs a record map, and a record map is only for a pull-back")
        if (self.push is None) != (self.status is None):
            raise ValueError("a ministry the hub pushes to is also asked for statuses (push and status go together)")
        if "not_found" not in self.errors.values() and (self.status or self.lookups):
            raise ValueError("look-ups and status checks need the ministry's not-found code (errors: ...: not_found)")
        return self

    def reply_of(self, operation: str) -> Reply:
        return self.operations[operation].reply or self.reply

    @property
    def pushes(self) -> bool:
        return self.push is not None


@functools.cache
def contract_of(partner: str) -> MinistryContract:
    """The contract of ``partner`` (``contracts/<partner>.yaml``), read and validated once per process."""
    path = CONTRACTS / f"{partner}.yaml"
    if not path.exists():
        raise FileNotFoundError(f"no ministry contract {path.name} in {CONTRACTS}")
    contract = MinistryContract.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    if contract.partner != partner:
        raise ValueError(f"{path.name} declares partner {contract.partner!r}")
    return contract


def contract_partners() -> tuple[str, ...]:
    """Every partner that has a contract file (the conformance suite covers each)."""
    return tuple(sorted(path.stem for path in CONTRACTS.glob("*.yaml")))
