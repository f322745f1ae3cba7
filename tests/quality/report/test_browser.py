"""The report as an official sees it: rendered by a real browser (headless Debian Chromium), offline.

CI sets HUB_REQUIRE_CHROMIUM=1 (.ci/run installs the package), so there the test must run;
elsewhere it skips with the reason when the browser is absent.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from quality.report import ReportFiles, write_reconciliation_report
from tests.quality.report.test_html import element, text_of
from tests.support.chromium import FLAGS, chromium_binary
from tests.support.report_documents import differing_day

VERDICT_RED = (0xA3, 0x20, 0x1A)  # --fail in report.css: border and headline of a failed verdict


@pytest.fixture(scope="module")
def chromium() -> str:
    return chromium_binary()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> ReportFiles:
    return write_reconciliation_report(differing_day(), tmp_path_factory.mktemp("browser") / "2026-11-20", signer=None)


def _chromium(binary: str, profile: Path, report: ReportFiles, *args: str) -> str:
    done = subprocess.run(
        [binary, *FLAGS, f"--user-data-dir={profile}", *args, report.html.as_uri()],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_browser_renders_the_verdict_and_the_charts(chromium: str, report: ReportFiles, tmp_path: Path) -> None:
    dom = _chromium(chromium, tmp_path / "profile", report, "--dump-dom")
    verdict = text_of(dom, "verdict")
    assert "CHƯA KHỚP" in verdict and "83 hồ sơ chênh lệch." in verdict
    assert "Nhiều nhất: Thiếu trên Cổng DVCQG (61)." in verdict
    for chart in ("chart-sources", "chart-classes", "chart-trend"):
        assert element(dom, chart).tags[0][0] == "svg", chart
    assert "Thiếu trên Cổng DVCQG" in " ".join(element(dom, "chart-classes").text)


def test_browser_screenshot_shows_a_red_verdict_at_the_top(chromium: str, report: ReportFiles, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    _chromium(chromium, tmp_path / "profile", report, "--window-size=1100,900", f"--screenshot={shot}")
    with Image.open(shot) as image:
        assert image.size == (1100, 900)
        pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
    red = int((np.abs(pixels - np.array(VERDICT_RED)) <= 12).all(axis=2).sum())
    assert red > 500  # the verdict box (border, mark and headline) is on the first screen, in red
