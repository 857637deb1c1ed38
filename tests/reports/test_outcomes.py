"""The runner's pytest plugin (real pytest in a subprocess, nonce on stdin) and the host's
check of its record against JUnit and the exit code."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from runner.agent.pytest_outcomes import (
    NONCE_BYTES,
    OUTCOMES_DIR_ENV,
    PLUGIN_ARG,
    record_mac,
    record_name,
)
from runner.hostfs import WorkspaceFS
from runner.reports.junit import TestResults, parse_junit
from runner.reports.outcomes import NO_RECORD, RunnerOutcomes, disagreement, read_record

EVERY_OUTCOME = '''\
import subprocess
import sys

import pytest


@pytest.fixture
def bad_setup():
    raise RuntimeError("setup")


@pytest.fixture
def bad_teardown():
    yield
    raise RuntimeError("teardown")


def test_pass():
    pass


def test_fail():
    assert 0


def test_skip():
    pytest.skip("x")


@pytest.mark.xfail
def test_xfail():
    assert 0


@pytest.mark.xfail(strict=True)
def test_xpass_strict():
    pass


@pytest.mark.xfail
def test_xpass():
    pass


def test_setup_error(bad_setup):
    pass


def test_teardown_error(bad_teardown):
    pass


def test_fail_and_teardown_error(bad_teardown):
    assert 0


@pytest.mark.parametrize("x", [1, 2])
def test_param(x):
    assert x == 1


def test_a_nested_pytest_does_not_load_the_plugin_or_wait_on_stdin(tmp_path):
    (tmp_path / "test_inner.py").write_text("def test_inner():\\n    pass\\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
'''


def run_pytest(tmp_path: Path, files: dict[str, str], *, nonce: bytes | None,
               extra: tuple[str, ...] = ()) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    tests = tmp_path / "t"
    tests.mkdir()
    for name, text in files.items():
        (tests / name).write_text(text)
    out = tmp_path / "out"
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))}
    env.update({OUTCOMES_DIR_ENV: str(out), "PYTEST_ADDOPTS": PLUGIN_ARG,
                "PYTHONDONTWRITEBYTECODE": "1"})
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         str(tests), f"--junitxml={out / 'junit.xml'}", *extra],
        input=(nonce.hex() + "\n") if nonce is not None else "", capture_output=True, text=True,
        env=env, cwd=tmp_path, timeout=180)
    return proc, out, out / "junit.xml"


def counts(t: TestResults | RunnerOutcomes) -> tuple[int, int, int, int, int]:
    return (t.total, t.passed, t.failed, t.errors, t.skipped)


def test_the_plugin_counts_exactly_what_junit_records(tmp_path: Path) -> None:
    key = secrets.token_bytes(NONCE_BYTES)
    files = {"test_every.py": EVERY_OUTCOME, "test_broken_import.py": "import no_such_module_zz\n",
             "test_module_skip.py": "import pytest\npytest.skip('m', allow_module_level=True)\n"}
    proc, out, junit = run_pytest(tmp_path, files, nonce=key,
                                  extra=("--continue-on-collection-errors",))
    outcomes, why = read_record(WorkspaceFS(out), key)
    assert why is None and outcomes is not None, proc.stdout[-2000:]
    tests = parse_junit(junit)
    # 13 test items (one of them two testcases: a failed call and a teardown error), a
    # collection error and a module-level skip
    assert counts(outcomes) == counts(tests) == (15, 4, 4, 4, 3), proc.stdout[-2000:]
    assert outcomes.exitstatus == proc.returncode == 1
    assert "test_a_nested_pytest_does_not_load_the_plugin_or_wait_on_stdin" not in str(
        outcomes.bad)
    assert disagreement(exit_code=proc.returncode, tests=tests, outcomes=outcomes,
                        outcomes_error=None, default_command=True) is None


def test_no_nonce_no_record(tmp_path: Path) -> None:
    proc, out, _ = run_pytest(tmp_path, {"test_a.py": "def test_a():\n    pass\n"},
                              nonce=None)
    assert proc.returncode == 0
    assert sorted(p.name for p in out.iterdir()) == ["junit.xml"]
    outcomes, why = read_record(WorkspaceFS(out), secrets.token_bytes(NONCE_BYTES))
    assert outcomes is None and why == NO_RECORD


CONFTEST_LOOKS_FOR_THE_NONCE = '''\
import os

def pytest_configure(config):
    out = os.path.dirname(config.option.xmlpath)
    with open(os.path.join(out, "environ.txt"), "w") as fh:  # what a child process inherits
        fh.write(repr(dict(os.environ)))
    with open(os.path.join(out, "proc.txt"), "wb") as fh:
        fh.write(open("/proc/self/environ", "rb").read())
'''


def test_the_nonce_is_not_in_the_environment_of_the_tests(tmp_path: Path) -> None:
    key = secrets.token_bytes(NONCE_BYTES)
    proc, out, _ = run_pytest(tmp_path, {"conftest.py": CONFTEST_LOOKS_FOR_THE_NONCE,
                                         "test_a.py": "def test_a():\n    pass\n"}, nonce=key)
    assert proc.returncode == 0, proc.stdout
    seen = (out / "environ.txt").read_text() + (out / "proc.txt").read_text("latin-1")
    assert key.hex() not in seen.lower()
    # and a pytest that a test starts will not load the plugin and wait on stdin
    children = (out / "environ.txt").read_text()
    assert OUTCOMES_DIR_ENV not in children and "runner.agent.pytest_outcomes" not in children
    assert read_record(WorkspaceFS(out), key)[0] is not None


def _write_record(out: Path, key: bytes, payload: dict[str, object], mac: str | None = None,
                  extra: str = "") -> None:
    line = json.dumps({"payload": payload, "mac": mac or record_mac(key, payload)})
    (out / record_name(key)).write_text(line + "\n" + extra)


PAYLOAD: dict[str, object] = {"v": 1, "total": 3, "passed": 2, "skipped": 0, "failed": 1,
                              "errors": 0, "exitstatus": 1, "bad": ["t::x"]}


def test_read_record_refuses_forged_altered_and_planted_records(tmp_path: Path) -> None:
    key = secrets.token_bytes(NONCE_BYTES)
    fs = WorkspaceFS(tmp_path)
    _write_record(tmp_path, key, PAYLOAD)
    assert counts(read_record(fs, key)[0] or TestResults()) == (3, 2, 1, 0, 0)

    altered = dict(PAYLOAD, failed=0, passed=3)  # counts changed, the old MAC kept
    _write_record(tmp_path, key, altered, mac=record_mac(key, PAYLOAD))
    assert "valid MAC" in (read_record(fs, key)[1] or "")
    _write_record(tmp_path, key, altered, mac=record_mac(secrets.token_bytes(32), altered))
    assert "valid MAC" in (read_record(fs, key)[1] or "")
    _write_record(tmp_path, key, PAYLOAD, extra="second line\n")
    assert "2 lines" in (read_record(fs, key)[1] or "")
    inconsistent = dict(PAYLOAD, total=7)  # MAC'd but impossible: refused too
    _write_record(tmp_path, key, inconsistent)
    assert "add up" in (read_record(fs, key)[1] or "")
    (tmp_path / record_name(key)).unlink()
    os.symlink("/proc/self/environ", tmp_path / record_name(key))
    assert "symbolic link" in (read_record(fs, key)[1] or "")


ONE_FAILED = RunnerOutcomes(total=2, passed=1, skipped=0, failed=1, errors=0, exitstatus=1,
                            bad=["t::broken"])


@pytest.mark.parametrize(
    ("exit_code", "junit", "outcomes", "needle"),
    [
        (1, (2, 1, 1, 0, 0), ONE_FAILED, None),
        (0, (1, 1, 0, 0, 0), ONE_FAILED, "the JUnit report says 1 total"),  # rewritten report
        (0, (2, 1, 1, 0, 0), ONE_FAILED, "exited 0 but the runner counted 1 failed"),
        (2, (2, 2, 0, 0, 0), ONE_FAILED.model_copy(update={"passed": 2, "failed": 0}),
         "exited 2 although no test failed"),
        (5, (0, 0, 0, 0, 0), RunnerOutcomes(total=0, passed=0, skipped=0, failed=0, errors=0),
         None),  # nothing collected: the gate says "no tests found" itself
        (1, (2, 1, 1, 0, 0), None, NO_RECORD),
    ],
)
def test_disagreement(exit_code: int, junit: tuple[int, int, int, int, int],
                      outcomes: RunnerOutcomes | None, needle: str | None) -> None:
    total, passed, failed, errors, skipped = junit
    tests = TestResults(total=total, passed=passed, failed=failed, errors=errors, skipped=skipped)
    why = disagreement(exit_code=exit_code, tests=tests, outcomes=outcomes, outcomes_error=None,
                       default_command=False)
    assert (why is None) if needle is None else (why is not None and needle in why), why


def test_pytest_exit_status_must_match_the_container_for_the_default_command() -> None:
    tests = TestResults(total=2, passed=1, failed=1)
    forced = ONE_FAILED.model_copy(update={"exitstatus": 0})
    why = disagreement(exit_code=1, tests=tests, outcomes=forced, outcomes_error=None,
                       default_command=True)
    assert why is not None and "exit status was 0" in why
