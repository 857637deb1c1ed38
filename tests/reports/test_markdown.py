"""summary.md rendering and $GITHUB_STEP_SUMMARY."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from runner.reports.coverage import CoverageReport, FileCoverage
from runner.reports.gates import Gate
from runner.reports.junit import TestFailure, TestResults
from runner.reports.markdown import md_code, md_text, render_markdown, write_step_summary
from runner.reports.summary import IssueRef, RunSummary, load_summary


def test_sample_summary_has_every_section(sample_run: tuple[Path, Path]) -> None:
    run_dir, _ = sample_run
    md = (run_dir / "summary.md").read_text()
    assert md == render_markdown(load_summary(run_dir))
    for heading in ("## Gates", "## Tests", "### Failures", "## Coverage", "## Policy decisions",
                    "**Top deny reasons**", "## Issues (4)", "## Changes under backend/",
                    "## Model usage", "## Audit log"):
        assert heading in md, heading
    assert "# sandbox-runner: ❌ quality gates failed" in md
    assert "| `backend.tests.test_todos::test_delete_missing` | failure | KeyError: 42 |" in md
    assert "| scope | 10 | 2 |" in md
    assert "| 2 | scope | `write_outside_writable` |" in md
    assert "**High**\n\n- Authentication is not specified\n- Persistence" in md
    assert "- added: `backend/todos.py`" in md and "- deleted: `backend/README.md`" in md
    assert "✅ chain verified" in md
    assert "14 requests, 48210 input tokens, 9120 output tokens" in md


def test_agent_text_cannot_forge_markdown() -> None:
    evil = "x | ✅ pass | forged\n## Gates\n<img src=x onerror=alert(1)> [link](http://e) `"
    summary = RunSummary(
        run_id="r", status="gates_failed", exit_code=1,
        tests=TestResults(total=1, failed=1, failures=[
            TestFailure(test="a|b`c", kind="failure", message=evil)]),
        gates=[Gate(name="tests", passed=False, detail=evil)],
        issues=[IssueRef(title=evil, priority="high")],
        coverage=CoverageReport(line_percent=50, files=[FileCoverage(file="f|g", line_percent=1)]),
    )
    md = render_markdown(summary)
    assert md.count("\n## Gates") == 1  # no forged heading
    assert not re.search(r"(?<!\\)<img", md) and not re.search(r"(?<!\\)\]\(http", md)
    for line in md.splitlines():
        if line.startswith("| ") and "forged" in line:
            assert line.count(" | ") - line.count("\\|") <= 3  # no extra cells
    assert md_text("a\nb|c<d>") == "a b\\|c\\<d\\>"
    assert md_code("a`b") == "``a`b``"
    assert md_code("|") == "`\\|`"


def test_step_summary_is_appended_only_when_set(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert write_step_summary("# hi") is False
    target = tmp_path / "step.md"
    target.write_text("existing\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    assert write_step_summary("# one\n") is True
    assert write_step_summary("# two") is True
    assert target.read_text() == "existing\n# one\n\n# two\n\n"


def test_gateway_refusals_are_shown_when_there_are_any() -> None:
    from runner.reports.markdown import render_markdown
    from runner.reports.summary import GatewayInfo, RunSummary

    quiet = render_markdown(RunSummary(run_id="r", started_at="t", project="p"))
    assert "Gateway:" not in quiet
    loud = render_markdown(RunSummary(run_id="r", started_at="t", project="p",
                                      gateway=GatewayInfo(refused=3, clamped=1)))
    assert "Gateway: 3 calls refused on the socket" in loud and "1 max_tokens clamped" in loud
