"""Quality gates: the tests pass and line coverage of the application code (test files
not counted: :class:`runner.reports.coverage.CoverageScope`) reaches the threshold.

A failed gate makes ``run`` exit 1. Missing reports, no tests and all-skipped
suites are failed gates with a message, never a crash.
"""

from __future__ import annotations

import math

from pydantic import BaseModel

from runner.reports.coverage import CoverageReport
from runner.reports.junit import TestResults

MAX_NAMED_FAILURES = 5


def format_percent(value: float | None) -> str:
    """'83.33%' - rounded down to 2 decimals, so a near-miss never reads as the threshold."""
    if value is None:
        return "n/a"
    floored = math.floor(value * 100 + 1e-9) / 100
    return f"{floored:.2f}".rstrip("0").rstrip(".") + "%"


class Gate(BaseModel):
    name: str  # "tests" | "coverage"
    passed: bool
    detail: str


def _tests_gate(tests: TestResults) -> Gate:
    if tests.error:
        return Gate(name="tests", passed=False, detail=f"no test results: {tests.error}")
    if tests.disagreement:
        return Gate(name="tests", passed=False,
                    detail=f"test results disagree: {tests.disagreement}")
    if tests.total == 0:
        return Gate(name="tests", passed=False, detail="no tests found")
    if tests.failed or tests.errors:
        counts = ", ".join(
            part for part in (
                f"{tests.failed} failed" if tests.failed else "",
                f"{tests.errors} error{'s' if tests.errors != 1 else ''}" if tests.errors else "",
            ) if part
        )
        names = [f.test for f in tests.failures[:MAX_NAMED_FAILURES]]
        more = tests.failed + tests.errors - len(names)
        listed = ", ".join(names) + (f" (+{more} more)" if more > 0 else "")
        return Gate(name="tests", passed=False, detail=f"{counts}: {listed}")
    if tests.passed == 0:
        return Gate(name="tests", passed=False,
                    detail=f"no tests ran ({tests.skipped} skipped)")
    skipped = f", {tests.skipped} skipped" if tests.skipped else ""
    return Gate(name="tests", passed=True, detail=f"{tests.passed} passed{skipped}")


def _coverage_gate(coverage: CoverageReport | None, threshold: float) -> Gate:
    if threshold <= 0:
        return Gate(name="coverage", passed=True, detail="coverage gate disabled (threshold 0)")
    if coverage is None:
        return Gate(name="coverage", passed=False, detail="no coverage report")
    if coverage.error or coverage.line_percent is None:
        return Gate(name="coverage", passed=False,
                    detail=f"no coverage data: {coverage.error or 'empty report'}")
    omitted = (f" ({coverage.files_omitted} test file{'s' if coverage.files_omitted != 1 else ''}"
               " not counted)" if coverage.files_omitted else "")
    if coverage.lines_valid == 0:
        return Gate(name="coverage", passed=False,
                    detail=f"no measured lines of application code under backend/{omitted}")
    pct = coverage.line_percent
    ok = pct >= threshold
    return Gate(name="coverage", passed=ok,
                detail=f"line coverage {format_percent(pct)} {'>=' if ok else '<'} {threshold:g}%"
                       f"{omitted}")


def evaluate_gates(
    tests: TestResults, coverage: CoverageReport | None, threshold: float
) -> list[Gate]:
    """The tests gate and the coverage gate, in that order."""
    return [_tests_gate(tests), _coverage_gate(coverage, threshold)]
