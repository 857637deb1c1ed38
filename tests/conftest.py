"""Shared fixtures. Docker tests carry the ``docker`` marker and clean up their containers."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from runner.config import DockerSandboxConfig
from runner.errors import RunnerError

REPO = Path(__file__).resolve().parent.parent


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
