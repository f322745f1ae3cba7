"""The hub's own StatsD metrics, beside Airflow's (``[metrics] statsd_on`` in ``airflow.cfg``).

One emitter for the whole hub, so metric names are defined in one place and a dashboard can be
built from this file alone. Both the hub and Airflow send to ``HUB_STATSD_HOST``:``HUB_STATSD_PORT``
(``hub.airflow_env`` passes the same address to Airflow), prefixed ``hub.`` and ``airflow.``.
StatsD is fire-and-forget UDP: with no agent listening the datagrams are dropped and nothing
slows down or fails.

Names (``<p>`` partner, ``<op>`` operation, ``<s>`` source; characters StatsD cannot carry, such
as the colon of ``ministry:civil_status``, become ``_``):

- ``hub.partner.<p>.<op>.latency_ms`` (timer), ``.calls`` and ``.errors`` (counters): every
  attempt the transport made; ``hub.partner.<p>.error_rate`` (gauge, 0..1) over one task's calls.
- ``hub.records.<p>.extracted|delivered|quarantined|pending|out_of_scope`` (gauges): where the
  staged dossiers stand with the partner after a run.
- ``hub.outbox.<p>.oldest_pending_seconds`` (gauge): the sync lag an alert watches.
- ``hub.quarantine.<s>.open`` (gauge) and ``hub.quarantine.<s>.new`` (counter);
  ``hub.quarantine.<s>.rule.<rule>.open`` (gauge): the open entries under each rule.
- ``hub.postal.<carrier>.overdue`` and ``hub.postal.<carrier>.state.<state>`` (gauges): the ordered
  results past their delivery deadline, and by delivery state, after a tracking run.
- ``hub.reconcile.<class>``, ``hub.reconcile.differing_dossiers`` and
  ``hub.reconcile.identity.<key>.gap`` (gauges): the last reconciliation.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol

from statsd import StatsClient

if TYPE_CHECKING:
    from quality.reconcile.model import Reconciliation

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8125
PREFIX = "hub"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


class ExchangeLike(Protocol):
    """What a metric needs of one partner call (the message log's entries have it)."""

    partner: str
    operation: str
    outcome: str
    duration_ms: float


def statsd_address(env: Mapping[str, str] | None = None) -> tuple[str, int]:
    """Where StatsD metrics go, for the hub and (through ``hub.airflow_env``) for Airflow."""
    env = os.environ if env is None else env
    return env.get("HUB_STATSD_HOST", DEFAULT_HOST), int(env.get("HUB_STATSD_PORT", DEFAULT_PORT))


@lru_cache(maxsize=4)
def _client(host: str, port: int) -> StatsClient:
    return StatsClient(host, port, prefix=PREFIX)


def _name(*parts: str) -> str:
    return ".".join(_UNSAFE.sub("_", part) for part in parts)


def _statsd() -> StatsClient:
    return _client(*statsd_address())


def exchanges(entries: Iterable[ExchangeLike]) -> None:
    """Latency, calls and errors of a task's partner calls; one error-rate gauge per partner."""
    calls: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    with _statsd().pipeline() as pipe:
        for e in entries:
            pipe.timing(_name("partner", e.partner, e.operation, "latency_ms"), e.duration_ms)
            pipe.incr(_name("partner", e.partner, e.operation, "calls"))
            calls[e.partner] += 1
            if e.outcome != "ok":
                pipe.incr(_name("partner", e.partner, e.operation, "errors"))
                errors[e.partner] += 1
        for partner, n in calls.items():
            pipe.gauge(_name("partner", partner, "error_rate"), round(errors[partner] / n, 4))


def record_counts(partner: str, counts: Mapping[str, int]) -> None:
    """Where the staged dossiers stand with ``partner`` (a sync summary's ``counts``)."""
    with _statsd().pipeline() as pipe:
        for state in ("extracted", "delivered", "quarantined", "pending", "out_of_scope"):
            if state in counts:
                pipe.gauge(_name("records", partner, state), counts[state])


def oldest_pending(partner: str, seconds: float | None) -> None:
    """Age of the oldest undelivered message (0 when nothing waits)."""
    _statsd().gauge(_name("outbox", partner, "oldest_pending_seconds"), round(seconds or 0))


def quarantine(source: str, *, open_by_rule: Mapping[str, int], new_entries: int) -> None:
    """Open quarantine entries of ``source`` in all and per rule, and the entries new since the last call.

    A rule that no longer holds anything stops being sent; the exporter drops its series after a
    day (``ttl`` in deploy/monitoring/statsd-mapping.yml), so the graph does not keep an old count.
    """
    with _statsd().pipeline() as pipe:
        pipe.gauge(_name("quarantine", source, "open"), sum(open_by_rule.values()))
        for rule, n in open_by_rule.items():
            pipe.gauge(_name("quarantine", source, "rule", rule, "open"), n)
        if new_entries:
            pipe.incr(_name("quarantine", source, "new"), new_entries)


def postal_delivery(counts: Mapping[str, Mapping[str, int]]) -> None:
    """Per carrier, the ordered results overdue and in each delivery state (a tracking summary's
    ``delivery``: ``{carrier: {"overdue": n, state: n, ...}}``)."""
    with _statsd().pipeline() as pipe:
        for carrier, states in counts.items():
            for state, n in states.items():
                if state == "overdue":
                    pipe.gauge(_name("postal", carrier, "overdue"), n)
                else:
                    pipe.gauge(_name("postal", carrier, "state", state), n)


def reconciliation(result: Reconciliation) -> None:
    """Differences per class, differing dossiers and each identity's gap of a reconciliation run.

    Called by whoever ran the reconciliation (``quality.reconcile`` returns a ``Reconciliation``);
    every class checked is sent, zeros included, so a graph drops back to 0 once a difference is
    fixed. An identity's gap is left - right (0 when it holds).
    """
    with _statsd().pipeline() as pipe:
        for kind, n in result.counts.items():
            pipe.gauge(_name("reconcile", str(kind)), n)
        pipe.gauge(_name("reconcile", "differing_dossiers"), result.verdict()["differing_dossiers"])
        for identity in result.identities:
            pipe.gauge(_name("reconcile", "identity", identity.key, "gap"), identity.left - identity.right)
