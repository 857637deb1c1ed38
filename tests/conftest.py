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


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    from runner.sandbox.docker_client import docker_client as connect

    try:
        client = connect()
    except RunnerError as exc:
        pytest.fail(str(exc))
    yield client
    client.close()
