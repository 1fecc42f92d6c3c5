"""The HTML report in a real headless Chromium (Debian's `chromium`): it renders, and the DOM shows
every finding. The tests never install anything: .ci/run installs Chromium, so in CI a missing
browser fails the test; elsewhere it is skipped with the reason."""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.render.test_formats import REPORTS, options
from torchdoctor.render import OutputFormat, render

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def find_chromium() -> str | None:
    return next((path for name in CANDIDATES if (path := shutil.which(name))), None)


@pytest.fixture(scope="session")
def chromium() -> str:
    found = find_chromium()
    if found is None:
        why = "Chromium is needed for the HTML report test: install Debian's `chromium` package"
        if os.environ.get("CI"):
            pytest.fail(why + " (.ci/run installs it)")
        pytest.skip(why)
    return found


def headless(chromium: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            chromium,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-extensions",
            "--blink-settings=imagesEnabled=false",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


class FindingCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.codes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "section" and "finding" in (values.get("class") or ""):
            self.codes.append(values.get("data-code") or "")


def test_chromium_renders_every_finding(chromium: str, tmp_path: Path) -> None:
    report = REPORTS["everything-broken"]
    page = tmp_path / "report.html"
    page.write_text(render(report, OutputFormat.HTML, options()), encoding="utf-8")
    dom = headless(chromium, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    collector = FindingCollector()
    collector.feed(dom.stdout)
    assert sorted(collector.codes) == sorted(f.code for f in report.findings)
    assert "Broken:" in dom.stdout
    shot = tmp_path / "report.png"
    result = headless(chromium, f"--screenshot={shot}", "--window-size=1100,1600", page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
