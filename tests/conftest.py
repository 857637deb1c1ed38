"""Shared fixtures. Docker tests carry the ``docker`` marker and clean up their containers."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from runner.audit.sign import KEY_ENV as AUDIT_KEY_ENV
from runner.config import DockerSandboxConfig
from runner.errors import RunnerError

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def audit_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Runs sign their audit head with a host key: the suite's key is its own, not the user's."""
    path = tmp_path_factory.mktemp("host-config") / "sandbox-runner" / "audit.key"
    old = os.environ.get(AUDIT_KEY_ENV)
    os.environ[AUDIT_KEY_ENV] = str(path)
    yield path
    if old is None:
        os.environ.pop(AUDIT_KEY_ENV, None)
    else:
        os.environ[AUDIT_KEY_ENV] = old


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def policies_dir() -> Path:
    return REPO / "policies"


@pytest.fixture(scope="session")
def sandbox_image() -> str:
    """The sandbox image ref, built once per session when missing."""
    from runner.sandbox.image import ensure_image

    def progress(line: str) -> None:
        if line.startswith("==>"):
            print(f"[sandbox image] {line}", file=sys.__stderr__, flush=True)

    try:
        return ensure_image(DockerSandboxConfig(), progress=progress)
    except RunnerError as exc:
        pytest.fail(f"sandbox image unavailable: {exc}")


def _claude_code_ready(client: docker.DockerClient) -> None:
    """Skip (saying exactly why) when the pinned Claude Code binary is not cached and the
    npm registry cannot be reached; otherwise return (the binary can be had)."""
    from runner.sandbox.claude_code import binary_dir, cached_binary, load_pin, probe_registry
    from runner.sandbox.image import engine_arch

    arch = engine_arch(client)
    if cached_binary(arch) is not None:
        return
    why = probe_registry(arch)
    if why is not None:
        pin = load_pin()
        pytest.skip(f"Claude Code {pin.version} ({arch}) is not cached at "
                    f"{binary_dir(pin.version, arch)} and the npm registry cannot be reached: "
                    f"{why}")


@pytest.fixture(scope="session")
def claude_code_binary(docker_client: docker.DockerClient) -> Path:
    """The pinned Claude Code binary on the host (downloaded, verified and cached when
    missing): skipped only when it is not cached and the npm registry cannot be reached."""
    from runner.sandbox.claude_code import ensure_claude_code
    from runner.sandbox.image import engine_arch

    _claude_code_ready(docker_client)
    try:
        return ensure_claude_code(engine_arch(docker_client), lambda _: None)
    except RunnerError as exc:
        pytest.fail(f"Claude Code binary unavailable: {exc}")


@pytest.fixture(scope="session")
def claude_code_image(docker_client: docker.DockerClient) -> str:
    """The claude-code runtime's default-environment image ref (base → runtime →
    sandbox-runner-runtime-cc → default environment), built when missing. Shared between
    sessions and helpers like the sandbox image: never removed by tests. Skipped only when
    the Claude Code binary is not cached and the npm registry cannot be reached."""
    from runner.sandbox.image import ensure_image

    def progress(line: str) -> None:
        if line.startswith("==>"):
            print(f"[claude-code image] {line}", file=sys.__stderr__, flush=True)

    _claude_code_ready(docker_client)
    try:
        return ensure_image(DockerSandboxConfig(), progress=progress, runtime="claude-code")
    except RunnerError as exc:
        pytest.fail(f"claude-code image unavailable: {exc}")


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    from runner.sandbox.docker_client import docker_client as connect

    try:
        client = connect()
    except RunnerError as exc:
        pytest.fail(str(exc))
    yield client
    client.close()


@pytest.fixture(scope="session")
def gvisor_runtime(docker_client: docker.DockerClient) -> str:
    """The engine's gVisor runtime name; the test is skipped, saying why, when there is none
    (``sandbox-runner engine setup --gvisor`` or .ci/run configures it)."""
    from runner.errors import EnvironmentProblem
    from runner.sandbox.isolation import resolve_isolation

    try:
        choice = resolve_isolation(docker_client, "gvisor")
    except EnvironmentProblem as exc:
        pytest.skip(f"gVisor not configured on this engine: {exc}")
    assert choice.runtime is not None
    return choice.runtime
