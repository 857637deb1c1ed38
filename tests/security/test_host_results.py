"""Host boundary: verification outputs and result collection never trust what the agent wrote.

Real runs (the ``sandbox-runner`` CLI, a scripted model, real containers) for what crosses
the verification container: a conftest that forges the reports, planted bytecode and other
persistence artifacts. The collection's isolation is exercised through ``Run.finish`` on a
real run directory, without Docker.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from runner.config import build_run_config
from runner.reports import collect as collect_mod
from runner.reports.diff import snapshot_tree
from runner.reports.outcomes import RunnerOutcomes
from runner.reports.summary import load_summary
from runner.reports.verification import DEFAULT_COMMAND, VerificationResult
from runner.run.display import RunDisplay
from runner.run.phases import Run, prepare
from runner.run.rundir import create_run_dir
from tests.security import harness as h
from tests.security.harness import bash, call

# --- the conftest that rewrote the reports ---------------------------------------------------

FORGING_CONFTEST = '''\
import atexit
import os

OUT = os.path.dirname(os.environ["JUNIT_XML"])
JUNIT = '<testsuite tests="1"><testcase classname="x" name="everything_passes"/></testsuite>'
COVERAGE = ('<coverage lines-valid="1e999" lines-covered="10"><sources>'
            '<source>/workspace/backend</source></sources><packages/></coverage>')


def _forge():
    for name in ("junit.xml", "coverage.xml"):
        if os.path.lexists(os.path.join(OUT, name)):
            os.unlink(os.path.join(OUT, name))
    with open(os.path.join(OUT, "junit.xml"), "w") as fh:
        fh.write(JUNIT)
    with open(os.path.join(OUT, "coverage.xml"), "w") as fh:
        fh.write(COVERAGE)
    os.symlink("../../../../.env", os.path.join(OUT, "env-link"))
    os.symlink("/proc/self/environ", os.path.join(OUT, "environ"))
    os.mkfifo(os.path.join(OUT, "fifo"))
    os._exit(0)


def pytest_sessionfinish(session, exitstatus):
    session.exitstatus = 0


atexit.register(_forge)
'''
TESTS_ONE_FAILS = '''\
import app


def test_hello():
    assert app.hello() == "hi"


def test_broken():
    assert app.hello() == "bye"
'''


def _links_under(root: Path) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            if os.path.islink(os.path.join(dirpath, name)):
                found.append(os.path.relpath(os.path.join(dirpath, name), root))
    return found


@pytest.mark.docker
@pytest.mark.host_boundary(
    finding="conftest-forges-reports",
    title="A conftest.py that rewrites junit.xml/coverage.xml, exits 0 and plants links to "
          ".env and /proc/self/environ: the tests gate fails on the disagreement with the "
          "runner's own count, and RUN_DIR/reports holds only two regular files",
)
def test_conftest_that_forges_reports_fails_the_gate_and_leaves_no_links(tmp_path: Path) -> None:
    world = h.make_world(tmp_path)
    turns = [{"text": "tests", "tool_calls": [
        call("Write", file_path="backend/test_app.py", content=TESTS_ONE_FAILS),
        call("Write", file_path="backend/conftest.py", content=FORGING_CONFTEST),
    ]}, {"text": "done"}]
    res = h.run_scenario(world, "forge-reports", turns, policy_dir=h.ALLOW_ALL,
                         skip_verify=False, timeout=180)
    assert res.exit_code == 1, res.describe()
    summary = res.summary
    assert summary["status"] == "gates_failed"
    tests_gate = next(g for g in summary["gates"] if g["name"] == "tests")
    assert not tests_gate["passed"]
    assert "disagree" in tests_gate["detail"] and "1 failed" in tests_gate["detail"], tests_gate
    # the forged coverage number is a recorded error, not an OverflowError traceback
    assert "1e999" in (summary["coverage"] or {}).get("error", ""), summary["coverage"]
    assert "Traceback" not in res.stderr, res.stderr[-2000:]
    # the run directory: only regular report files, no link anywhere
    reports = res.run_dir / "reports"
    assert sorted(p.name for p in reports.iterdir()) == ["coverage.xml", "junit.xml"]
    assert all(stat.S_ISREG(os.lstat(p).st_mode) for p in reports.iterdir())
    assert _links_under(res.run_dir) == []
    assert h.leaked(h.files_text(res.run_dir), h.MASKED_SECRETS + h.HOST_SECRETS) == []
    ignored = res.run_json["verification"]["ignored_outputs"]
    assert {"env-link (symlink)", "environ (symlink)", "fifo (other)"} <= set(ignored)
    for name in ("summary.json", "backend.diff", "issues.json"):
        assert (res.run_dir / name).is_file(), name
    assert h.containers_for(project=world.project) == []


# --- hostile report numbers and a failing collection step ------------------------------------

JUNIT_ONE_PASS = ('<testsuites><testsuite name="pytest" tests="1">'
                  '<testcase classname="backend.test_app" name="test_hello" time="0.01"/>'
                  '</testsuite></testsuites>')
ONE_PASSED = RunnerOutcomes(total=1, passed=1, skipped=0, failed=0, errors=0, exitstatus=0)


def _finished_run(tmp_path: Path, coverage_xml: str) -> tuple[Run, Path]:
    """A run whose agent changed backend/ and issues.md, verified with the given coverage."""
    project = tmp_path / "proj"
    (project / "backend").mkdir(parents=True)
    (project / "backend" / "app.py").write_text("def hello():\n    return 'hi'\n")
    scenario = tmp_path / "s.yaml"
    scenario.write_text('turns:\n  - text: "Done."\n')
    run = Run(prepare(build_run_config(project, {"model": f"scripted:{scenario}"})),
              RunDisplay(quiet=True))
    create_run_dir(run.run_dir)
    run.before = snapshot_tree(project / "backend")
    (project / "backend" / "new.py").write_text("ANSWER = 42\n")
    (project / "issues.md").write_text("## Retry policy is unspecified\nPriority: high\n")
    reports = run.run_dir / "reports"
    reports.mkdir()
    (reports / "junit.xml").write_text(JUNIT_ONE_PASS)
    (reports / "coverage.xml").write_text(coverage_xml)
    run.verification = VerificationResult(
        command=DEFAULT_COMMAND, exit_code=0, junit_path=reports / "junit.xml",
        coverage_path=reports / "coverage.xml", outcomes=ONE_PASSED)
    return run, project


def _assert_results_written(run: Run) -> None:
    for name in ("summary.json", "summary.md", "backend.diff", "issues.json"):
        assert (run.run_dir / name).is_file(), name
    assert "+ANSWER = 42" in (run.run_dir / "backend.diff").read_text()
    issues = json.loads((run.run_dir / "issues.json").read_text())
    assert [i["title"] for i in issues] == ["Retry policy is unspecified"]


@pytest.mark.host_boundary(
    finding="coverage-overflow",
    title="A coverage.xml with a huge, NaN or infinite number: a recorded coverage error and a "
          "failed gate; summary.json, backend.diff and issues.json are still written",
)
@pytest.mark.parametrize("number", ["1e999", "9" * 400, "nan", "inf", "-inf", "1e308"])
def test_hostile_coverage_number_is_a_recorded_error(tmp_path: Path, number: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    coverage = (f'<coverage lines-valid="{number}" lines-covered="1"><sources>'
                '<source>/workspace/backend</source></sources><packages/></coverage>')
    run, _ = _finished_run(tmp_path, coverage)
    summary = run.finish(None)
    _assert_results_written(run)
    assert summary.coverage is not None and summary.coverage.error is not None
    assert number[:20] in summary.coverage.error
    assert summary.exit_code == 1 and summary.status == "gates_failed"
    assert [(g.name, g.passed) for g in summary.gates] == [("tests", True), ("coverage", False)]
    assert load_summary(run.run_dir) == summary  # summary.json round-trips (no NaN/inf in it)


@pytest.mark.host_boundary(
    finding="collection-isolation",
    title="A result-collection step that raises (the old OverflowError, a parser bug) is "
          "recorded in summary.json and fails a 'results' gate; every other step still runs",
)
def test_a_failing_collection_step_is_isolated(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    good = ('<coverage lines-valid="1" lines-covered="1"><sources><source>/workspace/backend'
            '</source></sources><packages/></coverage>')
    run, _ = _finished_run(tmp_path, good)

    def overflow(*_args: Any, **_kwargs: Any) -> Any:
        raise OverflowError("cannot convert float infinity to integer")

    monkeypatch.setattr(collect_mod, "parse_cobertura", overflow)
    monkeypatch.setattr(collect_mod, "scan_persistence", overflow)
    summary = run.finish(None)
    _assert_results_written(run)
    assert [(e.step, e.error) for e in summary.collection_errors] == [
        ("persistence", "OverflowError: cannot convert float infinity to integer"),
        ("coverage", "OverflowError: cannot convert float infinity to integer"),
    ]
    results_gate = next(g for g in summary.gates if g.name == "results")
    assert not results_gate.passed and "coverage: OverflowError" in results_gate.detail
    assert summary.tests.passed == 1 and summary.exit_code == 1
    assert load_summary(run.run_dir).collection_errors == summary.collection_errors


def test_a_failing_diff_still_leaves_backend_diff_and_the_rest(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    good = ('<coverage lines-valid="1" lines-covered="1"><sources><source>/workspace/backend'
            '</source></sources><packages/></coverage>')
    run, _ = _finished_run(tmp_path, good)

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(collect_mod, "diff_backend", broken)
    summary = run.finish(None)
    assert (run.run_dir / "backend.diff").read_text().startswith(
        "# sandbox-runner: the diff could not be computed: RecursionError")
    assert [e.step for e in summary.collection_errors] == ["diff"]
    assert json.loads((run.run_dir / "issues.json").read_text())[0]["priority"] == "high"
    assert summary.coverage is not None and summary.coverage.line_percent == 100.0


# --- persistence artifacts and planted bytecode ----------------------------------------------

CALC = "def value():\n    return 1\n"
TEST_CALC = "import calc\n\n\ndef test_value():\n    assert calc.value() == 1\n"
PLANT_PYC = (
    "mkdir -p /workspace/backend/__pycache__ && printf 'def value():\\n    return 2\\n' "
    "> /tmp/evil_calc.py && python3 -c \"import py_compile as p; p.compile('/tmp/evil_calc.py', "
    "cfile='/workspace/backend/__pycache__/calc.cpython-311.pyc', "
    "invalidation_mode=p.PycInvalidationMode.UNCHECKED_HASH, doraise=True)\""
)
PLANT_GIT = ("git init -q /workspace/backend/vendored && git -C /workspace/backend/vendored "
             "config core.fsmonitor 'touch /tmp/fsmonitor-ran'")
PLANT_REST = (
    "cd /workspace/backend && printf 'import os\\n' > evil.pth && "
    "printf 'X = 1\\n' > sitecustomize.py && ln -s ../.env env-link && "
    "printf '#!/bin/sh\\necho hi\\n' > run.sh && chmod +x run.sh app.py"
)


@pytest.mark.docker
@pytest.mark.host_boundary(
    finding="persistence-artifacts",
    title="Planted unchecked-hash .pyc, nested .git with core.fsmonitor, .pth, sitecustomize, "
          "symlinks and new +x bits are all flagged in summary.json; verification never runs "
          "the planted bytecode",
)
def test_persistence_artifacts_are_flagged_and_planted_bytecode_never_runs(
        tmp_path: Path) -> None:
    world = h.make_world(tmp_path)
    h.write_config(world, "[verify]\ncoverage_threshold = 0\n")
    turns = [
        {"text": "code", "tool_calls": [
            call("Write", file_path="backend/calc.py", content=CALC),
            call("Write", file_path="backend/test_calc.py", content=TEST_CALC),
        ]},
        {"text": "plant", "tool_calls": [bash(PLANT_PYC), bash(PLANT_GIT), bash(PLANT_REST)]},
        {"text": "done"},
    ]
    res = h.run_scenario(world, "persistence", turns, policy_dir=h.ALLOW_ALL,
                         skip_verify=False, timeout=180)
    backend = world.backend
    # the plants really happened (else this test proves nothing)
    pyc = backend / "__pycache__" / "calc.cpython-311.pyc"
    assert pyc.is_file() and int.from_bytes(pyc.read_bytes()[4:8], "little") == 1, res.describe()
    assert (backend / "vendored" / ".git" / "config").is_file()
    # verification ran the reviewed source, not the planted bytecode (which returns 2)
    assert res.exit_code == 0, res.describe()
    assert (res.summary["tests"]["passed"], res.summary["tests"]["failed"]) == (1, 0)
    flagged = {(a["path"], a["kind"]): a["detail"] for a in res.summary["persistence"]}
    expected = {
        ("backend/__pycache__/calc.cpython-311.pyc", "bytecode"): "UNCHECKED-hash",
        ("backend/vendored/.git", "nested-git"): "fsmonitor",
        ("backend/evil.pth", "pth"): ".pth",
        ("backend/sitecustomize.py", "customize"): "sitecustomize",
        ("backend/env-link", "symlink"): "-> ../.env",
        ("backend/seeded_env", "symlink"): "present before the run",
        ("backend/run.sh", "new-executable"): "new executable",
        ("backend/app.py", "new-executable"): "executable bit added",
    }
    for key, needle in expected.items():
        assert key in flagged, (key, sorted(flagged))
        assert needle in flagged[key], (key, flagged[key])
    assert ("backend/calc.py", "new-executable") not in flagged
    # backend.diff names the bytecode too, and nothing on the host ran the fsmonitor command
    diff = (res.run_dir / "backend.diff").read_text()
    assert "backend/__pycache__/calc.cpython-311.pyc" in diff
    assert "fsmonitor = touch /tmp/fsmonitor-ran" in diff
    assert not Path("/tmp/fsmonitor-ran").exists()


def test_a_failing_summary_render_still_leaves_summary_json(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from runner.reports import markdown

    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    good = ('<coverage lines-valid="1" lines-covered="1"><sources><source>/workspace/backend'
            '</source></sources><packages/></coverage>')
    run, _ = _finished_run(tmp_path, good)

    def broken(*_args: Any, **_kwargs: Any) -> str:
        raise ValueError("renderer fell over")

    monkeypatch.setattr(markdown, "render_markdown", broken)
    summary = run.finish(None)
    saved = load_summary(run.run_dir)
    assert [(e.step, e.error) for e in saved.collection_errors] == [
        ("summary", "ValueError: renderer fell over")]
    assert saved.status == summary.status == "passed"  # the results themselves were fine
    assert (run.run_dir / "backend.diff").is_file() and (run.run_dir / "issues.json").is_file()
