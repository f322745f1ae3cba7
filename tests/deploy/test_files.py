"""The container deployment, checked without a Docker engine: the Dockerfile's properties, its
install step against uv.lock, hadolint, and docker-compose.yml through ``docker-compose config``.

hadolint and docker-compose (v2) come from ``make deploy-check`` (deploy/check.sh puts them in
``var/tools/bin``). Without them the tool checks skip, unless ``HUB_REQUIRE_DEPLOY_TOOLS=1``
(set by deploy/check.sh), where a missing tool fails.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.tags import compatible_tags, cpython_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

from adapters.partners import partner_ids

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
SANDBOX_COMPOSE = ROOT / "deploy" / "compose" / "sandbox.yml"
ENV_EXAMPLE = ROOT / ".env.example"
CONNECTIONS_EXAMPLE = ROOT / "connections.env.example"
AIRFLOW_COMPONENTS = ("scheduler", "dag-processor", "triggerer", "api-server", "worker-1", "worker-2")
# Names whose values are secrets (a *_FILE names where one is kept, not the secret itself).
SECRET_NAME = re.compile(r"^(?!.*_FILE$).*(PASSWORD|SECRET|TOKEN|FERNET|PRIVATE|AUTH$)|^AIRFLOW_CONN_", re.IGNORECASE)


def connection_ids() -> set[str]:
    """The Connection id of every partner (adapters/partners.py), and the alerts' webhook: each
    needs its AIRFLOW_CONN_* in a deployment."""
    from dags.common import ALERTS_CONN_ID

    return {ALERTS_CONN_ID, *partner_ids()}


# -- Dockerfile ------------------------------------------------------------------------------------


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: comments dropped, continuation lines joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        instructions.append((keyword.upper(), " ".join(args.split())))
        pending = ""
    return instructions


def stages(instructions: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """The instructions split per build stage (each starts with FROM)."""
    result: list[list[tuple[str, str]]] = []
    for keyword, args in instructions:
        if keyword == "FROM":
            result.append([])
        if result:
            result[-1].append((keyword, args))
    return result


@cache
def locked_packages() -> list[dict[str, Any]]:
    return tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))["package"]


def locked_version(name: str) -> str:
    (version,) = {package["version"] for package in locked_packages() if package["name"] == name}
    return version


def instructions() -> list[tuple[str, str]]:
    return dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8"))


def final_stage() -> list[tuple[str, str]]:
    return stages(instructions())[-1]


def base_image(stage: list[tuple[str, str]]) -> str:
    return stage[0][1].split()[0]


def test_every_stage_builds_on_the_locked_airflow_release_for_python_311() -> None:
    airflow = locked_version("apache-airflow")
    assert airflow.startswith("3.3."), "the hub targets the Airflow 3.3 line"
    for stage in stages(instructions()):
        image = base_image(stage)
        match = re.fullmatch(r"apache/airflow:(?:slim-)?(\d+\.\d+\.\d+)-python3\.11", image)
        assert match, f"{image}: not a pinned official apache/airflow Python 3.11 tag"
        assert match.group(1) == airflow, f"{image} but uv.lock pins apache-airflow {airflow}"


def test_final_image_runs_as_non_root_with_healthcheck_and_no_analytics() -> None:
    final = final_stage()
    users = [args for keyword, args in final if keyword == "USER"]
    assert users and users[-1] not in ("0", "root", "0:0"), "the image must end on a non-root user"
    health = [args for keyword, args in final if keyword == "HEALTHCHECK"]
    assert health and "CMD" in health[-1] and "NONE" not in health[-1]
    env = " ".join(args for keyword, args in final if keyword == "ENV")
    assert re.search(r"\bGX_ANALYTICS_ENABLED=false\b", env)


def test_no_secret_is_baked_into_the_image() -> None:
    for keyword, args in instructions():
        if keyword in ("ENV", "ARG"):
            names = re.findall(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=", args) or [args.split("=")[0]]
            assert not [name for name in names if SECRET_NAME.search(name)], f"{keyword} {args}"
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for path in (".env", "secrets", "var", ".git"):
        assert path in ignored, f".dockerignore must keep {path} out of the build context"


def test_image_copies_every_shipped_package_and_the_config_it_reads() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    final = final_stage()
    copied = {
        source.rstrip("/")
        for keyword, args in final
        if keyword == "COPY" and "--from=" not in args
        for source in [part for part in args.split() if not part.startswith("--")][:-1]
    }
    missing = set(packages) | {"airflow.cfg", "pyproject.toml", "plugins"}
    assert not missing - copied, f"not copied into the image: {sorted(missing - copied)}"
    runs = " ".join(args for keyword, args in final if keyword == "RUN")
    assert re.search(r"pip install .*--editable \.", runs), "the hub must be installed (editable: it reads airflow.cfg)"


def test_image_installs_weasyprints_system_libraries() -> None:
    final = final_stage()
    runs = " ".join(args for keyword, args in final if keyword == "RUN")
    # WeasyPrint's documented Debian packages, and the fonts quality/report's stylesheet names.
    for package in (
        "libpango-1.0-0",
        "libpangoft2-1.0-0",
        "libharfbuzz-subset0",
        "fonts-dejavu-core",
        "fonts-liberation",
    ):
        assert re.search(rf"apt-get install [^&]*\b{re.escape(package)}\b", runs), package


def export_command() -> list[str]:
    """The ``uv export ...`` the image runs, as argv (its output file left out)."""
    runs = [args for keyword, args in instructions() if keyword == "RUN"]
    commands = [part.strip() for run in runs for part in run.split("&&") if part.strip().startswith("uv export")]
    assert len(commands) == 1, "the Dockerfile must export the lock exactly once"
    argv = shlex.split(commands[0])
    assert "--frozen" in argv and "--no-dev" in argv, "the image must install the lock as it is, without dev tools"
    return argv


def test_image_install_step_resolves_with_the_same_lock(tmp_path: Path) -> None:
    """Run the image's exact export in a folder holding only what that stage copies."""
    final_runs = " ".join(args for keyword, args in final_stage() if keyword == "RUN")
    assert "--require-hashes -r /tmp/requirements.txt" in final_runs, "the image must install the export, hash-checked"
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy(ROOT / name, tmp_path / name)
    argv = export_command()
    argv[0] = os.environ.get("UV") or shutil.which("uv") or "uv"  # `uv run` names its own binary in UV
    if "--output-file" in argv:
        argv[argv.index("--output-file") + 1] = str(tmp_path / "requirements.txt")
    result = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    exported = (tmp_path / "requirements.txt").read_text(encoding="utf-8")

    pins = set(re.findall(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)", exported, flags=re.MULTILINE))
    locked = {(package["name"], package.get("version")) for package in locked_packages()}
    assert pins, "the export pinned nothing"
    assert pins - locked == set(), "the export pins versions uv.lock does not hold"
    assert ("apache-airflow", locked_version("apache-airflow")) in pins
    assert all(block.count("--hash=sha256:") for block in re.split(r"\n(?=[A-Za-z0-9])", exported) if "==" in block)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    names = {name for name, _ in pins}
    runtime = {re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0].lower() for spec in pyproject["project"]["dependencies"]}
    assert not runtime - names, f"runtime dependencies missing from the image: {sorted(runtime - names)}"
    dev = {re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0].lower() for spec in pyproject["dependency-groups"]["dev"]}
    assert not dev & names, f"dev tools would ship in the image: {sorted(dev & names)}"
    assert not [req for req in image_requirements(exported) if not has_image_wheel(*req)], "would compile in the image"


# The image: CPython 3.11 on Debian bookworm (glibc 2.36), x86_64.
IMAGE_MARKERS = {
    "python_version": "3.11",
    "python_full_version": "3.11.14",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
}


def image_requirements(exported: str) -> list[tuple[str, str]]:
    """(name, version) of every exported pin that applies to the image's Python and platform."""
    result = []
    for line in exported.splitlines():
        if re.match(r"[A-Za-z0-9]", line):
            requirement = Requirement(line.rstrip(" \\"))
            if requirement.marker is None or requirement.marker.evaluate(IMAGE_MARKERS):
                result.append((requirement.name, str(requirement.specifier).removeprefix("==")))
    return result


def has_image_wheel(name: str, version: str) -> bool:
    """Whether uv.lock holds a wheel the image can install: the slim image has no compiler."""
    platforms = [f"manylinux_2_{minor}_x86_64" for minor in range(36, 4, -1)]
    platforms += ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64"]
    supported = {*cpython_tags((3, 11), platforms=platforms), *compatible_tags((3, 11), "cp311", platforms)}
    for package in locked_packages():
        if package["name"] == canonicalize_name(name) and package.get("version") == version:
            for wheel in package.get("wheels", []):
                if set(parse_wheel_filename(wheel["url"].rsplit("/", 1)[-1])[3]) & supported:
                    return True
    return False


# -- real tools --------------------------------------------------------------------------------------


def tool(name: str) -> str:
    """The tool from deploy/check.sh's folder or PATH; skips (or fails when required) without it."""
    folder = os.environ.get("HUB_DEPLOY_TOOLS")
    candidates = [Path(folder) / "bin" / name] if folder else []
    candidates.append(ROOT / "var" / "tools" / "bin" / name)
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    if os.environ.get("HUB_REQUIRE_DEPLOY_TOOLS") == "1":
        pytest.fail(f"{name} is required here (make deploy-check installs it)")
    pytest.skip(f"{name} not installed: make deploy-check")


def test_hadolint_passes_the_dockerfile_and_catches_a_broken_one(tmp_path: Path) -> None:
    hadolint = tool("hadolint")
    clean = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, check=False)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    broken = tmp_path / "Dockerfile"
    broken.write_text("FROM apache/airflow:latest\nUSER root\nRUN cd /opt && pip install requests\n")
    result = subprocess.run([hadolint, str(broken)], capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # latest tag
    assert "DL3002" in result.stdout  # last USER root


def compose_environment() -> dict[str, str]:
    """This process's environment, with connections.env.example as the file the Airflow containers
    read (the ``env_file`` of docker-compose.yml): an operator's connections.env is no part of a checkout."""
    return {**os.environ, "HUB_CONNECTIONS_FILE": str(CONNECTIONS_EXAMPLE)}


def compose_config(*files: Path, env_file: Path = ENV_EXAMPLE) -> dict[str, Any]:
    """``docker compose config`` of the files: interpolated, merged, validated against the spec."""
    argv = [tool("docker-compose"), "--project-directory", str(ROOT), "--env-file", str(env_file)]
    for file in files:
        argv += ["-f", str(file)]
    result = subprocess.run(
        [*argv, "config", "--format", "json"], capture_output=True, text=True, check=False, env=compose_environment()
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_compose_config_validates_both_setups() -> None:
    production = compose_config(COMPOSE)
    sandbox = compose_config(COMPOSE, SANDBOX_COMPOSE)
    expected = {"postgres", "redis", "statsd-exporter", "airflow-init", *AIRFLOW_COMPONENTS, "webhooks"}
    assert expected <= set(production["services"])
    assert expected | {"sandbox"} <= set(sandbox["services"])


def test_compose_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "".join(
            line + "\n"
            for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
            if not line.startswith("REDIS_PASSWORD=")
        )
    )
    argv = [tool("docker-compose"), "--project-directory", str(ROOT), "--env-file", str(env_file), "-f", str(COMPOSE)]
    result = subprocess.run(
        [*argv, "config", "-q"], capture_output=True, text=True, check=False, env=compose_environment()
    )
    assert result.returncode != 0
    assert "REDIS_PASSWORD" in result.stderr


@pytest.fixture(scope="module", params=["production", "sandbox"])
def compose_model(request: pytest.FixtureRequest) -> dict[str, Any]:
    files = (COMPOSE,) if request.param == "production" else (COMPOSE, SANDBOX_COMPOSE)
    return compose_config(*files)


def test_every_service_has_an_image_a_healthcheck_and_existing_dependencies(compose_model: dict[str, Any]) -> None:
    services = compose_model["services"]
    for name, service in services.items():
        assert service.get("image") or service.get("build"), name
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            expected = "service_completed_successfully" if dependency == "airflow-init" else "service_healthy"
            assert condition["condition"] == expected, f"{name} -> {dependency}"
        if name != "airflow-init":  # the one-shot migration; the others wait for it to succeed
            assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    for name in AIRFLOW_COMPONENTS:
        assert "airflow-init" in services[name]["depends_on"], name


def test_workers_use_celery_with_redis_broker_and_postgres_results(compose_model: dict[str, Any]) -> None:
    services = compose_model["services"]
    nodes = set()
    for name in ("worker-1", "worker-2"):
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert re.fullmatch(r"redis://:[^@]+@redis:6379/\d+", env["AIRFLOW__CELERY__BROKER_URL"])
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://airflow:")
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].endswith("@postgres:5432/airflow")
        assert env["HUB_STORE_URL"].endswith("@postgres:5432/hub")
        command = services[name]["command"]
        assert command[command.index("celery") :][:2] == ["celery", "worker"]
        nodes.add(command[command.index("--celery-hostname") + 1])
    assert len(nodes) == 2, "each worker needs its own Celery node name"
    for name in AIRFLOW_COMPONENTS:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith("http://api-server:8080/"), name
        # Tasks authenticate to the execution API with tokens every component must verify alike.
        jwt = "AIRFLOW__API_AUTH__JWT_SECRET"
        assert env[jwt] == services["api-server"]["environment"][jwt], name
        missing = {f"AIRFLOW_CONN_{conn_id.upper()}" for conn_id in connection_ids()} - set(env)
        assert not missing, f"{name} lacks the partner connections {sorted(missing)}"
        # Airflow's metrics and the hub's go to the same exporter, a service of this file.
        assert env["AIRFLOW__METRICS__STATSD_HOST"] == env["HUB_STATSD_HOST"] in services, name
    init = " ".join(services["airflow-init"]["command"])
    assert "hub airflow-init" in init, "airflow-init must migrate and create the pools (hub airflow-init)"


def test_only_the_partner_clients_hold_the_signing_key() -> None:
    services = compose_config(COMPOSE)["services"]
    holders = {name for name, service in services.items() if service.get("secrets")}
    assert holders == {"worker-1", "worker-2", "webhooks"}
    for name in holders:
        assert services[name]["environment"]["HUB_SIGNING_KEY"] == "pkcs12:/run/secrets/hub_signing_key?" + (
            "password_env=HUB_SIGNING_KEY_PASSWORD"
        ), name


@cache
def receiver_callback_options() -> set[str]:
    """The options of ``hub webhooks serve`` that add a partner's callbacks (its flags), checked to be
    exactly those hub/cli/webhooks.py declares with the Connection extras each needs."""
    import typer.main

    from hub.cli.webhooks import CALLBACKS, app

    command = typer.main.get_command(app)  # a group of one command is that command
    serve = getattr(command, "commands", {}).get("serve", command)
    flags = {o for p in serve.params if getattr(p, "is_flag", False) and p.expose_value for o in p.opts}
    assert flags == {callbacks.option for callbacks in CALLBACKS}, "a callback option without its Connection extras"
    return flags


def missing_callbacks(command: list[str]) -> set[str]:
    """The receiver's callback options a deployed ``hub webhooks serve`` command does not pass."""
    words = " ".join(command).split()
    assert "webhooks" in words and "serve" in words, command
    return receiver_callback_options() - set(words)


def test_deployed_receivers_take_every_partner_callback(compose_model: dict[str, Any]) -> None:
    command = compose_model["services"]["webhooks"]["command"]
    assert not missing_callbacks(command), f"the receiver would drop {sorted(missing_callbacks(command))} callbacks"


def test_connections_example_carries_the_extras_that_check_the_callbacks() -> None:
    from hub.cli.webhooks import CALLBACKS

    uris = dict(
        line.split("=", 1) for line in CONNECTIONS_EXAMPLE.read_text(encoding="utf-8").splitlines() if "=" in line
    )
    for callbacks in CALLBACKS:
        uri = uris[f"AIRFLOW_CONN_{callbacks.partner.upper()}"]
        extras = {name for name, value in parse_qsl(urlsplit(uri).query) if value}
        assert set(callbacks.extras) <= extras, f"{callbacks.partner} lacks {set(callbacks.extras) - extras}"


def test_sandbox_setup_puts_the_partner_callers_on_the_sandboxes_loopback() -> None:
    services = compose_config(COMPOSE, SANDBOX_COMPOSE)["services"]
    for name in ("worker-1", "worker-2", "webhooks"):
        assert services[name]["network_mode"] == "service:sandbox", name
        assert "hostname" not in services[name] and not services[name].get("ports"), name
        assert services[name]["depends_on"]["sandbox"]["condition"] == "service_healthy", name
    for name in ("worker-1", "worker-2", "webhooks"):
        assert services[name]["command"][:2] == ["bash", "/opt/hub/deploy/compose/with-sandbox-connections.sh"]
        assert services[name]["environment"]["HUB_SIGNING_KEY"] == ""  # the sandbox's dev PKI signs
        assert not services[name].get("secrets"), name
    sandbox = services["sandbox"]["command"]
    receiver = services["webhooks"]["command"]
    port = receiver[receiver.index("--port") + 1]
    assert sandbox[sandbox.index("--webhook-url") + 1] == f"http://127.0.0.1:{port}", "carriers must reach the receiver"
    log_port = "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"
    ports = {services[name]["environment"][log_port] for name in ("worker-1", "worker-2")}
    assert len(ports) == 2, "workers sharing one network namespace need their own log-server ports"


# -- secrets, on the files as written ----------------------------------------------------------------


def raw_environment_values(document: dict[str, Any]) -> list[tuple[str, str]]:
    pairs = []
    for key, block in document.items():
        if not isinstance(block, dict):
            continue
        for service in [block] if key.startswith("x-") else block.values() if key == "services" else []:
            if isinstance(service, dict):
                env = service.get("environment", service if key.startswith("x-") else {})
                if isinstance(env, dict):
                    pairs += [(name, str(value)) for name, value in env.items() if not isinstance(value, dict)]
    return pairs


def test_compose_files_hold_no_plaintext_secret() -> None:
    for path in (COMPOSE, SANDBOX_COMPOSE):
        text = path.read_text(encoding="utf-8").replace("!reset", "")
        document = yaml.safe_load(text)
        for name, value in raw_environment_values(document):
            if SECRET_NAME.search(name) and value:
                from_env = re.fullmatch(r"\$\{[A-Z0-9_]+(:\?[^}]*)?\}", value)
                from_secret = value.startswith("pkcs12:/run/secrets/")
                assert from_env or from_secret, f"{path.name}: {name} must come from .env or a compose secret"
        assert not re.search(r"(?i)(password|secret|token)\s*[:=]\s*['\"]?[A-Za-z0-9+/]{16,}", text), path.name


def test_env_example_defines_every_variable_and_env_stays_out_of_git() -> None:
    example = dict(
        line.split("=", 1) for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines() if line and line[0] != "#"
    )
    required = set()
    for path in (COMPOSE, SANDBOX_COMPOSE):
        required |= set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)(?::[?-][^}]*)?\}", path.read_text(encoding="utf-8")))
    assert not required - set(example), f".env.example lacks {sorted(required - set(example))}"
    for name, value in example.items():
        if SECRET_NAME.search(name):
            assert "change-me" in value, f"{name} in .env.example must be a placeholder"
    for secret_file in (".env", "connections.env"):
        ignored = subprocess.run(["git", "check-ignore", "-q", secret_file], cwd=ROOT, check=False)
        assert ignored.returncode == 0, f"{secret_file} must be git-ignored"
