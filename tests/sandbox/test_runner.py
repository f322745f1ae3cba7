"""``python -m sandbox up/status/down`` in a temporary folder: starts, answers, stops, leaves nothing.

Every partner is reached the way Airflow reaches it: through its hook, from the ``AIRFLOW_CONN_*``
variables ``hub.connections.sandbox_connections`` makes of the state file.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

from adapters.hooks import PartnerHook
from adapters.partners import partner, partner_ids
from adapters.population_db.client import IdentityQuery, LookupPurpose
from hub.connections import sandbox_connections
from hub.paths import REPO_ROOT
from mappings.identity import BirthDate, StatedIdentity, Verdict, compare
from sandbox.population_db.app import licensed_procedures
from sandbox.runner import _alive, read_state
from sandbox.social_insurance.store import insurance_number
from signing.jws import SIGNATURE_HEADER, sign_detached, verify_detached
from signing.keys import SigningIdentity
from signing.trust import TrustStore
from tests.support.population_sandbox import AuditList

PARTNERS = partner_ids()
pytestmark = pytest.mark.timeout(180)


def run(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sandbox", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=150,
        cwd=REPO_ROOT,
        check=False,
    )


def _wait_gone(pid: int, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _alive(pid)


def _every_partner_answers_through_its_hook(state: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """One signed, verified read per partner, and the partners' data agree: an applicant of the city's
    day is in the city feed, in the population register and, by their insurance number, at the insurer."""
    for name, value in sandbox_connections(state, {"timeout": 10}).items():
        monkeypatch.setenv(name, value)
    day = date.fromisoformat(state["data"]["day"])
    start = datetime.combine(day, datetime.min.time(), timezone(timedelta(hours=7)))
    pages = PartnerHook("city_system").get_client().iter_changes(start, start + timedelta(days=1))
    city = {record["ma_ho_so"] for page in pages for record in page}
    assert PartnerHook("national_portal").get_client().list_agencies()
    assert list(PartnerHook("business_registration").get_client().iter_window(day, day))
    assert list(PartnerHook("civil_status").get_client().iter_window(day, day))
    applicant = requests.get(f"{state['population_db']['url']}/sandbox/applicants", timeout=10).json()["items"][0]
    assert applicant["ma_ho_so"] in city
    query = IdentityQuery(applicant["so_dinh_danh"], applicant["ho_ten"], BirthDate.parse(applicant["ngay_sinh"]))
    purpose = LookupPurpose(applicant["ma_ho_so"], "kiểm tra sandbox", sorted(licensed_procedures())[0])
    person = PartnerHook("population_db").get_client().lookup(query, purpose, AuditList()).person
    verdict = compare(StatedIdentity(query.citizen_id, query.full_name, query.birth), person).verdict
    assert verdict is {"match": Verdict.MATCH, "not_found": Verdict.NOT_FOUND}.get(applicant["fate"], Verdict.MISMATCH)
    insurer = PartnerHook("social_insurance").get_client()
    household = insurer.lookup("household", maSoBhxh=insurance_number(applicant["so_dinh_danh"]))
    assert household and household[0]["hoTen"] == applicant["ho_ten"]


def _secrets(state: dict[str, Any]) -> list[str]:
    return [state[p][key] for p in PARTNERS for key in ("token", "password") if key in state[p]]


def test_up_status_down_round_trip(
    tmp_path: Path,
    pki_identity: Callable[[str], SigningIdentity],
    trust_store: TrustStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data_dir = tmp_path / "sandbox"
    started = run("up", "--day", "2026-11-20", "--scale", "0.02", "--seed", "5", data_dir=data_dir)
    assert started.returncode == 0, started.stderr + started.stdout
    state = read_state(data_dir)
    assert state is not None
    pid = state["pid"]
    try:
        state_file = data_dir / "state.json"
        assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
        secrets = _secrets(state)
        with_login = [p for p in PARTNERS if partner(p).login != "none"]  # a public API has no secret
        assert len(secrets) == len(with_login) and len(set(secrets)) == len(secrets)  # one each, none shared
        printed = started.stdout + started.stderr + (data_dir / "sandbox.log").read_text(encoding="utf-8")
        assert not [s for s in secrets if s in printed]  # secrets only in the state file
        for part in PARTNERS:
            assert state[part]["url"].startswith("http://127.0.0.1:")
            assert state[part]["url"] in started.stdout
        assert state["data"]["records_total"] > 100

        city = state["city_system"]
        reply = requests.get(
            f"{city['url']}/api/v1/dossiers/changes",
            params={"updated_from": "2026-11-20T00:00:00+07:00", "limit": 5},
            headers={"Authorization": f"Bearer {city['token']}"},
            timeout=10,
        )
        assert reply.status_code == 200 and len(reply.json()["items"]) == 5
        portal = state["national_portal"]
        credentials = json.dumps({"username": portal["username"], "password": portal["password"]}).encode()
        unsigned = requests.post(f"{portal['url']}/auth", data=credentials, timeout=10)
        assert unsigned.status_code == 401 and "chữ ký" in unsigned.json()["message"]
        signature = {SIGNATURE_HEADER: sign_detached(credentials, pki_identity("hub")), "dstcode": portal["dstcode"]}
        login = requests.post(f"{portal['url']}/auth", data=credentials, headers=signature, timeout=10)
        assert login.json()["error_code"] == "0"
        signer = verify_detached(login.content, login.headers[SIGNATURE_HEADER], trust_store)
        assert "national_portal" in signer.subject.rfc4514_string()

        _every_partner_answers_through_its_hook(state, monkeypatch)

        shown = run("status", data_dir=data_dir)
        report = json.loads(shown.stdout)
        assert shown.returncode == 0 and report["healthy"] is True
        assert {name: report[name]["up"] for name in PARTNERS} == dict.fromkeys(PARTNERS, True)
        assert not [s for s in secrets if s in shown.stdout]

        twice = run("up", "--scale", "0.01", data_dir=data_dir)
        assert twice.returncode == 1 and "already running" in twice.stderr
    finally:
        stopped = run("down", data_dir=data_dir)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert _wait_gone(pid)
    assert not (data_dir / "state.json").exists()
    assert run("status", data_dir=data_dir).returncode == 1
    assert "not running" in run("down", data_dir=data_dir).stdout


def test_a_second_up_keeps_the_data_and_issues_new_credentials(tmp_path: Path) -> None:
    data_dir = tmp_path / "sandbox"
    assert run("up", "--day", "2026-11-20", "--scale", "0.01", data_dir=data_dir).returncode == 0
    first = read_state(data_dir)
    assert run("down", data_dir=data_dir).returncode == 0
    assert run("up", "--day", "2026-11-20", "--scale", "0.01", data_dir=data_dir).returncode == 0
    second = read_state(data_dir)
    try:
        assert first is not None and second is not None
        assert second["city_system"]["token"] != first["city_system"]["token"]
        assert second["data"]["records_loaded"] == 0  # already there
        assert second["data"]["records_total"] == first["data"]["records_total"]
    finally:
        run("down", data_dir=data_dir)
    assert _wait_gone(second["pid"])


def test_serve_stops_by_itself_on_sigterm(tmp_path: Path) -> None:
    data_dir = tmp_path / "sandbox"
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "serve", "--data-dir", str(data_dir), "--scale", "0.01"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO_ROOT,
    )
    try:
        deadline = time.monotonic() + 60
        while read_state(data_dir) is None and time.monotonic() < deadline:
            assert process.poll() is None
            time.sleep(0.1)
        state = read_state(data_dir)
        assert state is not None and state["pid"] == process.pid
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(20) == 0
        assert not (data_dir / "state.json").exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
