"""Quality gates."""

from __future__ import annotations

import pytest

from runner.reports.coverage import CoverageReport
from runner.reports.gates import evaluate_gates, format_percent
from runner.reports.junit import TestFailure, TestResults


def cov(pct: float, valid: int = 100) -> CoverageReport:
    return CoverageReport(line_percent=pct, lines_valid=valid, lines_covered=int(pct))


def test_all_good() -> None:
    gates = evaluate_gates(TestResults(total=3, passed=2, skipped=1), cov(85.0), 80)
    assert [(g.name, g.passed) for g in gates] == [("tests", True), ("coverage", True)]
    assert gates[0].detail == "2 passed, 1 skipped"
    assert gates[1].detail == "line coverage 85% >= 80%"


def test_failures_are_named() -> None:
    fails = [TestFailure(test=f"m::t{i}", kind="failure", message="x") for i in range(7)]
    tests = TestResults(total=9, passed=1, failed=6, errors=1, failures=fails)
    gate = evaluate_gates(tests, cov(90), 80)[0]
    assert not gate.passed
    assert gate.detail.startswith("6 failed, 1 error: m::t0, m::t1, m::t2, m::t3, m::t4")
    assert gate.detail.endswith("(+2 more)")


@pytest.mark.parametrize(
    ("tests", "detail"),
    [
        (TestResults(), "no tests found"),
        (TestResults(total=2, skipped=2), "no tests ran (2 skipped)"),
        (TestResults(error="junit.xml: file not found"), "no test results: junit.xml: file not found"),
    ],
)
def test_no_tests_is_a_failed_gate(tests: TestResults, detail: str) -> None:
    gate = evaluate_gates(tests, cov(100), 80)[0]
    assert (gate.passed, gate.detail) == (False, detail)


def test_coverage_threshold_edges() -> None:
    assert evaluate_gates(TestResults(total=1, passed=1), cov(80.0), 80)[1].passed
    near = evaluate_gates(TestResults(total=1, passed=1), cov(79.999), 80)[1]
    assert not near.passed and near.detail == "line coverage 79.99% < 80%"
    assert not evaluate_gates(TestResults(), None, 80)[1].passed
    assert evaluate_gates(TestResults(), CoverageReport(error="bad"), 80)[1].detail == (
        "no coverage data: bad")
    assert evaluate_gates(TestResults(), cov(100, valid=0), 80)[1].passed is False
    assert evaluate_gates(TestResults(), None, 0)[1].passed  # threshold 0 disables the gate


def test_format_percent_never_rounds_up() -> None:
    assert format_percent(79.999) == "79.99%"
    assert format_percent(100.0) == "100%"
    assert format_percent(83.3333) == "83.33%"
    assert format_percent(None) == "n/a"


def test_coverage_gate_names_the_omitted_test_files() -> None:
    report = CoverageReport(line_percent=85.0, lines_valid=100, lines_covered=85, files_omitted=3)
    gate = evaluate_gates(TestResults(total=1, passed=1), report, 80)[1]
    assert gate.detail == "line coverage 85% >= 80% (3 test files not counted)"
    only_tests = CoverageReport(line_percent=100.0, lines_valid=0, files_omitted=1)
    gate = evaluate_gates(TestResults(total=1, passed=1), only_tests, 80)[1]
    assert not gate.passed and "no measured lines of application code" in gate.detail
