"""Libraries' notes go to the log file, not between the operator and the verdict."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.observability.logging import LIBRARY_LOGGERS, route_library_logs


@pytest.fixture
def routed(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "logs" / "hub.log"
    handler = route_library_logs(path)
    yield path
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).removeHandler(handler)
        logging.getLogger(name).propagate = True
    handler.close()


def test_library_warnings_are_kept_in_the_file_and_kept_off_the_console(
    routed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    console = logging.StreamHandler()  # what the command line's JSON handler is: on the root logger
    logging.getLogger().addHandler(console)
    try:
        logging.getLogger("matplotlib.font_manager").warning("findfont: Font family 'X' not found.")
        logging.getLogger("weasyprint").warning("Anchor defined twice: 'text_3'")
        logging.getLogger("hub.jobs").warning("the hub's own warning stays on the console")
    finally:
        logging.getLogger().removeHandler(console)
    err = capsys.readouterr().err
    assert "findfont" not in err and "Anchor" not in err
    assert "the hub's own warning" in err
    kept = [json.loads(line) for line in routed.read_text(encoding="utf-8").splitlines()]
    assert [(line["logger"], line["level"]) for line in kept] == [
        ("matplotlib.font_manager", "WARNING"),
        ("weasyprint", "WARNING"),
    ]
    assert route_library_logs(routed) is route_library_logs(routed)  # once per process
