"""The self-contained HTML report (structure and escaping; the browser test renders it)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from runner.errors import InputError
from runner.reports.html import render_html
from runner.reports.junit import TestFailure, TestResults
from runner.reports.summary import IssueRef, RunSummary, write_summary

XSS = "<script>document.body.setAttribute('data-pwned','1')</script><img src=x onerror=alert(1)>"


def evil_run_dir(tmp_path: Path) -> Path:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    summary = RunSummary(
        run_id=f"r-{XSS}", status="gates_failed", exit_code=1, model=XSS, failure=XSS,
        tests=TestResults(total=1, failed=1, failures=[
            TestFailure(test=f"m::{XSS}", kind="failure", message=XSS, details=XSS)]),
        issues=[IssueRef(title=XSS, priority="high")],
    )
    write_summary(run_dir, summary)
    (run_dir / "issues.json").write_text(json.dumps([{"title": XSS, "priority": "high",
                                                      "body": f"body {XSS}"}]))
    (run_dir / "backend.diff").write_text(
        f"diff --git a/backend/{XSS} b/backend/{XSS}\nnew file mode 100644\n--- /dev/null\n"
        f"+++ b/backend/x\n@@ -0,0 +1 @@\n+{XSS}\n")
    line = {"seq": 0, "timestamp": "2026-01-01T00:00:00Z",
            "input": {"tool": {"name": f"Bash{XSS}", "input": {"command": XSS}}},
            "result": {"allow": False, "reasons": [{"policy": XSS, "rule": XSS, "msg": XSS}]}}
    (run_dir / "decisions.jsonl").write_text(json.dumps(line) + "\n")
    return run_dir


def test_everything_the_agent_controls_is_escaped(tmp_path: Path) -> None:
    html = render_html(evil_run_dir(tmp_path))
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert "&lt;script&gt;" in html
    # the payload shows up escaped in each place it was planted
    assert html.count("&lt;script&gt;document.body") >= 10


def test_self_contained_with_a_csp_and_no_external_assets(sample_run: tuple[Path, Path]) -> None:
    html = render_html(sample_run[0])
    assert html.startswith("<!DOCTYPE html>")
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert not re.search(r"""\b(src|href)\s*=\s*["']?(https?:|//|file:)""", html)
    assert "<link" not in html and "<script" not in html


def test_sample_sections(sample_run: tuple[Path, Path]) -> None:
    run_dir, _ = sample_run
    html = render_html(run_dir)
    assert html.count('<tr class="call allowed"') == 8
    assert html.count('<tr class="call denied"') == 4
    assert 'id="call-3"' in html  # Write frontend/app.js, denied
    assert "write_outside_writable" in html and "frontend/app.js" in html
    for anchor in ("gates", "timeline", "tests", "coverage", "issues", "diff"):
        assert f'id="{anchor}"' in html
    assert "backend.tests.test_todos::test_title_limit" in html
    assert "<code>backend/todos.py</code>" in html
    assert '<span class="a">+class Store:</span>' in html or "+class Store" in html
    assert "quality gates failed" in html
    assert html.count('<div class="issue">') == 4


def test_run_without_summary_still_shows_the_timeline(tmp_path: Path,
                                                      sample_run: tuple[Path, Path]) -> None:
    run_dir = tmp_path / "crashed"
    run_dir.mkdir()
    shutil.copy(sample_run[0] / "decisions.jsonl", run_dir)
    (run_dir / "run.json").write_text(json.dumps({"id": "crashed-run-7"}))
    html = render_html(run_dir)
    assert "summary.json is missing" in html and "crashed-run-7" in html
    assert html.count('<tr class="call denied"') == 4


def test_missing_run_dir(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        render_html(tmp_path / "nope")
