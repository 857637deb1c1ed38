"""``policy test --format junit``: the Rego test results as JUnit XML (junitparser writes it).

One ``<testsuite name="sandbox-runner policy test">``; a test is a ``<testcase>`` with the
package as ``classname`` and the rule as ``name``; a rule that is not true is a
``<failure>``, one that fails to evaluate an ``<error>`` (message ``file:line: ...``).
"""

from __future__ import annotations

from junitparser import Error, Failure, JUnitXml, TestCase, TestSuite

from runner.policy.regorus_engine import RegoTestReport
from runner.sanitize import one_line

SUITE = "sandbox-runner policy test"


def junit_xml(report: RegoTestReport) -> str:
    suite = TestSuite(SUITE)
    for r in report.results:
        package, _, rule = r.name.removeprefix("data.").rpartition(".")
        case = TestCase(one_line(rule, 500), classname=one_line(package, 500))
        case._elem.set("time", f"{r.duration_ms / 1000:.6f}")  # never 1e-05: xs:decimal
        where = f"{r.file}:{r.line}"
        if r.error is not None:
            case.result = [Error(one_line(f"{where}: {r.error}", 4000), "EvalError")]
        elif not r.passed:
            case.result = [Failure(one_line(f"{where}: test rule is not true", 4000))]
        suite.add_testcase(case)
    suite.update_statistics()  # type: ignore[no-untyped-call]
    xml = JUnitXml()
    xml.add_testsuite(suite)
    xml.update_statistics()  # type: ignore[no-untyped-call]
    out = xml.tostring()  # type: ignore[no-untyped-call]
    text = out.decode("utf-8") if isinstance(out, bytes) else str(out)
    if not text.startswith("<?xml"):
        text = '<?xml version="1.0" encoding="utf-8"?>\n' + text
    return text.rstrip("\n") + "\n"
