"""The monitoring files of deploy/monitoring/ against what the hub really sends.

The hub's emitters (hub/observability/metrics.py) send to a loopback UDP socket; the StatsD names
received go through the statsd-exporter's mapping (deploy/monitoring/statsd-mapping.yml, applied
by the exporter's glob rules: ``*`` is one dot-separated part, the first matching rule wins, timers
become histograms in seconds). Every metric and label a Grafana panel or a Prometheus alert rule
queries must come out of that -- a renamed metric or a typo in a query fails here, not on the
night the alert should have fired.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.observability import metrics
from hub.paths import REPO_ROOT
from hub.store import HubStore
from quality.reconcile.engine import reconcile
from quality.reconcile.model import Period
from tests.support.statsd import StatsdSink

MONITORING = REPO_ROOT / "deploy" / "monitoring"
DASHBOARD = MONITORING / "grafana" / "dashboards" / "hub.json"
PROMQL_FUNCTIONS_AND_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "le"}
# What the engineers on duty asked to see (issue 18): each signal and the metric that carries it.
SIGNALS = {
    "sync lag / oldest pending": "hub_outbox_oldest_pending_seconds",
    "pending": "hub_records",
    "quarantine by rule": "hub_quarantine_open_by_rule",
    "partner latency": "hub_partner_call_duration_seconds_bucket",
    "partner errors": "hub_partner_errors_total",
    "reconciliation gaps": "hub_reconcile_identity_gap",
    "postal overdue": "hub_postal_overdue",
}


@dataclass(frozen=True)
class Exchange:
    """One partner call, as the message log's entries describe it to the emitter."""

    partner: str
    operation: str
    outcome: str
    duration_ms: float


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, str]]:
    """StatsD name -> type of everything every emitter of the hub sends, from representative inputs
    (the reconciliation's from a real run, on an empty store)."""
    store = HubStore(f"sqlite:///{tmp_path / 'hub.db'}")
    store.create_schema()
    sink = StatsdSink()
    monkeypatch.setenv("HUB_STATSD_PORT", str(sink.port))
    metrics.exchanges(
        [
            Exchange("national_portal", "DongBoHoSoMC", "ok", 120.0),
            Exchange("national_portal", "DongBoHoSoMC", "retryable", 30000.0),
        ]
    )
    metrics.record_counts("national_portal", dict.fromkeys(("extracted", "delivered", "pending"), 3))
    metrics.oldest_pending("national_portal", 90.0)
    metrics.quarantine("city", open_by_rule={"city.ma_thu_tuc_khong_co": 2}, new_entries=2)
    metrics.reconciliation(reconcile(store.db, Period.day(date(2026, 11, 20))))
    metrics.postal_delivery({"vnpost": {"overdue": 1, "delivered": 4, "in_transit": 2}})
    sink.wait_for(20)
    try:
        yield {name: values[-1][1] for name, values in sink.metrics().items()}
    finally:
        sink.close()


def glob_rules() -> list[dict[str, Any]]:
    return yaml.safe_load((MONITORING / "statsd-mapping.yml").read_text(encoding="utf-8"))["mappings"]


def exported(name: str, kind: str, rules: list[dict[str, Any]]) -> dict[str, set[str]]:
    """The Prometheus series (name -> label names) the exporter makes of one StatsD name and type."""
    parts = name.split(".")
    for rule in rules:
        pattern = rule["match"].split(".")
        if len(pattern) == len(parts) and all(p in ("*", part) for p, part in zip(pattern, parts, strict=True)):
            labels = set(rule.get("labels", {}))
            base = rule["name"]
            break
    else:
        labels, base = set(), re.sub(r"[^A-Za-z0-9_]", "_", name)
    if kind == "ms":  # a timer: a histogram (the mapping's default observer type)
        return {f"{base}_bucket": labels | {"le"}, f"{base}_sum": labels, f"{base}_count": labels}
    return {base: labels}


@pytest.fixture
def series(sent: dict[str, str]) -> dict[str, set[str]]:
    rules = glob_rules()
    found: dict[str, set[str]] = {}
    for name, kind in sent.items():
        for metric, labels in exported(name, kind, rules).items():
            assert found.setdefault(metric, labels) == labels, f"{metric}: two label sets (the exporter refuses that)"
    return found


def queries() -> list[tuple[str, str]]:
    """(where, PromQL expression) of every dashboard panel target and alert rule."""
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    found = [(f"panel {p['title']!r}", t["expr"]) for p in dashboard["panels"] for t in p["targets"]]
    alerts = yaml.safe_load((MONITORING / "alerts.yml").read_text(encoding="utf-8"))
    found += [(f"alert {r['alert']}", r["expr"]) for g in alerts["groups"] for r in g["rules"]]
    return found


def metric_names(expr: str) -> set[str]:
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    return set(re.findall(r"\b(hub_[a-z0-9_]+)\b", without_strings))


def label_names(expr: str) -> set[str]:
    """Labels the expression groups by or selects on (``by (a, b)``, ``{a="x"}``)."""
    grouped = {g.strip() for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr) for g in group.split(",")}
    selected = set(re.findall(r"[{,]\s*([a-z_]+)\s*(?:=|!=|=~|!~)", expr))
    return (grouped | selected) - {""}


def test_every_emitter_of_the_hub_is_called_by_the_hub() -> None:
    """The names below come from these functions; each must have a caller, or nothing would be sent."""
    tree = ast.parse(Path(metrics.__file__).read_text(encoding="utf-8"))
    emitters = {f.name for f in tree.body if isinstance(f, ast.FunctionDef) and not f.name.startswith("_")} - {
        "statsd_address"
    }
    hub_code = "\n".join(
        p.read_text(encoding="utf-8") for p in (REPO_ROOT / "hub").rglob("*.py") if p.name != "metrics.py"
    )
    assert emitters and not {e for e in emitters if f"metrics.{e}(" not in hub_code}


def test_every_panel_and_alert_queries_a_metric_the_hub_emits(series: dict[str, set[str]]) -> None:
    checked = queries()
    assert len(checked) >= 15
    for where, expr in checked:
        used = metric_names(expr)
        assert used, f"{where} queries no hub metric: {expr}"
        assert not used - set(series), f"{where} queries {sorted(used - set(series))}, which the hub never emits"
        labels = set().union(*(series[m] for m in used))
        unknown = label_names(expr) - labels - PROMQL_FUNCTIONS_AND_KEYWORDS
        assert not unknown, f"{where} uses labels {sorted(unknown)} that {sorted(used)} do not carry"


def test_legends_and_annotations_name_labels_their_series_carry(series: dict[str, set[str]]) -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            labels = set().union(*(series[m] for m in metric_names(target["expr"])))
            kept = label_names(target["expr"]) if re.search(r"\b(sum|max|min|avg)\b", target["expr"]) else labels
            legend = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", target.get("legendFormat", "")))
            assert legend <= kept, f"panel {panel['title']!r}: legend {sorted(legend - kept)} is not kept"
    alerts = yaml.safe_load((MONITORING / "alerts.yml").read_text(encoding="utf-8"))
    for rule in (r for g in alerts["groups"] for r in g["rules"]):
        text = json.dumps(rule["annotations"])
        named = set(re.findall(r"\$labels\.(\w+)", text))
        assert named <= label_names(rule["expr"]) | set().union(*(series[m] for m in metric_names(rule["expr"]))), rule[
            "alert"
        ]


def test_the_dashboard_shows_every_signal_the_engineers_on_duty_asked_for() -> None:
    on_dashboard = set().union(*(metric_names(expr) for where, expr in queries() if where.startswith("panel")))
    alerted = set().union(*(metric_names(expr) for where, expr in queries() if where.startswith("alert")))
    missing = {signal for signal, metric in SIGNALS.items() if metric not in on_dashboard}
    assert not missing, f"no panel for {sorted(missing)}"
    for signal in ("sync lag / oldest pending", "partner errors", "reconciliation gaps", "postal overdue"):
        assert SIGNALS[signal] in alerted, f"no alert rule on {signal}"


def test_prometheus_scrapes_the_exporter_and_loads_the_rules_compose_mounts() -> None:
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["services"]
    prometheus = yaml.safe_load((MONITORING / "prometheus.yml").read_text(encoding="utf-8"))
    (target,) = [t for job in prometheus["scrape_configs"] for c in job["static_configs"] for t in c["targets"]]
    host, port = target.split(":")
    assert host in compose and f"127.0.0.1:{port}:{port}" in compose[host]["ports"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in compose["prometheus"]["volumes"] if v.startswith("./")}
    for rule_file in prometheus["rule_files"]:
        assert (REPO_ROOT / mounts[rule_file]).exists(), rule_file
    exporter = compose["statsd-exporter"]
    (mapping,) = [a.split("=", 1)[1] for a in exporter["command"] if a.startswith("--statsd.mapping-config=")]
    assert any(v.endswith(f":{mapping}:ro") and "statsd-mapping.yml" in v for v in exporter["volumes"])
    grafana_mounts = {v.split(":")[0] for v in compose["grafana"]["volumes"]}
    assert "./deploy/monitoring/grafana/dashboards" in grafana_mounts
    for service in ("prometheus", "grafana"):
        assert all(p.startswith("127.0.0.1:") for p in compose[service]["ports"]), service
