"""The HTML report in a real headless Chromium (Debian's chromium package)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from runner.reports.html import render_html
from tests.reports.test_html import XSS, evil_run_dir

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
]


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def write_report(run_dir: Path, dest: Path) -> Path:
    dest.write_text(render_html(run_dir), encoding="utf-8")
    return dest


def test_timeline_renders_in_chromium(tmp_path: Path, sample_run: tuple[Path, Path]) -> None:
    page = write_report(sample_run[0], tmp_path / "report.html")
    proc = chromium(tmp_path, "--dump-dom", page.as_uri())
    dom = proc.stdout
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert dom.count('class="call allowed"') == 8
    assert dom.count('class="call denied"') == 4
    assert 'id="call-4"' in dom and "evil.example" in dom  # the denied curl
    assert "host_not_allowed" in dom
    assert 'id="coverage"' in dom and "backend/todos.py" in dom
    # the <script> from an issue title was text, not an element
    assert "&lt;script&gt;alert('xss')&lt;/script&gt;" in dom


def test_injected_scripts_do_not_run(tmp_path: Path) -> None:
    # control: the same payload in a page that does not escape it does run, and shows in the DOM
    control = tmp_path / "control.html"
    script = XSS.split("<img", 1)[0]  # alert() would block a headless browser
    control.write_text(f"<!DOCTYPE html><html><body><p>x</p>{script}</body></html>")
    proc = chromium(tmp_path, "--dump-dom", control.as_uri())
    assert 'data-pwned="1"' in proc.stdout, proc.stderr[-2000:]

    page = write_report(evil_run_dir(tmp_path), tmp_path / "evil.html")
    proc = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "<body" in proc.stdout
    assert "data-pwned" not in proc.stdout.split("<body", 1)[1].split(">", 1)[0]
    assert "<script" not in proc.stdout.lower() and "<img" not in proc.stdout.lower()


def test_screenshot(tmp_path: Path, sample_run: tuple[Path, Path]) -> None:
    page = write_report(sample_run[0], tmp_path / "report.html")
    shot = tmp_path / "report.png"
    proc = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1280, 2000)
    assert len(data) > 50_000  # a rendered page, not a blank canvas
    if os.environ.get("SANDBOX_RUNNER_UPDATE_SCREENSHOT"):
        shutil.copy(shot, REPO / "docs" / "report-screenshot.png")
