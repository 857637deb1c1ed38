"""Fixtures for the report tests: one real hand run of the sample backend per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reports.sample import build_run_dir


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(run_dir, project) of a realistic finished run (real pytest + coverage output)."""
    return build_run_dir(tmp_path_factory.mktemp("sample"))


@pytest.fixture(scope="session")
def sandbox_image() -> str:
    """The sandbox image (built when missing; needs the Docker engine)."""
    from runner.config import DockerSandboxConfig
    from runner.sandbox.image import ensure_image

    return ensure_image(DockerSandboxConfig())
