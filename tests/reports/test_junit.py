"""JUnit XML -> TestResults."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.reports.junit import MAX_MESSAGE, TestResults, parse_junit


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "junit.xml"
    path.write_text(text, encoding="utf-8")
    return path


def test_real_pytest_report(sample_run: tuple[Path, Path]) -> None:
    res = parse_junit(sample_run[0] / "reports" / "junit.xml")
    assert res.error is None
    assert (res.total, res.passed, res.failed, res.errors, res.skipped) == (9, 5, 2, 1, 1)
    by_name = {f.test: f for f in res.failures}
    assert set(by_name) == {
        "backend.tests.test_todos::test_delete_missing",
        "backend.tests.test_todos::test_title_limit",
        "backend.tests.test_todos::test_persistence",
    }
    assert by_name["backend.tests.test_todos::test_delete_missing"].kind == "failure"
    assert by_name["backend.tests.test_todos::test_delete_missing"].message == "KeyError: 42"
    assert by_name["backend.tests.test_todos::test_persistence"].kind == "error"
    assert "database not configured" in by_name["backend.tests.test_todos::test_persistence"].message
    assert "def test_title_limit" in by_name["backend.tests.test_todos::test_title_limit"].details


def test_single_testsuite_root_nested_suites_and_counts(tmp_path: Path) -> None:
    res = parse_junit(write(tmp_path, """<testsuite name="outer" tests="99">
      <testcase classname="a.B" name="ok" time="0.5"/>
      <testcase classname="a.B" name="skip"><skipped message="later"/></testcase>
      <testsuite name="inner">
        <testcase classname="c" name="bad" time="0.25"><failure message="boom&#10;more">tb</failure></testcase>
        <testcase name="noclass"><error type="OSError">trace line 1
trace line 2</error></testcase>
      </testsuite>
    </testsuite>"""))
    assert (res.total, res.passed, res.failed, res.errors, res.skipped) == (4, 1, 1, 1, 1)
    assert res.time == 0.75
    bad, err = res.failures
    assert (bad.test, bad.kind, bad.message, bad.details, bad.time) == (
        "c::bad", "failure", "boom", "tb", 0.25)
    assert (err.test, err.kind, err.message) == ("noclass", "error", "trace line 1")


def test_error_wins_over_failure_in_one_case(tmp_path: Path) -> None:
    res = parse_junit(write(tmp_path, """<testsuites><testsuite name="s">
      <testcase classname="m" name="t"><failure message="f"/><error message="teardown"/></testcase>
    </testsuite></testsuites>"""))
    assert (res.total, res.failed, res.errors) == (1, 0, 1)
    assert res.failures[0].message == "teardown"


def test_message_is_first_line_and_bounded(tmp_path: Path) -> None:
    long = "x" * 5000
    res = parse_junit(write(tmp_path, f"""<testsuite><testcase name="t">
      <failure message="   &#10;{long}&#10;second"/></testcase></testsuite>"""))
    msg = res.failures[0].message
    assert len(msg) == MAX_MESSAGE and msg.startswith("xxx") and msg.endswith("…")


def test_no_tests_is_zero_not_error(tmp_path: Path) -> None:
    res = parse_junit(write(tmp_path, '<testsuites><testsuite name="pytest" tests="0"/></testsuites>'))
    assert res.error is None and res.total == 0


def test_missing_garbled_and_unsafe_files_set_error(tmp_path: Path) -> None:
    assert "file not found" in (parse_junit(tmp_path / "nope.xml").error or "")
    assert "invalid JUnit XML" in (parse_junit(write(tmp_path, "<testsuites><testsuite>")).error or "")
    assert "invalid JUnit XML" in (parse_junit(write(tmp_path, "<html><body/></html>")).error or "")
    bomb = '<!DOCTYPE x [<!ENTITY a "aaaa">]><testsuite><testcase name="&a;"/></testsuite>'
    res = parse_junit(write(tmp_path, bomb))
    assert res.error is not None and "DOCTYPE not allowed" in res.error and res.total == 0
    assert parse_junit(tmp_path).error is not None  # a directory


def test_bad_time_attribute_is_tolerated(tmp_path: Path) -> None:
    res = parse_junit(write(tmp_path, '<testsuite><testcase name="t" time="soon"/></testsuite>'))
    assert (res.error, res.passed, res.time) == (None, 1, 0.0)


@pytest.mark.parametrize("bad", ["nan", "NaN", "inf", "-inf", "1e999", "-1", "9" * 400, "1e8"])
def test_non_finite_or_huge_times_are_rejected(tmp_path: Path, bad: str) -> None:
    res = parse_junit(write(tmp_path, f'<testsuite tests="{bad}" time="{bad}">'
                                      f'<testcase name="t" time="{bad}"/>'
                                      '<testcase name="u" time="1.5"/></testsuite>'))
    assert (res.error, res.total, res.passed, res.time) == (None, 2, 2, 1.5)
    # the totals stay finite, so summary.json round-trips
    assert TestResults.model_validate_json(res.model_dump_json()) == res


@pytest.mark.parametrize(("root", "expected"), [
    # pytest's shape: the session's time on the suite, more than the sum of the tests
    ('<testsuites name="pytest tests"><testsuite name="pytest" time="3.217">{cases}'
     "</testsuite></testsuites>", 3.217),
    ('<testsuite time="2.5">{cases}</testsuite>', 2.5),
    ('<testsuites time="9"><testsuite time="1">{cases}</testsuite></testsuites>', 9.0),
    ('<testsuites><testsuite time="1">{cases}</testsuite><testsuite time="2"/></testsuites>', 3.0),
    # a suite without a time: the sum of the test times
    ('<testsuites><testsuite time="1">{cases}</testsuite><testsuite/></testsuites>', 0.75),
    ('<testsuites><testsuite time="nan">{cases}</testsuite></testsuites>', 0.75),
])
def test_time_is_the_suites_own(tmp_path: Path, root: str, expected: float) -> None:
    cases = '<testcase name="a" time="0.5"/><testcase name="b" time="0.25"/>'
    res = parse_junit(write(tmp_path, root.format(cases=cases)))
    assert (res.error, res.total, res.time) == (None, 2, expected)
