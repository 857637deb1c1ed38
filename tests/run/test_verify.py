"""The runner-owned verification container (real Docker, the real sandbox image)."""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from runner.config import Limits
from runner.errors import Interrupted, RunFailed
from runner.reports.coverage import parse_cobertura
from runner.reports.junit import parse_junit
from runner.reports.verification import VerificationResult
from runner.run.signals import interruptible
from runner.run.verify import run_verification
from runner.sandbox.deployment import DockerDeployment
from tests.reports.sample import apply_agent_changes, run_by_hand, write_sample_project

pytestmark = pytest.mark.docker

UID = os.getuid() or 10001
GID = os.getgid() or 10001
LABELS = {"sandbox-runner.test": "1"}


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    c = docker.from_env()
    yield c
    for container in c.containers.list(all=True, filters={"label": "sandbox-runner.test=1"}):
        if container.labels.get("sandbox-runner.role") == "verify":
            container.remove(force=True)
    c.close()


def project_dir(tmp_path: Path) -> Path:
    tmp_path.chmod(0o755)
    return write_sample_project(tmp_path / "project")


def verify(client: Any, image: str, project: Path, **kw: Any) -> tuple[VerificationResult, str]:
    run_id = f"test-verify-{uuid.uuid4().hex[:10]}"
    args: dict[str, Any] = {"test_command": None, "timeout": 120.0}
    args.update(kw)
    result = run_verification(
        client=client, image=image, project=project,
        out_dir=project / ".sandbox-runner" / "runs" / run_id / "reports", limits=Limits(),
        uid=UID, gid=GID, run_id=run_id, extra_labels=LABELS, **args,
    )
    left = client.containers.list(all=True, filters={"label": f"sandbox-runner.run={run_id}"})
    assert left == [], "the verification container must always be removed"
    return result, run_id


def test_numbers_match_a_hand_run(client: Any, sandbox_image: str, tmp_path: Path) -> None:
    project = project_dir(tmp_path)
    apply_agent_changes(project)
    result, _ = verify(client, sandbox_image, project)
    assert result.error is None and not result.timed_out, result.stdout_tail
    assert result.exit_code == 1  # failing tests
    assert result.junit_path is not None and result.coverage_path is not None
    assert "2 failed" in result.stdout_tail

    hand = run_by_hand(project, tmp_path / "hand")
    ours, theirs = parse_junit(result.junit_path), parse_junit(hand.junit)
    assert (ours.total, ours.passed, ours.failed, ours.errors, ours.skipped) == (
        theirs.total, theirs.passed, theirs.failed, theirs.errors, theirs.skipped) == (9, 5, 2, 1, 1)
    assert [f.test for f in ours.failures] == [f.test for f in theirs.failures]
    c_ours, c_theirs = parse_cobertura(result.coverage_path), parse_cobertura(hand.coverage_xml)
    assert (c_ours.lines_covered, c_ours.lines_valid, c_ours.branches_covered) == (
        c_theirs.lines_covered, c_theirs.lines_valid, c_theirs.branches_covered)
    assert [f.file for f in c_ours.files] == [f.file for f in c_theirs.files]
    assert not list((project / "backend").rglob("__pycache__"))  # nothing written into the tree
    assert not (project / ".coverage").exists()


CONFINEMENT_TESTS = '''\
import os
import socket

import pytest


def test_backend_is_read_only():
    with pytest.raises(OSError):
        open("/workspace/backend/pwned.txt", "w")


def test_workspace_is_read_only():
    with pytest.raises(OSError):
        open("/workspace/pwned.txt", "w")


def test_root_fs_is_read_only():
    with pytest.raises(OSError):
        open("/usr/pwned.txt", "w")


def test_no_network():
    s = socket.socket()
    s.settimeout(3)
    with pytest.raises(OSError):
        s.connect(("172.17.0.1", 53))
    assert sorted(os.listdir("/sys/class/net")) == ["lo"]


def test_secret_file_is_masked():
    assert open("/workspace/.env").read() == ""


def test_runner_state_is_masked():
    assert os.listdir("/workspace/.sandbox-runner") == []


def test_not_root_and_no_capabilities():
    assert os.getuid() != 0
    status = open("/proc/self/status").read()
    assert "CapEff:\\t0000000000000000" in status
    assert "NoNewPrivs:\\t1" in status


def test_tmp_is_writable():
    with open("/tmp/ok.txt", "w") as fh:
        fh.write("ok")
'''


def test_tree_read_only_no_network_secrets_masked(client: Any, sandbox_image: str,
                                                  tmp_path: Path) -> None:
    project = project_dir(tmp_path)
    (project / "backend" / "test_confinement.py").write_text(CONFINEMENT_TESTS)
    result, _ = verify(client, sandbox_image, project, secret_paths=[".env"])
    assert result.exit_code == 0, result.stdout_tail
    assert result.junit_path is not None
    tests = parse_junit(result.junit_path)
    assert (tests.total, tests.passed) == (8, 8), tests.failures
    assert not (project / "backend" / "pwned.txt").exists()
    assert not (project / "pwned.txt").exists()
    assert (project / ".env").read_text().startswith("API_TOKEN=")  # untouched on the host


def test_planted_reports_are_not_trusted(client: Any, sandbox_image: str, tmp_path: Path) -> None:
    project = project_dir(tmp_path)
    fake = '<testsuite><testcase classname="x" name="everything_passes"/></testsuite>'
    (project / "backend" / "junit.xml").write_text(fake)
    (project / "backend" / "test_real.py").write_text("def test_real():\n    assert 1 == 2\n")
    run_id = f"test-verify-{uuid.uuid4().hex[:10]}"
    out = project / ".sandbox-runner" / "runs" / run_id / "reports"
    out.mkdir(parents=True)
    (out / "junit.xml").write_text(fake)  # left over from before: must be cleared first
    result = run_verification(
        client=client, image=sandbox_image, project=project, out_dir=out, limits=Limits(),
        uid=UID, gid=GID, test_command="true", timeout=60, run_id=run_id, extra_labels=LABELS,
    )
    assert result.exit_code == 0 and result.junit_path is None  # `true` wrote no report
    assert parse_junit(out / "junit.xml").error is not None

    result, _ = verify(client, sandbox_image, project)
    assert result.junit_path is not None
    tests = parse_junit(result.junit_path)
    assert [f.test for f in tests.failures] == ["backend.test_real::test_real"]
    assert "everything_passes" not in result.junit_path.read_text()


def test_custom_test_command_gets_report_paths(client: Any, sandbox_image: str,
                                               tmp_path: Path) -> None:
    project = project_dir(tmp_path)
    (project / "backend" / "test_one.py").write_text("def test_one():\n    pass\n")
    cmd = 'cd backend && python -m pytest -q -p no:cacheprovider --junitxml="$JUNIT_XML" test_one.py'
    result, _ = verify(client, sandbox_image, project, test_command=cmd)
    assert result.command == ["bash", "-c", cmd]
    assert result.exit_code == 0, result.stdout_tail
    assert result.junit_path is not None and result.coverage_path is None
    assert parse_junit(result.junit_path).passed == 1


def test_timeout_kills_and_removes(client: Any, sandbox_image: str, tmp_path: Path) -> None:
    project = project_dir(tmp_path)
    result, _ = verify(client, sandbox_image, project, test_command="sleep 300", timeout=3)
    assert result.timed_out and result.exit_code is None
    assert result.duration_s < 60


def test_missing_image_is_reported_not_raised(client: Any, tmp_path: Path) -> None:
    project = project_dir(tmp_path)
    result, _ = verify(client, "sandbox-runner:does-not-exist-0000", project)
    assert result.error is not None and "not found" in result.error
    assert result.exit_code is None and result.junit_path is None


TAMPERING_CONFTEST = '''\
import atexit
import json
import os

OUT = os.path.dirname(os.environ["JUNIT_XML"])


def _tamper():
    # after the runner's plugin wrote its record: claim everything passed, keep the MAC
    for name in os.listdir(OUT):
        if name.startswith("outcomes-"):
            with open(os.path.join(OUT, name)) as fh:
                doc = json.load(fh)
            doc["payload"].update(passed=doc["payload"]["total"], failed=0, errors=0, bad=[])
            with open(os.path.join(OUT, name), "w") as fh:
                fh.write(json.dumps(doc) + "\\n")
    os.unlink(os.path.join(OUT, "junit.xml"))
    os.symlink("/proc/self/environ", os.path.join(OUT, "junit.xml"))


atexit.register(_tamper)
'''


def test_tampered_record_and_linked_report_are_refused(client: Any, sandbox_image: str,
                                                       tmp_path: Path) -> None:
    project = project_dir(tmp_path)
    (project / "backend" / "test_one.py").write_text("def test_one():\n    assert 0\n")
    (project / "backend" / "conftest.py").write_text(TAMPERING_CONFTEST)
    result, _ = verify(client, sandbox_image, project)
    assert result.exit_code == 1, result.stdout_tail
    assert result.outcomes is None
    assert result.outcomes_error is not None and "valid MAC" in result.outcomes_error
    assert result.junit_path is None
    assert "symbolic link" in result.report_errors["junit.xml"]
    assert result.coverage_path is not None and result.coverage_path.is_file()


def test_the_nonce_reaches_the_plugin_and_nothing_else(client: Any, sandbox_image: str,
                                                       tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from runner.run import verify as verify_mod

    key = bytes(range(32))
    monkeypatch.setattr(verify_mod.secrets, "token_bytes", lambda n: key[:n])
    project = project_dir(tmp_path)
    (project / "backend" / "test_env.py").write_text(
        "import os\n\n\ndef test_env():\n"
        "    print(open('/proc/self/environ', 'rb').read().decode('latin-1'))\n"
        "    print(open('/proc/1/environ', 'rb').read().decode('latin-1'))\n"
        "    print(dict(os.environ), os.listdir('/out'))\n"
        "    assert 0\n")
    result, _ = verify(client, sandbox_image, project)
    assert "SANDBOX_RUNNER_RUN_ID" in result.stdout_tail  # the environment was printed
    assert key.hex() not in result.stdout_tail.lower()
    assert result.outcomes is not None and result.outcomes.failed == 1


def _running(client: Any, run_id: str, limit: float = 120) -> bool:
    """Whether the run's verification container reached "running" (an event, bounded)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        found = client.containers.list(filters={"label": f"sandbox-runner.run={run_id}",
                                                "status": "running"})
        if found:
            return True
        time.sleep(0.1)
    return False


def _scratch_dirs(root: Path) -> list[Path]:
    return sorted(root.glob("sr-verify-*"))


def test_interrupt_removes_the_container_and_the_scratch(
        client: Any, sandbox_image: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    project = project_dir(tmp_path)
    scratch_root = tmp_path / "tmp"
    scratch_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch_root))
    run_id = f"test-verify-{uuid.uuid4().hex[:10]}"
    seen: list[bool] = []

    def interrupt_once_running() -> None:
        seen.append(_running(client, run_id))
        seen.append(bool(_scratch_dirs(scratch_root)))
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_once_running, daemon=True).start()
    with pytest.raises(Interrupted), interruptible():
        run_verification(
            client=client, image=sandbox_image, project=project,
            out_dir=tmp_path / "reports", limits=Limits(), uid=UID, gid=GID,
            test_command="sleep 300", timeout=240, run_id=run_id, extra_labels=LABELS)
    assert seen == [True, True]  # it was interrupted while the tests ran
    assert client.containers.list(all=True, filters={"label": f"sandbox-runner.run={run_id}"}) == []
    assert _scratch_dirs(scratch_root) == []


def test_a_crash_while_waiting_removes_the_container(
        client: Any, sandbox_image: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    project = project_dir(tmp_path)
    run_id = f"test-verify-{uuid.uuid4().hex[:10]}"

    def crash(self: DockerDeployment, timeout: float | None = None) -> None:
        assert self.is_alive()
        raise ZeroDivisionError("a bug in the runner")

    monkeypatch.setattr(DockerDeployment, "wait", crash)
    with pytest.raises(ZeroDivisionError):
        run_verification(
            client=client, image=sandbox_image, project=project,
            out_dir=tmp_path / "reports", limits=Limits(), uid=UID, gid=GID,
            test_command="sleep 300", timeout=240, run_id=run_id, extra_labels=LABELS)
    assert client.containers.list(all=True, filters={"label": f"sandbox-runner.run={run_id}"}) == []


def test_a_failed_removal_reads_nothing_from_out(client: Any, sandbox_image: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    project = project_dir(tmp_path)
    run_id = f"test-verify-{uuid.uuid4().hex[:10]}"
    real_stop = DockerDeployment.stop
    kept: list[DockerDeployment] = []

    def refuse(self: DockerDeployment) -> None:
        kept.append(self)
        raise RunFailed("could not remove sandbox container: refused by the test")

    monkeypatch.setattr(DockerDeployment, "stop", refuse)
    try:
        result = run_verification(
            client=client, image=sandbox_image, project=project,
            out_dir=tmp_path / "reports", limits=Limits(), uid=UID, gid=GID,
            test_command='echo "<testsuite/>" > "$JUNIT_XML" && ls /out', timeout=120,
            run_id=run_id, extra_labels=LABELS)
    finally:
        for deployment in kept:
            real_stop(deployment)
    assert result.exit_code == 0 and "junit.xml" in result.stdout_tail  # it was written
    assert result.error is not None and "refused by the test" in result.error
    assert result.junit_path is None and not (tmp_path / "reports" / "junit.xml").exists()
    assert client.containers.list(all=True, filters={"label": f"sandbox-runner.run={run_id}"}) == []
