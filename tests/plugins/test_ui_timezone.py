"""The UI preset: the page a browser loads stores the deployment's zone unless the user chose one."""

from __future__ import annotations

import json

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.testclient import TestClient

from plugins.ui_timezone import PresetUiTimezone, UiTimezonePlugin, display_zone

PAGE = "<!doctype html><html><head><title>Airflow</title></head><body></body></html>"


def client(zone: str = "Asia/Ho_Chi_Minh") -> TestClient:
    app = FastAPI()

    @app.get("/dags")
    def page() -> HTMLResponse:
        return HTMLResponse(PAGE)

    @app.get("/api/v2/version")
    def version() -> JSONResponse:
        return JSONResponse({"version": "3.3"})

    app.add_middleware(PresetUiTimezone, zone=zone)
    return TestClient(app)


def test_the_page_presets_the_zone_only_where_none_is_stored() -> None:
    reply = client().get("/dags")
    assert reply.status_code == 200
    head = reply.text.split("<head>", 1)[1]
    script = head.split("</script>", 1)[0]
    # The UI stores its choice JSON-encoded; the preset writes the same form, guarded by getItem.
    assert f'localStorage.setItem("timezone",{json.dumps(json.dumps("Asia/Ho_Chi_Minh"))})' in script
    assert script.index('localStorage.getItem("timezone")||') < script.index("setItem")
    assert int(reply.headers["content-length"]) == len(reply.content)
    assert reply.text.endswith("</body></html>")


def test_api_answers_pass_unchanged() -> None:
    reply = client().get("/api/v2/version")
    assert reply.json() == {"version": "3.3"}
    assert b"script" not in reply.content


def test_the_zone_is_airflows_default_timezone() -> None:
    assert display_zone() == "Asia/Ho_Chi_Minh"  # airflow.cfg [core] default_timezone
    names = [m["middleware"] for m in UiTimezonePlugin.fastapi_root_middlewares]
    assert names == [PresetUiTimezone]
