"""`sandbox-runner image build`: prints the ref; one line and exit 4 without an engine."""

from __future__ import annotations

from pathlib import Path

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


@pytest.mark.docker
def test_build_runtime_claude_code_prints_its_ref(claude_code_image: str,
                                                 sandbox_image: str) -> None:
    result = CliRunner().invoke(main, ["image", "build", "--runtime", "claude-code"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == claude_code_image != sandbox_image


@pytest.mark.docker
def test_an_unreachable_registry_is_one_line_exit_4(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sandbox_image: str) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # nothing cached
    monkeypatch.setenv("SANDBOX_RUNNER_NPM_REGISTRY", "http://127.0.0.1:9")
    result = CliRunner().invoke(main, ["image", "build", "--runtime", "claude-code"])
    assert result.exit_code == 4
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("sandbox-runner: error: image build failed at claude code: GET "
                           "http://127.0.0.1:9/@anthropic-ai/claude-code-linux-")
    assert "Traceback" not in result.output + result.stderr
