"""``hub up``'s Airflow: a real local deployment, locked like a production one.

Everything lives under ``var/up/`` (apart from the demo's ``var/airflow/``):

- ``secrets.json`` (mode 600): the JWT secret every component signs and checks task tokens with,
  the API server's secret key and the Fernet key the Connections are encrypted with -- generated
  once, so a restart keeps sessions, tokens and stored Connections valid. Without one shared JWT
  secret each Airflow process invents its own and every task fails with "Invalid auth token".
- ``passwords.json`` (mode 600): one generated password per UI user, in the format of Airflow's
  simple auth manager (``{"user": "password"}``), which reads it and never prints it again.
- ``airflow/``: the metadata DB, logs and Airflow home; ``logs/``: one log per service.

The users are the simple auth manager's (``[core] simple_auth_manager_users``): ``admin`` (role
admin) and ``ministry`` (role viewer: read-only, for ministry staff). Airflow 3.3's simple auth
manager knows four roles -- viewer, user, op, admin -- and no finer permissions; a deployment that
needs them uses another auth manager (docs/operations.md).

Everything listens on 127.0.0.1 unless ``AIRFLOW__API__HOST`` says otherwise; the scheduler's and
triggerer's log servers (which can only bind every interface) are not started: on one machine the
API server reads the task logs from disk.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from cryptography.fernet import Fernet

from adapters.partners import PARTNERS
from hub.airflow_env import airflow_environment
from hub.paths import var_dir
from hub.processes import LOOPBACK

TIMEZONE = "Asia/Ho_Chi_Minh"
DEFAULT_USERS = "admin:admin,ministry:viewer"
"""``user:role`` pairs: an administrator and a read-only account for ministry staff."""


def up_dir() -> Path:
    """``var/up``: the state of ``hub up``, kept between runs."""
    return var_dir() / "up"


def _write_private(path: Path, document: Mapping[str, str]) -> None:
    """Write JSON readable by the owner only (created 600, never world-readable even for an instant)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(document, f, indent=2)
        f.write("\n")
    path.chmod(0o600)


def _read_private(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)  # an older or hand-made file: close it before reading secrets from it
    return json.loads(path.read_text(encoding="utf-8"))


def deployment_secrets(path: Path) -> dict[str, str]:
    """The JWT secret, API secret key and Fernet key in ``path``; generated on first use, then kept."""
    stored = _read_private(path)
    wanted = {
        "jwt_secret": lambda: secrets.token_urlsafe(48),
        "api_secret_key": lambda: secrets.token_urlsafe(48),
        "fernet_key": lambda: Fernet.generate_key().decode(),
    }
    missing = {name: make() for name, make in wanted.items() if not stored.get(name)}
    if missing:
        stored |= missing
        _write_private(path, stored)
    return stored


def user_names(users: str) -> list[str]:
    """The names of a ``user:role,...`` list, checked: a role the simple auth manager does not know is refused."""
    names = []
    for entry in filter(None, (part.strip() for part in users.split(","))):
        name, _, role = entry.partition(":")
        if not name or role.lower() not in ("viewer", "user", "op", "admin"):
            raise ValueError(f"UI user {entry!r}: write user:role with role viewer, user, op or admin")
        names.append(name)
    return names


def ui_passwords(path: Path, users: str) -> dict[str, str]:
    """A generated password for each of ``users`` in ``path`` (existing ones kept)."""
    stored = _read_private(path)
    missing = {name: secrets.token_urlsafe(18) for name in user_names(users) if name not in stored}
    if missing or not path.exists():
        stored |= missing
        _write_private(path, stored)
    return stored


def up_environment(port: int, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of every Airflow process of ``hub up``; variables already set win."""
    folder = up_dir()
    env = dict(os.environ if base is None else base)
    keys = deployment_secrets(folder / "secrets.json")
    host = env.get("AIRFLOW__API__HOST", LOOPBACK)
    client_host = LOOPBACK if host in ("0.0.0.0", "::") else host
    defaults = {
        "AIRFLOW_HOME": str(folder / "airflow"),
        "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt_secret"],
        "AIRFLOW__API__SECRET_KEY": keys["api_secret_key"],
        "AIRFLOW__CORE__FERNET_KEY": keys["fernet_key"],
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": DEFAULT_USERS,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(folder / "passwords.json"),
        "AIRFLOW__API__HOST": host,
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://{client_host}:{port}",
        "AIRFLOW__API__WORKERS": "1",  # one machine, two cores: one API worker answers a few users
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://{client_host}:{port}/execution/",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": LOOPBACK,
        # Log timestamps and anything else a process formats in local time: Hanoi's.
        "TZ": TIMEZONE,
    }
    for key, value in defaults.items():
        env.setdefault(key, value)
    passwords = Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    ui_passwords(passwords, env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"])
    return airflow_environment(env)


def airflow_services(python: str) -> dict[str, list[str]]:
    """The Airflow services of one machine and their commands (no log servers: see the module doc)."""
    airflow = [python, "-m", "airflow"]
    return {
        "api-server": [*airflow, "api-server"],
        "scheduler": [*airflow, "scheduler", "--skip-serve-logs"],
        "dag-processor": [*airflow, "dag-processor"],
        "triggerer": [*airflow, "triggerer", "--skip-serve-logs"],
    }


def connections_document(variables: Mapping[str, str]) -> dict[str, str]:
    """The partners' ``AIRFLOW_CONN_*`` URIs as the JSON ``airflow connections import`` reads
    (``{conn_id: uri}``), so they are stored, encrypted, in the metadata DB and shown (passwords
    masked) under Admin > Connections -- which never lists Connections defined in the environment."""
    return {p.id: variables[p.connection_variable] for p in PARTNERS if p.connection_variable in variables}
