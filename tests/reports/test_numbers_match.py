"""The numbers in the reports equal what pytest and coverage.py say for the same code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.reports.coverage import CoverageScope, parse_cobertura
from runner.reports.junit import parse_junit
from runner.reports.summary import load_summary
from tests.reports.sample import (
    apply_agent_changes,
    coverage_cli,
    pytest_counts,
    run_by_hand,
    write_sample_project,
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_sample_project(tmp_path_factory.mktemp("numbers"))
    apply_agent_changes(root)
    return root


@pytest.mark.parametrize("branch", [True, False])
def test_totals_match_pytest_and_coverage(project: Path, branch: bool) -> None:
    out = project.parent / f"out-{branch}"
    hand = run_by_hand(project, out, branch=branch)
    assert hand.returncode == 1, hand.stdout  # the sample has failing tests

    expected = pytest_counts(hand.stdout)
    tests = parse_junit(hand.junit)
    assert tests.error is None
    assert {"passed": tests.passed, "failed": tests.failed, "skipped": tests.skipped,
            "errors": tests.errors} == expected
    assert tests.total == sum(expected.values())
    assert expected["failed"] > 0 and expected["passed"] > 0 and expected["errors"] > 0

    cov = parse_cobertura(hand.coverage_xml, scope=CoverageScope(omit=[]))  # everything
    data = json.loads(hand.coverage_json.read_text())
    totals = data["totals"]
    assert (cov.lines_covered, cov.lines_valid) == (totals["covered_lines"],
                                                    totals["num_statements"])
    assert cov.line_percent == pytest.approx(
        100 * totals["covered_lines"] / totals["num_statements"], abs=1e-3)
    assert 0 < (cov.line_percent or 0) < 100  # partial coverage: the check means something
    # coverage's own headline number (lines, plus branches when measured)
    reported = float(coverage_cli(out, "report", "--format=total", "--precision=4").strip())
    if branch:
        assert (cov.branches_covered, cov.branches_valid) == (totals["covered_branches"],
                                                              totals["num_branches"])
        combined = 100 * (cov.lines_covered + cov.branches_covered) / (
            cov.lines_valid + cov.branches_valid)
        assert combined == pytest.approx(reported, abs=1e-3)
        assert cov.branch_percent == pytest.approx(
            100 * totals["covered_branches"] / totals["num_branches"], abs=1e-3)
    else:
        assert cov.line_percent == pytest.approx(reported, abs=1e-3)
        assert cov.branch_percent is None
    for name, fdata in data["files"].items():
        ours = next(f for f in cov.files if f.file == name)
        summary = fdata["summary"]
        assert (ours.lines_covered, ours.lines_valid) == (summary["covered_lines"],
                                                          summary["num_statements"]), name

    # the gated numbers (test code left out) equal coverage.py's own --omit of the same files
    gated = parse_cobertura(hand.coverage_xml)
    omit = ",".join(f"{project}/{p}" for p in ("backend/tests/*", "*/conftest.py",
                                                "*/test_*.py", "*/*_test.py"))
    omitted_json = out / "omitted.json"
    coverage_cli(out, "json", f"--omit={omit}", "-o", str(omitted_json))
    omitted = json.loads(omitted_json.read_text())["totals"]
    assert gated.files_omitted > 0
    assert (gated.lines_covered, gated.lines_valid) == (omitted["covered_lines"],
                                                        omitted["num_statements"])
    assert gated.line_percent != cov.line_percent  # the omission changed the number


def test_summary_json_carries_the_same_numbers(sample_run: tuple[Path, Path]) -> None:
    run_dir, _ = sample_run
    summary = load_summary(run_dir)
    tests = parse_junit(run_dir / "reports" / "junit.xml")
    cov = parse_cobertura(run_dir / "reports" / "coverage.xml")
    assert summary.tests.model_dump() == tests.model_dump()
    assert summary.coverage is not None
    assert summary.coverage.line_percent == cov.line_percent
    assert [f.model_dump() for f in summary.coverage.files] == [f.model_dump() for f in cov.files]
