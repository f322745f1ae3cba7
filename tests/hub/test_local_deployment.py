"""`hub up`'s locked local deployment: its secrets and passwords, and the environment every Airflow
process of it shares (the browser test in tests/hub/cli/test_up.py runs it for real)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.partners import PARTNERS
from hub import local_deployment
from hub.connections import sandbox_connections
from hub.local_deployment import connections_document, deployment_secrets, ui_passwords, up_environment
from sandbox.runner import _credentials


def test_secrets_are_generated_once_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "up" / "secrets.json"
    first = deployment_secrets(path)
    assert set(first) == {"jwt_secret", "api_secret_key", "fernet_key"}
    assert len(set(first.values())) == 3 and all(len(v) >= 40 for v in first.values())
    assert path.stat().st_mode & 0o777 == 0o600
    assert deployment_secrets(path) == first  # a restart keeps tokens, sessions and stored Connections valid


def test_a_readable_secrets_file_is_closed_before_it_is_used(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({"jwt_secret": "j" * 48}), encoding="utf-8")
    path.chmod(0o644)
    kept = deployment_secrets(path)
    assert kept["jwt_secret"] == "j" * 48 and kept["fernet_key"]
    assert path.stat().st_mode & 0o777 == 0o600


def test_each_ui_user_gets_a_password_and_existing_ones_stay(tmp_path: Path) -> None:
    path = tmp_path / "passwords.json"
    first = ui_passwords(path, "admin:admin,ministry:viewer")
    assert set(first) == {"admin", "ministry"} and first["admin"] != first["ministry"]
    again = ui_passwords(path, "admin:admin,ministry:viewer,audit:viewer")
    assert again["admin"] == first["admin"] and set(again) == {"admin", "ministry", "audit"}
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("users", ["admin", "admin:root", ":viewer"])
def test_a_user_without_a_known_role_is_refused(tmp_path: Path, users: str) -> None:
    with pytest.raises(ValueError, match="viewer, user, op or admin"):
        ui_passwords(tmp_path / "passwords.json", users)


def test_every_process_shares_the_secrets_listens_on_loopback_and_logs_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local_deployment, "up_dir", lambda: tmp_path / "up")
    env = up_environment(8085, base={"PATH": "/usr/bin"})
    keys = json.loads((tmp_path / "up" / "secrets.json").read_text(encoding="utf-8"))
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == keys["jwt_secret"]
    assert env["AIRFLOW__CORE__FERNET_KEY"] == keys["fernet_key"]
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1" == env["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST"]
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8085/execution/"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] == "False"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{tmp_path / 'up' / 'airflow' / 'airflow.db'}"
    passwords = json.loads(Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).read_text(encoding="utf-8"))
    assert set(passwords) == {"admin", "ministry"}


def test_settings_already_in_the_environment_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_deployment, "up_dir", lambda: tmp_path / "up")
    env = up_environment(
        8085, base={"AIRFLOW__API__HOST": "0.0.0.0", "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "ops:op"}
    )
    assert env["AIRFLOW__API__HOST"] == "0.0.0.0"  # published on purpose, behind a proxy
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8085/execution/"
    passwords = json.loads(Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).read_text(encoding="utf-8"))
    assert set(passwords) == {"ops"}


def test_the_connections_document_names_every_partner_by_its_connection_id() -> None:
    credentials = _credentials("000.00.00.H26")
    state = {p.id: {"url": f"http://127.0.0.1:{9000 + i}", **credentials[p.id]} for i, p in enumerate(PARTNERS)}
    document = connections_document(sandbox_connections(state))
    assert list(document) == [p.id for p in PARTNERS]
    assert document["national_portal"].startswith(f"http://hub-sandbox:{credentials['national_portal']['password']}@")
