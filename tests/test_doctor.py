"""The checks behind `sandbox-runner doctor`."""

from __future__ import annotations

import contextlib
import io
import os
import socket
import tarfile
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from runner.doctor import (
    RUN_LABEL,
    Check,
    DoctorReport,
    _image_check,
    check_docker,
    check_leftovers,
    check_python,
    check_regorus,
    claude_code_check,
    docker_client,
    leftover_containers,
    run_doctor,
)
from runner.errors import DockerUnavailable, EnvironmentProblem, InputError


def test_python_version() -> None:
    assert check_python().status == "ok"
    old = check_python((3, 10, 4))
    assert old.status == "fail" and "3.10.4" in old.detail
    assert old.error is not None and old.error.exit_code == 4


def test_regorus_evaluates() -> None:
    check = check_regorus()
    assert check.status == "ok", check.detail
    assert check.detail.startswith("regorus ")


def test_report_exit_code_prefers_environment_over_bad_input() -> None:
    report = DoctorReport([Check("python", "ok", "")])
    assert report.exit_code == 0 and report.error is None
    report.checks.append(Check("opa", "info", ""))
    report.checks.append(Check("containers", "warn", ""))
    assert report.exit_code == 0
    bad_policy = InputError("p.rego:1:2: boom")
    report.checks.append(Check("policies", "fail", "", bad_policy))
    assert report.exit_code == 2 and report.error is bad_policy
    no_docker = DockerUnavailable("gone")
    report.checks.append(Check("docker", "fail", "", no_docker))
    assert report.exit_code == 4 and report.error is no_docker


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (True, "ok"),
        (False, "warn"),
        (SimpleNamespace(present=True, tag="sandbox-runner:abc"), "ok"),
        (SimpleNamespace(present=False, tag="sandbox-runner:abc"), "warn"),
        ("something else", "info"),
    ],
)
def test_image_status_is_interpreted(status: Any, expected: str) -> None:
    check = _image_check(status)
    assert check.status == expected
    if isinstance(status, SimpleNamespace):
        assert "sandbox-runner:abc" in check.detail


@pytest.mark.parametrize(
    ("cached", "ref", "present", "status", "words"),
    [
        (False, None, False, "info", ["not cached", "--runtime claude-code", "npm registry"]),
        (True, None, False, "info", ["binary cached", "runtime layer is not built"]),
        (True, "sandbox-runner-runtime-cc:abc", False, "info",
         ["sandbox-runner-runtime-cc:abc not built yet", "offline"]),
        (True, "sandbox-runner-runtime-cc:abc", True, "ok",
         ["binary cached", "sandbox-runner-runtime-cc:abc present"]),
    ],
)
def test_claude_code_status_is_interpreted(cached: bool, ref: str | None, present: bool,
                                           status: str, words: list[str]) -> None:
    from runner.sandbox.image import ClaudeCodeStatus

    check = claude_code_check(ClaudeCodeStatus(version="2.1.332", arch="x86_64", cached=cached,
                                               layer_ref=ref, layer_present=present))
    assert check.name == "claude-code" and check.status == status
    assert check.detail.startswith("Claude Code 2.1.332 (x86_64):")
    for word in words:
        assert word in check.detail, word


def test_unreachable_docker_is_exit_4(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such-docker.sock")
    with pytest.raises(DockerUnavailable) as err:
        docker_client()
    assert err.value.exit_code == 4
    assert isinstance(err.value, EnvironmentProblem)
    report = run_doctor()
    docker = next(c for c in report.checks if c.name == "docker")
    assert docker.status == "fail"
    assert report.exit_code == 4
    skipped = {c.name: c.status for c in report.checks}
    assert skipped["image"] == "warn" and skipped["containers"] == "warn"


# --- with the real Docker engine -----------------------------------------------------


@pytest.fixture
def docker() -> Iterator[Any]:
    try:
        client = docker_client()
    except DockerUnavailable as exc:  # pragma: no cover - CI always has an engine
        pytest.fail(f"docker tests need a Docker engine: {exc}")
    yield client
    client.close()


@pytest.fixture
def image(docker: Any) -> Iterator[str]:
    """A tiny local image (one empty file) to create, never start, containers from."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("empty")
        tar.addfile(info, io.BytesIO(b""))
    tag = uuid.uuid4().hex[:12]
    repo = "sandbox-runner-doctor-test"
    docker.api.import_image_from_data(buf.getvalue(), repository=repo, tag=tag)
    try:
        yield f"{repo}:{tag}"
    finally:
        for c in docker.containers.list(all=True, filters={"ancestor": f"{repo}:{tag}"}):
            c.remove(force=True)
        docker.images.remove(f"{repo}:{tag}", force=True)


def make_container(docker: Any, image: str, **labels: str) -> tuple[str, Any]:
    run_id = f"doctor-test-{uuid.uuid4().hex[:12]}"
    container = docker.containers.create(
        image,
        command=["/nothing"],
        labels={RUN_LABEL: run_id, "sandbox-runner.test": "1", **labels},
    )
    return run_id, container


@pytest.fixture
def leftover(docker: Any, image: str) -> tuple[str, Any]:
    """A container labelled like a run's whose runner process is gone (no owner labels)."""
    return make_container(docker, image)


@pytest.mark.docker
def test_docker_version(docker: Any) -> None:
    check = check_docker(docker)
    assert check.status == "ok"
    assert check.detail.startswith("Docker engine ") and "API " in check.detail


@pytest.mark.docker
def test_leftover_containers_are_listed_and_cleaned(docker: Any, leftover: tuple[str, Any]) -> None:
    run_id, container = leftover
    assert [c.id for c in leftover_containers(docker, run_id)] == [container.id]
    assert container.id in {c.id for c in leftover_containers(docker)}
    warn = check_leftovers(docker, cleanup=False, run_id=run_id)
    assert warn.status == "warn" and container.name in warn.detail and run_id in warn.detail
    assert leftover_containers(docker, run_id)  # listing removes nothing
    done = check_leftovers(docker, cleanup=True, run_id=run_id)
    assert done.status == "ok" and done.detail.startswith("removed 1:")
    assert leftover_containers(docker, run_id) == []
    assert check_leftovers(docker, cleanup=False, run_id=run_id).status == "ok"


@pytest.mark.docker
def test_containers_of_a_live_run_are_not_leftovers(docker: Any, image: str) -> None:
    owner = {
        "sandbox-runner.owner-pid": str(os.getpid()),
        "sandbox-runner.owner-host": socket.gethostname(),
    }
    run_id, container = make_container(docker, image, **owner)
    check = check_leftovers(docker, cleanup=True, run_id=run_id)
    assert check.status == "ok"
    assert "1 of a run in progress" in check.detail and container.name in check.detail
    assert [c.id for c in leftover_containers(docker, run_id)] == [container.id]  # still there


@pytest.mark.docker
def test_an_exited_environment_build_container_is_a_leftover(docker: Any,
                                                             sandbox_image: str) -> None:
    """A killed runner's build container (no labels: the committed image would keep them)
    is found by its name once it has exited, and removed by --cleanup."""
    name = f"sandbox-runner-setup-doctortest-{uuid.uuid4().hex[:8]}"
    container = docker.containers.run(sandbox_image, ["true"], name=name, detach=True,
                                      network_mode="none")
    try:
        container.wait(timeout=60)
        assert container.id in {c.id for c in leftover_containers(docker)}
        check_leftovers(docker, cleanup=True)
        assert container.id not in {c.id for c in leftover_containers(docker)}
    finally:
        with contextlib.suppress(Exception):
            container.remove(force=True)
