"""deploy/helm/values.yaml for the official Airflow chart, checked without a cluster or helm:
what an operator reviewing it would check before `helm install`."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.test_files import connection_ids, missing_callbacks

ROOT = Path(__file__).resolve().parents[2]
VALUES = ROOT / "deploy" / "helm" / "values.yaml"
# Top-level keys of the chart's values.schema.json that this file may set (the chart refuses
# unknown top-level keys): a typo here would fail `helm install`, so it fails this test first.
CHART_KEYS = {
    "executor", "airflowVersion", "defaultAirflowRepository", "defaultAirflowTag", "images",
    "postgresql", "redis", "data", "fernetKeySecretName", "apiSecretKeySecretName", "jwtSecretName",
    "extraEnvFrom", "secret", "env", "volumes", "volumeMounts", "config", "dags", "logs", "migrateDatabaseJob",
    "workers", "scheduler", "dagProcessor", "triggerer", "apiServer", "statsd", "createUserJob",
}  # fmt: skip


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return yaml.safe_load(VALUES.read_text(encoding="utf-8"))


def test_only_chart_keys_and_the_kubernetes_executor(values: dict[str, Any]) -> None:
    assert set(values) <= CHART_KEYS, f"not chart values: {sorted(set(values) - CHART_KEYS)}"
    assert values["executor"] == "KubernetesExecutor"
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    airflow = next(p["version"] for p in lock["package"] if p["name"] == "apache-airflow")
    assert values["airflowVersion"] == airflow, "the chart must know the Airflow version the image carries"
    image = values["images"]["airflow"]
    assert image["repository"].endswith("/hanoi-dossier-hub") and image["tag"] not in ("", "latest")
    assert values["config"]["core"]["dags_folder"] == "/opt/hub/dags"
    if not any(p["name"] == "apache-airflow-providers-fab" for p in lock["package"]):
        # Without FAB in the image, the chart's FAB defaults would crash the api-server and user job.
        assert values["config"]["core"]["auth_manager"].endswith(".SimpleAuthManager")
        assert values["createUserJob"]["enabled"] is False


def connections_secret(values: dict[str, Any]) -> str:
    """The Secret every Airflow container takes its Connections from (``extraEnvFrom``)."""
    (source,) = yaml.safe_load(values["extraEnvFrom"])
    return source["secretRef"]["name"]


def test_every_connection_and_hub_secret_comes_from_a_kubernetes_secret(values: dict[str, Any]) -> None:
    from_secrets = {entry["envName"]: entry for entry in values["secret"]}
    for entry in from_secrets.values():
        assert entry["secretName"] and entry["secretKey"], entry
    assert {"HUB_STORE_URL", "HUB_SIGNING_KEY_PASSWORD"} <= set(from_secrets)
    # The Connections come whole from one Secret made of connections.env (every partner's and the
    # alerts'): none is listed one by one, so a new partner changes nothing here.
    assert not [name for name in from_secrets if name.startswith("AIRFLOW_CONN_")]
    name = connections_secret(values)
    readme = (VALUES.parent / "README.md").read_text(encoding="utf-8")
    created = re.search(rf"create secret generic {name} --from-env-file=connections\.env\b", readme)
    assert created, f"deploy/helm/README.md must create the Secret {name} from connections.env"
    assert len(connection_ids()) >= 6
    for key in ("fernetKeySecretName", "apiSecretKeySecretName", "jwtSecretName"):
        assert values[key], key
    assert values["data"]["metadataSecretName"]


def test_no_secret_value_is_written_in_the_values(values: dict[str, Any]) -> None:
    for key in ("fernetKey", "apiSecretKey", "jwtSecret", "extraSecrets", "webserverSecretKey"):
        assert key not in values, f"{key} would put a secret in the values file"
    assert "metadataConnection" not in values.get("data", {})
    plain = {entry["name"]: str(entry.get("value", "")) for entry in values["env"]}
    for name, value in plain.items():
        assert not re.search(r"PASSWORD|SECRET|TOKEN|^AIRFLOW_CONN_", name), f"{name} must come from a Secret"
        assert not re.search(r"://[^/@\s]*:[^/@\s]+@", value), f"{name} carries credentials"
    assert plain["GX_ANALYTICS_ENABLED"] == "false"
    assert plain["HUB_SIGNING_KEY"].startswith("pkcs12:/opt/hub/secrets/")


def test_task_pods_mount_the_signing_key_and_everyone_the_trust_store(values: dict[str, Any]) -> None:
    mounts = {mount["mountPath"]: mount["name"] for mount in values["workers"]["extraVolumeMounts"]}
    key_volume = next(v for v in values["workers"]["extraVolumes"] if v["name"] == mounts["/opt/hub/secrets"])
    assert key_volume["secret"]["secretName"]
    shared = {mount["mountPath"]: mount for mount in values["volumeMounts"]}
    assert shared["/opt/hub/trust"]["readOnly"] is True
    assert "/opt/hub/var" in shared, "task pods' reports must outlive the pods"


def test_pools_are_created_and_every_component_requests_resources(values: dict[str, Any]) -> None:
    job = values["migrateDatabaseJob"]
    assert job["enabled"] and "hub airflow-init" in " ".join(job["args"]), "the pools come from hub airflow-init"
    for component in ("scheduler", "dagProcessor", "triggerer", "apiServer", "workers", "migrateDatabaseJob"):
        requests = values[component]["resources"]["requests"]
        assert requests.get("cpu") and requests.get("memory"), component
        assert values[component]["resources"]["limits"]["memory"], component


def test_webhook_receiver_runs_beside_the_chart_from_the_same_image_and_secrets(values: dict[str, Any]) -> None:
    documents = list(yaml.safe_load_all((VALUES.parent / "webhooks.yaml").read_text(encoding="utf-8")))
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    service = next(d for d in documents if d["kind"] == "Service")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    image = values["images"]["airflow"]
    assert container["image"] == f"{image['repository']}:{image['tag']}"
    assert "hub webhooks serve" in " ".join(container["args"])
    assert not missing_callbacks(container["args"]), "the receiver must take every partner's callbacks"
    assert pod["securityContext"]["runAsNonRoot"] is True
    env = {entry["name"]: entry for entry in container["env"]}
    secret_refs = {name for name, entry in env.items() if "secretKeyRef" in entry.get("valueFrom", {})}
    needed = {"HUB_STORE_URL", "HUB_SIGNING_KEY_PASSWORD"}
    assert needed <= secret_refs, f"not from Secrets: {sorted(needed - secret_refs)}"
    # The carriers' Connections (their callback secrets are extras) from the chart's Connections Secret.
    assert {"secretRef": {"name": connections_secret(values)}} in container["envFrom"]
    key_path = env["HUB_SIGNING_KEY"]["value"].removeprefix("pkcs12:").split("?")[0]
    mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
    assert str(Path(key_path).parent) in mounts, "the signing key must be mounted where HUB_SIGNING_KEY points"
    port = container["ports"][0]["containerPort"]
    assert f"--port {port}" in " ".join(container["args"])
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/health", probe
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
