"""`sandbox-runner image build`: prints the ref; one line and exit 4 without an engine."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from runner.cli import main


def test_unreachable_engine_is_one_line_exit_4(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    result = CliRunner().invoke(main, ["image", "build"])
    assert result.exit_code == 4
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("sandbox-runner: error: Docker engine not reachable:")
    assert "Traceback" not in result.output + result.stderr


@pytest.mark.docker
def test_build_prints_the_ref(sandbox_image: str) -> None:
    result = CliRunner().invoke(main, ["image", "build"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == sandbox_image


@pytest.mark.docker
def test_missing_explicit_base_is_an_image_build_error(sandbox_image: str) -> None:
    result = CliRunner().invoke(main, ["image", "build", "--base-image",
                                       "sandbox-runner-test-missing:nope"])
    assert result.exit_code == 4
    assert "image build failed at base image" in result.stderr
    assert "sandbox-runner-test-missing:nope" in result.stderr
