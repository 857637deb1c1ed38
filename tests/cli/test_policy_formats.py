"""`policy test --format json|junit --run PATTERN` and `policy eval --format text|json`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from junitparser import Error, Failure, JUnitXml

from runner.cli import main

POLICY = 'package sandbox\n\nimport rego.v1\n\ndecision := {"allow": false, "reasons": []}\n'
TESTS = """package sandbox.p_test

import rego.v1

test_denies if { data.sandbox.decision.allow == false }

test_allows if { data.sandbox.decision.allow == true }

test_divides if { 1 / 0 == 1 }
"""
OTHER = """package sandbox.q_test

import rego.v1

test_denies_too if { data.sandbox.decision.allow == false }
"""


def invoke(*args: str | Path, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], input=stdin)


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    pol = tmp_path / "pol"
    (pol / "tests").mkdir(parents=True)
    (pol / "p.rego").write_text(POLICY)
    (pol / "tests" / "p_test.rego").write_text(TESTS)
    (pol / "tests" / "q_test.rego").write_text(OTHER)
    return pol


def test_junit_is_valid_and_says_what_failed(policies: Path) -> None:
    result = invoke("policy", "test", "--policy-dir", policies, "--format", "junit")
    assert result.exit_code == 1
    assert result.stdout.startswith('<?xml version="1.0" encoding="utf-8"?>\n')
    xml = JUnitXml.fromstring(result.stdout.encode())
    suites = list(xml)
    assert len(suites) == 1 and suites[0].name == "sandbox-runner policy test"
    assert (xml.tests, xml.failures, xml.errors) == (4, 1, 1)
    cases = {(c.classname, c.name): c for c in suites[0]}
    assert set(cases) == {("sandbox.p_test", "test_denies"), ("sandbox.p_test", "test_allows"),
                          ("sandbox.p_test", "test_divides"), ("sandbox.q_test", "test_denies_too")}
    assert cases["sandbox.p_test", "test_denies"].is_passed
    [failure] = cases["sandbox.p_test", "test_allows"].result
    assert isinstance(failure, Failure) and "p_test.rego:7" in (failure.message or "")
    [error] = cases["sandbox.p_test", "test_divides"].result
    assert isinstance(error, Error) and "divide by zero" in (error.message or "")
    for case in suites[0]:
        assert float(case.time) >= 0 and "e" not in str(case._elem.get("time"))


def test_json_lists_every_test(policies: Path) -> None:
    result = invoke("policy", "test", "--policy-dir", policies, "-f", "json")
    data = json.loads(result.stdout)
    assert result.exit_code == 1 and (data["ok"], data["passed"], data["failed"]) == (False, 2, 2)
    assert {t["name"] for t in data["tests"]} == {
        "data.sandbox.p_test.test_denies", "data.sandbox.p_test.test_allows",
        "data.sandbox.p_test.test_divides", "data.sandbox.q_test.test_denies_too"}


@pytest.mark.parametrize(("pattern", "expected", "code"), [
    ("denies", {"test_denies", "test_denies_too"}, 0),
    (r"^sandbox\.q_test\.", {"test_denies_too"}, 0),  # package.rule, as opa test --run
    (r"^data\.sandbox\.p_test\.test_denies$", {"test_denies"}, 0),  # the full name too
    ("p_test", {"test_denies", "test_allows", "test_divides"}, 1),
    ("nothing-matches", set(), 1),
])
def test_run_filters_by_a_regex_on_package_rule(policies: Path, pattern: str,
                                                expected: set[str], code: int) -> None:
    result = invoke("policy", "test", "--policy-dir", policies, "--run", pattern, "-f", "json")
    assert result.exit_code == code
    assert {t["name"].rsplit(".", 1)[1] for t in json.loads(result.stdout)["tests"]} == expected
    short = invoke("policy", "test", "--policy-dir", policies, "-r", pattern)
    assert short.exit_code == code
    assert sum(line.startswith(("PASS ", "FAIL ")) for line in short.stdout.splitlines()) == len(
        expected)


def test_run_with_a_bad_regex_is_exit_2(policies: Path) -> None:
    result = invoke("policy", "test", "--policy-dir", policies, "--run", "(")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("sandbox-runner: error: Invalid value for '--run': ")


def test_eval_fail_on_deny_and_text(tmp_path: Path) -> None:
    calls = "\n".join(json.dumps(c) for c in [
        {"tool": "Read", "input": {"file_path": "backend/app.py"}},
        {"tool": "Read", "input": {"file_path": ".env"}},
        "not an object",
    ])
    plain = invoke("policy", "eval", "--input", "-", stdin=calls)
    assert plain.exit_code == 0 and len(plain.stdout.splitlines()) == 3
    assert [json.loads(line)["allow"] for line in plain.stdout.splitlines()] == [
        True, False, False]
    failing = invoke("policy", "eval", "--input", "-", "--fail-on-deny", "-f", "text",
                     stdin=calls)
    assert failing.exit_code == 1
    lines = failing.stdout.splitlines()
    assert lines[0] == "line 1: allow Read"
    assert lines[1].startswith("line 2: deny Read: ") and "secret" in lines[1].lower()
    assert lines[2].startswith("line 3: deny -: input.bad_input: line 3: ")
    allowed = invoke("policy", "eval", "--input", "-", "--fail-on-deny", stdin=calls.split(
        "\n")[0])
    assert allowed.exit_code == 0
