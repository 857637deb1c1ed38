"""JUnit XML (from the verification run) -> :class:`TestResults`.

Parsing goes through junitparser with :mod:`.xmlsafe` as its parse function.
A missing, unsafe or garbled file gives a ``TestResults`` whose ``error`` says
why; it never raises, so a crashed verification still yields a summary.
The report is shaped by the agent's test code: counts are made here, one per
``<testcase>`` (the suite's own ``tests=``/``failures=`` attributes are never
read), and a test time that is not a finite, non-negative, bounded number is
rejected (treated as unknown): no NaN, no infinity, nothing that overflows.
The total ``time`` is the suite's own (pytest's ``<testsuite time=...>``: the
whole session, collection and fixtures included), from the root element, or
the sum of the top-level suites; only when none is given is it the sum of the
test times.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Literal

from junitparser import Error, Failure, JUnitXml, JUnitXmlError, Skipped, TestCase
from junitparser.junitparser import FinalResult
from pydantic import BaseModel, Field

from runner.reports import xmlsafe

MAX_MESSAGE = 500
MAX_DETAILS = 4000
MAX_FAILURES = 200
MAX_SECONDS = 10.0**7  # a test time (s): about 116 days
_DECIMAL = re.compile(r"\+?\d{1,12}(?:\.\d{1,12})?(?:[eE][+-]?\d{1,3})?")


class TestFailure(BaseModel):
    """One failed or errored test case."""

    __test__ = False  # not a pytest class

    test: str  # "classname::name" (just the name when there is no classname)
    kind: Literal["failure", "error"]
    message: str = ""  # first line of the message, bounded
    details: str = ""  # the tail of the traceback text, bounded
    time: float | None = None


class TestResults(BaseModel):
    """Totals of a JUnit report plus each failure and error."""

    __test__ = False

    total: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    time: float = 0.0
    failures: list[TestFailure] = Field(default_factory=list)
    failures_omitted: int = 0  # failures beyond MAX_FAILURES, counted but not listed
    error: str | None = None  # the report could not be read (missing, unsafe, garbled)
    # The exit code, this report and the runner's own count disagree (runner.reports.outcomes)
    disagreement: str | None = None


def _first_line(text: str | None, limit: int = MAX_MESSAGE) -> str:
    for line in (text or "").splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""


def _tail(text: str | None, limit: int = MAX_DETAILS) -> str:
    text = (text or "").strip("\n")
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]


def _test_name(case: TestCase) -> str:
    name = case.name or "<unnamed>"
    return f"{case.classname}::{name}" if case.classname else str(name)


def _seconds(raw: str | None) -> float | None:
    """A time attribute, or None when it is not a finite, non-negative, bounded number (a
    NaN or an infinity would poison the totals and summary.json; the value is rejected)."""
    if raw is None or _DECIMAL.fullmatch(raw.strip()) is None:
        return None
    value = float(raw)
    return value if math.isfinite(value) and value <= MAX_SECONDS else None


def _case_time(case: TestCase) -> float | None:
    return _seconds(case._elem.get("time"))


def _suite_time(root: ET.Element) -> float | None:
    """The run's own time: the root's ``time``, else the sum over the top-level suites
    when each has one; None when neither is given."""
    own = _seconds(root.get("time"))
    if own is not None or root.tag != "testsuites":
        return own
    times = [_seconds(s.get("time")) for s in root.iterfind("testsuite")]
    if not times or any(t is None for t in times):
        return None
    total = sum(t for t in times if t is not None)
    return total if total <= MAX_SECONDS else None


def parse_junit(path: Path) -> TestResults:
    """Parse a JUnit XML file; problems are reported in ``TestResults.error``."""
    try:
        xml = JUnitXml.fromfile(str(path), parse_func=xmlsafe.parse_tree)
    except FileNotFoundError:
        return TestResults(error=f"{path}: no JUnit report (file not found)")
    except OSError as exc:
        return TestResults(error=f"{path}: cannot read JUnit report: {exc.strerror or exc}")
    except (ValueError, JUnitXmlError) as exc:
        return TestResults(error=f"{path}: invalid JUnit XML: {exc}")

    res = TestResults()
    try:
        for suite in xml:
            for case in suite:
                _count(res, case)
        suite_time = _suite_time(xml._elem)
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        return TestResults(error=f"{path}: invalid JUnit XML: {exc}")
    res.time = round(suite_time if suite_time is not None else res.time, 3)
    return res


def _count(res: TestResults, case: TestCase) -> None:
    res.total += 1
    t = _case_time(case)
    res.time += t or 0.0
    results = case.result
    kind: Literal["failure", "error"] = "error"
    bad: FinalResult | None = next((r for r in results if isinstance(r, Error)), None)
    if bad is None:
        bad = next((r for r in results if isinstance(r, Failure)), None)
        kind = "failure"
    if bad is None:
        if any(isinstance(r, Skipped) for r in results):
            res.skipped += 1
        else:
            res.passed += 1
        return
    if kind == "error":
        res.errors += 1
    else:
        res.failed += 1
    if len(res.failures) >= MAX_FAILURES:
        res.failures_omitted += 1
        return
    message = _first_line(bad.message) or _first_line(bad.text) or (bad.type or kind)
    res.failures.append(
        TestFailure(
            test=_test_name(case), kind=kind, message=message, details=_tail(bad.text), time=t
        )
    )
