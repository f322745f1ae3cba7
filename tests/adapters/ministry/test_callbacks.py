"""VBDLIS callbacks (``adapters/ministry/callbacks.py``): the golden callbacks
(``tests/adapters/land_registration/golden/callbacks/``) are what the hub accepts and what the
land double sends; anything else is refused with the reason."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from adapters.ministry.callbacks import CALLBACK_OPERATIONS, LandCallbacks
from adapters.postal.carrier import WebhookRejected
from sandbox.land_registration.callbacks import ended_body, received_body
from sandbox.land_registration.store import held_dossiers, records
from sandbox.tables import tables

GOLDEN = Path(__file__).parents[1] / "land_registration" / "golden" / "callbacks"
CODE = "vbdlis-callback-code-6d2f"
HANOI = 1


def golden(name: str) -> dict[str, Any]:
    return json.loads((GOLDEN / name).read_text(encoding="utf-8"))


GOLDENS = sorted(GOLDEN.glob("*.json"))
RECEIVED, ENDED = golden("01-tiepnhanhosochomotcua.json"), golden("02-ketthuchoso.json")


def parse(operation: str, body: Any, code: str = CODE) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return LandCallbacks(CODE, HANOI).parse(operation, code, raw)


def test_every_callback_the_hub_takes_has_a_golden() -> None:
    assert {golden(p.name)["operation"] for p in GOLDENS} == set(CALLBACK_OPERATIONS)


@pytest.mark.parametrize("path", GOLDENS, ids=lambda p: p.stem)
def test_golden_callbacks_are_accepted_or_refused_as_the_file_says(path: Path) -> None:
    case = golden(path.name)
    if case.get("status"):
        with pytest.raises(WebhookRejected) as refused:
            parse(case["operation"], case["request"], case["security_code"])
        assert (refused.value.status, refused.value.reason) == (case["status"], case["reply"]["Message"])
        return
    callback = parse(case["operation"], case["request"])
    assert (callback.operation, callback.dossier_no) == (case["operation"], case["request"]["SoBienNhan"])
    assert callback.body == case["request"]


def test_a_repeated_callback_has_the_same_key_and_another_callback_another() -> None:
    again = parse(ENDED["operation"], json.loads(json.dumps(ENDED["request"])))
    assert again.key == parse(ENDED["operation"], ENDED["request"]).key
    assert parse(ENDED["operation"], {**ENDED["request"], "TrangThaiKetThuc": 1}).key != again.key


@pytest.mark.parametrize(
    ("operation", "body", "status", "reason"),
    [
        ("YeuCauBoSungHoSo", ENDED["request"], 404, "YeuCauBoSungHoSo is not taken by the hub"),
        ("KetThucHoSo", b"{not json", 400, "body is not JSON"),
        ("KetThucHoSo", [ENDED["request"]], 400, "body is not a JSON object"),
        ("KetThucHoSo", b"[" * 100_000, 400, "body nests arrays or objects deeper than"),
        ("KetThucHoSo", b'{"SoBienNhan": "\\ud800"}', 400, "body holds a NUL or a lone surrogate: SoBienNhan"),
        ("KetThucHoSo", {**ENDED["request"], "NgayKetThuc": "02/12/2026"}, 400, "NgayKetThuc must be a date-time"),
        ("KetThucHoSo", {**ENDED["request"], "TrangThaiKetThuc": "0"}, 400, "TrangThaiKetThuc must be an integer"),
        ("KetThucHoSo", {**ENDED["request"], "SoBienNhan": " "}, 400, "SoBienNhan must be a non-empty string"),
        ("TiepNhanHoSoChoMotCua", {**RECEIVED["request"], "TinhId": 79}, 400, "TinhId 79 is not this province's"),
        (
            "TiepNhanHoSoChoMotCua",
            {**RECEIVED["request"], "ThongTinQuyTrinh": {"TenQuyTrinh": "x"}},
            400,
            "ThongTinQuyTrinh.MaQuyTrinh must be a non-empty string",
        ),
    ],
)
def test_what_vbdlis_never_sends_is_refused_with_the_reason(
    operation: str, body: Any, status: int, reason: str
) -> None:
    with pytest.raises(WebhookRejected) as refused:
        parse(operation, body)
    assert refused.value.status == status
    assert reason in refused.value.reason


def test_a_fraction_of_a_second_as_dotnet_writes_it_is_read() -> None:
    assert parse("KetThucHoSo", {**ENDED["request"], "NgayKetThuc": "2026-12-02T10:15:00.123"}).dossier_no


@pytest.mark.parametrize("scale", [0.02, 0.1])
def test_the_land_double_sends_the_golden_shapes_and_the_hub_accepts_them(scale: float) -> None:
    """Every dossier of a day as the double calls it back: the golden's keys, accepted by the parser
    (at the demo's scale too, whose day holds dossiers refused at intake, without a due date)."""
    dossiers = held_dossiers(date(2026, 11, 20), scale, 7, tables())
    listed = [records(d)[0] for d in dossiers]
    received = [body for body in map(received_body, listed) if body is not None]
    ended = [body for body in map(ended_body, listed) if body is not None]
    assert received and ended
    for body in received:
        assert set(body) == set(RECEIVED["request"])
        assert parse("TiepNhanHoSoChoMotCua", body).dossier_no == body["SoBienNhan"]
    for body in ended:
        assert set(body) == set(ENDED["request"])
        assert parse("KetThucHoSo", body).body["TrangThaiKetThuc"] in (0, 1)
